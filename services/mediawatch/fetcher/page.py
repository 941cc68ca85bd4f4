"""Page sources: one URL polled for one article (a live blog, a column's latest piece)."""

from __future__ import annotations

import asyncio

from mediawatch.fetcher.extract import extract_html
from mediawatch.fetcher.identity import canonical_url
from mediawatch.fetcher.passes import HTML_ACCEPT, PassContext, PassResult, SourceFailure, tally
from mediawatch.fetcher.publish import Candidate
from mediawatch.fetcher.sources import Source


async def page_pass(ctx: PassContext, source: Source) -> PassResult:
    assert source.url is not None
    result = await ctx.fetch(source, source.url, accept=HTML_ACCEPT, robots=True)
    if result.not_modified:
        return PassResult()
    try:
        extracted = await asyncio.to_thread(
            extract_html, result.text(), result.final_url, min_chars=1
        )
        if not extracted.text:
            raise SourceFailure(f"no article text found at {source.url}")
        canonical = canonical_url(result.final_url, canonical_hint=extracted.canonical)
        candidate = Candidate.of(source.info(), extracted, url=source.url, canonical_url=canonical)
        outcome = await ctx.publisher.publish(candidate)
    except BaseException:
        ctx.client.forget_validators(source.url)  # the page is processed again next pass
        raise
    return tally([outcome])
