"""The fetcher: one task per source on its own schedule, a shared polite HTTP client, the
Kafka seen-state, and the HTTP server with metrics, health and the push endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import signal
import time
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import httpx
from aiohttp import web

from mediawatch.fetcher import metrics
from mediawatch.fetcher.dedupe import SeenIndex, SeenStore
from mediawatch.fetcher.extract import Extracted, extract_html, html_fragment_text
from mediawatch.fetcher.genre import genre_of_labels
from mediawatch.fetcher.http_client import FetchError, FetchResult, PoliteClient
from mediawatch.fetcher.identity import article_id_for_url, canonical_url
from mediawatch.fetcher.inbox import process_inbox
from mediawatch.fetcher.publish import Candidate, Outcome, Publisher, RejectedArticle
from mediawatch.fetcher.push import add_push_route
from mediawatch.fetcher.settings import FetcherSettings
from mediawatch.fetcher.sources import Source
from mediawatch.runtime.http import ServiceHttpServer
from mediawatch.runtime.kafka import ensure_topics, producer
from mediawatch.schemas import ExtractionInfo

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
XML_ACCEPT = "application/xml, text/xml;q=0.9, */*;q=0.5"
MAX_CHILD_SITEMAPS = 50


class SourceFailure(Exception):
    """A pass over a source failed; the message is the source's last error."""


@dataclass
class SourceHealth:
    healthy: bool | None = None
    last_error: str | None = None
    last_success: float | None = None
    last_attempt: float | None = None
    published: int = 0


@dataclass
class PassResult:
    published: int = 0
    duplicates: int = 0
    known: int = 0
    failed_entries: int = 0


