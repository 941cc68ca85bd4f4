"""The event pipe's per-record logic and its error policies, in memory (no broker), and the
``raise`` policy through a real broker: the service stops and the record is read again."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from mediawatch.runtime.errors import EXIT_STOPPED_ON_RECORD, OnError, StreamStopped, policy_of
from mediawatch.runtime.kafka import consumer, ensure_topics
from mediawatch.runtime.settings import KafkaSettings, ServiceSettings
from mediawatch.runtime.streaming import EventPipe, Output, make_app, raw_topic
from mediawatch.runtime.testing import PipeHarness
from mediawatch.schemas import ArticleFetched
from mediawatch.stack.broker import free_port
from tests.support.articles import article
from tests.support.environment import REPOSITORY, settings_environment
from tests.support.kafka_io import create_topic, produce, read_topic

RELAY_APP = REPOSITORY / "tests" / "support" / "relay_app.py"


def relay_pipe(tmp_path: Path, on_error: OnError = OnError.DEAD_LETTER) -> PipeHarness:
    settings = ServiceSettings(state_dir=tmp_path, service_name="relay-test")
    app = make_app(settings, f"relay-{uuid.uuid4().hex[:6]}")
    relayed = raw_topic(app, "relayed")

    async def relay(fetched: ArticleFetched) -> Sequence[Output]:
        if fetched.title == "boom":
            raise RuntimeError("handler exploded on purpose")
        return [Output(relayed, fetched.article_id, fetched)]

    pipe = EventPipe(
        app,
        service="relay-test",
        source=raw_topic(app, "fetched"),
        event_type=ArticleFetched,
        handler=relay,
        dead_letters=raw_topic(app, "dead"),
        name="relay",
        on_error=policy_of(on_error),
    )
    return PipeHarness(pipe)


async def test_outputs_are_written_keyed_as_the_handler_says(tmp_path: Path) -> None:
    harness = relay_pipe(tmp_path)
    sent = article("a1")
    written = await harness.send(sent)
    assert [(w.topic, w.key) for w in written] == [("relayed", "a1")]
    assert written[0].event == sent


async def test_by_default_a_bad_record_is_dead_lettered_with_its_bytes_and_reason(
    tmp_path: Path,
) -> None:
    harness = relay_pipe(tmp_path)
    await harness.send(b'{"schema_version": "1.0", "article_id": 7}', key=b"bad")
    await harness.send(article("b1", title="boom"))
    await harness.send(article("ok"))
    decode, handle = harness.dead_letters
    assert decode.origin_topic == "fetched" and decode.key == b"bad" and decode.offset == 0
    assert "article_id" in decode.error_message
    assert handle.error_type == "RuntimeError" and handle.offset == 1
    assert [w.key for w in harness.written if w.topic == "relayed"] == ["ok"]


async def test_skip_leaves_the_record_and_counts_it(tmp_path: Path) -> None:
    from prometheus_client import REGISTRY

    def skipped() -> float:
        value = REGISTRY.get_sample_value(
            "mediawatch_records_skipped_total",
            {"service": "relay-test", "topic": "fetched", "step": "handle"},
        )
        return value or 0.0

    harness = relay_pipe(tmp_path, OnError.SKIP)
    before = skipped()
    assert await harness.send(article("b1", title="boom")) == []
    assert harness.dead_letters == []
    assert skipped() == before + 1
    assert [w.key for w in await harness.send(article("ok"))] == ["ok"]


async def test_raise_stops_with_the_failure_named(tmp_path: Path) -> None:
    harness = relay_pipe(tmp_path, OnError.RAISE)
    with pytest.raises(StreamStopped) as stopped:
        await harness.send(article("b1", title="boom"))
    assert stopped.value.failure.step == "handle"
    assert "fetched[0]@0" in str(stopped.value)
    assert harness.written == []


@pytest.mark.kafka
async def test_raise_stops_the_worker_before_the_record_is_committed(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    app_id = f"relay-{uuid.uuid4().hex[:8]}"
    output_topic = f"{kafka_settings.topic_articles_fetched}.relayed"
    await create_topic(kafka_settings, output_topic)
    env = os.environ | settings_environment(kafka_settings) | {
        "RELAY_OUTPUT_TOPIC": output_topic,
        "RELAY_APP_ID": app_id,
        "MEDIAWATCH_STATE_DIR": str(tmp_path / "state"),
        "MEDIAWATCH_HTTP_PORT": str(free_port()),
        "MEDIAWATCH_ON_ERROR": "raise",
    }  # fmt: skip
    one = article("p1")
    boom = article("p2", title="boom")
    await produce(
        kafka_settings,
        kafka_settings.topic_articles_fetched,
        [(b"same", one.to_json(), None), (b"same", boom.to_json(), None)],
    )
    log = tmp_path / "relay.log"

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, str(RELAY_APP), "worker"],
            env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip

    first = start()
    code = await asyncio.to_thread(first.wait, 180)
    assert code == EXIT_STOPPED_ON_RECORD, log.read_text(errors="replace")[-3000:]
    assert "stopped on" in log.read_text(errors="replace")
    relayed = await read_topic(kafka_settings, output_topic, until=lambda r: len(r) >= 1)
    assert [r.key for r in relayed] == [b"p1"]
    assert not await read_topic(
        kafka_settings, kafka_settings.topic_deadletter, until=lambda r: False, timeout_s=3
    )

    # Nothing past the poison record is committed: a restart stops on it again.
    client = consumer(kafka_settings, group_id=app_id)
    await client.start()
    try:
        partitions = client.partitions_for_topic(kafka_settings.topic_articles_fetched) or set()
        committed = [
            await client.committed(TopicPartition(kafka_settings.topic_articles_fetched, p))
            for p in sorted(partitions)
        ]
    finally:
        await client.stop()
    boom_offset = 1  # both records share a key, so a partition, at offsets 0 and 1
    assert all(c is None or c <= boom_offset for c in committed), committed
    second = start()
    assert await asyncio.to_thread(second.wait, 180) == EXIT_STOPPED_ON_RECORD
