"""Unit tests of the fetcher's pieces, with a real loopback HTTP server where HTTP matters."""

from __future__ import annotations

import hashlib
import random
import re
import textwrap
from pathlib import Path

import httpx
import pytest

from mediawatch.fetcher.dedupe import Known, SeenIndex
from mediawatch.fetcher.extract import extract_html, headline_of, parse_markdown, parse_plain_text
from mediawatch.fetcher.feed import declares_entities
from mediawatch.fetcher.http_client import FetchError, PoliteClient, decode_body
from mediawatch.fetcher.identity import (
    article_id_for_url,
    canonical_url,
    content_hash,
    hamming,
    simhash,
    simhash_hex,
)
from mediawatch.fetcher.inbox import candidate_from_file
from mediawatch.fetcher.settings import FetcherSettings
from mediawatch.fetcher.sitemap import parse_sitemap
from mediawatch.fetcher.sources import SourcesError, load_sources, parse_interval
from mediawatch.schemas import SourceInfo
from tests.support.fetcher import LOOPBACK_ALLOWED
from tests.support.site import (
    ARTICLES,
    CYRILLIC,
    OPED_PARAGRAPHS,
    OPED_TITLE,
    SYNDICATED,
    page,
    serve_site,
)


def fast_settings(**overrides: object) -> FetcherSettings:
    values: dict[str, object] = {
        "fetch_allow": LOOPBACK_ALLOWED,
        "politeness_delay_s": 0.0,
        "retry_base_delay_s": 0.05,
        "retry_max_delay_s": 2.0,
        "read_timeout_s": 1.0,
        "total_timeout_s": 3.0,
        "max_response_bytes": 64 * 1024,
    }
    values.update(overrides)
    return FetcherSettings(**values)  # type: ignore[arg-type]


# -- identity -------------------------------------------------------------------------------
def test_canonical_url_drops_tracking_sorts_and_lowercases() -> None:
    url = "HTTPS://News.Example.ORG:443/a/b?utm_source=x&b=2&fbclid=1&a=1&mc_cid=9#top"
    assert canonical_url(url) == "https://news.example.org/a/b?a=1&b=2"
    assert canonical_url("http://x.org:8080/p?gclid=1") == "http://x.org:8080/p"
    assert canonical_url("http://x.org/a?utm_medium=m", canonical_hint="/canon") == (
        "http://x.org/canon"
    )
    assert article_id_for_url(canonical_url(url)) == article_id_for_url(
        "https://news.example.org/a/b?a=1&b=2"
    )
    assert len(article_id_for_url("https://x.org/")) == 24


def test_canonical_url_drops_only_tracking_parameters() -> None:
    """Tracking parameters go; parameters that select content stay, even when a broader
    tracker pattern (courlan's, say) would take ``cid``, ``uid`` or ``source`` for trackers
    and so merge distinct articles under one id."""
    url = "https://e.org/story?cid=42&utm_content=hero&uid=7&source=wire&gclid=x&_hsenc=y"
    assert canonical_url(url) == "https://e.org/story?cid=42&source=wire&uid=7"
    assert canonical_url(url) != canonical_url(url.replace("cid=42", "cid=43"))


#: simhash_hex of the pinned sentence, computed by the first (bit-by-bit) implementation.
PINNED = "aabd84254dae191b"


def _textbook_simhash(text: str) -> int:
    """SimHash as usually defined, bit by bit: the reference for the fast implementation."""
    words = re.findall(r"\w+", text.casefold())
    grams = [" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))] if words else []
    votes = [0] * 64
    for gram in grams:
        value = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "big")
        for bit in range(64):
            votes[bit] += 1 if value >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if votes[bit] > 0)


def test_simhash_equals_the_textbook_definition_and_keeps_its_values() -> None:
    rng = random.Random(7)
    vocabulary = ["nato", "moscow", "security", "indivisible", "ça", "déjà", "о", "мир", "1999"]
    texts = ["", "one", "one two", "one two three"] + [
        " ".join(rng.choice(vocabulary) for _ in range(rng.randrange(1, 400))) for _ in range(60)
    ]
    for text in texts:
        assert simhash(text) == _textbook_simhash(text), text[:40]
    # Seen records keep SimHash values across releases: this one must never change.
    assert simhash_hex(simhash("NATO expansion worries Moscow, the minister said.")) == PINNED


def test_content_hash_ignores_whitespace_and_simhash_finds_near_copies() -> None:
    text = "\n".join(SYNDICATED)
    assert content_hash(text) == content_hash("  " + text.replace("\n", "\n\n  ") + "\n")
    assert len(content_hash(text)) == 64
    copy = text + " Reporting by the wire service."
    assert hamming(simhash(text), simhash(copy)) <= 3
    other = "\n".join(ARTICLES["harbour"][1])
    assert hamming(simhash(text), simhash(other)) > 10


