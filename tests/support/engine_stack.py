"""Drive the shipped docker-compose.yml on the project's private engine, and read the stack
only through the ports it publishes on 127.0.0.1 (Kafka's host listener, the fetcher, the
alerter, Prometheus, Alertmanager)."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mediawatch.runtime.auth import new_token
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.stack.engine import Engine
from tests.support.deploy import COMPOSE_FILE
from tests.support.environment import REPOSITORY
from tests.support.kafka_io import Record, read_all

PROJECT = "mediawatch-engine-test"
OVERRIDE = REPOSITORY / "deploy" / "engine" / "compose.engine.yaml"
#: Services left out here (deploy/engine/compose.engine.yaml says why).
LEFT_OUT = frozenset({"grafana"})
#: Services that run once and must end with exit code 0.
ONE_SHOT = frozenset({"topics-init"})
#: Bound on `up` reaching every health check, image builds excluded (they come first).
HEALTHY_WITHIN_S = 300.0
KAFKA_HOST = "127.0.0.1:9094"
FETCHER = "http://127.0.0.1:8081"
PROMETHEUS = "http://127.0.0.1:9090"
ALERTMANAGER = "http://127.0.0.1:9093"
API = "http://127.0.0.1:8085"
OPED = REPOSITORY / "tests" / "tagger" / "fixtures" / "oped-indivisible.txt"
ALERTS = "mediawatch.alerts"
RULE = "indivisible-security"
#: A source of the compose sources file: a push may only publish as a configured source, with
#: that file's metadata (issue 15).
PUSH_SOURCE = "sample-atlantic-ledger"


def oped_article() -> dict[str, Any]:
    """The founding op-ed as a push of the compose stack's sample source."""
    title, _, text = OPED.read_text().partition("\n")
    return {"title": title.strip(), "text": text.strip(), "source": {"id": PUSH_SOURCE}}


def alerts_for(values: list[dict[str, Any]], article_id: str) -> list[dict[str, Any]]:
    """The indivisible-security alerts (as JSON values) that carry ``article_id``."""
    return [
        a
        for a in values
        if a.get("rule_id") == RULE
        and any(x.get("article_id") == article_id for x in a.get("articles", []))
    ]


