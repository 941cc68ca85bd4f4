"""Every notification channel against a real peer on loopback: an SMTP server (aiosmtpd), a
real Prometheus Alertmanager (Debian's prometheus-alertmanager), a Slack-compatible
incoming-webhook receiver; and `mediawatch alerts tail` reading the real broker."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from mediawatch.alerter.notify import Notifier
from mediawatch.alerter.rules import AlertmanagerDestination, EmailDestination, SlackDestination
from mediawatch.alerter.settings import AlerterSettings
from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import cloudevent_headers
from mediawatch.stack.broker import free_port
from tests.support.alerter import ALERT
from tests.support.environment import IN_CI, settings_environment
from tests.support.kafka_io import produce


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 Message accepted for delivery"


async def test_email_reaches_a_real_smtp_server() -> None:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = AlerterSettings(smtp_host="127.0.0.1", smtp_port=port)
        notifier = Notifier(settings)
        destination = EmailDestination(type="email", name="desk", to=["desk@example.org"])
        await notifier.send_once(ALERT, destination)
        await notifier.close()
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    message = message_from_bytes(inbox.messages[0])
    assert message["To"] == "desk@example.org"
    assert ALERT.summary in message["Subject"]
    assert "r1:a1" in message.as_string()


async def test_slack_compatible_webhook_gets_text() -> None:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/services/T0/B0/x", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        notifier = Notifier(AlerterSettings())
        url = f"http://127.0.0.1:{port}/services/T0/B0/x"
        await notifier.send_once(ALERT, SlackDestination(type="slack", name="s", url=url))
        await notifier.close()
    finally:
        await runner.cleanup()
    assert len(received) == 1
    assert "r1:a1" in received[0]["text"]


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        message = "Alertmanager missing: apt-get install prometheus-alertmanager (make tools)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: sink\nreceivers:\n  - name: sink\n")
    port, cluster = free_port(), free_port()
    log = (tmp_path / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", f"--cluster.listen-address=127.0.0.1:{cluster}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


async def test_alertmanager_v2_api_accepts_the_alert(alertmanager: str) -> None:
    notifier = Notifier(AlerterSettings())
    destination = AlertmanagerDestination(type="alertmanager", name="am", url=alertmanager)
    fresh = ALERT.model_copy(update={"fired_at": datetime.now(UTC)})  # still active
    await notifier.send_once(fresh, destination)
    await notifier.close()
    async with httpx.AsyncClient() as client:
        alerts = (await client.get(f"{alertmanager}/api/v2/alerts")).json()
    labels = [alert["labels"] for alert in alerts]
    assert {"alert_id": "r1:a1", "severity": "warning", "rule_id": "r1"}.items() <= labels[
        0
    ].items()


@pytest.mark.kafka
async def test_alerts_tail_prints_alerts_from_the_topic(kafka_settings: KafkaSettings) -> None:
    await ensure_topics(kafka_settings)
    other = ALERT.model_copy(
        update={"alert_id": "r2:a1", "rule_id": "r2", "rules_version": "sha256:5e1f"}
    )
    await produce(
        kafka_settings,
        kafka_settings.topic_alerts,
        [
            (a.rule_id.encode(), a.to_json(), cloudevent_headers(a, source="/t"))
            for a in (ALERT, other)
        ],
    )
    env = os.environ | settings_environment(kafka_settings)
    command = [sys.executable, "-m", "mediawatch.cli.main", "alerts", "tail"]
    process = await asyncio.create_subprocess_exec(
        *command, "--from-beginning", "--json", "--rule", "r2", "--limit", "1",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    (line,) = out.decode().strip().splitlines()
    assert json.loads(line)["alert_id"] == "r2:a1"
    readable = await asyncio.create_subprocess_exec(
        *command, "--from-beginning", "--limit", "2",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    text, err = await asyncio.wait_for(readable.communicate(), timeout=60)
    assert readable.returncode == 0, err.decode()
    assert "r1" in text.decode() and "r2" in text.decode()
    # The rules file version that fired an alert is shown where the alert has one.
    assert "id: r2:a1  rules version sha256:5e1f" in text.decode()
    assert "id: r1:a1\n" in text.decode()
