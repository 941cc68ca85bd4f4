"""Turn an extracted article into an ``ArticleFetched`` event and publish it exactly once
per content: dedupe, send and wait for Kafka's acknowledgement, then record it as seen."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from aiokafka import AIOKafkaProducer

from mediawatch.fetcher import metrics
from mediawatch.fetcher.dedupe import Known, SeenIndex
from mediawatch.fetcher.extract import Extracted
from mediawatch.fetcher.genre import genre_of_url
from mediawatch.fetcher.identity import (
    article_id_for_content,
    article_id_for_url,
    content_hash,
    normalise_text,
    simhash,
    simhash_hex,
)
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import (
    ArticleFetched,
    ArticleSeen,
    ExtractionInfo,
    SourceInfo,
    cloudevent_headers,
)
from mediawatch.schemas.events import Genre

log = logging.getLogger(__name__)
CE_SOURCE = "/mediawatch/fetcher"


class RejectedArticle(ValueError):
    """The article cannot be published as it is (no text, ...); the message says why."""


@dataclass
class Candidate:
    source: SourceInfo
    title: str
    text: str
    extraction: ExtractionInfo
    url: str | None = None
    canonical_url: str | None = None
    byline: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    #: The genre the page, the feed entry or the pushed/inbox fields declare, and from what.
    genre: Genre | None = None
    genre_from: str | None = None

    @classmethod
    def of(
        cls,
        source: SourceInfo,
        extracted: Extracted,
        *,
        url: str | None,
        canonical_url: str | None,
    ) -> Candidate:
        """The one way every source kind (feed entry, page, sitemap URL, inbox file, push)
        turns what it read into a candidate: whatever the kind knows better than the page
        (an entry's title, a sitemap's date) it has already put into ``extracted``."""
        return cls(
            source=source,
            title=extracted.title,
            text=extracted.text,
            url=url,
            canonical_url=canonical_url,
            byline=extracted.byline,
            published_at=extracted.published_at,
            language=extracted.language,
            extraction=ExtractionInfo(
                method=extracted.method, fallback_reason=extracted.fallback_reason
            ),
            genre=extracted.genre,
            genre_from=extracted.genre_from,
        )


def decide_genre(candidate: Candidate) -> tuple[Genre | None, str | None]:
    """The article's own label first, then its URL, then what its source always is."""
    if candidate.genre is not None:
        return candidate.genre, candidate.genre_from
    found = genre_of_url(candidate.canonical_url or candidate.url)
    if found is not None:
        return found
    if candidate.source.genre is not None:
        return candidate.source.genre, "source"
    return None, None


@dataclass(frozen=True)
class Outcome:
    article_id: str
    status: Literal["published", "duplicate"]
    duplicate_of: str | None = None


def build_event(candidate: Candidate) -> tuple[ArticleFetched, int]:
    text = normalise_text(candidate.text)
    if not text:
        raise RejectedArticle("the article has no text")
    digest = content_hash(text)
    genre, genre_from = decide_genre(candidate)
    article_id = (
        article_id_for_url(candidate.canonical_url)
        if candidate.canonical_url
        else article_id_for_content(digest)
    )
    event = ArticleFetched(
        article_id=article_id,
        url=candidate.url,
        canonical_url=candidate.canonical_url,
        source=candidate.source,
        title=" ".join(candidate.title.split()),
        byline=candidate.byline,
        published_at=candidate.published_at,
        fetched_at=datetime.now(UTC),
        language=candidate.language or candidate.source.language,
        text=text,
        content_hash=digest,
        extraction=candidate.extraction,
        genre=genre,
        genre_from=genre_from,
    )
    return event, simhash(text)


def seen_record(event: ArticleFetched, fingerprint: int) -> ArticleSeen:
    """What the seen topic keeps of a published article."""
    return ArticleSeen(
        article_id=event.article_id,
        content_hash=event.content_hash,
        simhash=simhash_hex(fingerprint),
        url=event.canonical_url or event.url,
        source_id=event.source.id,
        duplicate_of=event.duplicate_of,
        seen_at=datetime.now(UTC),
    )


class Publisher:
    def __init__(self, settings: KafkaSettings, producer: AIOKafkaProducer, index: SeenIndex):
        self.settings = settings
        self.producer = producer
        self.index = index
        self._lock = asyncio.Lock()
        self._in_flight: set[asyncio.Task[None]] = set()

    async def publish(self, candidate: Candidate) -> Outcome:
        """Publish unless the same text was published before; returns only once Kafka
        acknowledged both the article and its seen record.

        Cancelling the caller does not cancel the two sends: an article sent without its
        seen record would be published again by whoever polls the source next. They run to
        the end in their own task; :meth:`settle` waits for such tasks."""
        event, fingerprint = build_event(candidate)
        source_id = candidate.source.id
        async with self._lock:  # judge and reserve atomically; sending happens outside
            verdict = self.index.judge(event.article_id, event.content_hash, fingerprint)
            if verdict.exact:
                metrics.DUPLICATES.labels(source_id).inc()
                return Outcome(event.article_id, "duplicate", verdict.of)
            known = Known(event.article_id, event.content_hash, fingerprint, verdict.of)
            self.index.add(known)
        if verdict.of is not None:
            event = event.model_copy(update={"duplicate_of": verdict.of})
        sending = asyncio.create_task(self._send(event, seen_record(event, fingerprint), known))
        self._in_flight.add(sending)
        sending.add_done_callback(self._in_flight.discard)
        await asyncio.shield(sending)
        metrics.PUBLISHED.labels(source_id).inc()
        if verdict.of is not None:
            metrics.NEAR_DUPLICATES.labels(source_id).inc()
        log.info(
            "article published",
            extra={
                "source_id": source_id,
                "url": event.url,
                "article_id": event.article_id,
                "duplicate_of": verdict.of,
            },
        )
        return Outcome(event.article_id, "published", verdict.of)

    async def _send(self, event: ArticleFetched, seen: ArticleSeen, known: Known) -> None:
        key = event.article_id.encode()
        try:
            await self.producer.send_and_wait(
                self.settings.topic_articles_fetched,
                event.to_json(),
                key=key,
                headers=cloudevent_headers(event, source=CE_SOURCE),
            )
            await self._send_seen(seen)
        except BaseException:
            async with self._lock:
                self.index.remove(known)
            raise

    async def _send_seen(self, seen: ArticleSeen) -> None:
        await self.producer.send_and_wait(
            self.settings.topic_fetcher_seen,
            seen.to_json(),
            key=seen.article_id.encode(),
            headers=cloudevent_headers(seen, source=CE_SOURCE),
        )

    async def settle(self) -> None:
        """Wait for the sends of publications whose callers were cancelled."""
        await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def remember(self, event: ArticleFetched) -> bool:
        """Learn an article found on the articles topic, and write its seen record, unless
        it is known: its publisher was killed between the article and the seen record.
        Returns whether it was new."""
        if self.index.knows_id(event.article_id):
            return False
        fingerprint = simhash(event.text)
        async with self._lock:
            self.index.add(
                Known(event.article_id, event.content_hash, fingerprint, event.duplicate_of)
            )
        await self._send_seen(seen_record(event, fingerprint))
        log.info(
            "seen record restored",
            extra={"source_id": event.source.id, "article_id": event.article_id},
        )
        return True
