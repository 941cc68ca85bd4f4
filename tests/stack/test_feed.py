"""The loopback sample site: feeds parse, pages carry the article, sources files validate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import feedparser
import httpx
import pytest
import yaml

from mediawatch.fetcher.sources import load_sources, parse_sources
from mediawatch.stack.feed import SampleFeedServer
from mediawatch.stack.samples import (
    SAMPLES_DIR,
    load_manifest,
    read_sample,
    sources_document,
    write_sources_file,
)
from tests.support.environment import REPOSITORY

MANIFEST = load_manifest()


@pytest.fixture
async def server() -> AsyncIterator[SampleFeedServer]:
    feed = SampleFeedServer("127.0.0.1", 0)
    await feed.start()
    assert feed.port != 0
    yield feed
    await feed.stop()


async def test_every_outlet_feed_lists_its_articles(server: SampleFeedServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        everything = feedparser.parse((await client.get("/feed.xml")).text)
        assert not everything.bozo
        assert len(everything.entries) == len(MANIFEST.articles)
        for article in MANIFEST.articles:
            response = await client.get(f"/feeds/{article.outlet_id}.xml")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/rss+xml")
            parsed = feedparser.parse(response.text)
            assert parsed.feed.title == article.outlet
            assert parsed.feed.get("language") == article.language
            links = [entry.link for entry in parsed.entries]
            assert f"{server.base_url}/articles/{article.slug}.html" in links
            assert all(entry.get("published_parsed") for entry in parsed.entries)
        robots = await client.get("/robots.txt")
        assert "Allow: /" in robots.text
        assert (await client.get("/feeds/nope.xml")).status_code == 404


async def test_article_pages_carry_the_full_text(server: SampleFeedServer) -> None:
    from mediawatch.fetcher.extract import extract_html

    async with httpx.AsyncClient(base_url=server.base_url) as client:
        for article in MANIFEST.articles[:3] + MANIFEST.articles[-1:]:
            page = await client.get(f"/articles/{article.slug}.html")
            assert page.status_code == 200
            title, paragraphs = read_sample(SAMPLES_DIR / "articles" / article.file)
            assert f'lang="{article.language}"' in page.text
            extracted = extract_html(page.text, str(page.url))
            assert extracted.title == title
            assert paragraphs[-1][:60] in extracted.text
        assert (await client.get("/articles/missing.html")).status_code == 404


def test_generated_sources_file_is_valid_for_the_fetcher(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = write_sources_file(tmp_path / "sources.yaml", MANIFEST, inbox, "http://127.0.0.1:1")
    sources = load_sources(path)
    assert sources[0].type == "inbox" and sources[0].path == inbox.resolve()
    feeds = [s for s in sources if s.type == "feed"]
    assert len(feeds) == len({a.outlet_id for a in MANIFEST.articles})
    assert {s.country for s in feeds} == {a.country for a in MANIFEST.articles}


def test_the_compose_sources_file_is_up_to_date() -> None:
    path = REPOSITORY / "deploy" / "config" / "sources.compose.yaml"
    committed = yaml.safe_load(path.read_text())
    assert committed == sources_document(MANIFEST, None, "http://samples:8090", interval="2m")
    assert parse_sources(committed, path)
