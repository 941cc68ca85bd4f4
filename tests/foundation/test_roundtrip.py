"""Through the real broker: aiokafka producer -> faust agent (EventPipe) -> topic, with
malformed, wrongly shaped, future-version and handler-breaking records dead-lettered while
the good records behind them still get through."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import ArticleFetched, DeadLetter, cloudevent_headers, header_map
from tests.support.articles import article
from tests.support.environment import REPOSITORY, settings_environment
from tests.support.kafka_io import create_topic, produce, read_topic

pytestmark = [pytest.mark.kafka]

RELAY_APP = REPOSITORY / "tests" / "support" / "relay_app.py"


@pytest.fixture
def relay_worker(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> Iterator[tuple[KafkaSettings, str, str]]:
    output_topic = f"{kafka_settings.topic_articles_fetched}.relayed"
    late_topic = f"{kafka_settings.topic_articles_fetched}.late"
    http_port = str(_free_port())
    env = (
        os.environ
        | settings_environment(kafka_settings)
        | {
            "RELAY_OUTPUT_TOPIC": output_topic,
            "RELAY_LATE_TOPIC": late_topic,
            "RELAY_APP_ID": f"relay-{uuid.uuid4().hex[:8]}",
            "MEDIAWATCH_STATE_DIR": str(tmp_path / "state"),
            "MEDIAWATCH_HTTP_PORT": http_port,
        }
    )
    log = (tmp_path / "relay.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(RELAY_APP), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield kafka_settings, output_topic, http_port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


async def _wait_ready(http_port: str) -> None:
    async with httpx.AsyncClient() as client, asyncio.timeout(90):
        while True:
            try:
                if (await client.get(f"http://127.0.0.1:{http_port}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # the worker's HTTP server is not listening yet
            await asyncio.sleep(0.2)


def _free_port() -> int:
    from mediawatch.stack.broker import free_port

    return free_port()


async def test_round_trip_with_dead_letters(
    relay_worker: tuple[KafkaSettings, str, str],
) -> None:
    settings, output_topic, http_port = relay_worker
    await ensure_topics(settings)
    await create_topic(settings, output_topic, partitions=6)
    key = b"same-key-same-partition"
    first = article("first-good")
    last = article("last-good")
    future = json.loads(article("from-the-future").to_json()) | {"schema_version": "2.0"}
    wrong_shape = {"schema_version": "1.0", "article_id": "x", "text": 42}
    records = [
        (key, first.to_json(), cloudevent_headers(first, source="/tests")),
        (key, b"{not json at all", None),
        (key, json.dumps(wrong_shape).encode(), None),
        (key, json.dumps(future).encode(), None),
        (key, article("boom-article", title="boom").to_json(), None),
        (key, b"\xff\xfe invalid utf-8 \xc3", None),
        (key, last.to_json(), None),
    ]
    await produce(settings, settings.topic_articles_fetched, records)

    relayed = await read_topic(settings, output_topic, until=lambda r: len(r) >= 2, timeout_s=90)
    letters = await read_topic(
        settings, settings.topic_deadletter, until=lambda r: len(r) >= 5, timeout_s=30
    )

    # The relay keys its outputs by article id, so the two land on partitions of their own
    # and are read in no particular order; order within a partition is test_ordering's.
    relayed_events = [ArticleFetched.from_json(r.value or b"") for r in relayed]
    assert sorted(e.article_id for e in relayed_events) == ["first-good", "last-good"]
    assert all(e.title.endswith("(relayed)") for e in relayed_events)
    for record, event in zip(relayed, relayed_events, strict=True):
        headers = header_map(record.headers)
        assert headers["ce_type"] == "io.mediawatch.ArticleFetched.v1"
        assert headers["ce_source"] == "/mediawatch/relay-test"
        assert headers["ce_id"] == event.event_id()
    assert headers["content-type"] == "application/json"

    dead = [DeadLetter.from_json(r.value or b"") for r in letters]
    assert len(dead) == 5
    by_value = {d.value: d for d in dead}
    assert "not valid JSON" in by_value[b"{not json at all"].error_message
    assert (
        "text: Input should be a valid string"
        in by_value[json.dumps(wrong_shape).encode()].error_message
    )
    future_letter = by_value[json.dumps(future).encode()]
    assert future_letter.error_type == "UnsupportedSchemaVersion"
    assert "'2.0' is not supported" in future_letter.error_message
    boom = next(d for d in dead if d.error_type == "RuntimeError")
    assert "handler exploded on purpose" in boom.error_message
    assert by_value[b"\xff\xfe invalid utf-8 \xc3"].value == b"\xff\xfe invalid utf-8 \xc3"
    for letter in dead:
        assert letter.origin_topic == settings.topic_articles_fetched
        assert letter.service == "relay-test"
        assert letter.key == key
        assert letter.offset is not None

    async with httpx.AsyncClient() as client:
        ready = await client.get(f"http://127.0.0.1:{http_port}/readyz")
        metrics = await client.get(f"http://127.0.0.1:{http_port}/metrics")
    assert ready.status_code == 200, ready.text
    assert 'mediawatch_dead_letters_total{error_type="UnsupportedSchemaVersion"' in metrics.text


async def test_a_topic_created_after_the_first_assignment_is_read_within_seconds(
    relay_worker: tuple[KafkaSettings, str, str],
) -> None:
    """The group leader assigns from the metadata it holds; a subscribed topic missing from
    it (faust's internal topics, created just before subscribing) must still be picked up
    at the next metadata refresh, well inside the wait below, not after faust's 5 minutes."""
    settings, output_topic, http_port = relay_worker
    await ensure_topics(settings)
    await create_topic(settings, output_topic, partitions=6)
    await _wait_ready(http_port)
    late_topic = f"{settings.topic_articles_fetched}.late"
    await create_topic(settings, late_topic, partitions=3)
    late = article("late-topic")
    await produce(settings, late_topic, [(b"k", late.to_json(), None)])

    relayed = await read_topic(settings, output_topic, until=lambda r: len(r) >= 1, timeout_s=60)
    assert [ArticleFetched.from_json(r.value or b"").article_id for r in relayed] == ["late-topic"]
