"""docker-compose.yml run for real on the project's private engine (issue 14).

The tests run in file order on one stack (session fixture ``stack``): up and healthy, the
founding op-ed to its alert, Prometheus, the dashboards' queries, Alertmanager, three tagger
workers, a killed tagger, and ``down`` + ``up`` with the volumes kept. Times are printed
(``-s``), never asserted; every wait has a bound and fails naming what it waited for.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.engine_stack import (
    ALERTMANAGER,
    ALERTS,
    OPED,
    PROMETHEUS,
    PUSH_SOURCE,
    RULE,
    ComposeStack,
    alerts_for,
    oped_article,
)
from tests.support.environment import REPOSITORY

# The first test carries the session's set-up: from nothing installed, the engine, Compose v2
# built with Go, debootstrap and every image build take far longer than the suite's 300 s.
pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.timeout(2400)]

TAGGED = "mediawatch.articles.tagged"
#: The consumers of the stack and the topics each reports lag for (runtime/lag.py).
CONSUMER_TOPICS = {
    "fetcher": {"mediawatch.fetcher.seen"},
    "tagger": {"mediawatch.articles.fetched"},
    "alerter": {"mediawatch.articles.tagged", "mediawatch.notifications.retry"},
}
RUNTIME_IMAGE_GOAL_MB = 300


def filler_articles(count: int, tag: str) -> list[dict[str, Any]]:
    """Distinct articles (no theme on purpose needed): each must come out tagged."""
    return [
        {
            "title": f"Harbour report {tag} number {n}",
            "text": f"The port authority of town {tag}-{n} counted {n * 7} ships this week. "
            f"Officials in Brussels and Moscow commented on trade volumes, reference {tag}{n}.",
            "source": {"id": PUSH_SOURCE},
        }
        for n in range(count)
    ]


def tagged_ids(values: list[dict[str, Any]]) -> set[str]:
    return {v["article"]["article_id"] for v in values}


class State:
    """What earlier tests of this file found, for the later ones."""

    oped_id: str = ""


def test_up_builds_and_every_service_is_healthy_non_root_and_on_loopback(
    stack: ComposeStack,
) -> None:
    print(f"\nimage build {stack.timings.get('build')} s, healthy {stack.timings.get('healthy')} s")
    for row in stack.containers():
        if row["State"] != "running":
            continue
        info = json.loads(stack.docker("inspect", row["ID"]))[0]
        pid = info["State"]["Pid"]
        status = Path(f"/proc/{pid}/status").read_text()
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
        assert uid != 0, f"{row['Service']} runs as root (user {info['Config']['User']!r})"
        for port, bindings in (info["NetworkSettings"]["Ports"] or {}).items():
            for binding in bindings or []:
                assert binding["HostIp"] == "127.0.0.1", f"{row['Service']} {port}: {binding}"


def test_the_runtime_image_size(stack: ComposeStack) -> None:
    info = json.loads(stack.docker("image", "inspect", "mediawatch:local"))[0]
    size_mb = info["Size"] / 1e6
    print(f"\nmediawatch:local {size_mb:.0f} MB (goal <= {RUNTIME_IMAGE_GOAL_MB} MB)")
    for name in ("python:3.11-slim", "apache/kafka:4.4.0", "prom/prometheus:v3.5.0"):
        other = json.loads(stack.docker("image", "inspect", name))[0]["Size"] / 1e6
        print(f"  stand-in {name}: {other:.0f} MB")
    assert size_mb > 0


def test_the_image_tags_a_file_with_its_built_in_catalogues(stack: ComposeStack) -> None:
    """Defaults that work in the image (issue 14, item 4): no checkout, no network."""
    output = stack.docker(
        "run", "--rm", "--network", "none", "--volume", f"{OPED}:/data/oped.txt:ro",
        "mediawatch:local", "tag", "/data/oped.txt",
    )  # fmt: skip
    assert RULE in output, output[-2000:]


def test_the_founding_oped_yields_the_indivisible_security_alert(stack: ComposeStack) -> None:
    started = time.monotonic()
    [outcome] = stack.post([oped_article()])
    assert outcome["status"] != "duplicate", outcome
    State.oped_id = outcome["article_id"]
    values = stack.read_until(
        ALERTS,
        lambda v: bool(alerts_for(v, State.oped_id)),
        bound_s=120,
        what=f"the {RULE} alert of article {State.oped_id}",
    )
    elapsed = time.monotonic() - started
    print(f"\nop-ed POST to its alert on Kafka's host listener: {elapsed:.1f} s")
    [alert] = alerts_for(values, State.oped_id)
    assert alert["severity"] == "warning"
    assert RULE in alert["articles"][0]["themes"]


def test_the_archive_finds_the_oped_and_its_alert_through_the_api(stack: ComposeStack) -> None:
    """The archiver and the API of the stack (issue 16): the op-ed searched in the query
    language from the host, and its alert listed."""

    def searched() -> list[dict[str, Any]]:
        body = stack.api("/v1/articles", q='"indivisible security" AND china')
        return [
            h for h in body["articles"] if h["article"]["article"]["article_id"] == State.oped_id
        ]

    [hit] = stack.until(90, f"article {State.oped_id} in the archive", searched)
    assert any(e["text"].lower() == "indivisible security" for e in hit["evidence"]), hit
    alerts = stack.until(
        60, "the op-ed's alert in the archive",
        lambda: stack.api("/v1/alerts", rule=RULE)["alerts"],
    )  # fmt: skip
    assert any(a["articles"][0]["article_id"] == State.oped_id for a in alerts), alerts


def _targets(stack: ComposeStack) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = stack.prometheus("/api/v1/targets")["activeTargets"]
    return targets


def test_prometheus_scrapes_every_target_and_every_service_series(stack: ComposeStack) -> None:
    def all_up() -> list[dict[str, Any]] | None:
        targets = _targets(stack)
        jobs = {t["labels"]["job"] for t in targets}
        ok = {"fetcher", "tagger", "alerter"} <= jobs and all(t["health"] == "up" for t in targets)
        return targets if ok else None

    targets = stack.until(90, "every Prometheus target up", all_up)
    print("\ntargets:", sorted(f"{t['labels']['job']}@{t['scrapeUrl']}" for t in targets))

    def services_with_series() -> set[str]:
        result = stack.prometheus(
            "/api/v1/query", query='count by (job) ({__name__=~"mediawatch_.+"})'
        )["result"]
        jobs = {r["metric"]["job"] for r in result}
        return jobs if {"fetcher", "tagger", "alerter"} <= jobs else set()

    stack.until(60, "mediawatch_* series of the three services", services_with_series)

    def lag_topics() -> dict[str, set[str]] | None:
        result = stack.prometheus("/api/v1/query", query="mediawatch_consumer_lag_records")[
            "result"
        ]
        seen: dict[str, set[str]] = {}
        for r in result:
            seen.setdefault(r["metric"]["job"], set()).add(r["metric"]["topic"])
        missing = {s: t - seen.get(s, set()) for s, t in CONSUMER_TOPICS.items()}
        return seen if not any(missing.values()) else None

    seen = stack.until(90, f"the lag series of {CONSUMER_TOPICS}", lag_topics)
    print("lag series:", {k: sorted(v) for k, v in seen.items()})


def _dashboard_queries() -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []

    def walk(dashboard: str, panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((dashboard, panel.get("title", ""), target["expr"]))
            walk(dashboard, panel.get("panels", []))

    for path in sorted((REPOSITORY / "deploy" / "grafana" / "dashboards").glob("*.json")):
        walk(path.name, json.loads(path.read_text()).get("panels", []))
    return found


def _grafana_macros(expr: str) -> str:
    """Grafana's interval macros as Grafana would expand them for a 1 h view."""
    return (
        expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "1h")
    )


