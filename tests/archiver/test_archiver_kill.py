"""The archiver killed with SIGKILL in the middle of 5,000 articles, then restarted: every
article of the topic is in the archive exactly once (issue 16, reliability)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from mediawatch.runtime.kafka import ensure_topics, producer
from mediawatch.runtime.settings import KafkaSettings
from tests.support.alerter import at, tagged
from tests.support.environment import settings_environment
from tests.support.workers import ServiceProcess, start_ready

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
ARTICLES = 5000


def stored(archive: Path) -> list[str]:
    """The article ids in the archive file now (read beside the running archiver)."""
    if not archive.exists():
        return []
    with sqlite3.connect(f"file:{archive}?mode=ro", uri=True, timeout=10) as db:
        try:
            return [row[0] for row in db.execute("SELECT article_id FROM articles")]
        except sqlite3.OperationalError:  # the schema is not there yet
            return []


async def until_stored(archive: Path, count: int, worker: ServiceProcess, bound_s: float) -> None:
    try:
        async with asyncio.timeout(bound_s):
            while True:
                if len(await asyncio.to_thread(stored, archive)) >= count:
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(
            f"fewer than {count} archived after {bound_s:.0f}s; log:\n{worker.log_tail()}"
        ) from None


async def test_a_killed_archiver_loses_nothing_and_stores_nothing_twice(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    ids = [f"k{n:05d}" for n in range(ARTICLES)]
    client = producer(kafka_settings)
    await client.start()
    try:
        for n, article_id in enumerate(ids):
            event = tagged(article_id, at(n / 60), text=f"Article {n} about NATO and Moscow.")
            await client.send(kafka_settings.topic_articles_tagged, event.to_json(),
                              key=article_id.encode())  # fmt: skip
        await client.flush()
    finally:
        await client.stop()
    archive = tmp_path / "archive.sqlite3"
    env = settings_environment(kafka_settings) | {
        "MEDIAWATCH_ARCHIVE_PATH": str(archive),
        "MEDIAWATCH_STATE_DIR": str(tmp_path / "state"),
        "MEDIAWATCH_ARCHIVER_GROUP_ID": f"archiver-{tmp_path.name}",
        "MEDIAWATCH_ARCHIVER_BATCH_RECORDS": "100",
        "MEDIAWATCH_LOG_FORMAT": "text",
    }
    first = ServiceProcess(["archiver", "run"], env, tmp_path / "first.log")
    await start_ready(first)
    try:
        await until_stored(archive, 500, first, 120)
    finally:
        first.kill()
    at_kill = len(stored(archive))
    assert at_kill < ARTICLES, "the archiver finished before it was killed; kill it sooner"
    second = ServiceProcess(["archiver", "run"], env, tmp_path / "second.log")
    await start_ready(second)
    try:
        await until_stored(archive, ARTICLES, second, 180)
    finally:
        second.stop()
    found = stored(archive)
    assert len(found) == ARTICLES and sorted(found) == ids
    print(f"\nkilled with {at_kill} of {ARTICLES} archived; all {ARTICLES} after the restart")
