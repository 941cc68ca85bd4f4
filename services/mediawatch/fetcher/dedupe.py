"""What the fetcher has published, kept in the compacted Kafka topic of ``ArticleSeen``
records: read to the end at start-up, then followed so other instances' records are learnt.

Exact duplicates are found by content hash; near-duplicates by a 64-bit SimHash split in
four 16-bit bands (two hashes within Hamming distance 3 share at least one band exactly).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer

from mediawatch.fetcher.identity import hamming
from mediawatch.runtime.following import follow, read_batch
from mediawatch.runtime.kafka import consumer
from mediawatch.runtime.settings import ServiceSettings
from mediawatch.schemas import ArticleSeen

log = logging.getLogger(__name__)

BANDS = 4
BAND_BITS = 64 // BANDS


@dataclass(frozen=True)
class Known:
    article_id: str
    content_hash: str
    simhash: int
    duplicate_of: str | None


@dataclass(frozen=True)
class Verdict:
    """``exact``: already published (``of`` is its id); else publish, ``of`` = near-dup."""

    exact: bool
    of: str | None


def _bands(value: int) -> list[tuple[int, int]]:
    mask = (1 << BAND_BITS) - 1
    return [(band, value >> (band * BAND_BITS) & mask) for band in range(BANDS)]


class SeenIndex:
    """In-memory indexes over the newest ``max_articles`` known articles (from Kafka and from
    this process); older ones are forgotten, so memory stays bounded however long the
    fetcher runs (about 1.4 kB an article, measured with tracemalloc)."""

    def __init__(self, max_distance: int = 3, max_articles: int = 100_000) -> None:
        if max_distance >= BANDS:
            raise ValueError(f"max_distance must be below {BANDS} for the band index")
        self.max_distance = max_distance
        self.max_articles = max_articles
        self.by_id: dict[str, Known] = {}  # oldest first: insertion order is age
        self.by_hash: dict[str, str] = {}
        self._bands: dict[tuple[int, int], set[str]] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def knows_id(self, article_id: str) -> bool:
        return article_id in self.by_id

    def add(self, known: Known) -> None:
        previous = self.by_id.pop(known.article_id, None)  # a new version is the newest
        if previous is not None and previous.simhash != known.simhash:
            for key in _bands(previous.simhash):
                self._bands.get(key, set()).discard(known.article_id)
        self.by_id[known.article_id] = known
        self.by_hash.setdefault(known.content_hash, known.article_id)
        for key in _bands(known.simhash):
            self._bands.setdefault(key, set()).add(known.article_id)
        while len(self.by_id) > self.max_articles:
            self.remove(next(iter(self.by_id.values())))

    def remove(self, known: Known) -> None:
        """Forget an article: undo :meth:`add` when its publication failed, or evict it."""
        if self.by_id.get(known.article_id) == known:
            del self.by_id[known.article_id]
            for key in _bands(known.simhash):
                self._bands.get(key, set()).discard(known.article_id)
        if self.by_hash.get(known.content_hash) == known.article_id:
            del self.by_hash[known.content_hash]

    def judge(self, article_id: str, content_hash: str, simhash: int) -> Verdict:
        first = self.by_hash.get(content_hash)
        if first is not None:
            return Verdict(exact=True, of=first)
        best: Known | None = None
        best_distance = self.max_distance + 1
        for key in _bands(simhash):
            for other_id in self._bands.get(key, ()):
                if other_id == article_id:
                    continue  # a new version of the same page is not its own duplicate
                other = self.by_id[other_id]
                distance = hamming(other.simhash, simhash)
                if distance < best_distance:
                    best, best_distance = other, distance
        if best is None:
            return Verdict(exact=False, of=None)
        return Verdict(exact=False, of=best.duplicate_of or best.article_id)


class SeenStore:
    """Follows the seen topic into a :class:`SeenIndex`."""

    def __init__(self, settings: ServiceSettings, index: SeenIndex) -> None:
        self.settings = settings
        self.index = index
        self.loaded = False
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        #: Notified after every poll of the follower task, for :meth:`caught_up`.
        self._progress = asyncio.Condition()

    def learn(self, seen: ArticleSeen) -> None:
        self.index.add(
            Known(seen.article_id, seen.content_hash, int(seen.simhash, 16), seen.duplicate_of)
        )

    async def start(self, timeout_s: float = 120.0) -> None:
        """Read the seen topic to its end, then keep following it in the background."""
        topic = self.settings.topic_fetcher_seen
        client = consumer(self.settings, topic, group_id=None, auto_offset_reset="earliest")
        await client.start()
        self._consumer = client
        async with asyncio.timeout(timeout_s):
            while not client.assignment():  # without a group every partition is assigned
                await read_batch(client, ArticleSeen, self.learn, timeout_ms=100)
            assigned = sorted(client.assignment())
            ends = await client.end_offsets(assigned)
            while True:
                positions = [await client.position(tp) for tp in assigned]
                if all(pos >= ends[tp] for pos, tp in zip(positions, assigned, strict=True)):
                    break
                await read_batch(client, ArticleSeen, self.learn)
        self.loaded = True
        log.info("seen-state loaded", extra={"articles": len(self.index), "topic": topic})
        following = follow(
            client,
            ArticleSeen,
            self.learn,
            service=self.settings.service_name,
            after_poll=self._polled,
        )
        self._task = asyncio.create_task(following, name="seen-follow")

    async def caught_up(self, timeout_s: float = 60.0) -> None:
        """Wait until every seen record on the topic when called has been learnt: before an
        instance polls a source handed over by another, it must know what that one
        published."""
        client = self._consumer
        assert client is not None and self.loaded, "start() first"
        assigned = sorted(client.assignment())
        ends = await client.end_offsets(assigned)
        async with asyncio.timeout(timeout_s):
            while any([await client.position(tp) < ends[tp] for tp in assigned]):
                async with self._progress:  # the follower task reads; we watch its positions
                    await self._progress.wait()

    async def _polled(self) -> None:
        async with self._progress:
            self._progress.notify_all()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
