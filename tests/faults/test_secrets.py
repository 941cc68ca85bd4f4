"""Secrets never leak: the fetcher, tagger and alerter run as real processes with API tokens
(environment and tokens file), webhook secrets (a signing secret, a secret Slack URL, an
Authorization header), SMTP credentials, and Kafka over SASL_SSL with a SCRAM password.
Articles are pushed (with good, wrong and revoked tokens), tagged and alerted on; one
destination answers, the others fail, so errors are logged and notifications parked; a
broken record is dead-lettered.
Then every log line, every metric of the three services and every record on the
dead-letter, retry and alerts topics is searched for each secret value. None may appear.

The destinations are used, not only configured: the answering receiver checks the
signature and the Authorization header, so a run in which the secrets did nothing fails.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from aiohttp import web

from mediawatch.alerter.notify import SIGNATURE_HEADER, signature
from mediawatch.runtime.auth import Role, TokensFile
from mediawatch.runtime.kafka import ensure_topics
from mediawatch.stack.broker import free_port
from tests.support.faults import eventually, write_inbox_sources
from tests.support.fetcher import bearer
from tests.support.kafka_io import produce, read_all
from tests.support.site import OPED_PARAGRAPHS
from tests.support.tls import SecureBroker
from tests.support.workers import ServiceProcess, start_ready

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

MARKER = "harbour"  # every pushed article mentions it; the rule matches it


def _secret(label: str) -> str:
    return f"{label}-{secrets.token_urlsafe(24)}"


@dataclass
class Secrets:
    env_token: str = field(default_factory=lambda: "mw_5ec2e75a_" + secrets.token_urlsafe(32))
    file_token: str = ""  # made in the tokens file
    revoked_token: str = ""
    wrong_token: str = field(default_factory=lambda: "mw_00000000_" + secrets.token_urlsafe(32))
    hook_secret: str = field(default_factory=lambda: _secret("hook-signing"))
    hook_bearer: str = field(default_factory=lambda: _secret("hook-bearer"))
    slack_path: str = field(default_factory=lambda: _secret("slack-path"))
    smtp_password: str = field(default_factory=lambda: _secret("smtp-password"))
    sasl_password: str = ""  # the SCRAM password of the secured broker

    def values(self) -> dict[str, str]:
        return {name: value for name, value in vars(self).items() if value}


@dataclass
class Receiver:
    """The destination that answers: it checks what the secrets are for."""

    secret: str
    bearer: str
    deliveries: list[tuple[bool, bool]] = field(default_factory=list)  # signed, authorised
    failing: int = 0

    async def good(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.deliveries.append(
            (
                request.headers.get(SIGNATURE_HEADER) == signature(self.secret, body),
                request.headers.get("Authorization") == f"Bearer {self.bearer}",
            )
        )
        return web.json_response({"ok": True})

    async def broken(self, request: web.Request) -> web.Response:
        self.failing += 1
        return web.Response(status=500, text="internal error")


@pytest.fixture
async def receiver(tmp_path: Path) -> AsyncIterator[tuple[Receiver, int, Secrets]]:
    found = Secrets()
    target = Receiver(found.hook_secret, found.hook_bearer)
    app = web.Application()
    app.router.add_post("/hook", target.good)
    app.router.add_post("/{tail:.*}", target.broken)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield target, port, found
    await runner.cleanup()


@pytest.mark.timeout(300)
async def test_no_secret_appears_in_logs_metrics_or_dead_letters(
    secure_kafka_settings: SecureBroker,
    tmp_path: Path,
    receiver: tuple[Receiver, int, Secrets],
) -> None:
    target, port, found = receiver
    kafka_settings = secure_kafka_settings.settings
    found.sasl_password = secure_kafka_settings.password
    await ensure_topics(kafka_settings)
    tokens = TokensFile(tmp_path / "tokens.json")
    found.file_token = tokens.create(Role.ADMIN)[1]
    revoked_record, found.revoked_token = tokens.create(Role.INGEST)
    tokens.revoke(revoked_record.token_id)

    rules = tmp_path / "rules.yaml"
    rule = {
        "id": "harbour-watch",
        "condition": {"query": MARKER, "include_duplicates": True},
        "notify": [
            {"name": "signed", "type": "webhook", "url": f"http://127.0.0.1:{port}/hook",
             "secret_env": "MW_TEST_HOOK_SECRET",
             "headers": {"Authorization": f"Bearer {found.hook_bearer}"}},
            {"name": "slack", "type": "slack", "url_env": "MW_TEST_SLACK_URL"},
            {"name": "mail", "type": "email", "to": ["desk@example.org"]},
        ],
    }  # fmt: skip
    rules.write_text(yaml.safe_dump({"version": 1, "rules": [rule]}))
    common = secure_kafka_settings.environment() | {
        "MEDIAWATCH_LOG_LEVEL": "DEBUG",
        "MEDIAWATCH_LOG_FORMAT": "json",
        "MEDIAWATCH_API_TOKENS": f"ingest={found.env_token}",
        "MEDIAWATCH_API_TOKENS_FILE": str(tokens.path),
        "MEDIAWATCH_KAFKA_SESSION_TIMEOUT_S": "6",
    }
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    sources = write_inbox_sources(tmp_path / "sources.yaml", inbox)
    fetcher = ServiceProcess(
        ["fetcher", "run", "--sources", str(sources)],
        common | {"MEDIAWATCH_STATE_DIR": str(tmp_path / "fetcher")},
        tmp_path / "fetcher.log",
    )
    tagger = ServiceProcess(
        ["tagger", "run"],
        common | {"MEDIAWATCH_STATE_DIR": str(tmp_path / "tagger")},
        tmp_path / "tagger.log",
    )
    alerter = ServiceProcess(
        ["alerter", "run"],
        common
        | {
            "MEDIAWATCH_STATE_DIR": str(tmp_path / "alerter"),
            "MEDIAWATCH_RULES_FILE": str(rules),
            "MW_TEST_HOOK_SECRET": found.hook_secret,
            "MW_TEST_SLACK_URL": f"http://127.0.0.1:{port}/services/{found.slack_path}",
            "MEDIAWATCH_SMTP_HOST": "127.0.0.1",
            "MEDIAWATCH_SMTP_PORT": str(free_port()),  # nothing listens: e-mail fails
            "MEDIAWATCH_SMTP_USERNAME": "desk",
            "MEDIAWATCH_SMTP_PASSWORD": found.smtp_password,
            "MEDIAWATCH_NOTIFY_ATTEMPTS": "1",
            "MEDIAWATCH_NOTIFY_RETRY_DELAY_S": "600",
            "MEDIAWATCH_NOTIFY_RETRY_MAX_DELAY_S": "600",
        },
        tmp_path / "alerter.log",
    )
    workers = [fetcher, tagger, alerter]
    metrics: dict[str, str] = {}
    try:
        await start_ready(*workers)
        push = f"http://127.0.0.1:{fetcher.http_port}/v1/articles"
        async with httpx.AsyncClient(timeout=30.0) as client:
            refused = [
                (await client.post(push, json={"title": "x", "text": "y"}, headers=h)).status_code
                for h in (bearer(found.wrong_token), bearer(found.revoked_token),
                          {"Authorization": found.env_token})  # no scheme
            ]  # fmt: skip
            for i, token in enumerate([found.env_token, found.file_token, found.env_token]):
                body = {"title": f"Harbour story {i}", "text": OPED_PARAGRAPHS[i]}
                body["text"] += f" The {MARKER} board met again ({i})."
                answer = await client.post(push, json=body, headers=bearer(token))
                assert answer.status_code == 202, answer.text
        assert refused == [401, 401, 401]
        await produce(
            kafka_settings, kafka_settings.topic_articles_fetched, [(b"broken", b"{not json", None)]
        )

        async def delivered_and_failed() -> bool:
            retry = await read_all(kafka_settings, kafka_settings.topic_notifications_retry)
            letters = await read_all(kafka_settings, kafka_settings.topic_deadletter)
            return (
                len(target.deliveries) >= 3
                and target.failing >= 3
                and bool(retry)
                and (bool(letters))
            )

        await eventually(
            delivered_and_failed,
            "three alerts delivered, three failed, a notification parked, a dead letter",
            timeout_s=150,
            workers=workers,
            interval_s=2.0,
        )
        for worker in workers:
            metrics[worker.log_path.stem] = await asyncio.to_thread(worker.metrics)
    finally:
        for worker in workers:
            worker.stop()

    assert target.deliveries, "the signed destination was never called"
    assert all(signed and authorised for signed, authorised in target.deliveries)
    records = {
        topic: await read_all(kafka_settings, topic)
        for topic in (
            kafka_settings.topic_deadletter,
            kafka_settings.topic_notifications_retry,
            kafka_settings.topic_alerts,
        )
    }
    assert all(records.values()), {topic: len(r) for topic, r in records.items()}
    haystacks = {f"{worker.log_path.name}": worker.log_path.read_text() for worker in workers}
    haystacks |= {f"{name} /metrics": text for name, text in metrics.items()}
    for topic, found_records in records.items():
        for index, record in enumerate(found_records):
            headers = " ".join(f"{k}={v!r}" for k, v in record.headers.items())
            value = (record.value or b"").decode(errors="replace")
            haystacks[f"{topic}[{index}]"] = f"{record.key!r} {value} {headers}"
    assert all(haystacks.values())
    leaks = [
        f"{name} found in {where}"
        for name, value in found.values().items()
        for where, text in haystacks.items()
        if value in text
    ]
    assert not leaks, leaks