def test_seen_index_exact_and_near_duplicates() -> None:
    index = SeenIndex(3)
    text = "\n".join(SYNDICATED)
    first = Known("first", content_hash(text), simhash(text), None)
    index.add(first)
    assert index.judge("x", first.content_hash, first.simhash).exact
    near = text + " Reporting by the wire service."
    verdict = index.judge("second", content_hash(near), simhash(near))
    assert not verdict.exact and verdict.of == "first"
    # A new version of the same article is not a duplicate of itself.
    assert index.judge("first", content_hash(near), simhash(near)).of is None


def test_seen_index_forgets_the_oldest_articles_beyond_its_size() -> None:
    index = SeenIndex(3, max_articles=3)
    texts = {name: "\n".join(ARTICLES[name][1]) for name in ARTICLES}
    texts["syndicated"] = "\n".join(SYNDICATED)
    known = {
        name: Known(name, content_hash(text), simhash(text), None) for name, text in texts.items()
    }
    names = list(known)
    for name in names[:3]:
        index.add(known[name])
    index.add(known[names[0]])  # seen again: now the newest
    index.add(known[names[3]])  # one too many: the oldest, names[1], is forgotten
    assert len(index) == 3
    assert not index.knows_id(names[1]) and index.knows_id(names[0])
    gone = known[names[1]]
    assert not index.judge("again", gone.content_hash, gone.simhash).exact
    near = texts[names[1]] + " Reporting by the wire service."
    assert index.judge("near", content_hash(near), simhash(near)).of is None, "bands cleaned too"
    kept = known[names[0]]
    assert index.judge("again", kept.content_hash, kept.simhash).of == names[0]


# -- sources --------------------------------------------------------------------------------
def test_intervals() -> None:
    assert parse_interval("5m") == 300
    assert parse_interval("30s") == 30
    assert parse_interval("1h") == 3600
    assert parse_interval(45) == 45
    with pytest.raises(ValueError, match="duration"):
        parse_interval("soon")


def test_sources_errors_name_file_source_and_field(tmp_path: Path) -> None:
    file = tmp_path / "sources.yaml"
    file.write_text(
        textwrap.dedent(
            """
            sources:
              - {id: good, type: feed, url: "https://example.org/rss", interval: 5m,
                 country: GB, outlet_type: newspaper, language: en}
              - {id: bad-interval, type: feed, url: "https://example.org/x", interval: often}
              - {id: no-url, type: page}
              - {id: inbox, type: inbox, path: drop}
            """
        )
    )
    with pytest.raises(SourcesError) as caught:
        load_sources(file)
    message = str(caught.value)
    assert f"{file}: source 'bad-interval' (sources[1]), field 'interval'" in message
    assert "source 'no-url' (sources[2])" in message and "needs 'url'" in message
    file.write_text(
        "- {id: inbox, type: inbox, path: drop, interval: 30s}\n"
        "- {id: feed, type: feed, url: 'https://e.org/f'}\n"
    )
    inbox, feed = load_sources(file)
    assert inbox.path == tmp_path / "drop" and inbox.interval == 30
    assert feed.info().type == "feed"


def test_example_sources_file_is_valid() -> None:
    sources = load_sources(Path(__file__).resolve().parents[2] / "deploy/config/sources.yaml")
    assert {s.type for s in sources} == {"feed", "page", "sitemap", "inbox"}


# -- extraction and text files --------------------------------------------------------------
def test_extraction_drops_navigation_footer_and_cookie_banner() -> None:
    title, paragraphs = ARTICLES["harbour"]
    extracted = extract_html(page(title, paragraphs), "http://x.org/a")
    assert extracted.method == "trafilatura"
    assert extracted.text == "\n\n".join(paragraphs)
    assert extracted.title == title
    for junk in ("cookies", "Subscribe", "Copyright", "Celebrity", "Privacy"):
        assert junk not in extracted.text


def test_plain_text_oped_keeps_title_and_paragraphs() -> None:
    text = OPED_TITLE + "\n" + "\n".join(OPED_PARAGRAPHS) + "\n"
    extracted = parse_plain_text(text, "fallback")
    assert extracted.title == OPED_TITLE
    assert extracted.text.split("\n\n") == OPED_PARAGRAPHS
    assert extracted.fallback_reason is None


