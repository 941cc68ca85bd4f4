"""Run a faust app as a mediawatch service: topics ensured, HTTP server up, faust worker.

The worker handles SIGINT/SIGTERM itself: it stops consuming, lets in-flight events finish,
commits offsets and flushes the producer before the process exits.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust

from mediawatch.runtime.http import ServiceHttpServer
from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.logs import configure_logging
from mediawatch.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


def readiness_of(app: faust.App) -> tuple[bool, str]:
    """Ready once the consumer has joined its group and holds partitions."""
    consumer = getattr(app, "_consumer", None)
    if consumer is None:
        return False, "consumer not started"
    if app.rebalancing:
        return False, "rebalancing"
    try:
        assigned = consumer.assignment()
    except Exception as exc:  # the consumer thread may not be up yet
        return False, f"consumer not ready: {exc}"
    if not assigned:
        return False, "no partitions assigned yet"
    return True, f"{len(assigned)} partitions assigned"


def run_worker(app: faust.App, settings: ServiceSettings, **worker_options: Any) -> None:
    """Block running ``app`` until it is told to stop."""
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    asyncio.run(ensure_topics(settings))
    server = ServiceHttpServer.for_service(settings, readiness=lambda: readiness_of(app))

    async def serve_http() -> None:
        await server.start()
        log.info("http server listening", extra={"host": server.host, "port": server.port})

    app.task(serve_http)

    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = faust.Worker(
        app,
        loglevel=settings.log_level,
        quiet=True,
        override_logging=False,
        **worker_options,
    )
    worker.execute_from_commandline()
