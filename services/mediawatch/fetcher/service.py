"""The fetcher core: it schedules passes over sources, deduplicates (the Kafka seen-state)
and publishes. What a pass does is each source kind's business (feed.py, page.py,
sitemap.py, inbox.py; push.py for the push endpoint); which sources this instance polls is
its own (every one) or, with ``shard_sources``, the Kafka group's (sharding.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from mediawatch.fetcher.dedupe import SeenIndex, SeenStore
from mediawatch.fetcher.feed import feed_pass
from mediawatch.fetcher.health import HealthBoard
from mediawatch.fetcher.http_client import FetchError, PoliteClient
from mediawatch.fetcher.inbox import inbox_pass
from mediawatch.fetcher.page import page_pass
from mediawatch.fetcher.passes import PassContext, PassResult, SourceFailure
from mediawatch.fetcher.publish import Publisher
from mediawatch.fetcher.routes import add_fetcher_routes
from mediawatch.fetcher.settings import FetcherSettings
from mediawatch.fetcher.sitemap import sitemap_pass
from mediawatch.fetcher.sources import Source, SourceType
from mediawatch.runtime.http import ServiceHttpServer
from mediawatch.runtime.kafka import ensure_topics, producer

log = logging.getLogger(__name__)

#: One pass over a source of each kind.
PASSES: dict[SourceType, Callable[[PassContext, Source], Awaitable[PassResult]]] = {
    "feed": feed_pass,
    "page": page_pass,
    "sitemap": sitemap_pass,
    "inbox": inbox_pass,
}

#: Called as a scheduled pass over a source starts, with the source and the Unix time; the
#: sharded mode records it so that the next owner keeps the interval and knows since when
#: to look for what this instance published.
PassHook = Callable[[Source, float], Awaitable[None]]


@dataclass
class _Schedule:
    """The loop of one scheduled source; setting ``halt`` ends it after the pass in flight."""

    task: asyncio.Task[None]
    halt: asyncio.Event = field(default_factory=asyncio.Event)


class Fetcher:
    def __init__(
        self,
        settings: FetcherSettings,
        sources: list[Source],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.sources = sources
        self.client = PoliteClient(settings, transport=transport)
        self.index = SeenIndex(settings.near_duplicate_distance, settings.seen_memory)
        self.seen = SeenStore(settings, self.index)
        self.producer = producer(settings)
        self.publisher = Publisher(settings, self.producer, self.index)
        self.health = HealthBoard([s.id for s in sources])
        self.stopping = asyncio.Event()
        self.context = PassContext(settings, self.client, self.index, self.publisher, self.stopping)
        self.before_pass: PassHook | None = None
        self._schedules: dict[str, _Schedule] = {}
        self._producer_started = False

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await ensure_topics(self.settings)
        await self.producer.start()
        self._producer_started = True
        await self.seen.start()

    async def stop(self) -> None:
        await self.seen.stop()
        await self.producer.stop()  # flushes whatever is still buffered; safe if not started
        await self.client.aclose()

    def ready(self) -> tuple[bool, str]:
        if not self._producer_started:
            return False, "not connected to Kafka yet"
        if not self.seen.loaded:
            return False, "seen-state still loading"
        return True, f"{len(self.index)} articles known"

    def add_routes(self, server: ServiceHttpServer) -> None:
        add_fetcher_routes(server, self.settings, self.sources, self.publisher, self.health)

    # -- one pass over one source -----------------------------------------------------------
    async def run_source(self, source: Source) -> bool:
        """One pass; never raises (but cancellation). Returns whether it succeeded."""
        self.health.attempt(source.id)
        extra = {"source_id": source.id, "url": source.url or str(source.path)}
        try:
            result = await PASSES[source.type](self.context, source)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = str(exc) if isinstance(exc, SourceFailure | FetchError) else repr(exc)
            self.health.failed(source.id, message)
            log.warning("source failed", extra=extra | {"error": message})
            return False
        self.health.succeeded(source.id, result)
        log.info(
            "source pass done",
            extra=extra
            | {
                "published": result.published,
                "duplicates": result.duplicates,
                "known": result.known,
                "failed_entries": result.failed_entries,
            },
        )
        return True

    async def run_once(self) -> dict[str, str]:
        """One pass over every source, all at once; returns {source id: error} of failures."""
        await asyncio.gather(*(self.run_source(source) for source in self.sources))
        return self.health.failures()

    # -- scheduling -------------------------------------------------------------------------
    @property
    def scheduled(self) -> set[str]:
        """Ids of the sources this instance polls now."""
        return set(self._schedules)

    def schedule(self, source: Source, *, first_pass_at: float | None = None) -> None:
        """Poll ``source`` every ``source.interval`` seconds from ``first_pass_at`` (Unix
        time; now when None or past) until :meth:`unschedule` or stopping."""
        if source.id in self._schedules:
            return
        halt = asyncio.Event()
        delay = 0.0 if first_pass_at is None else max(0.0, first_pass_at - time.time())
        task = asyncio.create_task(self._loop(source, halt, delay), name=f"source:{source.id}")
        self._schedules[source.id] = _Schedule(task, halt)

    async def unschedule(self, source_ids: set[str]) -> None:
        """Stop polling these sources: a pass in flight may finish within
        ``shutdown_grace_s``, then it is cancelled; either way every article it sent is
        recorded as seen before this returns (so before another instance takes over)."""
        schedules = [self._schedules.pop(sid) for sid in source_ids if sid in self._schedules]
        for schedule in schedules:
            schedule.halt.set()
        tasks = [schedule.task for schedule in schedules]
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_s or None)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self.publisher.settle()

    async def _loop(self, source: Source, halt: asyncio.Event, delay: float) -> None:
        if delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(halt.wait(), timeout=delay)
        while not halt.is_set():
            if self.before_pass is not None:
                try:
                    await self.before_pass(source, time.time())
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("recording the pass failed", extra={"source_id": source.id})
            await self.run_source(source)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(halt.wait(), timeout=source.interval)

    async def run_forever(self) -> None:
        """Poll every source (or, sharded, the group's share of them) until stopping."""
        membership = None
        if self.settings.shard_sources:
            from mediawatch.fetcher.sharding import SourceMembership

            membership = SourceMembership(self)
            await membership.start()
        else:
            for source in self.sources:
                self.schedule(source)
        await self.stopping.wait()
        log.info("stopping: finishing in-flight work", extra={"sources": len(self._schedules)})
        if membership is not None:
            await membership.stop()  # leaves the group; unschedules this instance's share
        await self.unschedule(set(self._schedules))


async def serve(settings: FetcherSettings, sources: list[Source], *, once: bool) -> int:
    """Run the fetcher until SIGTERM/SIGINT (or one pass with ``once``); the exit status."""
    fetcher = Fetcher(settings, sources)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, fetcher.stopping.set)
    server: ServiceHttpServer | None = None
    if not once:
        server = ServiceHttpServer.for_service(
            settings, readiness=fetcher.ready, client_max_size=settings.push_max_bytes + 1024
        )
        fetcher.add_routes(server)
        await server.start()
        log.info("http server listening", extra={"port": server.port})
    try:
        await fetcher.start()
        if once:
            failures = await fetcher.run_once()
            for sid, error in failures.items():
                log.error("source failed", extra={"source_id": sid, "error": error})
            return 1 if failures else 0
        await fetcher.run_forever()
        return 0
    finally:
        await fetcher.stop()
        if server is not None:
            await server.stop()
