"""A small news site served on loopback for the fetcher tests: feeds and article pages with
navigation, cookie banners and footers, plus every misbehaviour a real site shows."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

ARTICLES = {
    "harbour": (
        "Harbour expansion approved after long debate",
        [
            "The city council approved the expansion of the northern harbour on Tuesday after "
            "a debate that lasted more than nine hours and drew hundreds of residents.",
            "Supporters said the new quays would bring container traffic back to the region, "
            "while fishermen warned that dredging would destroy the spawning grounds of cod.",
            "The regional government must still sign off on the environmental assessment, "
            "which is expected before the end of the summer according to officials.",
        ],
    ),
    "rail": (
        "Night trains return to the northern line",
        [
            "Night trains will run again between the capital and the northern provinces from "
            "December, the national railway company announced in a short statement.",
            "The service was cancelled eleven years ago for lack of passengers, but bookings "
            "for sleeper cars across Europe have tripled since, the company said.",
            "Tickets go on sale next month; a bed in a shared compartment will cost about the "
            "same as a budget flight, without the trip to the airport.",
        ],
    ),
    "library": (
        "Old library reopens as a science centre",
        [
            "The old municipal library, closed since a fire damaged its roof, reopened on "
            "Saturday as a science centre for children and their teachers.",
            "Its reading room now holds a planetarium under the restored dome, and the former "
            "archive in the basement has become a workshop for robotics classes.",
            "More than four thousand visitors came on the first weekend, and school classes "
            "have booked every weekday morning until the Easter holidays.",
        ],
    ),
}

SYNDICATED = [
    "Ministers from twelve countries met in Vienna to discuss a common approach to grain "
    "exports, the third such meeting this year, and agreed to share harvest forecasts.",
    "Diplomats said the talks were constructive but that no agreement on shipping insurance "
    "had been reached, leaving traders to price the risk themselves for now.",
    "A further round is planned for the autumn, when the harvest figures are known and the "
    "corridors through the straits will be reviewed by the maritime authorities.",
    "Farmers' associations welcomed the plan to publish forecasts jointly, saying that "
    "sudden announcements of export bans had cost them dearly in each of the last two years.",
    "Economists were more cautious. Shared forecasts help, they said, but only if every "
    "government also agrees not to change its export rules in the middle of a season.",
    "The host country's foreign minister closed the meeting by inviting the delegations "
    "to continue the work in technical groups on logistics, storage and insurance.",
]

CYRILLIC = (
    "Новый мост через реку открыт",
    [
        "В субботу в городе торжественно открыли новый мост через реку, строительство "
        "которого продолжалось почти четыре года и обошлось бюджету в крупную сумму.",
        "По словам мэра, мост сократит время в пути между районами вдвое и разгрузит "
        "старую переправу, которая давно не справлялась с потоком машин.",
        "Жители окрестных домов жаловались на шум во время стройки, но теперь говорят, "
        "что довольны результатом и ждут открытия велосипедной дорожки.",
    ],
)


#: The one article whose page declares itself an opinion piece (schema.org JSON-LD).
OPINION_SLUG = "rail"


def page(title: str, paragraphs: list[str], *, canonical: str | None = None,
         charset: str = "utf-8", lang: str = "en",
         schema_type: str | None = None) -> str:  # fmt: skip
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    if schema_type:
        link += (
            '<script type="application/ld+json">'
            f'{{"@context": "https://schema.org", "@type": "{schema_type}", '
            f'"headline": "{title}"}}'
            "</script>"
        )
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="{charset}"><title>{title} | Daily Loopback</title>
{link}<meta name="author" content="Ann Writer"></head>
<body>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience.
 <button>Accept all cookies</button></div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/subscribe">Subscribe now</a></li></ul>
</nav></header>
<main><article><h1>{title}</h1>
<div class="byline">By Ann Writer</div>
{body}
</article>
<aside class="related"><h3>Most read</h3><ul><li><a href="/x">Celebrity wedding photos</a></li>
<li><a href="/y">Ten tricks for your garden</a></li></ul></aside></main>
<footer><p>Copyright 2025 Daily Loopback. All rights reserved.</p>
<p><a href="/privacy">Privacy policy</a> · <a href="/terms">Terms of use</a></p></footer>
</body></html>"""


def rss(base: str, items: list[tuple[str, str, str]]) -> str:
    entries = "\n".join(
        f"<item><title>{title}</title><link>{base}{path}</link>"
        f"<description>{summary}</description>"
        f"<pubDate>Tue, 10 Jun 2025 0{i}:00:00 GMT</pubDate></item>"
        for i, (title, path, summary) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Daily Loopback</title><link>{base}/</link><description>news</description>"
        f"{entries}</channel></rss>"
    )


@dataclass
class Site:
    base: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    conditional_hits: Counter[str] = field(default_factory=Counter)
    cap_bytes: int = 64 * 1024


