"""What a stream does with a record it cannot decode or handle, chosen per stream.

A policy is a function of the failure that answers :class:`OnError`, in the manner of
quix-streams' error callbacks, and is handed to :class:`~mediawatch.runtime.streaming.EventPipe`:

- ``DEAD_LETTER`` (the default of every mediawatch stream): the record goes to the dead-letter
  topic with the reason, and the partition moves on;
- ``SKIP``: the record is counted in ``mediawatch_records_skipped_total``, logged, and left;
- ``RAISE``: the service stops at once, exit status :data:`EXIT_STOPPED_ON_RECORD`, before the
  record's offset is committed, so it is read again when the service comes back (after the
  handler or the data is fixed). faust acks a record whose agent raised, so stopping is the
  only way not to pass over it; what was read since the last commit is read again, as after
  a kill, and the outputs are idempotent.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from prometheus_client import Counter

log = logging.getLogger(__name__)

RECORDS_SKIPPED_TOTAL = Counter(
    "mediawatch_records_skipped_total",
    "Records a stream left unhandled by its error policy (skip), by service, topic and step.",
    ["service", "topic", "step"],
)

#: Exit status of a service stopped by the ``RAISE`` policy (EX_SOFTWARE).
EXIT_STOPPED_ON_RECORD = 70


class OnError(StrEnum):
    SKIP = "skip"
    DEAD_LETTER = "dead_letter"
    RAISE = "raise"


@dataclass(frozen=True)
class StreamFailure:
    """One record that failed, where, and why."""

    service: str
    step: Literal["decode", "handle"]
    topic: str
    partition: int
    offset: int
    error: BaseException


ErrorPolicy = Callable[[StreamFailure], OnError]


def dead_letter_every_failure(failure: StreamFailure) -> OnError:
    """The default: nothing is silent and one bad record never stalls a partition."""
    return OnError.DEAD_LETTER


def policy_of(choice: OnError) -> ErrorPolicy:
    """The policy that answers ``choice`` for every failure (a setting's value)."""
    return lambda failure: choice


class StreamStopped(RuntimeError):
    """A policy answered ``RAISE``: the service must stop without passing over the record."""

    def __init__(self, failure: StreamFailure) -> None:
        super().__init__(
            f"{failure.service}: stopped on {failure.topic}[{failure.partition}]@"
            f"{failure.offset} ({failure.step} failed: {failure.error!r}); the record is read "
            "again when the service restarts"
        )
        self.failure = failure


def stop_the_process(error: StreamStopped) -> None:
    """End the worker now, before faust commits the failed record's offset."""
    log.critical(str(error))
    logging.shutdown()
    sys.stderr.flush()
    os._exit(EXIT_STOPPED_ON_RECORD)
