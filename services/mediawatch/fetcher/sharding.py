"""Fetcher instances share the sources through Kafka's own group membership.

Every source belongs to one partition of the compacted sources topic (its id hashed the way
Kafka's default partitioner hashes a key). Each instance joins one consumer group on that
topic; the partitions the group assigns to an instance are the sources it polls. When an
instance joins, leaves or misses its heartbeats for the session timeout, the group
rebalances and the sources move: no coordinator of ours, only Kafka's.

The topic's records say when a pass over each source last started (key: source id). An
instance handed a partition reads it to its end before it polls the partition's sources, so
a source keeps its interval across a handover: the new owner polls it one interval after
the old owner last did, not at once.

Duplicate suppression across instances rests on article ids that every instance derives
alike (from the canonical URL, else the content hash) and on the seen topic, which every
instance follows. Before the new owner polls a handed-over source it

* reads the seen topic to its end, so it knows what the old owner recorded, and
* reads the articles topic from the old owner's last pass start on: an instance killed
  between an article's acknowledgement and its seen record's left the article without one;
  it is learnt from the article itself and its seen record written.

A graceful handover (an instance stopping, or another joining) lets the passes in flight
finish, or cancels them after ``shutdown_grace_s`` without cancelling their sends, before
the partition is given up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.partitioner import murmur2

from mediawatch.fetcher.sources import Source
from mediawatch.runtime.following import follow
from mediawatch.runtime.kafka import consumer, ensure_topics, partitions_of
from mediawatch.schemas import ArticleFetched, SourcePolled, cloudevent_headers
from mediawatch.schemas.topics import FETCHER_SOURCES

if TYPE_CHECKING:
    from mediawatch.fetcher.service import Fetcher

log = logging.getLogger(__name__)
CE_SOURCE = "/mediawatch/fetcher"
#: How far before the old owner's last pass start the articles topic is read: margin for
#: the clocks of two hosts.
CLOCK_MARGIN_S = 60.0


def partition_of(source_id: str, partitions: int) -> int:
    """The partition of ``source_id``: what Kafka's default partitioner gives its key."""
    return (int(murmur2(source_id.encode("utf-8"))) & 0x7FFFFFFF) % partitions


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, membership: SourceMembership) -> None:
        self.membership = membership

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.membership.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.membership.assigned(assigned)