def build_app(site: Site) -> web.Application:
    app = web.Application()

    @web.middleware
    async def count(request: web.Request, handler: object) -> web.StreamResponse:
        site.hits[request.path] += 1
        if request.headers.get("If-None-Match") or request.headers.get("If-Modified-Since"):
            site.conditional_hits[request.path] += 1
        return await handler(request)  # type: ignore[operator, no-any-return]

    app.middlewares.append(count)

    def etagged(request: web.Request, body: str, content_type: str) -> web.Response:
        etag = '"' + hashlib.sha1(body.encode()).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=body, content_type=content_type, headers={"ETag": etag})

    async def robots(request: web.Request) -> web.Response:
        # The wildcard and end-anchor rule is RFC 9309's; the stdlib parser reads it literally.
        return web.Response(text="User-agent: *\nDisallow: /private/\nDisallow: /*/print$\n")

    async def feed(request: web.Request) -> web.Response:
        items = [(t, f"/news/{k}?utm_source=rss", ps[0]) for k, (t, ps) in ARTICLES.items()]
        return etagged(request, rss(site.base, items), "application/rss+xml")

    async def news(request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        title, paragraphs = ARTICLES[slug]
        kind = "OpinionNewsArticle" if slug == OPINION_SLUG else None
        return etagged(request, page(title, paragraphs, schema_type=kind), "text/html")

    async def syndicated(request: web.Request) -> web.Response:
        paragraphs = list(SYNDICATED)
        if request.match_info["copy"] == "b":  # the copy adds one sentence of its own
            paragraphs[-1] += " Reporting by the wire service."
        html = page("Grain talks in Vienna", paragraphs)
        return web.Response(text=html, content_type="text/html")

    async def cyrillic(request: web.Request) -> web.Response:
        html = page(CYRILLIC[0], CYRILLIC[1], charset="windows-1251", lang="ru")
        # No charset in the header: the meta charset must be honoured.
        return web.Response(body=html.encode("cp1251"), headers={"Content-Type": "text/html"})

    async def throttled(request: web.Request) -> web.Response:
        if site.hits[request.path] == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return await news_for(request, "rail")

    async def flaky(request: web.Request) -> web.Response:
        if site.hits[request.path] <= 2:
            return web.Response(status=503)
        return await news_for(request, "library")

    async def failing_then_silent(request: web.Request) -> web.Response:
        """A 500 first, then no answer in time: the server of the fault suite's
        feed-http-500 as it behaved on a loaded machine."""
        if site.hits[request.path] == 1:
            return web.Response(status=500, text="internal error")
        return await slow(request)

    async def news_for(request: web.Request, slug: str) -> web.Response:
        title, paragraphs = ARTICLES[slug]
        return web.Response(text=page(title, paragraphs), content_type="text/html")

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="internal error")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text="too late")

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        chunk = b"<p>" + b"x" * 8192 + b"</p>"
        for _ in range(site.cap_bytes // len(chunk) + 10):
            await response.write(chunk)
        await response.write_eof()
        return response

    async def bomb(request: web.Request) -> web.Response:
        body = gzip.compress(b" " * (site.cap_bytes * 50))
        return web.Response(
            body=body, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
        )

    async def malformed(request: web.Request) -> web.Response:
        return web.Response(
            text="<rss><channel><title>oops</title><item><link>nowhere", content_type="text/xml"
        )

    async def loop_a(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop/b")

    async def loop_b(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop/a")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/news/harbour")

    async def sitemap_index(request: web.Request) -> web.Response:
        return web.Response(
            text='<?xml version="1.0"?><sitemapindex '
            'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{site.base}/sitemap-news.xml</loc></sitemap></sitemapindex>",
            content_type="application/xml",
        )

    async def sitemap_news(request: web.Request) -> web.Response:
        urls = "".join(
            f"<url><loc>{site.base}/news/{slug}</loc><news:news><news:publication>"
            "<news:name>Daily Loopback</news:name><news:language>en</news:language>"
            "</news:publication><news:publication_date>2025-06-10T08:00:00Z"
            f"</news:publication_date><news:title>{title}</news:title></news:news></url>"
            for slug, (title, _) in ARTICLES.items()
        )
        return web.Response(
            text='<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
            ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{urls}</urlset>",
            content_type="application/xml",
        )

    async def private(request: web.Request) -> web.Response:
        return web.Response(text=page("Secret", ARTICLES["rail"][1]), content_type="text/html")

    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/feed.xml", feed)
    app.router.add_get("/news/{slug}", news)
    app.router.add_get("/syndicated/{copy}", syndicated)
    app.router.add_get("/cyrillic", cyrillic)
    app.router.add_get("/throttled", throttled)
    app.router.add_get("/flaky", flaky)
    app.router.add_get("/broken.xml", broken)
    app.router.add_get("/slow", slow)
    app.router.add_get("/failing-then-silent", failing_then_silent)
    app.router.add_get("/huge", huge)
    app.router.add_get("/bomb", bomb)
    app.router.add_get("/malformed.xml", malformed)
    app.router.add_get("/loop/a", loop_a)
    app.router.add_get("/loop/b", loop_b)
    app.router.add_get("/moved", moved)
    app.router.add_get("/sitemap.xml", sitemap_index)
    app.router.add_get("/sitemap-news.xml", sitemap_news)
    app.router.add_get("/private/page", private)
    return app


@asynccontextmanager
async def serve_site() -> AsyncIterator[Site]:
    site = Site()
    runner = web.AppRunner(build_app(site), access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    site.base = f"http://127.0.0.1:{port}"
    try:
        yield site
    finally:
        await runner.cleanup()


#: An op-ed written for the tests, as a title and its paragraphs.
OPED_TITLE = "Why the river needs its floodplain back"
OPED_PARAGRAPHS = [
    "For a century we straightened the river, walled its banks and built on the meadows "
    "that used to drink the spring floods. Every decade the bill for that choice grows.",
    "Giving the floodplain back is not romantic nostalgia. It is the cheapest flood "
    "defence we have, and it asks nothing of the next generation but to leave it alone.",
    "The council should buy the low fields when they come up for sale, and stop granting "
    "permits for houses where the water will, sooner or later, come back.",
]
