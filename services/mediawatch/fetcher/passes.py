"""What every source kind needs for one pass over a source: the shared polite client, the
seen index, the publisher, fetching with metrics, bounded concurrency over entries, and the
summary of a pass. The kinds themselves live in feed.py, page.py, sitemap.py and inbox.py."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mediawatch.fetcher import metrics
from mediawatch.fetcher.dedupe import SeenIndex
from mediawatch.fetcher.extract import Extracted, extract_html
from mediawatch.fetcher.http_client import FetchError, FetchResult, PoliteClient
from mediawatch.fetcher.publish import Outcome, Publisher, RejectedArticle
from mediawatch.fetcher.settings import FetcherSettings
from mediawatch.fetcher.sources import Source

log = logging.getLogger(__name__)

HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
#: Entry errors of one pass kept for the source's health (all of them go to the logs).
ENTRY_ERRORS_KEPT = 10

#: What one entry job of a feed or sitemap came to: published, duplicate, known or skipped.
EntryJob = Callable[[], Awaitable[str]]


class SourceFailure(Exception):
    """A pass over a source failed; the message is the source's last error."""


@dataclass
class PassResult:
    published: int = 0
    duplicates: int = 0
    known: int = 0
    failed_entries: int = 0
    entry_errors: list[str] = field(default_factory=list)


def tally(outcomes: list[Outcome]) -> PassResult:
    """The result of a pass that published each of ``outcomes`` (page, inbox)."""
    result = PassResult()
    for outcome in outcomes:
        if outcome.status == "published":
            result.published += 1
        else:
            result.duplicates += 1
    return result


@dataclass
class PassContext:
    """Shared by every pass of one fetcher process (so per-host limits hold globally)."""

    settings: FetcherSettings
    client: PoliteClient
    index: SeenIndex
    publisher: Publisher
    stopping: asyncio.Event

    async def fetch(
        self, source: Source, url: str, *, accept: str, robots: bool, conditional: bool = True
    ) -> FetchResult:
        """GET with the source's metrics; robots.txt is asked first when ``robots``."""
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

    async def article_page(self, source: Source, url: str) -> tuple[Extracted, str]:
        """Fetch and extract one article page; returns the extraction and the final URL."""
        # Unconditional: an article page is only fetched while it is not known as published.
        result = await self.fetch(source, url, accept=HTML_ACCEPT, robots=True, conditional=False)
        if result.not_modified:
            raise FetchError("not_modified", "page not modified since the last fetch", url=url)
        extracted = await asyncio.to_thread(
            extract_html, result.text(), result.final_url, min_chars=self.settings.min_text_chars
        )
        return extracted, result.final_url

    async def run_entries(self, source: Source, jobs: list[EntryJob]) -> PassResult:
        """Run the entry jobs of one feed or sitemap, ``entry_concurrency`` at a time, and sum
        them up; a pass whose every new entry failed is a failed pass."""
        semaphore = asyncio.Semaphore(self.settings.entry_concurrency)

        async def run(job: EntryJob) -> str:
            async with semaphore:
                if self.stopping.is_set():
                    return "skipped"
                return await job()

        results = await asyncio.gather(*(run(job) for job in jobs), return_exceptions=True)
        summary = PassResult()
        for item in results:
            if isinstance(item, BaseException):
                if isinstance(item, FetchError | RejectedArticle | ValueError):
                    summary.failed_entries += 1
                    if len(summary.entry_errors) < ENTRY_ERRORS_KEPT:
                        summary.entry_errors.append(str(item))
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
            raise SourceFailure(
                f"all {attempted} new entries failed; the first: {summary.entry_errors[0]}"
            )
        return summary