class SourceMembership:
    """This instance's membership of the fetcher group: it schedules the sources of the
    partitions assigned to it on the fetcher and unschedules those revoked."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self.settings = fetcher.settings
        self.topic = self.settings.topic_fetcher_sources
        self.instance = f"{self.settings.service_name}-{uuid.uuid4().hex[:8]}"
        #: Unix time the newest pass over each source started, from the topic and from this
        #: instance's own passes.
        self.last_polled: dict[str, float] = {}
        self._sources: dict[int, list[Source]] = {}
        self._partitions = 0
        #: Partitions assigned but not read to their end yet: the offset to reach first.
        self._catching_up: dict[TopicPartition, int] = {}
        self._owned: set[TopicPartition] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await ensure_topics(self.settings, [FETCHER_SOURCES])
        self._partitions = len(await partitions_of(self.settings, self.topic))
        self._sources = defaultdict(list)
        for source in self.fetcher.sources:
            self._sources[partition_of(source.id, self._partitions)].append(source)
        session_ms = int(self.settings.kafka_session_timeout_s * 1000)
        client = consumer(
            self.settings,
            group_id=self.settings.fetcher_group_id,
            auto_offset_reset="earliest",
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=max(1000, session_ms // 3),
            request_timeout_ms=session_ms + 30_000,
            # Revocation waits for the passes in flight (up to the shutdown grace).
            rebalance_timeout_ms=max(session_ms, int(self.settings.shutdown_grace_s * 1000))
            + 10_000,
        )
        self._consumer = client  # before start(): the first assignment may come within it
        self.fetcher.before_pass = self.record_pass
        client.subscribe([self.topic], listener=_Rebalance(self))
        await client.start()
        following = follow(
            client,
            SourcePolled,
            self._learn,
            service=self.settings.service_name,
            after_poll=lambda: self._take_caught_up(client),
        )
        self._task = asyncio.create_task(following, name="fetcher-group")
        log.info(
            "joining the fetcher group",
            extra={"group": self.settings.fetcher_group_id, "instance": self.instance},
        )

    async def stop(self) -> None:
        """Finish the passes in flight, then leave the group so the others take over."""
        await self.fetcher.unschedule(self.fetcher.scheduled)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def record_pass(self, source: Source, started: float) -> None:
        self.last_polled[source.id] = max(started, self.last_polled.get(source.id, 0.0))
        record = SourcePolled(
            source_id=source.id,
            polled_at=datetime.fromtimestamp(started, UTC),
            instance=self.instance,
        )
        await self.fetcher.producer.send_and_wait(
            self.topic,
            record.to_json(),
            key=source.id.encode("utf-8"),
            partition=partition_of(source.id, self._partitions),
            headers=cloudevent_headers(record, source=CE_SOURCE),
        )

    # -- the group's decisions --------------------------------------------------------------
    async def revoked(self, revoked: set[TopicPartition]) -> None:
        ids = {s.id for tp in revoked for s in self._sources.get(tp.partition, [])}
        self._owned -= revoked
        for tp in revoked:
            self._catching_up.pop(tp, None)
        await self.fetcher.unschedule(ids & self.fetcher.scheduled)
        if ids:
            log.info("sources handed back", extra={"sources": sorted(ids)})

    async def assigned(self, assigned: set[TopicPartition]) -> None:
        assert self._consumer is not None
        fresh = assigned - self._owned
        if not fresh:
            return
        await self._consumer.seek_to_beginning(*fresh)
        ends = await self._consumer.end_offsets(list(fresh))
        self._catching_up.update({tp: ends[tp] for tp in fresh})

    # -- following the topic ----------------------------------------------------------------
    def _learn(self, polled: SourcePolled) -> None:
        moment = polled.polled_at.timestamp()
        self.last_polled[polled.source_id] = max(moment, self.last_polled.get(polled.source_id, 0))

    async def _take_caught_up(self, client: AIOKafkaConsumer) -> None:
        """Schedule the sources of every assigned partition that is read to its end."""
        ready = [
            tp
            for tp, end in list(self._catching_up.items())
            if tp in client.assignment() and await client.position(tp) >= end
        ]
        if not ready or self.fetcher.stopping.is_set():
            return
        taken = [s for tp in ready for s in self._sources.get(tp.partition, [])]
        await self.fetcher.seen.caught_up()  # what the previous owners recorded is known
        polled = [self.last_polled[s.id] for s in taken if s.id in self.last_polled]
        if polled:
            await self._learn_published_since(min(polled), {s.id for s in taken})
        for tp in ready:
            if self._catching_up.pop(tp, None) is None:
                continue  # revoked meanwhile
            self._owned.add(tp)
            for source in self._sources.get(tp.partition, []):
                last = self.last_polled.get(source.id)
                first = None if last is None else last + source.interval
                self.fetcher.schedule(source, first_pass_at=first)
        log.info(
            "sources taken",
            extra={"sources": sorted(self.fetcher.scheduled), "instance": self.instance},
        )

    async def _learn_published_since(self, since: float, source_ids: set[str]) -> None:
        """Learn every article of these sources on the articles topic since ``since`` (less
        the clock margin) that the seen state lacks (see the module docstring)."""
        topic = self.settings.topic_articles_fetched
        partitions = [TopicPartition(topic, n) for n in await partitions_of(self.settings, topic)]
        reader = consumer(self.settings, group_id=None)
        await reader.start()
        try:
            reader.assign(partitions)
            moment_ms = int((since - CLOCK_MARGIN_S) * 1000)
            starts = await reader.offsets_for_times({tp: moment_ms for tp in partitions})
            ends = await reader.end_offsets(partitions)
            remaining: dict[TopicPartition, int] = {}
            for tp in partitions:
                start = starts.get(tp)
                if start is not None and start.offset < ends[tp]:
                    reader.seek(tp, start.offset)
                    remaining[tp] = ends[tp]
            restored = 0
            while remaining:
                batches = await reader.getmany(*remaining, timeout_ms=500, max_records=1000)
                for records in batches.values():
                    for record in records:
                        event = self._article(record.value)
                        if event is None or event.source.id not in source_ids:
                            continue
                        if await self.fetcher.publisher.remember(event):
                            restored += 1
                for tp in list(remaining):
                    if await reader.position(tp) >= remaining[tp]:
                        del remaining[tp]
        finally:
            await reader.stop()
        if restored:
            log.warning(
                "articles without a seen record learnt from the articles topic",
                extra={"articles": restored, "sources": sorted(source_ids)},
            )

    @staticmethod
    def _article(payload: bytes | None) -> ArticleFetched | None:
        if payload is None:
            return None
        try:
            return ArticleFetched.from_json(payload)
        except ValueError:
            return None  # not ours to judge: the tagger dead-letters unreadable records
