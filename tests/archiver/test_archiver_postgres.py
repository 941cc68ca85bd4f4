"""The archiver on PostgreSQL through a real broker: stored once each, and PostgreSQL stopped
for 20 s in the middle of a stream (issue 16, reliability): the archiver waits, resumes,
and nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from pydantic import SecretStr

from mediawatch.archiver.postgres import PostgresArchive
from mediawatch.archiver.service import Archiver
from mediawatch.archiver.settings import ArchiverSettings
from mediawatch.archiver.store import StoreUnavailable
from mediawatch.runtime.kafka import ensure_topics, producer
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.stack.postgres import LocalPostgres
from tests.support.alerter import at, tagged

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
OUTAGE_S = 20.0


async def write(settings: KafkaSettings, first: int, count: int) -> list[str]:
    ids = [f"pg{n:05d}" for n in range(first, first + count)]
    client = producer(settings)
    await client.start()
    try:
        for n, article_id in zip(range(first, first + count), ids, strict=True):
            event = tagged(article_id, at(n / 60), text=f"Article {n} on NATO and Moscow.")
            await client.send(settings.topic_articles_tagged, event.to_json(),
                              key=article_id.encode())  # fmt: skip
        await client.flush()
    finally:
        await client.stop()
    return ids


def count(url: str) -> int:
    try:
        reader = PostgresArchive(url)
    except StoreUnavailable:
        return -1
    try:
        return reader.count_articles()
    finally:
        reader.close()


async def until_count(url: str, wanted: int, bound_s: float) -> None:
    async with asyncio.timeout(bound_s):
        while True:
            if await asyncio.to_thread(count, url) >= wanted:
                return
            await asyncio.sleep(0.3)


async def test_postgresql_stopped_for_20_s_mid_stream_loses_nothing(
    kafka_settings: KafkaSettings, tmp_path: Path, postgres_server: LocalPostgres
) -> None:
    await ensure_topics(kafka_settings)
    url = postgres_server.new_database()
    settings = ArchiverSettings(
        **kafka_settings.model_dump(),
        state_dir=tmp_path,
        archive_url=SecretStr(url),
        archiver_group_id=f"archiver-{tmp_path.name}",
        archiver_batch_records=100,
    )
    ids = await write(kafka_settings, 0, 2000)
    store = PostgresArchive(url)
    running = asyncio.create_task(Archiver(settings, store).run())
    try:
        await until_count(url, 300, 60)
        await asyncio.to_thread(postgres_server.halt)
        ids += await write(kafka_settings, 2000, 500)  # more coverage during the outage
        await asyncio.sleep(OUTAGE_S)
        assert not running.done(), "the archiver gave up while PostgreSQL was down"
        await asyncio.to_thread(postgres_server.start)
        await until_count(url, len(ids), 120)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        store.close()
    reader = PostgresArchive(url)
    try:
        assert sorted(reader.article_ids()) == ids
        assert reader.count_articles() == len(ids)
    finally:
        reader.close()
