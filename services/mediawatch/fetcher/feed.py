"""Feed sources (RSS 0.9x/1.0/2.0, Atom): fetch the feed, then each new entry's page; an
entry whose page yields too little text is published from the entry's own text."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin
from xml.etree.ElementTree import ParseError

import feedparser
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from mediawatch.fetcher import metrics
from mediawatch.fetcher.extract import Extracted, html_fragment_text
from mediawatch.fetcher.genre import genre_of_labels
from mediawatch.fetcher.http_client import FetchError
from mediawatch.fetcher.identity import article_id_for_url, canonical_url
from mediawatch.fetcher.passes import EntryJob, PassContext, PassResult, SourceFailure
from mediawatch.fetcher.publish import Candidate, RejectedArticle
from mediawatch.fetcher.sources import Source
from mediawatch.schemas import Genre

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)


def declares_entities(body: bytes) -> bool:
    """Whether the XML declares entities or external references (how "billion laughs" and
    XXE attacks are built; a feed has no use for them). defusedxml's parser decides it, so
    a declaration anywhere counts, and the text ``<!ENTITY`` inside CDATA does not. A body
    that is not well-formed XML is left to feedparser's lenient parser, which does not
    expand declared entities."""
    try:
        defused_fromstring(body)
    except DefusedXmlException:
        return True
    except (ParseError, ValueError):
        return False
    return False


def _struct_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in value[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _entry_genre(entry: Any, extracted: Extracted) -> tuple[Genre | None, str | None]:
    """The genre of a feed entry: its page's own label, else the entry's categories."""
    if extracted.genre is not None:
        return extracted.genre, extracted.genre_from
    terms = [str(tag.get("term") or "") for tag in entry.get("tags") or []]
    found = genre_of_labels([t for t in terms if t], "feed category")
    return found if found else (None, None)


async def feed_pass(ctx: PassContext, source: Source) -> PassResult:
    assert source.url is not None
    result = await ctx.fetch(source, source.url, accept=FEED_ACCEPT, robots=False)
    if result.not_modified:
        return PassResult()
    if not result.body.strip():
        metrics.FETCHES.labels(source.id, "parse_error").inc()
        raise SourceFailure(f"empty response body from feed {source.url}")
    if declares_entities(result.body):
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
    entries = list(parsed.entries)[: ctx.settings.max_entries_per_pass]
    jobs = [_entry_job(ctx, source, entry, result.final_url) for entry in entries]
    try:
        summary = await ctx.run_entries(source, jobs)
    except SourceFailure as exc:
        ctx.client.forget_validators(source.url)
        if parsed.bozo:
            problem = parsed.get("bozo_exception")
            raise SourceFailure(f"malformed feed at {source.url}: {problem}; {exc}") from None
        raise
    if summary.failed_entries:
        ctx.client.forget_validators(source.url)  # retry the failed entries next pass
    return summary


def _entry_job(ctx: PassContext, source: Source, entry: Any, base: str) -> EntryJob:
    async def job() -> str:
        return await _entry(ctx, source, entry, base)

    return job


async def _entry(ctx: PassContext, source: Source, entry: Any, base: str) -> str:
    link = entry.get("link")
    entry_text = ""
    for content in entry.get("content") or []:
        entry_text = html_fragment_text(content.get("value", "")) or entry_text
    if not entry_text:
        entry_text = html_fragment_text(entry.get("summary", "") or "")
    url = urljoin(base, link) if link else None
    canonical = canonical_url(url) if url else None
    if canonical and ctx.index.knows_id(article_id_for_url(canonical)):
        return "known"
    extracted: Extracted | None = None
    reason: str | None = None
    final_url = url
    if url is None:
        reason = "the entry has no link"
    else:
        try:
            extracted, final_url = await ctx.article_page(source, url)
        except FetchError as exc:
            reason = f"page fetch failed: {exc}"
    if extracted is not None and extracted.canonical and final_url:
        canonical = canonical_url(final_url, canonical_hint=extracted.canonical)
        if ctx.index.knows_id(article_id_for_url(canonical)):
            return "known"
    if (
        extracted is not None
        and extracted.method != "trafilatura"
        and len(extracted.text) < ctx.settings.min_text_chars
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
    genre, genre_from = _entry_genre(entry, extracted)
    # What the entry says wins over the page for the title and date; the page's byline
    # wins over the entry's author.
    extracted = dataclasses.replace(
        extracted,
        title=entry.get("title") or extracted.title,
        byline=extracted.byline or entry.get("author") or None,
        published_at=_struct_time(entry.get("published_parsed") or entry.get("updated_parsed"))
        or extracted.published_at,
        genre=genre,
        genre_from=genre_from,
    )
    candidate = Candidate.of(source.info(), extracted, url=url, canonical_url=canonical)
    return (await ctx.publisher.publish(candidate)).status
