"""Helpers of the ``mediawatch up`` tests: a free block of service ports, records on a topic."""

from __future__ import annotations

import random

from mediawatch.runtime.kafka import consumer, topic_partitions
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.stack.broker import port_answers


def free_offset() -> int:
    for _ in range(100):
        offset = random.randrange(20000, 40000)
        if not any(port_answers("127.0.0.1", 8081 + offset + i) for i in range(3)):
            return offset
    raise AssertionError("no free port range")


async def records_on(settings: KafkaSettings, topic: str) -> int:
    from aiokafka import TopicPartition

    numbers = (await topic_partitions(settings, [topic]))[topic]
    if not numbers:
        return 0
    client = consumer(settings, group_id=None)
    await client.start()
    try:
        ends = await client.end_offsets([TopicPartition(topic, n) for n in numbers])
        return int(sum(ends.values()))
    finally:
        await client.stop()
