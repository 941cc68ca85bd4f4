"""Stream partitions reach the agents in offset order from the committed offset, with nothing
skipped: the rules of :class:`PartitionOrder`, then :class:`ContiguousConsumer` in a real
faust worker on the real broker, against a fetch that starts ahead of the records still owed
(what a batch fetched before a rebalance looks like) and against offsets that hold no record
(transaction markers)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from faust.types import TP

from mediawatch.runtime.kafka import client_options
from mediawatch.runtime.ordering import PartitionOrder, Verdict
from mediawatch.runtime.settings import KafkaSettings
from tests.support.environment import REPOSITORY, settings_environment
from tests.support.kafka_io import Record, create_topic, produce, read_topic
from tests.support.workers import ServiceProcess, start_ready

ORDER_APP = REPOSITORY / "tests" / "support" / "order_app.py"
PARTITION = TP("articles", 0)


def _judge_all(order: PartitionOrder, offsets: list[int]) -> list[Verdict]:
    return [order.judge(PARTITION, offset) for offset in offsets]


def test_records_in_order_are_delivered_and_repeats_dropped() -> None:
    order = PartitionOrder()
    order.restart(PARTITION, 10)
    assert _judge_all(order, [10, 11, 12]) == [Verdict.DELIVER] * 3
    assert _judge_all(order, [11, 12]) == [Verdict.REPEAT] * 2
    assert order.next_offsets[PARTITION] == 13


def test_a_fetch_ahead_of_the_next_offset_is_rewound_then_read_from_there() -> None:
    order = PartitionOrder()
    order.restart(PARTITION, 5)
    assert order.judge(PARTITION, 40) is Verdict.REWIND
    assert order.next_offsets[PARTITION] == 5, "the next offset stays where the records are owed"
    assert _judge_all(order, [5, 6, 7]) == [Verdict.DELIVER] * 3
    assert order.judge(PARTITION, 40) is Verdict.REWIND, "a later jump is judged afresh"


def test_a_gap_is_accepted_only_when_a_fetch_from_the_next_offset_starts_after_it() -> None:
    order = PartitionOrder()
    order.restart(PARTITION, 5)
    assert order.judge(PARTITION, 7) is Verdict.REWIND
    assert order.judge(PARTITION, 7) is Verdict.DELIVER  # offsets 5 and 6 hold no record
    assert order.next_offsets[PARTITION] == 8


def test_a_restart_moves_the_next_offset_back_and_forget_drops_it() -> None:
    order = PartitionOrder()
    order.restart(PARTITION, 0)
    assert _judge_all(order, [0, 1, 2, 3]) == [Verdict.DELIVER] * 4
    order.restart(PARTITION, 2)  # faust sought back to the committed offset
    assert _judge_all(order, [2, 3, 4]) == [Verdict.DELIVER] * 3
    order.forget(PARTITION)
    assert order.judge(PARTITION, 99) is Verdict.DELIVER, "an unknown partition starts anywhere"


# -- through the real broker --------------------------------------------------------------


@pytest.fixture
def order_worker(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> Iterator[tuple[ServiceProcess, str, str]]:
    suffix = uuid.uuid4().hex[:8]
    input_topic, output_topic = f"order.in.{suffix}", f"order.out.{suffix}"
    env = settings_environment(kafka_settings) | {
        "ORDER_APP_ID": f"order-{suffix}",
        "ORDER_INPUT_TOPIC": input_topic,
        "ORDER_OUTPUT_TOPIC": output_topic,
        "MEDIAWATCH_STATE_DIR": str(tmp_path / "state"),
    }
    worker = ServiceProcess(["worker"], env, tmp_path / "order.log", script=ORDER_APP)
    asyncio.run(create_topic(kafka_settings, input_topic))
    asyncio.run(create_topic(kafka_settings, output_topic))
    try:
        yield worker, input_topic, output_topic
    finally:
        worker.stop()


def _received(records: list[Record]) -> list[tuple[int, bytes]]:
    """(offset, value head) in the order the agent received them."""
    pairs = []
    for record in records:
        offset, _, value = (record.value or b"").partition(b":")
        pairs.append((int(offset), value))
    return pairs


def _first_readings(received: list[tuple[int, bytes]]) -> list[int]:
    seen: dict[int, None] = {}
    for offset, _ in received:
        seen.setdefault(offset, None)
    return list(seen)


@pytest.mark.kafka
async def test_a_fetch_ahead_of_the_owed_records_is_pulled_back(
    kafka_settings: KafkaSettings, order_worker: tuple[ServiceProcess, str, str]
) -> None:
    worker, input_topic, output_topic = order_worker
    count = 60
    padding = b" " * 30_000  # about two records per fetch
    values = [b"jump:45" if i == 3 else b"record-%02d" % i for i in range(count)]
    await produce(kafka_settings, input_topic, [(None, v + padding, None) for v in values])
    await start_ready(worker, timeout_s=90.0)  # after the input, so the jump's target exists

    records = await read_topic(
        kafka_settings,
        output_topic,
        until=lambda got: {o for o, _ in _received(got)} >= set(range(count)),
        timeout_s=90,
    )
    received = _received(records)
    assert _first_readings(received) == list(range(count)), "every record, in offset order"
    for offset, value in received:
        assert value == (values[offset] + padding)[:40], offset
    assert "records fetched ahead of the next offset" in worker.log_tail(200_000), (
        "the jump reached the consumer's guard"
    )


@pytest.mark.kafka
async def test_offsets_holding_no_record_do_not_stall_the_partition(
    kafka_settings: KafkaSettings, order_worker: tuple[ServiceProcess, str, str]
) -> None:
    worker, input_topic, output_topic = order_worker
    producer = AIOKafkaProducer(
        **client_options(kafka_settings),
        transactional_id=f"order-test-{uuid.uuid4().hex[:8]}",
        enable_idempotence=True,
        acks="all",
    )
    await producer.start()
    values = []
    try:
        for batch in range(3):  # each commit marker takes an offset of its own
            async with producer.transaction():
                for i in range(5):
                    value = b"tx%d-%d" % (batch, i)
                    values.append(value)
                    await producer.send_and_wait(input_topic, value)
    finally:
        await producer.stop()
    await start_ready(worker, timeout_s=90.0)

    records = await read_topic(
        kafka_settings, output_topic, until=lambda got: len(got) >= len(values), timeout_s=90
    )
    received = _received(records)
    assert [value for _, value in received] == values
    offsets = [offset for offset, _ in received]
    assert offsets == sorted(offsets) and offsets[-1] > len(values) - 1, offsets
    assert "offsets absent on the broker" in worker.log_tail(200_000)
