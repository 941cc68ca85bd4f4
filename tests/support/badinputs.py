"""A generated corpus of bad inputs for every entry point of mediawatch, and the good articles
to interleave with them.

Each bad input is a *kind* with the channel it enters through and what a clear rejection of
it must mention (``expect``, a lower-case fragment; ``""``: any non-empty message). ``allowed``
lists the outcomes that are acceptable for that kind: ``rejected`` (a message says why),
``dead-lettered`` (a DeadLetter with the reason), ``published`` (tolerated: decoded leniently
or bounded, and published with valid text). Everything is generated here; nothing is a file
in the repository.

Channels: ``http`` (a source of the fetcher served by :func:`build_site`), ``entry`` (a bad
entry inside an otherwise good feed), ``inbox`` (a file dropped in the inbox folder),
``push`` (a body for ``POST /v1/articles``), ``fetched``/``tagged``/``alerts``/``retry``
(a raw record on that topic), ``themes``/``rules`` (a file for ``themes check`` /
``rules check``), ``match`` (a query for ``mediawatch match``), ``search`` (a query for
``mediawatch archive search``).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urljoin

from aiohttp import web

MARKER = "zephyrcorp"
"""A word every good article contains: the alerter's test rule matches on it."""

_WORDS = (  # noqa: SIM905 - a paragraph of words reads better than a list
    "harbour council budget railway minister treaty summit grain export pipeline election "
    "parliament coalition tariff drought reservoir satellite border customs ferry bridge "
    "festival museum archive orchestra league stadium vaccine hospital clinic nurse teacher "
    "school campus library novel poet painter sculptor river valley mountain glacier forest "
    "harvest orchard vineyard fishery dock crane tanker freight airline runway terminal "
    "startup merger audit pension mortgage inflation currency bond auction verdict appeal "
    "tribunal senator mayor governor protest strike union wage contract shipyard refinery "
    "turbine solar battery grid copper lithium nickel cobalt quarry mine tunnel highway "
    "census survey ballot referendum caucus delegate envoy embassy consulate visa asylum "
    "migration drone radar frigate submarine garrison cadet veteran memorial cathedral "
    "mosque temple pilgrimage carnival marathon regatta derby tournament trophy medal coach"
).split()


def good_text(n: int, paragraphs: int = 5) -> list[str]:
    """Paragraphs of article ``n``: random words (distinct SimHash), the marker once."""
    rng = random.Random(f"good-{n}")
    out = []
    for p in range(paragraphs):
        words = [rng.choice(_WORDS) for _ in range(45)]
        if p == 1:
            words.insert(7, MARKER)
        out.append(" ".join(words).capitalize() + ".")
    return out


def good_title(channel: str, n: int) -> str:
    return f"Good {channel} article number {n}"


def page(title: str, paragraphs: list[str]) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><nav><a href='/'>Home</a></nav><main><article><h1>{title}</h1>{body}"
        "</article></main><footer>Copyright 2025</footer></body></html>"
    )


def rss(items: list[tuple[str, str | None, str]], *, prolog: str = "") -> str:
    """items: (title, link or None, description)."""
    entries = "".join(
        f"<item><title>{t}</title>{f'<link>{link}</link>' if link else ''}"
        f"<description>{d}</description></item>"
        for t, link, d in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{prolog}<rss version="2.0"><channel>'
        f"<title>Loopback</title><link>http://127.0.0.1/</link><description>x</description>"
        f"{entries}</channel></rss>"
    )


# --- the HTTP side --------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpKind:
    kind: str
    type: str  # feed | page | sitemap
    path: str
    expect: str
    allowed: frozenset[str] = frozenset({"rejected"})


@dataclass(frozen=True)
class EntryKind:
    """A bad entry of the mixed feed; its failure is logged as ``entry failed``."""

    kind: str
    title: str
    link: str | None
    expect: str


