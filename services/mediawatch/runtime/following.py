"""Reading a topic of state records into memory, and keeping up with it.

The fetcher keeps two such memories: the articles it has published (the seen topic) and when
each source was last polled (the sources topic). Both read every record as one event type,
skip what cannot be read (a tombstone, or a record of another version) with a warning rather
than stall, keep following in the background through broker trouble, and export their lag.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka import AIOKafkaConsumer

from mediawatch.runtime.lag import observe_lag
from mediawatch.schemas import Event

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)


async def read_batch(
    client: AIOKafkaConsumer,
    event_type: type[E],
    learn: Callable[[E], None],
    *,
    timeout_ms: int = 500,
) -> None:
    """One poll: each record decoded as ``event_type`` and handed to ``learn``."""
    batches = await client.getmany(timeout_ms=timeout_ms, max_records=5000)
    for records in batches.values():
        for record in records:
            if record.value is None:
                continue
            try:
                event = event_type.from_json(record.value)
            except ValueError as exc:
                log.warning(
                    "unreadable record skipped",
                    extra={"event": event_type.event_name, "error": str(exc)},
                )
                continue
            learn(event)


async def follow(
    client: AIOKafkaConsumer,
    event_type: type[E],
    learn: Callable[[E], None],
    *,
    service: str,
    after_poll: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Read the client's topics for ever: after each poll ``after_poll`` runs and the lag is
    observed; a failure is logged and retried a second later, never given up on."""
    while True:
        try:
            await read_batch(client, event_type, learn)
            if after_poll is not None:
                await after_poll()
            await observe_lag(client, service)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "following a topic failed; retrying", extra={"event": event_type.event_name}
            )
            await asyncio.sleep(1.0)
