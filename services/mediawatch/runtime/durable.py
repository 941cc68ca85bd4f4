"""One durable write for every service: retried with backoff until Kafka acknowledges it.

Giving up on a write loses an article, an alert or a dead letter, so a write that fails for
a reason that passes (the broker restarting, a leader moving, a timeout) is retried forever,
with exponential backoff and jitter so that a fleet of restarted workers does not hammer the
broker in step; each retry is logged. A write that fails for any other reason (a bug, a
record too large) raises: retrying cannot help, and the caller's error policy decides. The
retry loop is tenacity's, the library the fetcher's HTTP retries use too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.errors import KafkaError, KafkaTimeoutError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_exponential,
    wait_random,
)

from mediawatch.schemas import Event, cloudevent_headers

log = logging.getLogger(__name__)


def transient(error: BaseException) -> bool:
    """Failures that pass by themselves, worth waiting out: timeouts, socket errors and the
    Kafka errors that aiokafka marks retriable (leader moved, broker unreachable, ...)."""
    if isinstance(error, KafkaTimeoutError):
        return True  # a send not acknowledged in time; aiokafka leaves it unmarked
    if isinstance(error, KafkaError):
        return bool(error.retriable)
    return isinstance(error, TimeoutError | OSError)


#: First wait after a failed write, and the longest wait between two attempts.
FIRST_DELAY_S = 0.2
MAX_DELAY_S = 5.0


async def until_acknowledged(
    write: Callable[[], Awaitable[Any]],
    *,
    topic: str,
    first_delay_s: float = FIRST_DELAY_S,
    max_delay_s: float = MAX_DELAY_S,
) -> None:
    """Run ``write`` (one send that resolves once Kafka acknowledged it) until it succeeds."""

    def note(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        log.warning(
            "write failed; retrying",
            extra={"topic": topic, "attempt": state.attempt_number, "error": repr(error)},
        )

    async for attempt in AsyncRetrying(
        retry=retry_if_exception(transient),
        wait=wait_exponential(multiplier=first_delay_s, max=max_delay_s)
        + wait_random(0, first_delay_s),
        before_sleep=note,
        reraise=True,
    ):
        with attempt:
            await write()


async def send_event_durably(
    producer: Any, topic: str, key: str, event: Event, *, source: str
) -> None:
    """Write one event with an aiokafka producer (its CloudEvents headers included)."""
    headers = cloudevent_headers(event, source=source)
    payload = event.to_json()
    await until_acknowledged(
        lambda: producer.send_and_wait(topic, payload, key=key.encode(), headers=headers),
        topic=topic,
    )
