"""``GET /v1/alerts/stream`` through a real broker: alerts as Server-Sent Events, filtered,
and resumed after a reconnect from ``Last-Event-ID`` with nothing lost and nothing twice."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from mediawatch.api.app import build_server
from mediawatch.api.settings import ApiSettings
from mediawatch.runtime.auth import new_token
from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import Alert, AlertMode, Severity
from tests.support.alerter import at
from tests.support.kafka_io import produce

pytestmark = [pytest.mark.kafka]
VIEWER = new_token()[1]


def alert(alert_id: str, rule_id: str, minutes: float) -> Alert:
    return Alert(alert_id=alert_id, rule_id=rule_id, mode=AlertMode.EACH_MATCH,
                 severity=Severity.WARNING, fired_at=at(minutes))  # fmt: skip


async def publish(settings: KafkaSettings, *alerts: Alert) -> None:
    records = [(a.alert_id.encode(), a.to_json(), None) for a in alerts]
    await produce(settings, settings.topic_alerts, records)


async def events(
    client: httpx.AsyncClient, url: str, count: int, headers: dict[str, str]
) -> list[tuple[str, Alert]]:
    """The first ``count`` events of the stream: (id, alert)."""
    found: list[tuple[str, Alert]] = []
    event_id = ""
    async with asyncio.timeout(60), client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                found.append((event_id, Alert.from_json(line[6:].encode())))
                if len(found) == count:
                    return found
    return found


async def test_the_stream_filters_and_resumes_from_the_last_event_id(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    settings = ApiSettings(
        **kafka_settings.model_dump(),
        http_port=0,
        state_dir=tmp_path,
        api_tokens=SecretStr(f"viewer={VIEWER}"),
    )
    server, api = build_server(settings)
    await server.start()
    base = f"http://127.0.0.1:{server.port}/v1/alerts/stream"
    auth = {"Authorization": f"Bearer {VIEWER}"}
    try:
        await publish(kafka_settings, alert("a1", "nato", 1), alert("b1", "other", 2),
                      alert("a2", "nato", 3))  # fmt: skip
        async with httpx.AsyncClient(timeout=60) as client:
            first = await events(client, f"{base}?start=beginning&rule=nato", 2, auth)
            assert sorted(a.alert_id for _, a in first) == ["a1", "a2"]
            await publish(kafka_settings, alert("a3", "nato", 4), alert("b2", "other", 5))
            last_id = first[-1][0]
            resumed = await events(
                client, f"{base}?rule=nato", 1, auth | {"Last-Event-ID": last_id}
            )
            assert [a.alert_id for _, a in resumed] == ["a3"]
            everything = await events(client, f"{base}?start=beginning", 5, auth)
            assert sorted(a.alert_id for _, a in everything) == ["a1", "a2", "a3", "b1", "b2"]
            refused = await client.get(base, headers=auth | {"Last-Event-ID": "garbage"})
            assert refused.status_code == 400
            assert json.loads(refused.text)["parameter"] == "Last-Event-ID"
            anonymous = await client.get(base)
            assert anonymous.status_code == 401
    finally:
        await server.stop()
        api.store.close()


async def test_an_unreachable_broker_is_a_503_naming_the_topic(tmp_path: Path) -> None:
    """Kafka down: the stream answers at once with the reason (the page shows "interrupted"
    and the browser's EventSource retries), never a traceback or a hung request."""
    import socket

    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings = ApiSettings(
        kafka_bootstrap=f"127.0.0.1:{closed}",
        http_port=0,
        state_dir=tmp_path,
        api_tokens=SecretStr(f"viewer={VIEWER}"),
    )
    server, api = build_server(settings)
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            answer = await client.get(
                f"http://127.0.0.1:{server.port}/v1/alerts/stream",
                headers={"Authorization": f"Bearer {VIEWER}"},
            )
        assert answer.status_code == 503, answer.text
        assert settings.topic_alerts in answer.json()["error"]
    finally:
        await server.stop()
        api.store.close()