LOL = (
    '<!DOCTYPE rss [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)
XXE = '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
MB = 1024 * 1024

HTTP_KINDS: tuple[HttpKind, ...] = (
    HttpKind("feed-malformed-xml", "feed", "/bad/malformed.xml", "malformed feed"),
    HttpKind("feed-billion-laughs", "feed", "/bad/lol.xml", ""),
    HttpKind("feed-xxe-external-entity", "feed", "/bad/xxe.xml", ""),
    HttpKind("feed-10k-entries-without-text", "feed", "/bad/10k.xml", "all 200 new entries"),
    HttpKind("feed-javascript-links-only", "feed", "/bad/js.xml", "entries failed"),
    HttpKind("feed-binary-junk", "feed", "/bad/junk.xml", "malformed feed"),
    HttpKind("feed-empty-body", "feed", "/bad/empty.xml", ""),
    HttpKind("feed-html-page-instead-of-xml", "feed", "/bad/html-not-feed", "malformed feed"),
    HttpKind("feed-http-404", "feed", "/bad/404", "http 404"),
    HttpKind("feed-http-500", "feed", "/bad/500", "http 500"),
    HttpKind("feed-redirect-loop", "feed", "/bad/loop-a", "redirect loop"),
    HttpKind("feed-too-many-redirects", "feed", "/bad/hop/0", "redirects"),
    HttpKind("feed-redirect-to-file-url", "feed", "/bad/to-file", "unsupported url"),
    # The site is on 127.0.0.1, the one address the fetcher is allowed (MEDIAWATCH_FETCH_ALLOW).
    HttpKind("feed-redirect-to-refused-address", "feed", "/bad/to-refused", "refused to connect"),
    HttpKind("feed-slow-drip", "feed", "/bad/drip", "too long"),
    HttpKind("feed-no-answer", "feed", "/bad/hang", "timeout"),
    HttpKind("feed-huge-headers", "feed", "/bad/huge-headers", ""),
    HttpKind("feed-connection-dropped", "feed", "/bad/drop", "connection"),
    HttpKind("feed-gzip-bomb", "feed", "/bad/gzip-bomb.xml", "exceeds"),
    HttpKind("page-gzip-bomb", "page", "/bad/gzip-bomb.html", "exceeds"),
    HttpKind("page-50mb-declared", "page", "/bad/50mb-declared", "content-length"),
    HttpKind("page-50mb-streamed", "page", "/bad/50mb-streamed", "cut off"),
    HttpKind("page-html-bomb-nesting", "page", "/bad/html-bomb", "no article text"),
    HttpKind("page-empty-html", "page", "/bad/empty.html", "no article text"),
    HttpKind(
        "page-invalid-utf8",
        "page",
        "/bad/invalid-utf8.html",
        "",
        frozenset({"rejected", "published"}),
    ),
    HttpKind("sitemap-entity-declaration", "sitemap", "/bad/sitemap-entity.xml", "entity"),
    HttpKind("sitemap-gzip-bomb", "sitemap", "/bad/sitemap-bomb.xml.gz", "inflates"),
    HttpKind("sitemap-malformed", "sitemap", "/bad/sitemap-broken.xml", "malformed sitemap"),
    HttpKind("sitemap-wrong-root", "sitemap", "/bad/sitemap-root.xml", "not a sitemap"),
)

ENTRY_KINDS: tuple[EntryKind, ...] = (
    EntryKind("entry-link-to-gzip-bomb", "Entry gzip bomb", "/bad/gzip-bomb.html", "exceeds"),
    EntryKind("entry-link-404-no-summary", "Entry gone", "/bad/404", "http 404"),
    EntryKind("entry-no-link-no-text", "Entry bare", None, "no link"),
    EntryKind(
        "entry-link-to-refused-address",
        "Entry internal",
        "http://127.0.0.2/internal-admin",  # loopback, but not the allowed 127.0.0.1
        "refused to connect to 127.0.0.2",
    ),
)

GOOD_FEEDS = 2
GOOD_PER_FEED = 3
MIXED_GOOD = 3


@cache
def _gzip_of_zeros(size: int) -> bytes:
    return gzip.compress(b"\0" * size, compresslevel=9)


@cache
def _html_bomb() -> bytes:
    depth = 200_000
    return b"<html><body>" + b"<div>" * depth + b"deep" + b"</div>" * depth + b"</body></html>"


@cache
def _ten_thousand() -> bytes:
    return rss([(f"Entry {i}", None, "") for i in range(10_000)]).encode()


def http_good_titles() -> list[str]:
    titles = [good_title(f"feed{g}", i) for g in range(GOOD_FEEDS) for i in range(GOOD_PER_FEED)]
    return titles + [good_title("mixed", i) for i in range(MIXED_GOOD)]


@dataclass
class Site:
    base: str = ""
    hits: dict[str, int] = field(default_factory=dict)


def build_site(site: Site) -> web.Application:
    """The hostile loopback site: good feeds and pages, and one route per bad HTTP kind."""

    def text(body: str | bytes, content_type: str = "application/rss+xml") -> web.Response:
        raw = body.encode() if isinstance(body, str) else body
        return web.Response(body=raw, headers={"Content-Type": content_type})

    async def good_feed(request: web.Request) -> web.Response:
        g = int(request.match_info["g"])
        items = [
            (good_title(f"feed{g}", i), f"{site.base}/good/feed{g}-{i}.html", "")
            for i in range(GOOD_PER_FEED)
        ]
        return text(rss(items))

    async def good_page(request: web.Request) -> web.Response:
        name = request.match_info["name"]  # e.g. feed0-2 or mixed-1
        channel, n = name.rsplit("-", 1)
        number = int(n) + (100 if channel == "mixed" else 10 * int(channel[-1]))
        return text(page(good_title(channel, int(n)), good_text(number)), "text/html")

    async def mixed(request: web.Request) -> web.Response:
        items: list[tuple[str, str | None, str]] = []
        for i in range(max(MIXED_GOOD, len(ENTRY_KINDS))):
            if i < MIXED_GOOD:
                items.append((good_title("mixed", i), f"{site.base}/good/mixed-{i}.html", ""))
            if i < len(ENTRY_KINDS):
                bad = ENTRY_KINDS[i]
                link = urljoin(site.base, bad.link) if bad.link else None
                items.append((bad.title, link, ""))
        return text(rss(items))

    async def bad(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        site.hits[name] = site.hits.get(name, 0) + 1
        if name == "malformed.xml":
            return text('<?xml version="1.0"?><rss><channel><item><title>broken</ti')
        if name == "lol.xml":
            return text(rss([("Laughs", None, "&lol9;")], prolog=LOL))
        if name == "xxe.xml":
            return text(rss([("Secrets", None, "&xxe;")], prolog=XXE))
        if name == "10k.xml":
            return text(_ten_thousand())
        if name == "js.xml":
            return text(rss([(f"Script {i}", "javascript:alert(1)", "") for i in range(3)]))
        if name == "junk.xml":
            return text(random.Random(7).randbytes(4096))
        if name == "empty.xml":
            return text(b"")
        if name == "html-not-feed":
            return text("<html><body><p>This is not a feed</p></body></html>", "text/html")
        if name == "404":
            return web.Response(status=404, text="not here")
        if name == "500":
            return web.Response(status=500, text="boom")
        if name in {"loop-a", "loop-b"}:
            target = "loop-b" if name == "loop-a" else "loop-a"
            raise web.HTTPFound(f"/bad/{target}")
        if name == "to-file":
            raise web.HTTPFound("file:///etc/passwd")
        if name == "to-refused":
            raise web.HTTPFound(site.base.replace("127.0.0.1", "127.0.0.2") + "/good/feed0.xml")
        if name == "drip":
            response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
            await response.prepare(request)
            try:
                for _ in range(40):
                    await response.write(b" ")
                    await asyncio.sleep(0.5)
            except (ConnectionError, RuntimeError):
                pass
            return response
        if name == "hang":
            await asyncio.sleep(12)
            return text("")
        if name == "huge-headers":
            headers = {f"X-Junk-{i}": "x" * 8000 for i in range(64)}
            return web.Response(text="<rss/>", headers=headers)
        if name == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=200)
        if name in {"gzip-bomb.xml", "gzip-bomb.html"}:
            return web.Response(
                body=_gzip_of_zeros(60 * MB),
                headers={"Content-Encoding": "gzip", "Content-Type": "text/html"},
            )
        if name == "50mb-declared":
            response = web.StreamResponse(headers={"Content-Type": "text/html"})
            response.content_length = 50 * MB
            await response.prepare(request)
            try:
                for _ in range(50):
                    await response.write(b"a" * MB)
            except (ConnectionError, RuntimeError):
                pass
            return response
        if name == "50mb-streamed":
            response = web.StreamResponse(headers={"Content-Type": "text/html"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            try:
                await response.write(b"<html><body><p>")
                for _ in range(50):
                    await response.write(b"word " * (MB // 5))
            except (ConnectionError, RuntimeError):
                pass
            return response
        if name == "html-bomb":
            return text(_html_bomb(), "text/html")
        if name == "empty.html":
            return text("<html><head><title>Empty</title></head><body></body></html>", "text/html")
        if name == "invalid-utf8.html":
            body = page("Page with invalid UTF-8", good_text(900)).encode()
            body = body.replace(b"harbour", b"harb\xff\xfeour").replace(b"council", b"c\xc3\x28l")
            return text(body, "text/html; charset=utf-8")
        if name == "sitemap-entity.xml":
            return text(
                f'<?xml version="1.0"?>{LOL.replace("rss", "urlset")}<urlset><url><loc>'
                f"{site.base}/good/feed0-0.html&lol9;</loc></url></urlset>",
                "application/xml",
            )
        if name == "sitemap-bomb.xml.gz":
            return text(_gzip_of_zeros(60 * MB), "application/x-gzip")
        if name == "sitemap-broken.xml":
            return text("<urlset><url><loc>http://x/", "application/xml")
        if name == "sitemap-root.xml":
            return text("<html><body>not a sitemap</body></html>", "application/xml")
        return web.Response(status=404)

    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound(f"/bad/hop/{n + 1}")

    app = web.Application()

    async def robots(request: web.Request) -> web.Response:
        return web.Response(status=404)

    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/good/feed{g:\\d+}.xml", good_feed)
    app.router.add_get("/good/{name}.html", good_page)
    app.router.add_get("/mixed.xml", mixed)
    app.router.add_get("/bad/hop/{n:\\d+}", hop)
    app.router.add_get("/bad/{name}", bad)
    return app


def sources(site: Site, inbox: str) -> list[dict[str, object]]:
    """Bad sources interleaved with the good feeds, the mixed feed and the inbox."""
    out: list[dict[str, object]] = []
    good = [
        {"id": f"good-feed{g}", "type": "feed", "url": f"{site.base}/good/feed{g}.xml"}
        for g in range(GOOD_FEEDS)
    ] + [{"id": "mixed-feed", "type": "feed", "url": f"{site.base}/mixed.xml"}]
    for i, kind in enumerate(HTTP_KINDS):
        out.append({"id": kind.kind, "type": kind.type, "url": f"{site.base}{kind.path}"})
        if i % 10 == 0 and good:
            out.append(good.pop(0))
    out.extend(good)
    out.append({"id": "inbox", "type": "inbox", "path": inbox, "interval": "1s"})
    for source in out:
        source.setdefault("interval", "1h")
        source.setdefault("country", "GB")
        source.setdefault("language", "en")
    return out


# --- the inbox ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileKind:
    kind: str
    name: str
    content: bytes
    expect: str
    allowed: frozenset[str] = frozenset({"rejected"})


def _j(value: object) -> bytes:
    return json.dumps(value).encode()


def inbox_files() -> list[FileKind]:
    body = "\n\n".join(good_text(901))
    return [
        FileKind("inbox-empty-file", "a01-empty.txt", b"", "empty"),
        FileKind("inbox-whitespace-only", "a02-blank.md", b"  \n\n\t \n", "empty"),
        FileKind(
            "inbox-binary-junk-json",
            "a03-junk.json",
            random.Random(3).randbytes(2048),
            "not valid json",
        ),
        FileKind(
            "inbox-invalid-utf8-text",
            "a04-invalid.txt",
            b"Invalid bytes title\n\n" + body.encode().replace(b"harbour", b"har\xff\xc3\x28"),
            "",
            frozenset({"rejected", "published"}),
        ),
        FileKind(
            "inbox-json-array",
            "a05-array.json",
            _j([{"title": "t", "text": "x"}]),
            "expected a json object",
        ),
        FileKind("inbox-json-null", "a06-null.json", b"null", "expected a json object"),
        FileKind("inbox-json-title-only", "a07-title.json", _j({"title": "Only a title"}), "text"),
        FileKind(
            "inbox-json-wrong-types",
            "a08-types.json",
            _j({"title": 12, "text": ["a"]}),
            "invalid article",
        ),
        FileKind(
            "inbox-json-unknown-schema-version",
            "a09-version.json",
            _j({"schema_version": "9.0", "title": "From the future", "text": body}),
            "schema_version",
        ),
        FileKind(
            "inbox-json-javascript-url",
            "a10-url.json",
            _j({"title": "t", "text": body, "url": "javascript:alert(1)"}),
            "url",
        ),
        FileKind(
            "inbox-json-nesting-bomb", "a11-nesting.json", b"[" * 100_000 + b"]" * 100_000, ""
        ),
        FileKind(
            "inbox-unsupported-extension",
            "a12-report.pdf",
            b"%PDF-1.4 junk",
            "unsupported file type",
        ),
        FileKind(
            "inbox-file-over-20mb", "a13-huge.txt", b"Huge\n\n" + b"word " * (5 * MB), "larger than"
        ),
        FileKind("inbox-html-bomb", "a14-bomb.html", _html_bomb(), "no article text"),
        FileKind("inbox-markdown-title-only", "a15-title.md", b"# Only a heading\n", "no text"),
        FileKind(
            "inbox-html-without-text",
            "a16-empty.html",
            b"<html><body></body></html>",
            "no article text",
        ),
    ]


def inbox_good_files(count: int = 4) -> list[tuple[str, bytes]]:
    """Good files whose names sort between the bad ones."""
    out = []
    for i in range(count):
        title = good_title("inbox", i)
        out.append(
            (
                f"a{i * 4 + 2:02d}b-good.txt",
                (title + "\n\n" + "\n\n".join(good_text(200 + i))).encode(),
            )
        )
    return out


# --- the push endpoint ----------------------------------------------------------------------


@dataclass(frozen=True)
class PushKind:
    kind: str
    body: bytes
    status: int
    expect: str
    chunked: bool = False
    credential: str = "ingest"  # what Authorization says: see authorization()


#: The good source an ingest token of the corpus is bound to ("bound").
BOUND_SOURCE = "good-feed0"
#: Authorization headers that are wrong whatever tokens exist.
FIXED_AUTHORIZATION: dict[str, str | None] = {
    "none": None,
    "basic": "Basic bWVkaWF3YXRjaDpodW50ZXIy",
    "garbled": "Bearer <script>alert(1)</script>",
    "oversized": "Bearer " + "A" * 8000,
    "unknown": "Bearer mw_00000000_" + "x" * 43,
}


def authorization(credential: str, tokens: dict[str, str]) -> str | None:
    """The Authorization header of a push kind: a fixed bad one, or ``Bearer`` with the
    harness's token of that name (ingest, viewer, revoked, bound to BOUND_SOURCE)."""
    if credential in FIXED_AUTHORIZATION:
        return FIXED_AUTHORIZATION[credential]
    return f"Bearer {tokens[credential]}"


def push_good(i: int) -> dict[str, object]:
    return {"title": good_title("push", i), "text": "\n\n".join(good_text(300 + i))}


def push_kinds() -> list[PushKind]:
    ok = push_good(99)  # valid on its own; only used inside rejected batches
    over = b'{"title": "big", "text": "' + b"x" * (3 * MB) + b'"}'
    return [
        PushKind("push-not-json", b"title=hello&text=world", 422, "not valid json"),
        PushKind("push-invalid-utf8", b'{"title": "\xff\xfe", "text": "x"}', 422, "json"),
        PushKind("push-json-string", b'"an article"', 422, "expected an article object"),
        PushKind("push-json-number-list", b"[1, 2, 3]", 422, "valid dictionary"),
        PushKind("push-empty-batch", b"[]", 422, "empty batch"),
        PushKind("push-missing-text", _j({"title": "t"}), 422, "field required"),
        PushKind("push-unknown-field", _j(ok | {"colour": "red"}), 422, "extra inputs"),
        PushKind(
            "push-unknown-schema-version", _j(ok | {"schema_version": "9.0"}), 422, "extra inputs"
        ),
        PushKind("push-blank-text", _j({"title": "t", "text": " \n\t "}), 422, "blank"),
        PushKind("push-title-too-long", _j({"title": "t" * 1001, "text": "x"}), 422, "at most"),
        PushKind(
            "push-javascript-url",
            _j(ok | {"url": "javascript:alert(1)"}),
            422,
            "string should match",
        ),
        PushKind("push-bad-language", _j(ok | {"language": "English"}), 422, "should match"),
        PushKind("push-batch-too-large", _j([ok] * 501), 422, "more than 500"),
        PushKind(
            "push-batch-one-bad-item", _j([push_good(98), {"title": "t"}]), 422, "field required"
        ),
        PushKind("push-nesting-bomb", b"[" * 100_000 + b"]" * 100_000, 422, ""),
        PushKind("push-3mb-declared", over, 413, "exceeds the limit"),
        PushKind("push-3mb-chunked", over, 413, "exceeds the limit", chunked=True),
        PushKind("push-no-authorization", _j(ok), 401, "missing authorization", credential="none"),
        PushKind("push-basic-authorization", _j(ok), 401, "'bearer <token>'", credential="basic"),
        PushKind(
            "push-garbled-token", _j(ok), 401, "characters no token has", credential="garbled"
        ),
        PushKind(
            "push-oversized-authorization", _j(ok), 401, "longer than", credential="oversized"
        ),
        PushKind("push-unknown-token", _j(ok), 401, "unknown bearer token", credential="unknown"),
        PushKind("push-viewer-token", _j(ok), 403, "role 'ingest'", credential="viewer"),
        PushKind("push-revoked-token-replay", _j(ok), 401, "was revoked", credential="revoked"),
        PushKind(
            "push-claims-another-source",
            _j(ok | {"source": {"id": "good-feed1"}}),
            403,
            f"may publish only as {BOUND_SOURCE}",
            credential="bound",
        ),
        PushKind(
            "push-invents-source-metadata",
            _j(ok | {"source": {"id": BOUND_SOURCE, "country": "RU"}}),
            422,
            "may not set it",
        ),
        PushKind(
            "push-unknown-source-id",
            _j(ok | {"source": {"id": "no-such-outlet"}}),
            422,
            "unknown source id 'no-such-outlet'",
        ),
    ]


# --- raw records on topics ------------------------------------------------------------------


@dataclass(frozen=True)
class RecordKind:
    kind: str
    topic: str  # fetched | tagged | alerts | retry
    value: bytes | None
    expect: str
    allowed: frozenset[str] = frozenset({"dead-lettered"})


def record_kinds(huge_article: bytes) -> list[RecordKind]:
    """``huge_article``: a valid ArticleFetched JSON with about 900 KB of text."""
    fetched_like = {"schema_version": "1.0", "article_id": "x", "title": "t"}
    out = [
        RecordKind("fetched-not-json", "fetched", b"<html>not json</html>", "json"),
        RecordKind("fetched-empty-bytes", "fetched", b"", ""),
        RecordKind("fetched-null-value", "fetched", None, "no value"),
        RecordKind("fetched-invalid-utf8", "fetched", b'{"article_id": "\xff\xfe"}', ""),
        RecordKind("fetched-json-array", "fetched", b"[1, 2]", ""),
        RecordKind(
            "fetched-wrong-shape",
            "fetched",
            _j({"schema_version": "1.0", "article_id": 7}),
            "article_id",
        ),
        RecordKind(
            "fetched-schema-version-9",
            "fetched",
            _j(fetched_like | {"schema_version": "9.0"}),
            "schema_version",
        ),
        RecordKind("fetched-nesting-bomb", "fetched", b"[" * 100_000 + b"]" * 100_000, ""),
        RecordKind("fetched-huge-text", "fetched", huge_article, "", frozenset({"published"})),
    ]
    for topic in ("tagged", "alerts", "retry"):
        out += [
            RecordKind(f"{topic}-not-json", topic, b"not json at all", "json"),
            RecordKind(
                f"{topic}-schema-version-9", topic, _j({"schema_version": "9.0"}), "schema_version"
            ),
            RecordKind(f"{topic}-wrong-shape", topic, _j({"schema_version": "1.0", "x": 1}), ""),
        ]
    out.append(RecordKind("tagged-null-value", "tagged", None, "no value"))
    return out


# --- catalogue and rule files ---------------------------------------------------------------


@dataclass(frozen=True)
class CheckKind:
    kind: str
    command: str  # themes | rules | match | search
    content: str  # file text, or the query for match and search
    expect: str


def _theme(query: str) -> str:
    return json.dumps({"version": "1", "themes": [{"id": "t", "label": "T", "query": query}]})


def _rule(**rule: object) -> str:
    base: dict[str, object] = {"id": "r", "condition": {"themes": ["brics"]}}
    return json.dumps({"version": 1, "rules": [base | rule]})


YAML_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True)
)


def check_kinds() -> list[CheckKind]:
    # Each hostile query stays under the 20,000-character limit so that the limit it is meant
    # to hit (nesting depth, number of terms) is the one that rejects it.
    deep = "(" * 1_000 + "nato" + ")" * 1_000
    many_or = " OR ".join(f"w{i}" for i in range(2_100))
    megabyte = '"' + "a " * (MB // 2) + '"'
    return [
        CheckKind("theme-query-deep-nesting", "themes", _theme(deep), "deep"),
        CheckKind("theme-query-2100-ors", "themes", _theme(many_or), "terms"),
        CheckKind("theme-query-1mb", "themes", _theme(megabyte), "long"),
        CheckKind("theme-query-nested-not", "themes", _theme("NOT " * 1_000 + "nato"), "deep"),
        CheckKind("theme-query-short-wildcard", "themes", _theme("a*"), "wildcard"),
        CheckKind("theme-query-unbalanced", "themes", _theme('("nato" OR brics'), "expected"),
        CheckKind(
            "theme-duplicate-id",
            "themes",
            json.dumps(
                {
                    "version": "1",
                    "themes": [
                        {"id": "t", "label": "T", "query": "a"},
                        {"id": "t", "label": "U", "query": "b"},
                    ],
                }
            ),
            "duplicate",
        ),
        CheckKind(
            "theme-typo-field",
            "themes",
            json.dumps({"version": "1", "themes": [{"id": "t", "label": "T", "qeury": "a"}]}),
            "qeury",
        ),
        CheckKind("theme-yaml-alias-bomb", "themes", YAML_BOMB + "version: 1\nthemes: *h\n", ""),
        CheckKind("theme-not-yaml", "themes", "themes: [unclosed\n  - {", "yaml"),
        CheckKind("rule-typo-field", "rules", _rule(condtion={"themes": ["x"]}), "condtion"),
        CheckKind(
            "rule-duplicate-id",
            "rules",
            json.dumps(
                {
                    "version": 1,
                    "rules": [
                        {"id": "r", "condition": {"themes": ["a"]}},
                        {"id": "r", "condition": {"themes": ["b"]}},
                    ],
                }
            ),
            "duplicate",
        ),
        CheckKind(
            "rule-bad-cron", "rules", _rule(mode={"type": "digest", "cron": "61 25 * * *"}), "cron"
        ),
        CheckKind(
            "rule-bad-timezone",
            "rules",
            _rule(mode={"type": "digest", "cron": "0 8 * * *", "timezone": "Mars/Olympus"}),
            "time zone",
        ),
        CheckKind(
            "rule-unknown-version", "rules", json.dumps({"version": 9, "rules": []}), "version"
        ),
        CheckKind("rule-query-2100-ors", "rules", _rule(condition={"query": many_or}), "terms"),
        CheckKind(
            "rule-bad-stance", "rules", _rule(condition={"stance": "stance(nato) ~ 3"}), "stance"
        ),
        CheckKind(
            "rule-secret-env-missing",
            "rules",
            _rule(
                notify=[
                    {
                        "name": "w",
                        "type": "webhook",
                        "url": "http://x",
                        "secret_env": "NO_SUCH_VAR_MW",
                    }
                ]
            ),
            "not set",
        ),
        CheckKind("rule-yaml-alias-bomb", "rules", YAML_BOMB + "version: 1\nrules: *h\n", ""),
        # 100 KB: a 1 MB query does not fit in one command-line argument (MAX_ARG_STRLEN)
        CheckKind("match-query-100kb", "match", '"' + "a " * 50_000 + '"', "long"),
        CheckKind("match-query-deep-nesting", "match", deep, "deep"),
        # Hostile archive searches: refused with the position, never a crash or a long scan.
        CheckKind("search-deep-nesting", "search", deep, "position"),
        CheckKind(
            "search-10000-terms", "search", " OR ".join(f"w{n}" for n in range(10_000)), "long"
        ),
        CheckKind("search-bare-star", "search", "*", "wildcard prefix"),
        CheckKind("search-unbalanced-quote", "search", '"indivisible security', "phrase"),
        CheckKind("search-sql", "search", "x' OR 1=1; DROP TABLE articles; --", "position"),
    ]


UNKNOWN_THEME_RULE = _rule(condition={"themes": ["no-such-theme-anywhere"]})
