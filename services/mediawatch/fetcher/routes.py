"""The fetcher's own HTTP routes beside health and metrics: the push endpoint (role
``ingest``) and ``GET /v1/sources``, the health of each source (role ``viewer``)."""

from __future__ import annotations

from aiohttp import web

from mediawatch.fetcher.health import HealthBoard
from mediawatch.fetcher.publish import Publisher
from mediawatch.fetcher.push import add_push_route
from mediawatch.fetcher.settings import FetcherSettings
from mediawatch.fetcher.sources import Source
from mediawatch.runtime.auth import Role
from mediawatch.runtime.http import ServiceHttpServer


def add_fetcher_routes(
    server: ServiceHttpServer,
    settings: FetcherSettings,
    sources: list[Source],
    publisher: Publisher,
    health: HealthBoard,
) -> None:
    add_push_route(server, publisher, settings, sources)

    async def source_health(request: web.Request) -> web.Response:
        return web.json_response(health.as_json())

    server.add_route("GET", "/v1/sources", source_health, role=Role.VIEWER)
