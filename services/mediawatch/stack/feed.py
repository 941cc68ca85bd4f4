"""A loopback news site made of the sample corpus: RSS 2.0 feeds and one HTML page per
article, so that ``mediawatch up`` exercises the fetcher's feed and page paths without the
internet.

Routes: ``/`` (index), ``/robots.txt``, ``/feed.xml`` (every article), ``/feeds/<outlet>.xml``
(one outlet), ``/articles/<slug>.html``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from aiohttp import web

from mediawatch.stack.samples import (
    ARTICLES_DIR,
    MANIFEST_FILE,
    SampleArticle,
    load_manifest,
    read_sample,
)


@dataclass(frozen=True)
class FeedItem:
    meta: SampleArticle
    title: str
    paragraphs: list[str]
    published: datetime


def load_items(
    manifest_file: Path = MANIFEST_FILE,
    articles_dir: Path = ARTICLES_DIR,
    now: datetime | None = None,
) -> list[FeedItem]:
    """Every sample article, newest first; publication times are spaced ten minutes apart."""
    manifest = load_manifest(manifest_file)
    start = now or datetime.now(UTC).replace(microsecond=0)
    items = []
    for index, meta in enumerate(manifest.articles):
        title, paragraphs = read_sample(articles_dir / meta.file)
        published = start - timedelta(minutes=10 * index)
        items.append(FeedItem(meta, title, paragraphs, published))
    return items


def article_html(item: FeedItem, base_url: str) -> str:
    meta = item.meta
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in item.paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="{meta.language}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(item.title)} | {html.escape(meta.outlet)}</title>\n"
        f'<meta property="og:title" content="{html.escape(item.title)}">\n'
        f'<meta property="og:site_name" content="{html.escape(meta.outlet)}">\n'
        f'<meta property="article:published_time" content="{item.published.isoformat()}">\n'
        f'<meta property="article:section" content="{SECTIONS[meta.kind]}">\n'
        f'<link rel="canonical" href="{base_url}/articles/{meta.slug}.html">\n'
        f'</head>\n<body>\n<header><a href="/">{html.escape(meta.outlet)}</a></header>\n'
        f"<main><article>\n<h1>{html.escape(item.title)}</h1>\n"
        f'<p class="byline">{html.escape(meta.outlet)}, '
        f'<time datetime="{item.published.isoformat()}">{item.published:%d %B %Y}</time></p>\n'
        f"{body}\n</article></main>\n<footer>Sample corpus of mediawatch.</footer>\n"
        "</body>\n</html>\n"
    )


#: The section each kind of sample is filed under on its page and in its feed, as a
#: newspaper's site files it; the fetcher reads the genre from it.
SECTIONS = {"op-ed": "Opinion", "news": "News", "analysis": "Analysis"}


def rss(items: list[FeedItem], base_url: str, title: str, language: str | None) -> str:
    entries = []
    for item in items:
        link = f"{base_url}/articles/{item.meta.slug}.html"
        entries.append(
            "<item>"
            f"<title>{escape(item.title)}</title>"
            f"<link>{escape(link)}</link>"
            f'<guid isPermaLink="true">{escape(link)}</guid>'
            f"<pubDate>{format_datetime(item.published)}</pubDate>"
            f"<category>{SECTIONS[item.meta.kind]}</category>"
            f"<description>{escape(item.paragraphs[0] if item.paragraphs else '')}</description>"
            "</item>"
        )
    language_tag = f"<language>{language}</language>" if language else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{escape(base_url)}/</link>"
        f"<description>{escape(title)}</description>{language_tag}"
        + "".join(entries)
        + "</channel></rss>\n"
    )


def build_app(items: list[FeedItem], base_url: str) -> web.Application:
    by_slug = {item.meta.slug: item for item in items}
    by_outlet: dict[str, list[FeedItem]] = {}
    for item in items:
        by_outlet.setdefault(item.meta.outlet_id, []).append(item)

    async def index(request: web.Request) -> web.Response:
        links = "\n".join(
            f'<li><a href="/articles/{i.meta.slug}.html">{html.escape(i.title)}</a> '
            f"({html.escape(i.meta.outlet)})</li>"
            for i in items
        )
        page = f"<!DOCTYPE html><html><body><h1>Sample outlets</h1><ul>{links}</ul></body></html>"
        return web.Response(text=page, content_type="text/html")

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nAllow: /\n", content_type="text/plain")

    async def all_feed(request: web.Request) -> web.Response:
        body = rss(items, base_url, "mediawatch sample corpus", None)
        return web.Response(text=body, content_type="application/rss+xml")

    async def outlet_feed(request: web.Request) -> web.Response:
        outlet = request.match_info["outlet"]
        if outlet not in by_outlet:
            raise web.HTTPNotFound(text=f"no sample outlet {outlet!r}")
        chosen = by_outlet[outlet]
        meta = chosen[0].meta
        body = rss(chosen, base_url, meta.outlet, meta.language)
        return web.Response(text=body, content_type="application/rss+xml")

    async def article(request: web.Request) -> web.Response:
        item = by_slug.get(request.match_info["slug"])
        if item is None:
            raise web.HTTPNotFound(text="no such sample article")
        return web.Response(text=article_html(item, base_url), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/feed.xml", all_feed)
    app.router.add_get("/feeds/{outlet}.xml", outlet_feed)
    app.router.add_get("/articles/{slug}.html", article)
    return app


class SampleFeedServer:
    """Serve the sample site on ``host:port`` (port 0: any free port) until stopped."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8090,
        *,
        manifest_file: Path = MANIFEST_FILE,
        articles_dir: Path = ARTICLES_DIR,
        public_url: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.manifest_file = manifest_file
        self.articles_dir = articles_dir
        self.public_url = public_url.rstrip("/") if public_url else None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """The URL that links in feeds and pages start with (``public_url`` when the server
        is reached under another name, e.g. ``http://samples:8090`` in compose)."""
        return self.public_url or f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        import socket

        # Bind first so that port 0 resolves to a real port before the URLs are rendered.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        items = load_items(self.manifest_file, self.articles_dir)
        self._runner = web.AppRunner(build_app(items, self.base_url), access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
