"""The one way a record becomes a dead letter: built, counted and logged alike everywhere.

A record that cannot be decoded or handled is written to the dead-letter topic with its
bytes, where it came from and why, so that nothing fails silently and one bad record never
stalls its partition. The stream pipes, the alerter's rule evaluation and its delivery loop
all call :func:`dead_letter_for` and then write the letter with their own durable send.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from mediawatch.schemas import DeadLetter

log = logging.getLogger(__name__)

DEAD_LETTERS_TOTAL = Counter(
    "mediawatch_dead_letters_total",
    "Records sent to the dead-letter topic, by service, origin topic and error type.",
    ["service", "origin_topic", "error_type"],
)


def dead_letter_for(
    message: Any,
    error: BaseException,
    service: str,
    *,
    error_type: str | None = None,
    failed_at: datetime | None = None,
) -> tuple[str, DeadLetter]:
    """The key and the :class:`DeadLetter` of a faust or aiokafka record and the error it
    caused; the letter is counted in ``mediawatch_dead_letters_total`` and logged."""
    letter = DeadLetter(
        origin_topic=str(message.topic),
        partition=message.partition,
        offset=message.offset,
        key=message.key if isinstance(message.key, bytes) else None,
        value=message.value if isinstance(message.value, bytes) else None,
        error_type=error_type or type(error).__name__,
        error_message=str(error) or repr(error),
        service=service,
        failed_at=failed_at or datetime.now(UTC),
    )
    DEAD_LETTERS_TOTAL.labels(service, letter.origin_topic, letter.error_type).inc()
    log.warning(
        "record dead-lettered",
        extra={
            "origin_topic": letter.origin_topic,
            "partition": letter.partition,
            "offset": letter.offset,
            "error_type": letter.error_type,
            "error": letter.error_message[:500],
        },
    )
    key = message.key.decode("utf-8", "replace") if isinstance(message.key, bytes) else ""
    return key, letter
