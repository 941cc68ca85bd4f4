"""The fetcher's own HTTP routes beside health and metrics: the push endpoint and
``GET /v1/sources`` (the health of each source)."""

from __future__ import annotations

from aiohttp import web

from mediawatch.fetcher.health import HealthBoard
from mediawatch.fetcher.publish import Publisher
from mediawatch.fetcher.push import add_push_route
from mediawatch.fetcher.settings import FetcherSettings


def add_fetcher_routes(
    app: web.Application, settings: FetcherSettings, publisher: Publisher, health: HealthBoard
) -> None:
    add_push_route(
        app, publisher, max_bytes=settings.push_max_bytes, max_batch=settings.push_max_batch
    )

    async def sources(request: web.Request) -> web.Response:
        return web.json_response(health.as_json())

    app.router.add_get("/v1/sources", sources)
