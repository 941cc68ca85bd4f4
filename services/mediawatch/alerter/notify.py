"""Notifications: one alert, one destination, one attempt; and attempts with backoff.

Every request carries the alert id (``X-Mediawatch-Alert-Id``, ``Idempotency-Key`` =
``<alert id>:<destination>``, the e-mail ``Message-ID``, the Alertmanager label ``alert_id``)
so that a receiver can drop the repeats at-least-once delivery may produce. Secrets (HMAC
keys, secret webhook URLs, the SMTP password) never reach a log line or an error message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import smtplib
import time
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx

from mediawatch.alerter.metrics import NOTIFICATION_SECONDS, NOTIFICATIONS
from mediawatch.alerter.rules import (
    AlertmanagerDestination,
    EmailDestination,
    SlackDestination,
    WebhookDestination,
)
from mediawatch.alerter.settings import AlerterSettings
from mediawatch.schemas import Alert

log = logging.getLogger(__name__)

AnyDestination = WebhookDestination | SlackDestination | EmailDestination | AlertmanagerDestination

SIGNATURE_HEADER = "X-Mediawatch-Signature"
ALERT_ID_HEADER = "X-Mediawatch-Alert-Id"


class DeliveryError(Exception):
    """One attempt failed; the message is safe to log (no secrets, no URLs with tokens)."""


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body>``, as checked by the receiver."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _common_headers(alert: Alert, destination: AnyDestination) -> dict[str, str]:
    return {
        ALERT_ID_HEADER: alert.alert_id,
        "Idempotency-Key": f"{alert.alert_id}:{destination.name}",
        "User-Agent": "mediawatch-alerter",
    }


def webhook_request(alert: Alert, destination: WebhookDestination) -> tuple[bytes, dict[str, str]]:
    body = alert.to_json()
    headers = {"Content-Type": "application/json"} | destination.headers
    headers |= _common_headers(alert, destination)
    if destination.secret is not None:
        headers[SIGNATURE_HEADER] = signature(destination.secret.get_secret_value(), body)
    return body, headers


def _article_lines(alert: Alert, limit: int = 5) -> list[str]:
    lines = []
    for article in alert.articles[:limit]:
        where = article.source.name or article.source.id
        title = article.title or article.article_id
        link = f"<{article.url}|{title}>" if article.url else title
        lines.append(f"• {link} ({where})")
        for evidence in article.evidence[:1]:
            lines.append(f"    > {(evidence.sentence or evidence.text)[:300]}")
    if len(alert.articles) > limit:
        lines.append(f"… and {len(alert.articles) - limit} more")
    return lines


def slack_payload(alert: Alert, destination: SlackDestination) -> dict[str, Any]:
    header = f"[{alert.severity.value.upper()}] {alert.summary or alert.rule_id}"
    text = "\n".join(
        [header, *_article_lines(alert), f"rule {alert.rule_id} · alert {alert.alert_id}"]
    )
    payload: dict[str, Any] = {"text": text}
    if destination.channel:
        payload["channel"] = destination.channel
    return payload


def alertmanager_payload(
    alert: Alert, destination: AlertmanagerDestination
) -> list[dict[str, Any]]:
    ends = alert.fired_at + destination.resolve_after
    first_url = next((a.url for a in alert.articles if a.url), None)
    item: dict[str, Any] = {
        "labels": {
            "alertname": "MediawatchWatchRule",
            "rule_id": alert.rule_id,
            "alert_id": alert.alert_id,
            "mode": alert.mode.value,
            "severity": alert.severity.value,
        },
        "annotations": {
            "summary": alert.summary,
            "description": "\n".join(_article_lines(alert)),
        },
        "startsAt": alert.fired_at.isoformat(),
        "endsAt": ends.isoformat(),
    }
    if first_url:
        item["generatorURL"] = first_url
    return [item]


def email_message(alert: Alert, destination: EmailDestination, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[mediawatch {alert.severity.value}] {alert.summary or alert.rule_id}"
    message["From"] = sender
    message["To"] = ", ".join(destination.to)
    digest = hashlib.sha256(f"{alert.alert_id}:{destination.name}".encode()).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@mediawatch>"
    message[ALERT_ID_HEADER] = alert.alert_id
    body = [alert.summary, "", *(line.replace("•", "-") for line in _article_lines(alert, 20))]
    body += ["", f"rule: {alert.rule_id} ({alert.rule_description})", f"alert: {alert.alert_id}"]
    message.set_content("\n".join(body))
    return message


class Notifier:
    """Send one alert to one destination; :meth:`deliver` adds retries with backoff."""

    def __init__(self, settings: AlerterSettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.client = client or httpx.AsyncClient(timeout=settings.notify_timeout_s)

    async def close(self) -> None:
        await self.client.aclose()

    async def _post(self, url: str, content: bytes, headers: dict[str, str]) -> None:
        try:
            response = await self.client.post(url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__} while posting") from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"receiver answered HTTP {response.status_code}")

    async def send_once(self, alert: Alert, destination: AnyDestination) -> None:
        started = time.perf_counter()
        try:
            if isinstance(destination, WebhookDestination):
                body, headers = webhook_request(alert, destination)
                await self._post(destination.url, body, headers)
            elif isinstance(destination, SlackDestination):
                payload = json.dumps(slack_payload(alert, destination)).encode()
                headers = {"Content-Type": "application/json"} | _common_headers(alert, destination)
                await self._post(destination.target(), payload, headers)
            elif isinstance(destination, AlertmanagerDestination):
                payload = json.dumps(alertmanager_payload(alert, destination)).encode()
                headers = {"Content-Type": "application/json"} | _common_headers(alert, destination)
                await self._post(destination.url.rstrip("/") + "/api/v2/alerts", payload, headers)
            else:
                message = email_message(alert, destination, self.settings.smtp_sender)
                await asyncio.to_thread(self._send_mail, message)
        finally:
            NOTIFICATION_SECONDS.labels(destination.type).observe(time.perf_counter() - started)

    def _send_mail(self, message: EmailMessage) -> None:
        settings = self.settings
        try:
            with smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=settings.notify_timeout_s
            ) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls()
                if settings.smtp_username and settings.smtp_password is not None:
                    smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP: {type(exc).__name__}") from None

    async def deliver(self, alert: Alert, destination: AnyDestination, attempts: int) -> str | None:
        """Try up to ``attempts`` times with exponential backoff; None when delivered, else the
        last error."""
        delay = self.settings.notify_backoff_s
        error = "not attempted"
        for attempt in range(1, attempts + 1):
            try:
                await self.send_once(alert, destination)
            except DeliveryError as exc:
                error = str(exc)
                NOTIFICATIONS.labels(destination.name, destination.type, "failed").inc()
                log.warning(
                    "notification attempt failed",
                    extra={
                        "alert_id": alert.alert_id,
                        "destination": destination.name,
                        "attempt": attempt,
                        "error": error,
                    },
                )
                if attempt < attempts:
                    await asyncio.sleep(delay)
                    delay *= 2
                continue
            NOTIFICATIONS.labels(destination.name, destination.type, "delivered").inc()
            return None
        return error


def retry_delay(settings: AlerterSettings, attempts: int) -> timedelta:
    """Delay before the next retry of a notification that failed ``attempts`` rounds."""
    seconds = settings.notify_retry_delay_s * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.notify_retry_max_delay_s))
