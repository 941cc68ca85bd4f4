"""Produce and read back records on the real broker, bounded in time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mediawatch.runtime.kafka import consumer, producer
from mediawatch.runtime.settings import KafkaSettings


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


async def produce(
    settings: KafkaSettings,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes, list[tuple[str, bytes]] | None]],
) -> None:
    client = producer(settings)
    await client.start()
    try:
        for key, value, headers in records:
            await client.send_and_wait(topic, value, key=key, headers=headers or [])
    finally:
        await client.stop()


async def read_topic(
    settings: KafkaSettings,
    topic: str,
    *,
    until: Callable[[list[Record]], bool],
    timeout_s: float = 60.0,
) -> list[Record]:
    """Read ``topic`` from the beginning until ``until(records)`` holds or time runs out."""
    client = consumer(settings, topic, group_id=None, auto_offset_reset="earliest")
    await client.start()
    records: list[Record] = []
    try:
        async with asyncio.timeout(timeout_s):
            while not until(records):
                batches = await client.getmany(timeout_ms=500)
                for batch in batches.values():
                    records.extend(
                        Record(m.topic, m.partition, m.offset, m.key, m.value, dict(m.headers))
                        for m in batch
                    )
    except TimeoutError:
        pass
    finally:
        await client.stop()
    return records


async def create_topic(settings: KafkaSettings, name: str, partitions: int = 1) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from mediawatch.runtime.kafka import client_options

    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        if name not in await admin.list_topics():
            await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def read_all(settings: KafkaSettings, topic: str) -> list[Record]:
    """Every record of ``topic`` up to its end offsets at the time of the call."""
    client = consumer(settings, topic, group_id=None, auto_offset_reset="earliest")
    await client.start()
    records: list[Record] = []
    try:
        async with asyncio.timeout(120):
            partitions = client.assignment()
            while not partitions:
                await asyncio.sleep(0.1)
                partitions = client.assignment()
            ends = await client.end_offsets(list(partitions))

            async def behind() -> bool:
                for tp, end in ends.items():
                    if await client.position(tp) < end:
                        return True
                return False

            while await behind():
                batches = await client.getmany(timeout_ms=500)
                for batch in batches.values():
                    records.extend(
                        Record(m.topic, m.partition, m.offset, m.key, m.value, dict(m.headers))
                        for m in batch
                    )
    finally:
        await client.stop()
    return records
