"""Prometheus, Alertmanager, Grafana provisioning and the Dockerfile, checked with their own
tools where those exist (promtool, amtool) and by reading them otherwise."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from mediawatch.stack.services import settings_classes
from tests.support.deploy import load_compose, split_volume
from tests.support.environment import REPOSITORY, tool, unavailable

PROMETHEUS = REPOSITORY / "deploy" / "prometheus" / "prometheus.yml"
ALERTMANAGER = REPOSITORY / "deploy" / "alertmanager" / "alertmanager.yml"
GRAFANA = REPOSITORY / "deploy" / "grafana"


def test_promtool_accepts_the_prometheus_config() -> None:
    promtool = tool("promtool", "prometheus")
    result = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrapes_every_service_on_its_port() -> None:
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service, cls in settings_classes().items():
        port = cls.model_fields["http_port"].default
        job = jobs[service]
        targets = [t for s in job.get("static_configs", []) for t in s["targets"]]
        targets += [f"{n}:{d['port']}" for d in job.get("dns_sd_configs", []) for n in d["names"]]
        assert targets == [f"{service}:{port}"], (service, targets)
    # The tagger is scaled, so it is discovered by DNS, not listed.
    assert "dns_sd_configs" in jobs["tagger"]
    # The alerting rules Prometheus loads are the ones `promtool test rules` checks.
    assert config["rule_files"] == ["alerts.yaml"]
    assert (PROMETHEUS.parent / "alerts.yaml").exists()
    am_targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am_targets == ["alertmanager:9093"]


def test_amtool_accepts_the_alertmanager_config() -> None:
    amtool = tool("amtool", "prometheus-alertmanager")
    result = subprocess.run(
        [amtool, "check-config", str(ALERTMANAGER)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alertmanager_route_matches_what_the_alerter_sends() -> None:
    notify = (REPOSITORY / "services" / "mediawatch" / "alerter" / "notify.py").read_text()
    alertname = re.search(r'"alertname":\s*"([^"]+)"', notify)
    assert alertname, "the alerter no longer sets an alertname label"
    assert f'alertname="{alertname.group(1)}"' in ALERTMANAGER.read_text()


def _grafana_mounts() -> list[tuple[Path, str]]:
    grafana = load_compose()["services"]["grafana"]
    mounts = []
    for spec in grafana["volumes"]:
        host, container = split_volume(spec)
        if host.startswith("."):
            mounts.append((REPOSITORY / host, container))
    return mounts


def _host_path(container_path: str) -> Path | None:
    for host, container in _grafana_mounts():
        if container_path == container or container_path.startswith(container + "/"):
            return host / container_path[len(container) :].lstrip("/")
    return None


def test_grafana_provisioning_parses_and_points_at_dashboards_that_exist() -> None:
    datasources = sorted((GRAFANA / "provisioning" / "datasources").glob("*.y*ml"))
    providers = sorted((GRAFANA / "provisioning" / "dashboards").glob("*.y*ml"))
    if not datasources or not providers:
        unavailable(f"no Grafana provisioning files under {GRAFANA} yet")
    compose_services = set(load_compose()["services"])
    uids: set[str] = set()
    for path in datasources:
        document = yaml.safe_load(path.read_text())
        for source in document.get("datasources", []):
            uids.add(str(source.get("uid", "")))
            host = re.match(r"https?://([^:/]+)", str(source.get("url", "")))
            assert host and host.group(1) in compose_services, f"{path}: {source.get('url')}"
    dashboards_found = 0
    for path in providers:
        document = yaml.safe_load(path.read_text())
        for provider in document.get("providers", []):
            container_path = provider["options"]["path"]
            host_path = _host_path(container_path)
            assert host_path is not None, f"{path}: {container_path} is not mounted in grafana"
            files = sorted(host_path.rglob("*.json"))
            assert files, f"{path}: no dashboards at {container_path} ({host_path})"
            for dashboard in files:
                data = json.loads(dashboard.read_text())
                assert data.get("title"), f"{dashboard} has no title"
                dashboards_found += 1
    assert dashboards_found


def _stages(dockerfile: str) -> list[list[str]]:
    """Instructions per build stage (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", dockerfile)
    stages: list[list[str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.upper().startswith("FROM "):
            stages.append([])
        assert stages, "instruction before the first FROM"
        stages[-1].append(stripped)
    return stages


def test_dockerfile_lint() -> None:
    dockerfile = (REPOSITORY / "Dockerfile").read_text()
    stages = _stages(dockerfile)
    assert len(stages) >= 2, "multi-stage: a builder and a runtime stage"
    final = stages[-1]
    base = final[0].split()[1]
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", base), base
    for stage in stages:
        image = stage[0].split()[1]
        assert ":" in image and not image.endswith(":latest"), f"pin {image}"
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "the runtime must not be root"
    final_text = "\n".join(final)
    assert "build-essential" not in final_text and "gcc" not in final_text
    assert re.search(r"COPY --from=\w+ /opt/venv /opt/venv", final_text)
    assert 'ENTRYPOINT ["mediawatch"]' in final_text, "exec form, the CLI selects the service"
    for stage in stages:
        for line in stage:
            if line.upper().startswith("RUN ") and "apt-get install" in line:
                assert "--no-install-recommends" in line and "rm -rf /var/lib/apt/lists" in line
            assert not line.upper().startswith("ADD "), "COPY, not ADD"
    builder = "\n".join(stages[0])
    assert "pip wheel" in builder or "python -m build" in builder, "the builder builds a wheel"


def test_dockerignore_keeps_the_build_context_small_and_complete() -> None:
    lines = (REPOSITORY / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "allow-list: ignore everything, then name what the build needs"
    needed = {"pyproject.toml", "README.md", "schemas/", "services/"}
    assert needed <= {p.removeprefix("!") for p in patterns if p.startswith("!")}
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", (REPOSITORY / "Dockerfile").read_text(), re.M)
    for sources in copied:
        for source in sources.split():
            assert (REPOSITORY / source).exists(), f"Dockerfile copies missing {source}"
