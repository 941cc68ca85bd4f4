"""Sitemap sources: a sitemap, a sitemap index (children followed two levels deep) or a news
sitemap; the newest URLs not yet published are fetched as article pages.

The XML is parsed here, on defusedxml, rather than by ultimate-sitemap-parser: that library
fetches sitemaps itself, and its hook for another HTTP client is synchronous, so our async
polite client (per-host limits, robots.txt, timeouts, body caps, conditional GET) cannot
serve it; docs/fetcher.md has the rest of the reasons.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urljoin
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from mediawatch.fetcher import metrics
from mediawatch.fetcher.identity import article_id_for_url, canonical_url
from mediawatch.fetcher.passes import EntryJob, PassContext, PassResult, SourceFailure
from mediawatch.fetcher.publish import Candidate, RejectedArticle
from mediawatch.fetcher.sources import Source

XML_ACCEPT = "application/xml, text/xml;q=0.9, */*;q=0.5"
MAX_CHILD_SITEMAPS = 50
MAX_DEPTH = 2


@dataclass
class SitemapUrl:
    url: str
    title: str | None = None
    published_at: datetime | None = None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _bounded_gunzip(body: bytes, cap: int) -> bytes:
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = decompressor.decompress(body, cap + 1)
    if len(data) > cap:
        raise ValueError(f"gzip sitemap inflates past {cap} bytes")
    return data


def parse_sitemap(body: bytes, cap: int) -> tuple[list[str], list[SitemapUrl]]:
    """(child sitemaps, article URLs) of a sitemap, a sitemap index or a news sitemap."""
    if body[:2] == b"\x1f\x8b":
        body = _bounded_gunzip(body, cap)
    if not body.strip():
        raise ValueError("empty sitemap")
    try:
        root = defused_fromstring(body)
    except DefusedXmlException as exc:
        raise ValueError(f"sitemaps with entity declarations are refused ({exc})") from None
    except ParseError as exc:
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


async def sitemap_pass(ctx: PassContext, source: Source) -> PassResult:
    assert source.url is not None
    urls = await _sitemap_urls(ctx, source, source.url, depth=0)
    urls.sort(key=lambda u: u.published_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    fresh: list[SitemapUrl] = []
    known = 0
    for item in urls:
        if ctx.index.knows_id(article_id_for_url(canonical_url(item.url))):
            known += 1
        elif len(fresh) < ctx.settings.max_entries_per_pass:
            fresh.append(item)
    summary = await ctx.run_entries(source, [_url_job(ctx, source, item) for item in fresh])
    summary.known += known
    if summary.failed_entries:
        ctx.client.forget_validators(source.url)
    return summary


async def _sitemap_urls(ctx: PassContext, source: Source, url: str, depth: int) -> list[SitemapUrl]:
    result = await ctx.fetch(source, url, accept=XML_ACCEPT, robots=False)
    if result.not_modified:
        return []
    try:
        children, urls = parse_sitemap(result.body, ctx.settings.max_response_bytes)
    except (ValueError, gzip.BadGzipFile, zlib.error) as exc:
        metrics.FETCHES.labels(source.id, "parse_error").inc()
        raise SourceFailure(f"{url}: {exc}") from None
    if depth < MAX_DEPTH:
        for child in children[:MAX_CHILD_SITEMAPS]:
            urls.extend(await _sitemap_urls(ctx, source, urljoin(url, child), depth + 1))
    return urls


def _url_job(ctx: PassContext, source: Source, item: SitemapUrl) -> EntryJob:
    async def job() -> str:
        extracted, final_url = await ctx.article_page(source, item.url)
        if not extracted.text:
            raise RejectedArticle(f"no article text at {item.url}")
        # The sitemap's own title and date win over what the page says.
        extracted = replace(
            extracted,
            title=item.title or extracted.title,
            published_at=item.published_at or extracted.published_at,
        )
        canonical = canonical_url(final_url, canonical_hint=extracted.canonical)
        candidate = Candidate.of(source.info(), extracted, url=item.url, canonical_url=canonical)
        return (await ctx.publisher.publish(candidate)).status

    return job
