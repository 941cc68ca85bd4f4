"""The one durable write: transient failures are waited out with growing delays, anything
else is raised at once. The real-broker side is the fault suite's broker outage."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError

from mediawatch.runtime.durable import until_acknowledged


class FlakyWrite:
    """A write that fails ``failures`` times with ``error`` before it is taken."""

    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures = failures
        self.error = error
        self.attempts: list[float] = []

    async def __call__(self) -> None:
        self.attempts.append(asyncio.get_running_loop().time())
        if len(self.attempts) <= self.failures:
            raise self.error


async def test_transient_failures_are_retried_until_the_write_is_taken() -> None:
    write = FlakyWrite(4, KafkaConnectionError("broker restarting"))
    await until_acknowledged(write, topic="t", first_delay_s=0.01, max_delay_s=0.05)
    assert len(write.attempts) == 5


async def test_timeouts_and_socket_errors_count_as_transient() -> None:
    for error in (TimeoutError(), ConnectionResetError()):
        write = FlakyWrite(2, error)
        await until_acknowledged(write, topic="t", first_delay_s=0.01, max_delay_s=0.02)
        assert len(write.attempts) == 3


async def test_a_failure_retrying_cannot_fix_is_raised_at_once() -> None:
    write = FlakyWrite(10, MessageSizeTooLargeError())
    with pytest.raises(MessageSizeTooLargeError):
        await until_acknowledged(write, topic="t", first_delay_s=0.01)
    assert len(write.attempts) == 1


async def test_the_retries_back_off_and_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    write = FlakyWrite(3, KafkaConnectionError("down"))
    with caplog.at_level("WARNING", logger="mediawatch.runtime.durable"):
        await until_acknowledged(write, topic="articles", first_delay_s=0.02, max_delay_s=1.0)
    retries = [r for r in caplog.records if r.getMessage() == "write failed; retrying"]
    assert [r.__dict__["attempt"] for r in retries] == [1, 2, 3]
    assert all(r.__dict__["topic"] == "articles" for r in retries)
    gaps = [b - a for a, b in zip(write.attempts, write.attempts[1:], strict=False)]
    assert min(gaps) >= 0.02  # never sooner than the first delay


async def test_a_send_kafka_did_not_acknowledge_in_time_is_retried() -> None:
    write = FlakyWrite(2, KafkaTimeoutError())
    await until_acknowledged(write, topic="t", first_delay_s=0.01, max_delay_s=0.02)
    assert len(write.attempts) == 3
