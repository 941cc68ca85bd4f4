"""Every consuming stream service exports its consumer lag from its own process, and the
pipeline-health lag panel and the lag alert see it in a real Prometheus that scrapes it."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.stack.broker import free_port
from tests.support.articles import article
from tests.support.environment import REPOSITORY, settings_environment
from tests.support.kafka_io import produce
from tests.support.workers import ServiceProcess, start_ready

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

DASHBOARD = REPOSITORY / "deploy" / "grafana" / "dashboards" / "pipeline-health.json"
ALERTS = REPOSITORY / "deploy" / "prometheus" / "alerts.yaml"
LAG_LINE = re.compile(
    r'^mediawatch_consumer_lag_records\{service="(?P<service>[^"]+)",topic="(?P<topic>[^"]+)"\}'
    r" (?P<value>[0-9.e+]+)$",
    re.MULTILINE,
)


def lag_queries() -> dict[str, str]:
    """The panel's query, and the lag operand of the alert (its threshold needs 1,000)."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    panel = next(
        target["expr"]
        for p in panels
        for target in p.get("targets", [])
        if "mediawatch_consumer_lag_records" in target["expr"]
    )
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    alert = next(
        r["expr"] for g in groups for r in g["rules"] if r.get("alert", "").endswith("LagGrowing")
    )
    operand = re.match(r"\s*(max by \(service, topic\) \(mediawatch_consumer_lag_records\))", alert)
    assert operand, f"the lag alert no longer starts with the lag per service and topic: {alert}"
    return {"panel": panel, "alert": operand.group(1)}


class Prometheus:
    """Debian's Prometheus on loopback, scraping one target every second."""

    def __init__(self, folder: Path, target_port: int) -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus missing: apt-get install -y prometheus (make tools)"
        self.port = free_port()
        config = folder / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "scrape_configs": [
                        {
                            "job_name": "service",
                            "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
                        }
                    ],
                }
            )
        )
        self.log = folder / "prometheus.log"
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={folder / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip

    async def query(self, expr: str) -> list[dict[str, object]]:
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.get(
                f"http://127.0.0.1:{self.port}/api/v1/query", params={"query": expr}
            )
        answer.raise_for_status()
        result: list[dict[str, object]] = answer.json()["data"]["result"]
        return result

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def _series_for(prometheus: Prometheus, expr: str, service: str, topic: str) -> bool:
    loop = asyncio.get_running_loop()
    until = loop.time() + 60
    while loop.time() < until:
        try:
            for series in await prometheus.query(expr):
                labels = series["metric"]
                assert isinstance(labels, dict)
                if labels.get("service") == service and labels.get("topic") == topic:
                    return True
        except httpx.HTTPError:
            pass  # Prometheus still starting
        await asyncio.sleep(1)
    return False


@pytest.mark.parametrize("service", ["fetcher", "tagger", "alerter"])
async def test_the_service_exports_its_lag_and_the_panel_and_alert_see_it(
    kafka_settings: KafkaSettings, tmp_path: Path, service: str
) -> None:
    await ensure_topics(kafka_settings)
    topic = {
        "fetcher": kafka_settings.topic_fetcher_seen,
        "tagger": kafka_settings.topic_articles_fetched,
        "alerter": kafka_settings.topic_articles_tagged,
    }[service]
    env = settings_environment(kafka_settings) | {
        "MEDIAWATCH_APP_ID": f"{service}-{uuid.uuid4().hex[:6]}",
        "MEDIAWATCH_STATE_DIR": str(tmp_path / "state"),
    }
    worker = ServiceProcess([service, "run"], env, tmp_path / f"{service}.log")
    await start_ready(worker)
    prometheus = Prometheus(tmp_path, worker.http_port)
    try:
        # Records on the input topic (a bad one is consumed and dead-lettered all the same).
        event = article(f"lag-{uuid.uuid4().hex[:8]}")
        await produce(kafka_settings, topic, [(b"k", event.to_json(), None)] * 3)
        loop = asyncio.get_running_loop()
        until = loop.time() + 90
        exported: dict[str, float] = {}
        while loop.time() < until and topic not in exported:
            for line in LAG_LINE.finditer(await asyncio.to_thread(worker.metrics)):
                if line["service"] == service:
                    exported[line["topic"]] = float(line["value"])
            await asyncio.sleep(1)
        assert topic in exported, f"no lag for {topic} in /metrics; log:\n{worker.log_tail()}"
        for name, expr in lag_queries().items():
            seen = await _series_for(prometheus, expr, service, topic)
            assert seen, (
                f"the {name} query {expr!r} has no {service} series; "
                + (prometheus.log.read_text(errors="replace")[-2000:])
            )
    finally:
        prometheus.stop()
        worker.stop()