def test_plain_text_without_title_line_keeps_first_paragraph() -> None:
    extracted = parse_plain_text("\n".join(OPED_PARAGRAPHS), "River oped")
    first_sentence = OPED_PARAGRAPHS[0].split(". ")[0] + "."
    assert extracted.title == first_sentence
    assert extracted.text.split("\n\n") == OPED_PARAGRAPHS
    assert "first sentence" in (extracted.fallback_reason or "")
    single = parse_plain_text(OPED_PARAGRAPHS[0], "River oped")
    assert single.title == "River oped"
    assert "file name" in (single.fallback_reason or "")


def test_markdown() -> None:
    md = f"# {OPED_TITLE}\n\n" + "\n\n".join(OPED_PARAGRAPHS).replace("century", "**century**")
    extracted = parse_markdown(md + "\n\n[link text](http://x.org) end.", "x")
    assert extracted.title == OPED_TITLE
    assert extracted.text.split("\n\n")[:3] == OPED_PARAGRAPHS
    assert extracted.text.endswith("link text end.")


def test_inbox_json_and_rejections(tmp_path: Path) -> None:
    info = SourceInfo(id="drop", type="inbox")
    good = tmp_path / "a.json"
    good.write_text('{"title": "T", "text": "Body text.", "url": "https://e.org/a?utm_x=1"}')
    candidate = candidate_from_file(good, info)
    assert candidate.canonical_url == "https://e.org/a"
    bad = tmp_path / "b.json"
    bad.write_text('{"title": "", "text": 5}')
    with pytest.raises(ValueError, match="title"):
        candidate_from_file(bad, info)
    with pytest.raises(ValueError, match="unsupported file type"):
        (tmp_path / "c.pdf").write_bytes(b"%PDF")
        candidate_from_file(tmp_path / "c.pdf", info)


def test_decoding_follows_header_meta_then_detection() -> None:
    html = page(CYRILLIC[0], CYRILLIC[1], charset="windows-1251").encode("cp1251")
    assert CYRILLIC[0] in decode_body(html, "text/html")
    assert "café" in decode_body("<p>café</p>".encode("latin-1"), "text/html; charset=latin-1")
    undeclared = ("Длинный русский текст без объявленной кодировки. " * 20).encode("cp1251")
    assert "русский" in decode_body(undeclared, None)


def test_sitemap_parsing() -> None:
    body = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://e.org/a</loc><lastmod>2025-01-02</lastmod></url></urlset>"
    )
    children, urls = parse_sitemap(body, 10_000)
    assert children == [] and urls[0].url == "https://e.org/a"
    assert urls[0].published_at is not None
    with pytest.raises(ValueError, match="malformed"):
        parse_sitemap(b"<urlset><url>", 10_000)


def test_entity_declarations_are_found_wherever_they_are_and_only_there() -> None:
    padding = "<!-- " + "x" * 5000 + " -->"
    late = f'<?xml version="1.0"?>{padding}<!DOCTYPE rss [<!ENTITY a "b">]><rss>&a;</rss>'
    assert declares_entities(late.encode()), "a declaration after the first 4 kB"
    external = '<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss>&x;</rss>'
    assert declares_entities(external.encode())
    quoted = "<rss><item><description><![CDATA[How <!ENTITY works]]></description></item></rss>"
    assert not declares_entities(quoted.encode()), "the words inside CDATA are no declaration"
    assert not declares_entities(b"<rss><unclosed></rss>"), "malformed XML is feedparser's"
    netscape = (
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"></rss>'
    )
    assert not declares_entities(netscape.encode()), "a DOCTYPE alone is fine (RSS 0.91)"
    with pytest.raises(ValueError, match="entity declarations are refused"):
        parse_sitemap(late.replace("rss", "urlset").encode(), 10_000)


# -- the polite client against a real loopback server --------------------------------------
async def test_client_conditional_get_and_user_agent() -> None:
    async with serve_site() as site:
        client = PoliteClient(fast_settings())
        try:
            first = await client.get(f"{site.base}/feed.xml")
            second = await client.get(f"{site.base}/feed.xml")
        finally:
            await client.aclose()
    assert first.status == 200 and first.body.startswith(b"<?xml")
    assert second.not_modified
    assert site.conditional_hits["/feed.xml"] == 1


async def test_client_retries_429_and_5xx() -> None:
    async with serve_site() as site:
        client = PoliteClient(fast_settings())
        try:
            throttled = await client.get(f"{site.base}/throttled")
            flaky = await client.get(f"{site.base}/flaky")
            with pytest.raises(FetchError) as broken:
                await client.get(f"{site.base}/broken.xml")
        finally:
            await client.aclose()
    assert throttled.status == 200 and site.hits["/throttled"] == 2
    assert flaky.status == 200 and site.hits["/flaky"] == 3
    assert broken.value.status == 500 and site.hits["/broken.xml"] == 4  # 1 + 3 retries


