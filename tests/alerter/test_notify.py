"""Notification payloads, signatures and retries against a real loopback receiver."""

from __future__ import annotations

import json

from aiohttp import web

from mediawatch.alerter.notify import (
    ALERT_ID_HEADER,
    SIGNATURE_HEADER,
    Notifier,
    alertmanager_payload,
    email_message,
    retry_delay,
    signature,
    slack_payload,
    webhook_request,
)
from mediawatch.alerter.rules import (
    AlertmanagerDestination,
    EmailDestination,
    SlackDestination,
    WebhookDestination,
)
from mediawatch.alerter.settings import AlerterSettings
from tests.support.alerter import ALERT


def test_payloads_carry_the_alert_id_and_the_signature() -> None:
    hook = WebhookDestination(type="webhook", name="h", url="http://x", secret="k3y")
    body, headers = webhook_request(ALERT, hook)
    assert headers[ALERT_ID_HEADER] == "r1:a1" and headers["Idempotency-Key"] == "r1:a1:h"
    assert headers[SIGNATURE_HEADER] == signature("k3y", body)
    assert json.loads(body)["alert_id"] == "r1:a1"
    assert "k3y" not in repr(hook)
    slack = slack_payload(ALERT, SlackDestination(type="slack", name="s", url="http://x"))
    assert "r1:a1" in slack["text"] and "<https://news.example.org/a1|Op-ed>" in slack["text"]
    manager = AlertmanagerDestination(type="alertmanager", name="am", url="http://am:9093")
    (item,) = alertmanager_payload(ALERT, manager)
    assert item["labels"]["alert_id"] == "r1:a1" and item["labels"]["severity"] == "warning"
    assert item["startsAt"] < item["endsAt"]
    mail = email_message(ALERT, EmailDestination(type="email", name="m", to=["a@b.c"]), "mw@x")
    assert mail[ALERT_ID_HEADER] == "r1:a1" and mail["Message-ID"].endswith("@mediawatch>")


def test_retry_delays_grow_and_are_capped() -> None:
    settings = AlerterSettings(notify_retry_delay_s=10, notify_retry_max_delay_s=60)
    assert [retry_delay(settings, n).total_seconds() for n in (1, 2, 3, 4, 5)] == [
        10, 20, 40, 60, 60,
    ]  # fmt: skip


async def test_deliver_retries_with_backoff_until_the_receiver_recovers() -> None:
    calls: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        calls.append(request.headers[ALERT_ID_HEADER])
        return web.Response(status=503 if len(calls) < 3 else 200)

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    notifier = Notifier(AlerterSettings(notify_backoff_s=0.01))
    hook = WebhookDestination(type="webhook", name="h", url=f"http://127.0.0.1:{port}/")
    try:
        assert await notifier.deliver(ALERT, hook, attempts=2) == "receiver answered HTTP 503"
        assert await notifier.deliver(ALERT, hook, attempts=2) is None
    finally:
        await notifier.close()
        await runner.cleanup()
    assert calls == ["r1:a1"] * 3