def test_every_grafana_panel_query_runs_on_the_live_prometheus(stack: ComposeStack) -> None:
    queries = _dashboard_queries()
    assert queries, "no panel queries found in deploy/grafana/dashboards"
    # rate() and increase() need at least two samples per series: wait for three scrapes of
    # every service so that more panels have data (an empty result is still a valid one).
    stack.until(
        120,
        "three scrapes of the fetcher, tagger and alerter",
        lambda: (
            len(
                stack.prometheus(
                    "/api/v1/query",
                    query='count_over_time(up{job=~"fetcher|tagger|alerter"}[10m]) >= 3',
                )["result"]
            )
            >= 3
        ),
    )
    known = set(stack.prometheus("/api/v1/metadata"))
    problems: list[str] = []
    empty: list[str] = []
    for dashboard, title, expr in queries:
        query = _grafana_macros(expr)
        assert "$" not in query, f"{dashboard} {title!r}: a variable this test cannot expand"
        for parameters in ({"query": query}, {"query": query, "start": str(time.time() - 3600),
                           "end": str(time.time()), "step": "60"}):  # fmt: skip
            path = "/api/v1/query_range" if "step" in parameters else "/api/v1/query"
            response = httpx.get(f"{PROMETHEUS}{path}", params=parameters, timeout=30)
            body = response.json()
            if response.status_code != 200 or body.get("status") != "success":
                problems.append(f"{dashboard} {title!r}: {path} {body.get('error', body)}")
                continue
            if body["data"]["resultType"] not in {"vector", "matrix", "scalar"}:
                problems.append(f"{dashboard} {title!r}: result {body['data']['resultType']}")
            if path.endswith("query") and not body["data"]["result"]:
                empty.append(f"{dashboard}: {title}")
        for name in set(re.findall(r"\bmediawatch_[a-z0-9_]+", expr)):
            base = re.sub(r"_(bucket|sum|count|total)$", "", name)
            if name not in known and base not in known and f"{base}_total" not in known:
                problems.append(f"{dashboard} {title!r}: no service exports {name}")
    print(f"\n{len(queries)} panel queries ran; without data yet: {sorted(set(empty))}")
    assert not problems, "\n".join(problems)