async def test_a_failure_after_retries_names_every_way_the_tries_failed() -> None:
    """A 500 then no answer ends as the timeout it last was, and the message still says that
    the server answered 500 before: under load the fault suite's feed-http-500 once read as
    a bare timeout."""
    async with serve_site() as site:
        client = PoliteClient(fast_settings(retry_attempts=1, total_timeout_s=0.5))
        try:
            with pytest.raises(FetchError) as caught:
                await client.get(f"{site.base}/failing-then-silent")
            with pytest.raises(FetchError) as same_each_time:
                await client.get(f"{site.base}/broken.xml")
        finally:
            await client.aclose()
    assert caught.value.kind == "timeout"
    assert str(caught.value).startswith("timeout: the request took too long")
    assert "earlier tries: HTTP 500" in str(caught.value)
    assert str(same_each_time.value) == f"HTTP 500 ({site.base}/broken.xml)"


async def test_client_refuses_slow_huge_bombs_and_loops() -> None:
    async with serve_site() as site:
        client = PoliteClient(fast_settings(retry_attempts=0))
        try:
            outcomes = {}
            for path in ("/slow", "/huge", "/bomb", "/loop/a"):
                with pytest.raises(FetchError) as caught:
                    await client.get(site.base + path)
                outcomes[path] = caught.value.kind
            moved = await client.get(f"{site.base}/moved")
            assert not await client.allowed(f"{site.base}/private/page")
            assert await client.allowed(f"{site.base}/news/rail")
        finally:
            await client.aclose()
    assert outcomes == {
        "/slow": "timeout",
        "/huge": "too_large",
        "/bomb": "too_large",
        "/loop/a": "redirect_loop",
    }
    assert moved.url == f"{site.base}/moved" and b"Harbour" in moved.body
    assert moved.final_url == f"{site.base}/news/harbour"


async def test_a_server_that_never_answers_is_a_timeout_whichever_deadline_fires() -> None:
    """The read timeout (httpx) and the overall deadline (ours) give the same kind and the
    same words: the fault suite's feed-no-answer once failed because, under load, the
    overall deadline fired first and its message did not say "timeout"."""
    read_first = fast_settings(retry_attempts=0, read_timeout_s=0.5, total_timeout_s=2.5)
    overall_first = fast_settings(retry_attempts=0, read_timeout_s=2.5, total_timeout_s=0.5)
    errors: dict[str, FetchError] = {}
    async with serve_site() as site:
        for name, settings in {"read": read_first, "overall": overall_first}.items():
            client = PoliteClient(settings)
            try:
                with pytest.raises(FetchError) as caught:
                    await client.get(f"{site.base}/slow")
            finally:
                await client.aclose()
            errors[name] = caught.value
    for name, error in errors.items():
        assert error.kind == "timeout", name
        assert str(error).startswith("timeout: the request took too long"), str(error)
    assert "ReadTimeout" in str(errors["read"])
    assert "overall deadline" in str(errors["overall"])


async def test_robots_wildcard_and_end_anchor_rules_are_obeyed() -> None:
    async with serve_site() as site:
        client = PoliteClient(fast_settings())
        try:
            print_page = await client.allowed(f"{site.base}/news/rail/print")
            printer_page = await client.allowed(f"{site.base}/news/rail/printer")
            article = await client.allowed(f"{site.base}/news/rail")
        finally:
            await client.aclose()
    assert not print_page, "Disallow: /*/print$ covers /news/rail/print"
    assert printer_page, "the $ anchors the rule: /news/rail/printer is not covered"
    assert article
    assert site.hits["/robots.txt"] == 1, "robots.txt is fetched once and cached"


async def test_client_sends_named_user_agent() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["user-agent"])
        return httpx.Response(200, text="ok")

    client = PoliteClient(fast_settings(), transport=httpx.MockTransport(handler))
    try:
        await client.get("http://e.org/x")
    finally:
        await client.aclose()
    assert seen == ["mediawatch-fetcher/0.1 (+https://github.com/mediawatch)"]


def test_a_headline_made_from_a_paragraph_ends_where_the_tagger_ends_the_sentence() -> None:
    assert headline_of("Mr. Lavrov met Gen. Gerasimov in Moscow. Talks followed.") == (
        "Mr. Lavrov met Gen. Gerasimov in Moscow."
    )
    assert headline_of("No full stop in this line") == "No full stop in this line"
    long = "word " * 80 + "end."
    assert headline_of(long).endswith("…") and len(headline_of(long)) <= 201
