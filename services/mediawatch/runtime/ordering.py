"""Every record of a stream partition reaches the agents once per reading, in offset order,
from the committed offset on: a faust consumer that enforces it.

faust filters what its fetcher returns with one number per partition, the last offset it
read, and drops anything below it. After a rebalance that is not enough. A batch fetched
from the old position can arrive after faust has sought back to the committed offset; faust
then takes the batch (its offsets are above the committed one), raises its read offset past
the records in between, and drops them when they are fetched again. Seeking back from an
agent does not repair this either: the fetcher runs on its own thread and a seek made from
the agent's thread can be overwritten by a fetch that was already under way. The alerter
lost alerts this way after a kill and restart.

:class:`ContiguousConsumer` keeps, per stream partition, the next offset the agents must
see, reset to the committed offset whenever faust seeks there. A record below it is a
repeat and is dropped; a record above it means records were skipped, so the consumer seeks
back (on the fetcher's thread) and drops the rest of that batch. Only when a fresh fetch
from the next offset still starts later (offsets taken by transaction markers, compaction
or retention) is the gap accepted. faust's own filter is switched off for these partitions;
changelog partitions, which faust reads during recovery, keep faust's handling.

The same consumer's fetches can also wait for a batch (:class:`FetchBatching`, from the
``MEDIAWATCH_KAFKA_FETCH_*`` settings, which faust does not expose): with one byte, the
default, every record under load costs a fetch cycle of its own, most of a consumer's CPU;
a larger minimum trades latency on quiet topics for CPU under load.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP

log = logging.getLogger(__name__)


class Verdict(Enum):
    """What to do with a fetched record."""

    DELIVER = "deliver"
    #: Already handed over in this reading (a re-fetch after a seek back).
    REPEAT = "repeat"
    #: Ahead of the next offset: seek back to it and drop the rest of the batch.
    REWIND = "rewind"


@dataclass
class PartitionOrder:
    """The next offset each partition owes the agents, and which ones were just rewound."""

    next_offsets: dict[Any, int] = field(default_factory=dict)
    rewound: set[Any] = field(default_factory=set)

    def restart(self, tp: Any, offset: int) -> None:
        """The consumer now reads ``tp`` from ``offset``."""
        self.next_offsets[tp] = offset
        self.rewound.discard(tp)

    def forget(self, tp: Any) -> None:
        self.next_offsets.pop(tp, None)
        self.rewound.discard(tp)

    def judge(self, tp: Any, offset: int) -> Verdict:
        """The verdict on the first record of ``tp`` in a batch, or a later one of the same
        batch; a REWIND verdict expects the caller to seek and to skip the batch's rest."""
        expected = self.next_offsets.get(tp)
        if expected is None or offset == expected:
            return self._deliver(tp, offset)
        if offset < expected:
            return Verdict.REPEAT
        if tp in self.rewound:
            # A fetch from `expected` itself starts here: the broker holds nothing between.
            log.info(
                "offsets absent on the broker; continuing after them",
                extra={"topic": tp.topic, "partition": tp.partition,
                       "first_absent": expected, "next": offset},
            )  # fmt: skip
            return self._deliver(tp, offset)
        self.rewound.add(tp)
        log.warning(
            "records fetched ahead of the next offset; seeking back to it",
            extra={"topic": tp.topic, "partition": tp.partition,
                   "next_offset": expected, "fetched": offset},
        )  # fmt: skip
        return Verdict.REWIND

    def _deliver(self, tp: Any, offset: int) -> Verdict:
        self.next_offsets[tp] = offset + 1
        self.rewound.discard(tp)
        return Verdict.DELIVER


class ContiguousConsumer(aiokafka_driver.Consumer):
    """faust's aiokafka consumer with :class:`PartitionOrder` enforced on stream partitions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order = PartitionOrder()

    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return BatchingConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:  # noqa: ASYNC109 (faust's signature)
        rewound_in_batch: set[TP] = set()
        async for tp, message in super().getmany(timeout):
            if self._is_changelog_tp(tp):
                yield tp, message
                continue
            if tp in rewound_in_batch:
                continue
            verdict = self.order.judge(tp, message.offset)
            if verdict is Verdict.REWIND:
                rewound_in_batch.add(tp)
                await self.seek_wait({tp: self.order.next_offsets[tp]})
            elif verdict is Verdict.DELIVER:
                # The order is decided here; faust's filter on its read offset would only
                # drop records that were never handed over.
                self._read_offset[tp] = None
                yield tp, message

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek to the committed offsets (faust does so after every rebalance) and restart
        the order there. aiokafka leaves a partition whose commit is missing or 0 where its
        fetcher was, so such a partition is sought to its first offset explicitly."""
        committed: Mapping[TP, int] = await super().seek_to_committed()
        streams = {tp: offset for tp, offset in committed.items() if not self._is_changelog_tp(tp)}
        fresh = [tp for tp, offset in streams.items() if offset is None or offset <= 0]
        if fresh:
            earliest = await self.earliest_offsets(*fresh)
            await self.seek_wait({tp: earliest[tp] for tp in fresh})
            streams = {**streams, **{tp: earliest[tp] for tp in fresh}}
        for tp, offset in streams.items():
            self.order.restart(tp, offset)
        return committed

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self.order.forget(tp)
        await super().on_partitions_revoked(revoked)


@dataclass(frozen=True)
class FetchBatching:
    """How long and for how many bytes the worker consumer's fetches wait (faust does not
    expose aiokafka's ``fetch_min_bytes``, and fixes ``fetch_max_wait_ms`` at 1500)."""

    min_bytes: int
    max_wait_ms: int


class BatchingConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """faust's consumer thread, whose aiokafka consumer fetches in batches
    (:class:`FetchBatching` of the transport)."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        batching: FetchBatching | None = getattr(transport, "fetch_batching", None)
        if batching is not None:
            # Read by AIOKafkaConsumer.start() when it builds its fetcher (aiokafka 0.13-0.14,
            # the versions pyproject admits).
            consumer._fetch_min_bytes = batching.min_bytes
            consumer._fetch_max_wait_ms = batching.max_wait_ms
        return consumer


class ContiguousTransport(aiokafka_driver.Transport):
    """The aiokafka transport, creating :class:`ContiguousConsumer` consumers that fetch as
    :attr:`fetch_batching` says."""

    Consumer = ContiguousConsumer
    fetch_batching: FetchBatching | None = None
