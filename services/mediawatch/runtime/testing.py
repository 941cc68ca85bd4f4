"""Stream handlers run in memory, in milliseconds: an :class:`EventPipe` without a broker.

In the manner of faststream's ``TestKafkaBroker``: the harness hands records straight to the
pipe's own per-record logic (:meth:`EventPipe.process`, the code the faust agent runs) and
keeps what it would have written, outputs and dead letters alike. Every capability keeps its
real-broker test beside the in-memory ones; this path is for handler logic and error policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mediawatch.runtime.streaming import EventPipe, Output
from mediawatch.schemas import DeadLetter, Event

__all__ = ["InMemoryRecord", "PipeHarness", "Written"]


@dataclass(frozen=True)
class InMemoryRecord:
    """What a pipe reads of a Kafka record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Written:
    """One record the pipe wrote."""

    topic: str
    key: str
    event: Event


class PipeHarness:
    """Feed records to one pipe and collect what it writes, with no broker in between."""

    def __init__(self, pipe: EventPipe[Any]) -> None:
        self.pipe = pipe
        self.written: list[Written] = []
        self._next_offset: dict[int, int] = {}
        pipe.write = self._keep

    async def _keep(self, output: Output) -> None:
        self.written.append(Written(output.topic.get_topic_name(), output.key, output.event))

    async def send(
        self, value: bytes | Event, *, key: bytes | None = None, partition: int = 0
    ) -> list[Written]:
        """Hand one record to the pipe (an event is encoded as its producer would);
        returns what the pipe wrote for it."""
        offset = self._next_offset.get(partition, 0)
        self._next_offset[partition] = offset + 1
        payload = value.to_json() if isinstance(value, Event) else value
        record = InMemoryRecord(self.pipe.source_name, partition, offset, key, payload)
        before = len(self.written)
        await self.pipe.process(record)
        return self.written[before:]

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return [w.event for w in self.written if isinstance(w.event, DeadLetter)]
