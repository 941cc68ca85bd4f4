"""The web workspace under test: the API service on loopback (its own event loop in a thread)
over a seeded SQLite archive, a copy of the shipped rules file, a fetcher's real health route
on loopback, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from mediawatch.api.app import build_server
from mediawatch.api.settings import ApiSettings
from mediawatch.archiver.sqlite import SqliteArchive
from mediawatch.fetcher.health import HealthBoard
from mediawatch.fetcher.passes import PassResult
from mediawatch.runtime.auth import Role, TokenStore, new_token
from mediawatch.runtime.http import ServiceHttpServer
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import Alert, AlertArticle, AlertMode, ArticleTagged, Severity
from tests.support.alerter import tagged
from tests.support.environment import unavailable

VIEWER = new_token()[1]
EDITOR = new_token()[1]
NOW = datetime.now(UTC).replace(microsecond=0)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


@dataclass
class Seeded:
    oped: ArticleTagged
    articles: list[ArticleTagged]
    alerts: list[Alert]


def alert_of(rule_id: str, article: ArticleTagged, severity: Severity, hours: float) -> Alert:
    ref = article.article
    return Alert(
        alert_id=f"{rule_id}:{ref.article_id}",
        rule_id=rule_id,
        mode=AlertMode.EACH_MATCH,
        severity=severity,
        summary=f"{rule_id} matched {ref.title}",
        fired_at=ago(hours),
        articles=[
            AlertArticle(
                article_id=ref.article_id, title=ref.title, url=ref.url, source=ref.source,
                fetched_at=ref.fetched_at, genre=ref.genre,
                themes=[t.theme_id for t in article.themes],
                actors=[a.actor_id for a in article.actors],
                evidence=[e for t in article.themes for e in t.evidence][:2],
            )
        ],
    )  # fmt: skip


def seed_archive(path: Path, oped: ArticleTagged) -> Seeded:
    """The op-ed as the real tagger tags it, a few synthetic articles (one a reprint of
    another) over the last days, and alerts of two rules."""
    oped = oped.model_copy(
        update={"article": oped.article.model_copy(update={"fetched_at": ago(2),
                                                           "genre": "opinion"})}
    )  # fmt: skip
    articles = [oped]
    for n in range(6):
        articles.append(
            tagged(f"nato-{n}", ago(24 * n + 3), themes=("nato-expansion",),
                   actors=("org:nato", "state:ru"), stances={"org:nato": -0.5 if n % 2 else 0.4},
                   country="GB" if n % 2 else "FR",
                   text=f"NATO expansion story number {n} mentions indivisible security.")
        )  # fmt: skip
    articles.append(
        tagged("reprint-0", ago(2.5), themes=("nato-expansion",), duplicate_of="nato-0",
               text="NATO expansion story number 0 mentions indivisible security.")
    )  # fmt: skip
    alerts = [
        alert_of("indivisible-security", oped, Severity.WARNING, 1.5),
        alert_of("nato-expansion-spike", articles[1], Severity.CRITICAL, 3),
        alert_of("nato-expansion-spike", articles[2], Severity.CRITICAL, 27),
    ]
    store = SqliteArchive(path)
    store.upsert_articles(articles)
    store.upsert_alerts(alerts)
    store.close()
    return Seeded(oped, articles, alerts)


def shipped_rules(into: Path) -> Path:
    """A writable copy of the shipped rules file (the editor rewrites it)."""
    target = into / "rules.yaml"
    target.write_bytes((resources.files("mediawatch.alerter") / "data" / "rules.yaml").read_bytes())
    return target


class ServedInThread:
    """An aiohttp-based server of ours on its own event loop in a thread, so that blocking
    clients (Playwright's sync API, httpx) can reach it from the test."""

    def __init__(self, start: object) -> None:
        self._start = start
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ServedInThread:
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                server = self.loop.run_until_complete(self._start())  # type: ignore[operator]
                self.port = server.port
            except BaseException as exc:  # reported to the test below
                failure.append(exc)
                started.set()
                return
            started.set()
            self.loop.run_forever()
            self.loop.run_until_complete(server.stop())

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        assert started.wait(60), "the server did not start"
        if failure:
            raise failure[0]
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(30)


def fetcher_health_server() -> ServedInThread:
    """A fetcher's ``/v1/sources`` on loopback, from the fetcher's own :class:`HealthBoard`:
    one source that works, one whose last pass failed."""
    board = HealthBoard(["good-feed", "broken-feed"])
    board.attempt("good-feed")
    board.succeeded("good-feed", PassResult(published=3))
    board.attempt("broken-feed")
    board.failed("broken-feed", "HTTP 503 from https://broken.example/feed.xml")

    async def start() -> ServiceHttpServer:
        from aiohttp import web

        server = ServiceHttpServer("127.0.0.1", 0, readiness=lambda: (True, "ok"),
                                   tokens=TokenStore(None))  # fmt: skip

        async def sources(request: web.Request) -> web.Response:
            return web.json_response(board.as_json())

        server.add_route("GET", "/v1/sources", sources, role=None)
        await server.start()
        return server

    return ServedInThread(start)


def api_settings(tmp: Path, kafka: KafkaSettings, rules: Path, fetcher_port: int) -> ApiSettings:
    return ApiSettings(
        **kafka.model_dump(),
        http_port=0,
        state_dir=tmp,
        archive_path=tmp / "archive.sqlite3",
        rules_file=rules,
        api_tokens=SecretStr(f"{Role.VIEWER.value}={VIEWER} {Role.EDITOR.value}={EDITOR}"),
        fetcher_urls=f"http://127.0.0.1:{fetcher_port}",
    )


class _ApiRun:
    """The API's server and its archive, stopped together."""

    def __init__(self, settings: ApiSettings) -> None:
        self.server, self.api = build_server(settings)

    @property
    def port(self) -> int:
        return self.server.port

    async def stop(self) -> None:
        await self.server.stop()
        self.api.store.close()


def api_server(settings: ApiSettings) -> ServedInThread:
    async def start() -> _ApiRun:
        run = _ApiRun(settings)
        await run.server.start()
        return run

    return ServedInThread(start)


async def log_in(page: Any, base: str, token: str, then: str) -> None:
    """Through the login form, as an analyst does: ``then`` sends an anonymous visitor to
    it, and the form brings them back."""
    await page.goto(f"{base}{then}")
    assert "/login" in page.url, "an anonymous visitor is sent to the login form"
    await page.fill("#token", token)
    await page.click("#login")
    await page.wait_for_url(f"{base}{then}")


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        unavailable(
            "chromium not found (Debian packages chromium, chromium-driver; `make browser`)"
        )
        raise AssertionError("unreachable")
    return found


async def browser_pages() -> AsyncIterator[Any]:
    """Playwright's chromium (the system one, headless); yields the Browser. The async API,
    because the suite's event loop runs in the main thread."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("playwright is not installed (the test extra)")
        raise AssertionError("unreachable") from None
    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()


#: axe-core from npm (tests/web/axe/package.json, pinned by its lock file; `make axe`).
AXE_SCRIPT = Path(__file__).parents[1] / "web" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
#: The rule sets checked: WCAG 2.0-2.2 A and AA, and axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


async def with_axe(context: Any) -> None:
    """Loads axe-core into every page of ``context`` before the page's own scripts. An init
    script is not subject to the page's Content-Security-Policy, so the CSP stays on."""
    if not AXE_SCRIPT.is_file():
        unavailable(f"axe-core is not installed at {AXE_SCRIPT} (`make axe`, npm)")
    await context.add_init_script(path=str(AXE_SCRIPT))


async def axe_violations(page: Any) -> list[str]:
    """What axe-core finds wrong on the page: one line per rule, with the elements."""
    found = await page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in found["violations"]
    ]
