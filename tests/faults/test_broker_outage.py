"""The broker stops for 20 seconds in the middle of a stream of 2,000 inbox articles while the
fetcher and the tagger run; both reconnect by themselves and nothing is lost.

The broker is a dedicated :class:`LocalKafka` (never the session broker), stopped and started
again on the same state directory and ports.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import ArticleFetched
from mediawatch.stack.broker import BrokerError, BrokerSettings, LocalKafka, free_port
from tests.support.environment import IN_CI, REPOSITORY
from tests.support.faults import (
    ARTICLES,
    TaggedAccount,
    account_fetched,
    account_inbox,
    eventually,
    fetcher_worker,
    files_in,
    fill_inbox,
    read_all,
    summary,
    tagger_worker,
    write_inbox_sources,
)
from tests.support.kafka_io import read_topic
from tests.support.workers import start_ready

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OUTAGE_S = 20


@pytest.fixture
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    kafka = LocalKafka(
        BrokerSettings(
            state_dir=tmp_path_factory.mktemp("outage-broker"),
            port=free_port(),
            controller_port=free_port(),
            jar_cache=REPOSITORY / ".mediawatch" / "jars",
        )
    )
    try:
        kafka.start()
    except BrokerError as exc:
        if IN_CI:
            pytest.fail(f"the Kafka broker is required in CI and could not start: {exc}")
        pytest.skip(f"no Kafka broker: {exc}")
    yield kafka
    kafka.stop()


async def test_fetcher_and_tagger_ride_out_a_20s_broker_outage(
    own_kafka: LocalKafka, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    settings = KafkaSettings(
        kafka_bootstrap=own_kafka.bootstrap, **KafkaSettings.topics_under(f"outage.{suffix}")
    )
    await ensure_topics(settings)
    inbox = tmp_path / "inbox"
    good, bad = fill_inbox(inbox, ARTICLES)
    sources = write_inbox_sources(tmp_path / "sources.yaml", inbox)
    tagger = tagger_worker(settings, tmp_path, f"tagger-{suffix}", "tagger")
    fetcher = fetcher_worker(settings, tmp_path, sources, "fetcher")
    workers = [fetcher, tagger]
    try:
        await start_ready(tagger)
        fetcher.start()
        await eventually(
            lambda: len(files_in(inbox / "done")) >= 500,
            "the fetcher publishes its first 500 files",
            workers=workers,
            interval_s=0.05,
        )
        await asyncio.to_thread(own_kafka.stop)
        done_at_stop = len(files_in(inbox / "done"))
        await asyncio.sleep(OUTAGE_S)
        done_after_outage = len(files_in(inbox / "done"))
        await asyncio.to_thread(own_kafka.start)
        assert done_at_stop < len(good), "the broker stopped mid-stream"

        await eventually(
            lambda: files_in(inbox) == [], "every inbox file handled", workers=workers,
            timeout_s=240,
        )  # fmt: skip
        tagged = await read_topic(
            settings,
            settings.topic_articles_tagged,
            until=lambda r: len({x.key for x in r}) >= ARTICLES,
            timeout_s=240,
        )
        if len({r.key for r in tagged}) < ARTICLES:
            logs = "\n".join(f"--- {w.log_path.name}:\n{w.log_tail(4000)}" for w in workers)
            raise AssertionError(f"{len({r.key for r in tagged})} tagged\n{logs}")
        for worker in workers:  # still alive: they reconnected rather than exited
            assert worker.process is not None and worker.process.poll() is None, worker.args
    finally:
        fetcher.stop()
        tagger.stop()

    done = account_inbox(inbox, good, bad)
    events = [
        ArticleFetched.from_json(r.value or b"")
        for r in await read_all(settings, settings.topic_articles_fetched)
    ]
    by_title = account_fetched(events, done, good)
    account = TaggedAccount.of(await read_all(settings, settings.topic_articles_tagged))
    ids = {e.article_id for e in by_title.values()}
    assert set(account.by_id) == ids, "every fetched article tagged, nothing else"
    assert account.inconsistent() == []
    letters = await read_all(settings, settings.topic_deadletter)
    assert letters == [], "the fetcher publishes only valid articles"
    summary("broker-outage", done_at_stop=done_at_stop, done_during_outage=done_after_outage
            - done_at_stop, fetched_records=len(events), tagged_records=account.records,
            tagged_duplicates=account.duplicates)  # fmt: skip
