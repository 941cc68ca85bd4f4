"""The archiver's loop: the tagged-articles and alerts topics into the store, at least once.

Records are read in batches and written to the store in one transaction per batch; offsets
are committed only after that transaction. A process killed in between reads the batch again
and the upserts (by article id, by alert id) store each record once. A record that cannot be
decoded, or that the store refuses on its own, is dead-lettered with the reason and passed:
one bad record never stalls a partition. A store that fails as a whole (disk full, file
locked) is retried with backoff, the offsets left uncommitted, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import TopicPartition
from prometheus_client import Counter

from mediawatch.archiver.backends import describe, open_archive
from mediawatch.archiver.settings import ArchiverSettings
from mediawatch.archiver.store import ArchiveStore, StoreUnavailable
from mediawatch.runtime.deadletter import dead_letter_for
from mediawatch.runtime.durable import send_event_durably
from mediawatch.runtime.http import ServiceHttpServer
from mediawatch.runtime.kafka import consumer, ensure_topics, producer
from mediawatch.runtime.lag import observe_lag
from mediawatch.runtime.logs import configure_logging
from mediawatch.schemas import Alert, ArticleTagged

log = logging.getLogger(__name__)
CE_SOURCE = "/mediawatch/archiver"
PURGE_EVERY_S = 3600.0

ARCHIVED_TOTAL = Counter(
    "mediawatch_archived_total",
    "Records written to the archive, by kind (article or alert).",
    ["kind"],
)


class Archiver:
    def __init__(self, settings: ArchiverSettings, store: ArchiveStore) -> None:
        self.settings = settings
        self.store = store
        self.ready = asyncio.Event()
        self._producer: Any = None
        self._last_purge = 0.0

    async def _dead_letter(self, message: Any, error: BaseException) -> None:
        key, letter = dead_letter_for(message, error, self.settings.service_name)
        await send_event_durably(
            self._producer, self.settings.topic_deadletter, key, letter, source=CE_SOURCE
        )

    def _decode(self, message: Any) -> ArticleTagged | Alert:
        if message.value is None:
            raise ValueError(f"{message.topic}: a record without a value (a tombstone)")
        if message.topic == self.settings.topic_alerts:
            return Alert.from_json(message.value)
        return ArticleTagged.from_json(message.value)

    def _write(self, events: Sequence[ArticleTagged | Alert]) -> None:
        articles = [e for e in events if isinstance(e, ArticleTagged)]
        alerts = [e for e in events if isinstance(e, Alert)]
        if articles:
            self.store.upsert_articles(articles)
            ARCHIVED_TOTAL.labels("article").inc(len(articles))
        if alerts:
            self.store.upsert_alerts(alerts)
            ARCHIVED_TOTAL.labels("alert").inc(len(alerts))

    async def _store_batch(self, decoded: list[tuple[Any, ArticleTagged | Alert]]) -> None:
        """Write the batch; if the store refuses it, write record by record and dead-letter
        the records it refuses alone. A store that fails as a whole raises."""
        try:
            await asyncio.to_thread(self._write, [event for _, event in decoded])
            return
        except StoreUnavailable:
            raise  # the store, not a record: retried by the loop
        except Exception:
            log.warning("a batch was refused; writing its records one by one")
        for message, event in decoded:
            try:
                await asyncio.to_thread(self._write, [event])
            except StoreUnavailable:
                raise
            except Exception as exc:
                await self._dead_letter(message, exc)

    async def _purge_if_due(self) -> None:
        days = self.settings.archive_retention_days
        now = time.monotonic()
        if days is None or (now - self._last_purge < PURGE_EVERY_S and self._last_purge):
            return
        self._last_purge = now
        cutoff = datetime.now(UTC) - timedelta(days=days)
        try:
            articles, alerts = await asyncio.to_thread(self.store.purge_before, cutoff)
        except StoreUnavailable as exc:
            self._last_purge = 0.0  # try again on the next batch
            log.warning("retention postponed", extra={"error": str(exc)})
            return
        log.info(
            "retention applied",
            extra={"before": cutoff.isoformat(), "articles": articles, "alerts": alerts},
        )

    async def run(self) -> None:
        """Archive until cancelled."""
        settings = self.settings
        self._producer = producer(settings)
        await self._producer.start()
        client = consumer(
            settings,
            settings.topic_articles_tagged,
            settings.topic_alerts,
            group_id=settings.archiver_group_id,
            auto_offset_reset="earliest",
            max_poll_records=settings.archiver_batch_records,
        )
        await client.start()
        delay = 0.5
        try:
            while True:
                await self._purge_if_due()
                batches = await client.getmany(
                    timeout_ms=500, max_records=settings.archiver_batch_records
                )
                if client.assignment():
                    self.ready.set()
                decoded: list[tuple[Any, ArticleTagged | Alert]] = []
                ends: dict[TopicPartition, int] = {}
                for tp, messages in batches.items():
                    for message in messages:
                        ends[tp] = message.offset + 1
                        try:
                            decoded.append((message, self._decode(message)))
                        except ValueError as exc:
                            await self._dead_letter(message, exc)
                if ends:
                    try:
                        await self._store_batch(decoded)
                    except StoreUnavailable as exc:
                        log.warning(
                            "the archive refused a write; retrying",
                            extra={"error": str(exc), "delay_s": delay},
                        )
                        for tp in ends:  # read the batch again
                            client.seek(tp, batches[tp][0].offset)
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 10.0)
                        continue
                    delay = 0.5
                    await client.commit(ends)
                await observe_lag(client, settings.service_name)
        finally:
            with contextlib.suppress(Exception):
                await client.stop()
            await self._producer.stop()


async def serve(settings: ArchiverSettings) -> None:
    """Run the archiver with its HTTP probes until SIGINT or SIGTERM."""
    await ensure_topics(settings)
    store = open_archive(settings.resolved_archive_path(), settings.archive_url)
    where = describe(settings.resolved_archive_path(), settings.archive_url)
    archiver = Archiver(settings, store)

    def readiness() -> tuple[bool, str]:
        if archiver.ready.is_set():
            return True, f"archiving into {where}"
        return False, "no partitions assigned yet"

    server = ServiceHttpServer.for_service(settings, readiness=readiness)
    await server.start()
    task = asyncio.create_task(archiver.run(), name="archiver")
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    log.info(
        "archiver started",
        extra={"archive": where, "port": server.port},
    )
    try:
        await task
    except asyncio.CancelledError:
        log.info("archiver stopped")
    finally:
        await server.stop()
        store.close()


def run(settings: ArchiverSettings) -> None:
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    asyncio.run(serve(settings))
