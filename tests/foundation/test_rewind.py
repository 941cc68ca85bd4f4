"""EventPipe's guard against skipped offsets, on the records faust hands it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mediawatch.runtime.streaming import EventPipe


@dataclass
class _Message:
    offset: int
    generation_id: int = 1
    tp: str = "topic-0"
    topic: str = "topic"
    partition: int = 0


@dataclass
class _Consumer:
    seeks: list[tuple[str, int]] = field(default_factory=list)

    async def seek(self, tp: str, offset: int) -> None:
        self.seeks.append((tp, offset))


def _pipe() -> tuple[Any, _Consumer]:
    pipe: Any = EventPipe.__new__(EventPipe)  # only the guard's state is needed
    consumer = _Consumer()
    pipe.app = type("App", (), {"consumer": consumer})()
    pipe._positions = {}
    return pipe, consumer


async def test_contiguous_offsets_pass_untouched() -> None:
    pipe, consumer = _pipe()
    assert [await pipe._rewind_over_gap(_Message(n)) for n in range(5)] == [False] * 5
    assert consumer.seeks == []


async def test_a_jump_seeks_back_and_stale_records_wait_for_their_turn() -> None:
    pipe, consumer = _pipe()
    for offset in (10, 11):
        assert await pipe._rewind_over_gap(_Message(offset)) is False
    # a stale batch 20, 21 arrives before 12..19: both passed over, each seeks back to 12
    assert await pipe._rewind_over_gap(_Message(20)) is True
    assert await pipe._rewind_over_gap(_Message(21)) is True
    assert consumer.seeks == [("topic-0", 12), ("topic-0", 12)]
    # the re-read runs in order again, through the records passed over
    assert [await pipe._rewind_over_gap(_Message(n)) for n in range(12, 23)] == [False] * 11
    assert len(consumer.seeks) == 2


async def test_a_new_generation_starts_afresh() -> None:
    pipe, consumer = _pipe()
    await pipe._rewind_over_gap(_Message(5))
    assert await pipe._rewind_over_gap(_Message(50, generation_id=2)) is False
    assert consumer.seeks == []