def test_alertmanager_has_the_alert_routed_to_its_receiver(stack: ComposeStack) -> None:
    alert_id = f"{RULE}:{State.oped_id}"

    def routed() -> list[dict[str, Any]]:
        response = httpx.get(
            f"{ALERTMANAGER}/api/v2/alerts",
            params={"filter": f'alert_id="{alert_id}"'},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        alerts: list[dict[str, Any]] = response.json()
        return alerts

    deadline = time.monotonic() + 60
    alerts = routed()
    while not alerts and time.monotonic() < deadline:
        time.sleep(2)
        alerts = routed()
    assert alerts, f"Alertmanager never received {alert_id}"
    [alert] = alerts
    assert alert["labels"]["alertname"] == "MediawatchWatchRule"
    assert alert["labels"]["rule_id"] == RULE
    assert [r["name"] for r in alert["receivers"]] == ["record-only"]
    assert alert["status"]["state"] == "active"


def test_three_taggers_share_the_partitions_and_tag_a_whole_stream(stack: ComposeStack) -> None:
    stack.compose("up", "--detach", "--no-recreate", "--scale", "tagger=3", "tagger")
    stack.wait_healthy(180)
    taggers = [r for r in stack.containers() if r["Service"] == "tagger"]
    assert len(taggers) == 3

    def owners() -> set[str] | None:
        result = stack.compose(
            "exec", "-T", "kafka", "/opt/kafka/bin/kafka-consumer-groups.sh",
            "--bootstrap-server", "kafka:9092", "--describe", "--group", "mediawatch-tagger",
            check=False,
        )  # fmt: skip
        consumers = {
            line.split()[6]
            for line in result.stdout.splitlines()
            if line.startswith("mediawatch-tagger") and "mediawatch.articles.fetched" in line
        }
        return consumers if len(consumers) == 3 else None

    consumers = stack.until(180, "the fetched-articles partitions shared by 3 taggers", owners)
    print(f"\nconsumers of mediawatch.articles.fetched: {sorted(consumers)}")
    articles = filler_articles(30, uuid.uuid4().hex[:6])
    ids = {o["article_id"] for o in stack.post(articles)}
    assert len(ids) == 30
    stack.read_until(TAGGED, lambda v: ids <= tagged_ids(v), 240, "30 articles tagged")


def test_a_killed_tagger_loses_nothing(stack: ComposeStack) -> None:
    articles = filler_articles(20, uuid.uuid4().hex[:6])
    ids = {o["article_id"] for o in stack.post(articles)}
    stack.compose("kill", "tagger")
    stack.compose("up", "--detach", "--scale", "tagger=1", "tagger")
    stack.wait_healthy(180)
    stack.read_until(TAGGED, lambda v: ids <= tagged_ids(v), 240, "20 articles after the kill")


def test_down_and_up_keep_the_alert_once_and_the_duplicate_memory(stack: ComposeStack) -> None:
    stack.down(volumes=False)
    stack.up_and_wait(build=False)
    [again] = stack.post([oped_article()])
    assert again["status"] == "duplicate", again
    assert again["duplicate_of"] == State.oped_id, again
    # A new alert after the restart: when its alert is on the topic, the alerter has read the
    # tagged articles again from its committed offsets, op-ed included.
    sentinel = oped_article() | {
        "title": "Indivisible security, again",
        "text": f"Officials again invoked indivisible security. Reference {uuid.uuid4().hex}.",
    }
    [fresh] = stack.post([sentinel])
    values = stack.read_until(
        ALERTS, lambda v: bool(alerts_for(v, fresh["article_id"])), 180, "the sentinel's alert"
    )
    assert len(alerts_for(values, State.oped_id)) == 1, "the op-ed's alert fired twice"
