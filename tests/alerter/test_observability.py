"""Metrics exposition, Grafana dashboards and Prometheus alerting rules."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import subprocess
from pathlib import Path

import yaml
from prometheus_client import REGISTRY, generate_latest

import mediawatch.alerter.service
import mediawatch.runtime.streaming
import mediawatch.tagger.service
from mediawatch.alerter import metrics
from tests.support.alerter import tagged
from tests.support.environment import REPOSITORY, tool

assert mediawatch.alerter.service and mediawatch.runtime.streaming and mediawatch.tagger.service

if importlib.util.find_spec("mediawatch.fetcher") is not None:  # developed in parallel
    importlib.import_module("mediawatch.fetcher.metrics")  # registers its metrics

#: The fetcher's metrics the dashboards and alerting rules use; extend as needed.
FETCHER_METRICS = {
    "mediawatch_fetcher_source_healthy",
    "mediawatch_fetcher_fetches_total",
    "mediawatch_fetcher_duplicates_total",
    "mediawatch_fetcher_fetch_duration_seconds_bucket",
}


def promtool() -> str:
    return tool("promtool", "prometheus")


def _exported_names() -> set[str]:
    names = set(FETCHER_METRICS)
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
        names.update(family.name + suffix for suffix in suffixes.get(family.type, []))
    return names


def _exercise() -> None:
    event = tagged("m1", themes=("brics",), actors=("org:nato",), stances={"org:nato": -0.5})
    metrics.observe_tagged(event)
    metrics.ALERTS.labels("r", "each_match", "warning").inc()
    metrics.NOTIFICATIONS.labels("hook", "webhook", "delivered").inc()
    metrics.ALERT_LATENCY.labels("each_match").observe(0.4)


def test_exposition_passes_promtool_check_metrics() -> None:
    _exercise()
    exposition = generate_latest(REGISTRY)
    result = subprocess.run(
        [promtool(), "check", "metrics"],
        input=exposition,
        capture_output=True,
        check=False,
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).decode().splitlines()
        if line.startswith("mediawatch_")
    ]
    assert not problems, problems


def test_content_metric_labels_are_bounded() -> None:
    label = metrics.BoundedLabel(2)
    assert [label(v) for v in ("a", "b", "c", "a")] == ["a", "b", "other", "a"]
    event = tagged("m2", actors=("org:nato",), stances={"org:nato": -0.5})
    uncatalogued = event.model_copy(
        update={"actors": [a.model_copy(update={"in_catalogue": False}) for a in event.actors]}
    )
    before = generate_latest(REGISTRY).decode().count("mediawatch_actor_mentions_total{")
    metrics.observe_tagged(uncatalogued.model_copy(update={"article": event.article}))
    assert generate_latest(REGISTRY).decode().count("mediawatch_actor_mentions_total{") == before


def _dashboards() -> list[tuple[str, dict[str, object]]]:
    folder = REPOSITORY / "deploy" / "grafana" / "dashboards"
    return [(path.name, json.loads(path.read_text())) for path in sorted(folder.glob("*.json"))]


def test_dashboards_query_only_exported_metrics() -> None:
    _exercise()
    exported = _exported_names()
    dashboards = _dashboards()
    assert {name for name, _ in dashboards} >= {
        "pipeline-health.json", "themes.json", "actor-stance.json", "alerts.json",
    }  # fmt: skip
    for name, dashboard in dashboards:
        panels = dashboard["panels"]
        assert isinstance(panels, list) and panels, name
        uids = set()
        for panel in panels:
            assert panel["targets"], f"{name}: panel {panel['title']!r} has no query"
            for target in panel["targets"]:
                used = set(re.findall(r"\bmediawatch_[a-z0-9_]+", target["expr"]))
                assert used, f"{name}: {target['expr']!r} uses no mediawatch metric"
                unknown = used - exported
                assert not unknown, f"{name}: panel {panel['title']!r} uses unknown {unknown}"
            uids.add(panel["datasource"]["uid"])
        assert uids == {"mediawatch-prometheus"}, name


def test_grafana_provisioning_points_at_the_dashboards() -> None:
    import yaml

    base = REPOSITORY / "deploy" / "grafana" / "provisioning"
    datasources = yaml.safe_load((base / "datasources" / "prometheus.yaml").read_text())
    assert datasources["datasources"][0]["uid"] == "mediawatch-prometheus"
    providers = yaml.safe_load((base / "dashboards" / "mediawatch.yaml").read_text())
    assert providers["providers"][0]["type"] == "file"


def test_alerting_rules_use_exported_metrics() -> None:
    import yaml

    _exercise()
    exported = _exported_names()
    rules = yaml.safe_load((REPOSITORY / "deploy/prometheus/alerts.yaml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            used = set(re.findall(r"\bmediawatch_[a-z0-9_]+", rule["expr"]))
            assert used and used <= exported, (rule["alert"], used - exported)


def test_alerting_rules_pass_promtool_unit_tests() -> None:
    folder = REPOSITORY / "deploy" / "prometheus"
    for args in (["check", "rules", "alerts.yaml"], ["test", "rules", "alerts.test.yaml"]):
        result = subprocess.run(
            [promtool(), *args],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_theme_and_actor_metrics_count_stories_and_reprints_apart() -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    theme = {"theme": "sco"}
    actor = {"actor": "org:sco"}
    before = {
        kind: (
            sample("mediawatch_theme_matches_total", **theme, kind=kind),
            sample("mediawatch_actor_mentions_total", **actor, kind=kind),
        )
        for kind in ("story", "reprint")
    }
    metrics.observe_tagged(tagged("s1", themes=("sco",), actors=("org:sco",)))
    metrics.observe_tagged(tagged("s1-copy", themes=("sco",), actors=("org:sco",),
                                  duplicate_of="s1"))  # fmt: skip
    metrics.observe_tagged(tagged("s1-copy2", themes=("sco",), duplicate_of="s1"))
    for kind, (themes, actors) in {"story": (1, 1), "reprint": (2, 1)}.items():
        assert sample("mediawatch_theme_matches_total", **theme, kind=kind) == (
            before[kind][0] + themes
        ), kind
        assert sample("mediawatch_actor_mentions_total", **actor, kind=kind) == (
            before[kind][1] + actors
        ), kind


def _dashboard_query(dashboard: str, title: str, ref_id: str = "A") -> str:
    panels = dict(_dashboards())[dashboard]["panels"]
    assert isinstance(panels, list)
    panel = next(p for p in panels if p["title"] == title)
    return str(next(t["expr"] for t in panel["targets"] if t["refId"] == ref_id))


def test_dashboard_queries_count_stories_as_the_rules_do(tmp_path: Path) -> None:
    """The theme and actor panels run in promtool's PromQL engine over series of both kinds:
    the story queries count only stories, the reprint query only reprints."""
    story, reprint = "0+1x120", "0+3x120"  # per minute: one story, three reprints
    series = [
        ('mediawatch_theme_matches_total{theme="brics",kind="story"}', story),
        ('mediawatch_theme_matches_total{theme="brics",kind="reprint"}', reprint),
        ('mediawatch_actor_mentions_total{actor="org:nato",kind="story"}', story),
        ('mediawatch_actor_mentions_total{actor="org:nato",kind="reprint"}', reprint),
    ]
    theme_panel = "Stories per theme per hour (reprints apart)"
    checks = [
        (_dashboard_query("themes.json", theme_panel, "A"), '{theme="brics"}', 60),
        (_dashboard_query("themes.json", theme_panel, "B"), '{theme="brics"}', 180),
        (
            _dashboard_query("actor-stance.json", "Stories mentioning each actor per hour"),
            '{actor="org:nato"}',
            60,
        ),
    ]
    document = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": [
                    {"expr": expr, "eval_time": "90m",
                     "exp_samples": [{"labels": labels, "value": value}]}
                    for expr, labels, value in checks
                ],
            }
        ],
    }  # fmt: skip
    path = tmp_path / "dashboards.test.yaml"
    path.write_text(yaml.safe_dump(document))
    result = subprocess.run(
        [promtool(), "test", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