def _struct_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in value[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _entry_genre(entry: Any, extracted: Extracted) -> dict[str, Any]:
    """Candidate fields for the genre of a feed entry: its page's own label, else the
    entry's categories."""
    if extracted.genre is not None:
        return {"genre": extracted.genre, "genre_from": extracted.genre_from}
    terms = [str(tag.get("term") or "") for tag in entry.get("tags") or []]
    found = genre_of_labels([t for t in terms if t], "feed category")
    return {"genre": found[0], "genre_from": found[1]} if found else {}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _bounded_gunzip(body: bytes, cap: int) -> bytes:
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = decompressor.decompress(body, cap + 1)
    if len(data) > cap:
        raise ValueError(f"gzip sitemap inflates past {cap} bytes")
    return data


@dataclass
class SitemapUrl:
    url: str
    title: str | None = None
    published_at: datetime | None = None


def parse_sitemap(body: bytes, cap: int) -> tuple[list[str], list[SitemapUrl]]:
    """(child sitemaps, article URLs) of a sitemap, a sitemap index or a news sitemap."""
    if body[:2] == b"\x1f\x8b":
        body = _bounded_gunzip(body, cap)
    if not body.strip():
        raise ValueError("empty sitemap")
    if b"<!ENTITY" in body[:4096].upper():
        raise ValueError("sitemaps with entity declarations are refused")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ValueError(f"malformed sitemap XML: {exc}") from exc
    children: list[str] = []
    urls: list[SitemapUrl] = []
    kind = _local(root.tag)
    if kind not in {"urlset", "sitemapindex"}:
        raise ValueError(f"not a sitemap: root element <{kind}>")
    for element in root:
        loc = next((c.text for c in element.iter() if _local(c.tag) == "loc" and c.text), None)
        if not loc:
            continue
        if kind == "sitemapindex":
            children.append(loc.strip())
            continue
        item = SitemapUrl(loc.strip())
        for child in element.iter():
            name = _local(child.tag)
            if name == "title" and child.text:
                item.title = child.text.strip()
            elif name in {"publication_date", "lastmod"} and child.text and not item.published_at:
                with contextlib.suppress(ValueError):
                    moment = datetime.fromisoformat(child.text.strip().replace("Z", "+00:00"))
                    item.published_at = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        urls.append(item)
    return children, urls


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
        self.health: dict[str, SourceHealth] = {s.id: SourceHealth() for s in sources}
        self.stopping = asyncio.Event()
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

    # -- one pass over one source -----------------------------------------------------------
    async def run_source(self, source: Source) -> bool:
        """One pass; never raises (but cancellation). Returns whether it succeeded."""
        health = self.health.setdefault(source.id, SourceHealth())
        health.last_attempt = time.time()
        extra = {"source_id": source.id, "url": source.url or str(source.path)}
        try:
            result = await self._pass(source)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = str(exc) if isinstance(exc, SourceFailure | FetchError) else repr(exc)
            health.healthy, health.last_error = False, message
            metrics.SOURCE_HEALTHY.labels(source.id).set(0)
            log.warning("source failed", extra=extra | {"error": message})
            return False
        now = time.time()
        health.healthy, health.last_error, health.last_success = True, None, now
        health.published += result.published
        metrics.SOURCE_HEALTHY.labels(source.id).set(1)
        metrics.LAST_SUCCESS.labels(source.id).set(now)
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

    async def _pass(self, source: Source) -> PassResult:
        if source.type == "feed":
            return await self._feed(source)
        if source.type == "page":
            return await self._page(source)
        if source.type == "sitemap":
            return await self._sitemap(source)
        outcomes = await process_inbox(source, self.publisher)
        return self._tally(outcomes)

    @staticmethod
    def _tally(outcomes: list[Outcome]) -> PassResult:
        result = PassResult()
        for outcome in outcomes:
            if outcome.status == "published":
                result.published += 1
            else:
                result.duplicates += 1
        return result

    async def _fetch(
        self, source: Source, url: str, *, accept: str, robots: bool, conditional: bool = True
    ) -> FetchResult:
        started = time.monotonic()
        try:
            if robots and not await self.client.allowed(url):
                raise FetchError("robots_denied", "robots.txt disallows this URL", url=url)
            result = await self.client.get(url, accept=accept, conditional=conditional)
        except FetchError as exc:
            metrics.FETCHES.labels(source.id, exc.kind).inc()
            raise
        finally:
            metrics.FETCH_SECONDS.labels(source.id).observe(time.monotonic() - started)
        metrics.FETCHES.labels(source.id, "not_modified" if result.not_modified else "ok").inc()
        metrics.FETCHED_BYTES.labels(source.id).inc(len(result.body))
        return result

    async def _article_page(self, source: Source, url: str) -> tuple[Extracted, str]:
        """Fetch and extract one article page; returns the extraction and the final URL."""
        # Unconditional: an article page is only fetched while it is not known as published.
        result = await self._fetch(source, url, accept=HTML_ACCEPT, robots=True, conditional=False)
        if result.not_modified:
            raise FetchError("not_modified", "page not modified since the last fetch", url=url)
        extracted = await asyncio.to_thread(
            extract_html, result.text(), result.final_url, min_chars=self.settings.min_text_chars
        )
        return extracted, result.final_url

    async def _bounded(self, jobs: list[Callable[[], Awaitable[str]]]) -> list[str | BaseException]:
        semaphore = asyncio.Semaphore(self.settings.entry_concurrency)

        async def run(job: Callable[[], Awaitable[str]]) -> str:
            async with semaphore:
                if self.stopping.is_set():
                    return "skipped"
                return await job()

        return await asyncio.gather(*(run(job) for job in jobs), return_exceptions=True)

    def _summarise(self, source: Source, results: list[str | BaseException]) -> PassResult:
        summary = PassResult()
        for item in results:
            if isinstance(item, BaseException):
                if isinstance(item, FetchError | RejectedArticle | ValueError):
                    summary.failed_entries += 1
                    log.warning("entry failed", extra={"source_id": source.id, "error": str(item)})
                    continue
                raise item  # Kafka and unexpected errors fail the pass
            if item == "published":
                summary.published += 1
            elif item == "duplicate":
                summary.duplicates += 1
            elif item == "known":
                summary.known += 1
        attempted = len(results) - summary.known
        if attempted and summary.failed_entries == attempted:
            raise SourceFailure(f"all {attempted} new entries failed; see the logs")
        return summary

    # -- feeds ------------------------------------------------------------------------------
    async def _feed(self, source: Source) -> PassResult:
        assert source.url is not None
        result = await self._fetch(source, source.url, accept=FEED_ACCEPT, robots=False)
        if result.not_modified:
            return PassResult()
        if not result.body.strip():
            metrics.FETCHES.labels(source.id, "parse_error").inc()
            raise SourceFailure(f"empty response body from feed {source.url}")
        if b"<!ENTITY" in result.body[:4096].upper():
            # Internal entities serve no purpose in a feed and are how entity-expansion
            # ("billion laughs") attacks are built: refuse rather than hope the parser copes.
            metrics.FETCHES.labels(source.id, "parse_error").inc()
            raise SourceFailure(f"feed at {source.url} declares XML entities; refused")
        parsed = feedparser.parse(
            result.body,
            response_headers={
                "content-type": result.headers.get("content-type", "application/xml"),
                "content-location": result.final_url,
            },
        )
        if parsed.bozo and not parsed.entries:
            metrics.FETCHES.labels(source.id, "parse_error").inc()
            raise SourceFailure(f"malformed feed at {source.url}: {parsed.get('bozo_exception')}")
        entries = list(parsed.entries)[: self.settings.max_entries_per_pass]
        jobs = [self._feed_job(source, entry, result.final_url) for entry in entries]
        try:
            summary = self._summarise(source, await self._bounded(jobs))
        except SourceFailure as exc:
            self.client.forget_validators(source.url)
            if parsed.bozo:
                problem = parsed.get("bozo_exception")
                raise SourceFailure(f"malformed feed at {source.url}: {problem}; {exc}") from None
            raise
        if summary.failed_entries:
            self.client.forget_validators(source.url)  # retry the failed entries next pass
        return summary

    def _feed_job(self, source: Source, entry: Any, base: str) -> Callable[[], Awaitable[str]]:
        async def job() -> str:
            return await self._feed_entry(source, entry, base)

        return job

    async def _feed_entry(self, source: Source, entry: Any, base: str) -> str:
        link = entry.get("link")
        entry_text = ""
        for content in entry.get("content") or []:
            entry_text = html_fragment_text(content.get("value", "")) or entry_text
        if not entry_text:
            entry_text = html_fragment_text(entry.get("summary", "") or "")
        url = urljoin(base, link) if link else None
        canonical = canonical_url(url) if url else None
        if canonical and self.index.knows_id(article_id_for_url(canonical)):
            return "known"
        extracted: Extracted | None = None
        reason: str | None = None
        final_url = url
        if url is None:
            reason = "the entry has no link"
        else:
            try:
                extracted, final_url = await self._article_page(source, url)
            except FetchError as exc:
                reason = f"page fetch failed: {exc}"
        if extracted is not None and extracted.canonical and final_url:
            canonical = canonical_url(final_url, canonical_hint=extracted.canonical)
            if self.index.knows_id(article_id_for_url(canonical)):
                return "known"
        if (
            extracted is not None
            and extracted.method != "trafilatura"
            and len(extracted.text) < self.settings.min_text_chars
            and entry_text
        ):
            reason = f"{extracted.fallback_reason}; page paragraphs too short"
            extracted = None
        if extracted is None or not extracted.text:
            if not entry_text:
                raise RejectedArticle(f"no text for entry {link!r}: {reason or 'empty page'}")
            extracted = Extracted(
                title=entry.get("title", ""),
                text=entry_text,
                method="feed-entry",
                fallback_reason=reason or "the page had no extractable text",
            )
        candidate = Candidate(
            source=source.info(),
            title=entry.get("title") or extracted.title,
            text=extracted.text,
            url=url,
            canonical_url=canonical,
            byline=extracted.byline or entry.get("author") or None,
            published_at=_struct_time(entry.get("published_parsed") or entry.get("updated_parsed"))
            or extracted.published_at,
            language=extracted.language,
            extraction=ExtractionInfo(
                method=extracted.method, fallback_reason=extracted.fallback_reason
            ),
            **_entry_genre(entry, extracted),
        )
        outcome = await self.publisher.publish(candidate)
        return outcome.status

    # -- pages ------------------------------------------------------------------------------
    async def _page(self, source: Source) -> PassResult:
        assert source.url is not None
        result = await self._fetch(source, source.url, accept=HTML_ACCEPT, robots=True)
        if result.not_modified:
            return PassResult()
        try:
            extracted = await asyncio.to_thread(
                extract_html, result.text(), result.final_url, min_chars=1
            )
            if not extracted.text:
                raise SourceFailure(f"no article text found at {source.url}")
            candidate = Candidate(
                source=source.info(),
                title=extracted.title,
                text=extracted.text,
                url=source.url,
                canonical_url=canonical_url(result.final_url, canonical_hint=extracted.canonical),
                byline=extracted.byline,
                published_at=extracted.published_at,
                language=extracted.language,
                extraction=ExtractionInfo(
                    method=extracted.method, fallback_reason=extracted.fallback_reason
                ),
                genre=extracted.genre,
                genre_from=extracted.genre_from,
            )
            outcome = await self.publisher.publish(candidate)
        except BaseException:
            self.client.forget_validators(source.url)
            raise
        return self._tally([outcome])

    # -- sitemaps ---------------------------------------------------------------------------
    async def _sitemap(self, source: Source) -> PassResult:
        assert source.url is not None
        urls = await self._sitemap_urls(source, source.url, depth=0)
        urls.sort(key=lambda u: u.published_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        fresh: list[SitemapUrl] = []
        known = 0
        for item in urls:
            if self.index.knows_id(article_id_for_url(canonical_url(item.url))):
                known += 1
            elif len(fresh) < self.settings.max_entries_per_pass:
                fresh.append(item)
        jobs = [self._sitemap_job(source, item) for item in fresh]
        summary = self._summarise(source, await self._bounded(jobs))
        summary.known += known
        if summary.failed_entries:
            self.client.forget_validators(source.url)
        return summary

    async def _sitemap_urls(self, source: Source, url: str, depth: int) -> list[SitemapUrl]:
        result = await self._fetch(source, url, accept=XML_ACCEPT, robots=False)
        if result.not_modified:
            return []
        try:
            children, urls = parse_sitemap(result.body, self.settings.max_response_bytes)
        except (ValueError, gzip.BadGzipFile, zlib.error) as exc:
            metrics.FETCHES.labels(source.id, "parse_error").inc()
            raise SourceFailure(f"{url}: {exc}") from None
        if depth < 2:
            for child in children[:MAX_CHILD_SITEMAPS]:
                urls.extend(await self._sitemap_urls(source, urljoin(url, child), depth + 1))
        return urls

    def _sitemap_job(self, source: Source, item: SitemapUrl) -> Callable[[], Awaitable[str]]:
        async def job() -> str:
            extracted, final_url = await self._article_page(source, item.url)
            if not extracted.text:
                raise RejectedArticle(f"no article text at {item.url}")
            candidate = Candidate(
                source=source.info(),
                title=item.title or extracted.title,
                text=extracted.text,
                url=item.url,
                canonical_url=canonical_url(final_url, canonical_hint=extracted.canonical),
                byline=extracted.byline,
                published_at=item.published_at or extracted.published_at,
                language=extracted.language,
                extraction=ExtractionInfo(
                    method=extracted.method, fallback_reason=extracted.fallback_reason
                ),
                genre=extracted.genre,
                genre_from=extracted.genre_from,
            )
            return (await self.publisher.publish(candidate)).status

        return job

    # -- scheduling -------------------------------------------------------------------------
    async def run_once(self) -> dict[str, str]:
        """One pass over every source, all at once; returns {source id: error} of failures."""
        await asyncio.gather(*(self.run_source(source) for source in self.sources))
        return {
            sid: health.last_error or "failed"
            for sid, health in self.health.items()
            if health.healthy is False
        }

    async def _loop(self, source: Source) -> None:
        while not self.stopping.is_set():
            await self.run_source(source)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=source.interval)

    async def run_forever(self) -> None:
        tasks = [asyncio.create_task(self._loop(s), name=f"source:{s.id}") for s in self.sources]
        await self.stopping.wait()
        log.info("stopping: finishing in-flight work", extra={"sources": len(tasks)})
        _done, pending = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_s or None)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def add_routes(self, app: web.Application) -> None:
        add_push_route(
            app,
            self.publisher,
            max_bytes=self.settings.push_max_bytes,
            max_batch=self.settings.push_max_batch,
        )

        async def sources(request: web.Request) -> web.Response:
            body = {
                sid: {
                    "healthy": h.healthy,
                    "last_error": h.last_error,
                    "last_success": h.last_success,
                    "last_attempt": h.last_attempt,
                    "published": h.published,
                }
                for sid, h in self.health.items()
            }
            return web.json_response(body)

        app.router.add_get("/v1/sources", sources)


async def serve(settings: FetcherSettings, sources: list[Source], *, once: bool) -> int:
    """Run the fetcher until SIGTERM/SIGINT (or one pass with ``once``); the exit status."""
    fetcher = Fetcher(settings, sources)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, fetcher.stopping.set)
    server: ServiceHttpServer | None = None
    if not once:
        server = ServiceHttpServer(
            settings.http_host,
            settings.http_port,
            readiness=fetcher.ready,
            client_max_size=settings.push_max_bytes + 1024,
        )
        fetcher.add_routes(server.app)
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