@dataclass
class ComposeStack:
    """One compose project on the engine; by default the shipped docker-compose.yml with
    deploy/engine/compose.engine.yaml."""

    engine: Engine
    files: tuple[Path, ...] = (COMPOSE_FILE, OVERRIDE)
    project: str = PROJECT
    timings: dict[str, float] = field(default_factory=dict)
    #: The ingest token the stack accepts (given to compose as MEDIAWATCH_API_TOKENS, as a
    #: user's .env would) and the tests push with.
    ingest_token: str = field(default_factory=lambda: new_token()[1])
    #: The archive database's password (a user's .env would hold it).
    postgres_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    #: The viewer token the tests read the API with.
    viewer_token: str = field(default_factory=lambda: new_token()[1])
    #: More variables for compose (an operator's shell or .env), such as MEDIAWATCH_SECURE_DIR.
    extra_environment: dict[str, str] = field(default_factory=dict)
    #: How the tests reach Kafka's host listener (the secured override needs credentials).
    kafka_settings: KafkaSettings = field(
        default_factory=lambda: KafkaSettings(kafka_bootstrap=KAFKA_HOST)
    )

    # -- compose -------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        env = self.engine.environment()
        env["COMPOSE_PROJECT_NAME"] = self.project
        # docker-compose.yml interpolates it for Grafana, which is not started here.
        env.setdefault("GRAFANA_ADMIN_PASSWORD", "grafana-not-started-here")
        env.setdefault("POSTGRES_PASSWORD", self.postgres_password)
        env["MEDIAWATCH_API_TOKENS"] = f"ingest={self.ingest_token} viewer={self.viewer_token}"
        return env | self.extra_environment

    def compose(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        command = [
            *self.engine.compose_command(),
            *(part for path in self.files for part in ("--file", str(path))),
            *args,
        ]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=self.environment(),
            cwd=REPOSITORY,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"`{' '.join(command[1:])}` failed (exit {result.returncode}):\n"
                f"{(result.stdout + result.stderr)[-5000:]}"
            )
        return result

    def docker(self, *args: str) -> str:
        return self.engine.docker(*args, step=f"docker {args[0]}")

    def services(self) -> list[str]:
        services: dict[str, Any] = yaml.safe_load(self.files[0].read_text())["services"]
        return [name for name in services if name not in LEFT_OUT]

    def containers(self) -> list[dict[str, Any]]:
        output = self.compose("ps", "--all", "--format", "json").stdout
        rows: list[dict[str, Any]] = []
        for line in output.splitlines():
            line = line.strip()
            if line.startswith("["):
                rows.extend(json.loads(line))
            elif line:
                rows.append(json.loads(line))
        return rows

    def logs(self, service: str, lines: int = 50) -> str:
        return self.compose("logs", "--no-color", "--tail", str(lines), service, check=False).stdout

    # -- lifecycle -----------------------------------------------------------------------
    def build(self) -> None:
        started = time.monotonic()
        self.compose("build")
        self.timings["build"] = round(time.monotonic() - started, 1)

    def up_and_wait(self, *extra: str, build: bool = True) -> None:
        if build:
            self.build()
        started = time.monotonic()
        result = self.compose("up", "--detach", *extra, *self.services(), check=False)
        if result.returncode != 0:  # a dependency never became healthy: show why
            self.fail_with_logs(f"`up` failed (exit {result.returncode}):\n"
                                f"{(result.stdout + result.stderr)[-3000:]}")  # fmt: skip
        self.wait_healthy(HEALTHY_WITHIN_S)
        self.timings["healthy"] = round(time.monotonic() - started, 1)

    def not_ready(self) -> dict[str, str]:
        """Service -> what it is doing, for every container not healthy (or, one-shots, not
        exited with 0); an empty dict when the stack is ready."""
        seen: dict[str, list[dict[str, Any]]] = {}
        for row in self.containers():
            seen.setdefault(row["Service"], []).append(row)
        waiting: dict[str, str] = {}
        for service in self.services():
            rows = seen.get(service, [])
            if not rows:
                waiting[service] = "no container"
            for row in rows:
                state, health = row.get("State", ""), row.get("Health", "")
                if service in ONE_SHOT:
                    if state != "exited" or row.get("ExitCode") != 0:
                        waiting[service] = f"{state} (exit {row.get('ExitCode')})"
                elif state != "running" or health != "healthy":
                    waiting[service] = f"{state} {health}".strip()
        return waiting

    def wait_healthy(self, bound_s: float) -> None:
        deadline = time.monotonic() + bound_s
        waiting = self.not_ready()
        while waiting and time.monotonic() < deadline:
            failed = {s: w for s, w in waiting.items() if s in ONE_SHOT and "exit 0" not in w}
            if any(w.startswith("exited") for w in failed.values()):
                break
            time.sleep(2)
            waiting = self.not_ready()
        if waiting:
            self.fail_with_logs(f"not healthy within {bound_s:.0f} s:", waiting)

    def fail_with_logs(self, headline: str, waiting: dict[str, str] | None = None) -> None:
        """Fail the test with the last 50 log lines of every service not ready."""
        waiting = self.not_ready() if waiting is None else waiting
        report = "\n\n".join(
            f"--- {service}: {what}; its last 50 log lines:\n{self.logs(service)}"
            for service, what in sorted(waiting.items())
        )
        pytest.fail(f"{headline}\n{report}")

    def down(self, *, volumes: bool) -> None:
        self.compose("down", "--remove-orphans", *(["--volumes"] if volumes else []))

    # -- reading the stack through its host ports -----------------------------------------
    def kafka(self) -> KafkaSettings:
        return self.kafka_settings

    def read(self, topic: str) -> list[dict[str, Any]]:
        """Every record of ``topic`` (the stack's own name) up to its current end."""
        records: list[Record] = asyncio.run(read_all(self.kafka(), topic))
        return [json.loads(r.value) for r in records if r.value]

    def read_until(
        self,
        topic: str,
        done: Callable[[list[dict[str, Any]]], bool],
        bound_s: float,
        what: str,
    ) -> list[dict[str, Any]]:
        """Read ``topic`` again until ``done(values)`` or fail after ``bound_s`` naming
        ``what`` was awaited."""
        deadline = time.monotonic() + bound_s
        values = self.read(topic)
        while not done(values):
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not on {topic} after {bound_s:.0f} s ({len(values)} records)")
            time.sleep(1)
            values = self.read(topic)
        return values

    def post(self, articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = httpx.post(
            f"{FETCHER}/v1/articles",
            json=articles,
            headers={"Authorization": f"Bearer {self.ingest_token}"},
            timeout=60,
        )
        assert response.status_code == 202, response.text
        body: list[dict[str, Any]] = response.json()["articles"]
        return body

    def api(self, path: str, **params: str) -> Any:
        """A GET of the stack's REST API with the viewer token; its JSON body."""
        response = httpx.get(
            f"{API}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.viewer_token}"},
            timeout=30,
        )
        assert response.status_code == 200, f"{path} {params}: {response.text}"
        return response.json()

    def prometheus(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{PROMETHEUS}{path}", params=params, timeout=30)
        assert response.status_code == 200, f"{path} {params}: {response.text}"
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def until(self, bound_s: float, what: str, probe: Callable[[], Any]) -> Any:
        """``probe()`` again every 2 s until it returns something true; fail naming ``what``
        (and the last value) after ``bound_s``."""
        deadline = time.monotonic() + bound_s
        value = probe()
        while not value:
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not after {bound_s:.0f} s (last: {value!r})")
            time.sleep(2)
            value = probe()
        return value
