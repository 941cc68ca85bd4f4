"""The archiver through a real broker: tagged articles and alerts stored once each, however
often they are read, a malformed record dead-lettered with its reason, not stalling the
partition, and the retention setting applied (issue 16, item 1)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mediawatch.archiver.search import search
from mediawatch.archiver.service import Archiver
from mediawatch.archiver.settings import ArchiverSettings
from mediawatch.archiver.sqlite import SqliteArchive
from mediawatch.archiver.store import ArticleFilters
from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import Alert, AlertMode, Severity
from tests.support.alerter import at, tagged
from tests.support.kafka_io import produce, read_topic

pytestmark = [pytest.mark.kafka]


async def until(condition: object, timeout_s: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {timeout_s:.0f}s: {what}")
        await asyncio.sleep(0.2)


async def test_articles_and_alerts_are_stored_once_and_a_bad_record_is_dead_lettered(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    settings = ArchiverSettings(
        **kafka_settings.model_dump(),
        state_dir=tmp_path,
        archiver_group_id=f"archiver-{tmp_path.name}",
        archive_retention_days=3650,
    )
    await ensure_topics(settings)
    articles = [
        tagged(f"art-{n}", at(n), text=f"Article {n} on indivisible security and NATO.")
        for n in range(30)
    ]
    alert = Alert(
        alert_id="alert-1",
        rule_id="indivisible-security",
        mode=AlertMode.EACH_MATCH,
        severity=Severity.WARNING,
        fired_at=at(31),
    )
    records = [(a.article.article_id.encode(), a.to_json(), None) for a in articles]
    # Read twice (a redelivery), with a malformed record between them.
    await produce(settings, settings.topic_articles_tagged, records[:10])
    await produce(settings, settings.topic_articles_tagged, [(b"bad", b'{"article": 1}', None)])
    await produce(settings, settings.topic_articles_tagged, records)
    await produce(settings, settings.topic_alerts, [(b"alert-1", alert.to_json(), None)] * 2)

    store = SqliteArchive(settings.resolved_archive_path())
    # Older than the retention setting: the archiver deletes it when it starts.
    store.upsert_articles([tagged("ancient", datetime(2010, 1, 1, tzinfo=UTC))])
    archiver = Archiver(settings, store)
    running = asyncio.create_task(archiver.run())
    try:
        await until(
            lambda: store.count_articles() == 30 and store.count_alerts() == 1,
            60,
            "30 articles and 1 alert archived",
        )
        letters = await read_topic(
            settings, settings.topic_deadletter, until=lambda r: len(r) >= 1, timeout_s=30
        )
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert sorted(store.article_ids()) == sorted(a.article.article_id for a in articles), (
        "an article was lost, or the one older than the retention was kept"
    )
    [letter] = [json.loads(r.value) for r in letters if r.value]
    assert letter["origin_topic"] == settings.topic_articles_tagged
    assert letter["service"] == "archiver"
    # The reason names the event and each field that was wrong.
    assert "ArticleTagged: article: Input should be a valid dictionary" in letter["error_message"]
    assert "text_end: Field required" in letter["error_message"]
    page = search(store, '"indivisible security" AND nato', ArticleFilters(), limit=100)
    assert len(page.hits) == 30
    store.close()
