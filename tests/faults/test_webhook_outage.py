"""A webhook receiver that is down for the first minute: every notification is delivered
afterwards, once per alert id.

The alerter runs as a real process with an each_match rule whose webhook points at a loopback
port. For the first 45 s nothing listens there (connection refused), for the next 15 s a
server answers 503, then the real receiver takes over. 2,000 ArticleTagged events are fed, a
known fifth of them matching the rule. Every alert id must arrive at the receiver (counted
once after de-duplication by ``Idempotency-Key``; raw repeats are counted and reported), and
every alert must be on the alerts topic exactly once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from mediawatch.alerter.notify import ALERT_ID_HEADER, SIGNATURE_HEADER, signature
from mediawatch.runtime.kafka import ensure_topics, producer
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import Alert, cloudevent_headers
from mediawatch.stack.broker import free_port
from tests.support.alerter import at, tagged
from tests.support.environment import settings_environment
from tests.support.kafka_io import read_topic
from tests.support.workers import ServiceProcess

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

EVENTS = 2000
EVERY = 5  # every fifth event matches: 400 alerts
REFUSED_S = 45.0  # nothing listens
UNAVAILABLE_S = 15.0  # then 503
SECRET = "outage-test-secret-long-enough"
RULE = "outage-watch"


@dataclass
class Receiver:
    port: int
    up: bool = False
    refused_503: int = 0
    deliveries: list[tuple[str, str, bool]] = field(default_factory=list)  # key, id, signed ok

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.up:
            self.refused_503 += 1
            return web.Response(status=503, text="starting up")
        signed = request.headers.get(SIGNATURE_HEADER) == signature(SECRET, body)
        self.deliveries.append(
            (request.headers["Idempotency-Key"], request.headers[ALERT_ID_HEADER], signed)
        )
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, list[web.AppRunner]]]:
    state = Receiver(port=free_port())
    runners: list[web.AppRunner] = []
    yield state, runners
    for runner in runners:
        await runner.cleanup()


async def _listen(state: Receiver, runners: list[web.AppRunner]) -> None:
    app = web.Application()
    app.router.add_post("/hook", state.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", state.port).start()
    runners.append(runner)


async def _feed(settings: KafkaSettings) -> set[str]:
    """2,000 tagged events, one key per article; the ids of those that match the rule."""
    client = producer(settings)
    await client.start()
    matching = set()
    try:
        for n in range(EVENTS):
            hit = n % EVERY == 0
            event = tagged(
                f"outage-{n:04d}", at(n / 60), themes=("nato-expansion",) if hit else ("brics",)
            )
            if hit:
                matching.add(f"{RULE}:{event.article.article_id}")
            await client.send(
                settings.topic_articles_tagged,
                event.to_json(),
                key=event.article.article_id.encode(),
                headers=cloudevent_headers(event, source="/tests"),
            )
        await client.flush()
    finally:
        await client.stop()
    return matching


@pytest.mark.timeout(300)
async def test_receiver_down_for_a_minute_gets_every_alert_once_afterwards(
    kafka_settings: KafkaSettings,
    tmp_path: Path,
    receiver: tuple[Receiver, list[web.AppRunner]],
) -> None:
    state, runners = receiver
    await ensure_topics(kafka_settings)
    rules_file = tmp_path / "rules.yaml"
    rule = {
        "id": RULE,
        "condition": {"themes": ["nato-expansion"]},
        "mode": "each_match",
        "notify": [
            {
                "name": "hook",
                "type": "webhook",
                "url": f"http://127.0.0.1:{state.port}/hook",
                "secret_env": "OUTAGE_HOOK_SECRET",
            },
        ],
    }
    rules_file.write_text(yaml.safe_dump({"version": 1, "rules": [rule]}))
    env = settings_environment(kafka_settings) | {
        "MEDIAWATCH_APP_ID": f"outage-{uuid.uuid4().hex[:6]}",
        "MEDIAWATCH_RULES_FILE": str(rules_file),
        "MEDIAWATCH_STATE_DIR": str(tmp_path / "state"),
        "MEDIAWATCH_KAFKA_SESSION_TIMEOUT_S": "6",
        "MEDIAWATCH_DIGEST_TICK_S": "0",
        "MEDIAWATCH_LOG_LEVEL": "ERROR",  # the outage makes two warnings per attempt
        # The defaults (3 inline attempts from 0.5 s, parked retries from 30 s doubling up to
        # an hour) would deliver a minute-long outage minutes late; a short, capped backoff
        # delivers within seconds of the receiver coming back.
        "MEDIAWATCH_NOTIFY_ATTEMPTS": "1",
        "MEDIAWATCH_NOTIFY_BACKOFF_S": "0",
        "MEDIAWATCH_NOTIFY_TIMEOUT_S": "2",
        "MEDIAWATCH_NOTIFY_RETRY_DELAY_S": "1",
        "MEDIAWATCH_NOTIFY_RETRY_MAX_DELAY_S": "5",
        "OUTAGE_HOOK_SECRET": SECRET,
    }
    alerter = ServiceProcess(["alerter", "run"], env, tmp_path / "alerter.log")
    alerter.start()
    try:
        await asyncio.to_thread(alerter.wait_ready, 120.0)
        outage_started = time.monotonic()
        expected = await _feed(kafka_settings)
        assert len(expected) == EVENTS // EVERY

        # every alert is published while the receiver is down
        alerts = await read_topic(
            kafka_settings,
            kafka_settings.topic_alerts,
            timeout_s=120,
            until=lambda r: len(r) >= len(expected),
        )
        await asyncio.sleep(max(0.0, outage_started + REFUSED_S - time.monotonic()))
        assert not state.deliveries
        await _listen(state, runners)  # now answering 503
        await asyncio.sleep(max(0.0, outage_started + REFUSED_S + UNAVAILABLE_S - time.monotonic()))
        state.up = True
        came_back = time.monotonic()
        assert alerter.process is not None and alerter.process.poll() is None

        async with asyncio.timeout(120):
            while True:
                if expected <= {alert_id for _, alert_id, _ in state.deliveries}:
                    break
                await asyncio.sleep(0.5)
        caught_up_s = time.monotonic() - came_back
        await asyncio.sleep(5)  # room for repeats to show up, counted below
        parked = await read_topic(
            kafka_settings,
            kafka_settings.topic_notifications_retry,
            timeout_s=5,
            until=lambda r: False,
        )
        alerts = await read_topic(
            kafka_settings, kafka_settings.topic_alerts, timeout_s=5, until=lambda r: False
        )
        assert alerter.process.poll() is None, alerter.log_tail()
    finally:
        alerter.stop()

    keys = Counter(key for key, _, _ in state.deliveries)
    by_id = Counter(alert_id for _, alert_id, _ in state.deliveries)
    repeats = sum(keys.values()) - len(keys)
    print(
        f"\n{EVENTS} events, {len(expected)} alerts; refused {REFUSED_S:.0f}s, 503 for "
        f"{UNAVAILABLE_S:.0f}s ({state.refused_503} answered 503); all delivered "
        f"{caught_up_s:.1f}s after the receiver came back; {len(state.deliveries)} raw "
        f"deliveries, {repeats} repeats; {len(parked)} parked retry records"
    )
    assert set(by_id) == expected
    assert set(keys) == {f"{alert_id}:hook" for alert_id in expected}
    assert all(signed for _, _, signed in state.deliveries)
    published = Counter(Alert.from_json(r.value or b"").alert_id for r in alerts)
    assert set(published) == expected
    assert [i for i, n in published.items() if n != 1] == []
    assert state.refused_503 > 0  # the 503 phase was exercised too
