"""The HTTP server every service runs: ``/metrics``, ``/healthz``, ``/readyz``, plus routes
a service adds (the fetcher's push endpoint).

Readiness is a callback so that each service decides what "ready" means (connected to
Kafka, partitions assigned); liveness only says the event loop still answers.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

ReadinessCheck = Callable[[], tuple[bool, str]]


class ServiceHttpServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        readiness: ReadinessCheck,
        registry: CollectorRegistry = REGISTRY,
        client_max_size: int = 1024**2,
    ) -> None:
        self.host = host
        self.port = port
        self.readiness = readiness
        self.registry = registry
        self.app = web.Application(client_max_size=client_max_size)
        self.app.router.add_get("/metrics", self._metrics)
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/readyz", self._readyz)
        self._runner: web.AppRunner | None = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        ready, reason = self.readiness()
        return web.json_response({"ready": ready, "reason": reason}, status=200 if ready else 503)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0 and site._server is not None:  # report the port chosen by the OS
            sockets = getattr(site._server, "sockets", None) or []
            if sockets:
                self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
