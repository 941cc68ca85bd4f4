"""The alerter through the real broker, as a real worker process: each-match alerts delivered
to a webhook on loopback, a flaky receiver that still gets everything, a threshold window that
survives SIGKILL, and spike and digest rules on generated streams (event time, no sleeping)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from mediawatch.alerter.counted import CountedKey
from mediawatch.alerter.notify import ALERT_ID_HEADER, SIGNATURE_HEADER, signature
from mediawatch.fetcher.files import read_article
from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import (
    Alert,
    ArticleTagged,
    DeadLetter,
    NotificationFailed,
    cloudevent_headers,
)
from mediawatch.tagger.pipeline import Tagger
from mediawatch.tagger.settings import TaggerSettings
from tests.support.alerter import at, tagged
from tests.support.environment import REPOSITORY, settings_environment
from tests.support.kafka_io import produce, read_all, read_topic
from tests.support.workers import ServiceProcess, start_ready

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OPED = REPOSITORY / "tests" / "tagger" / "fixtures" / "oped-indivisible.txt"
HOOK_SECRET = "not-a-real-secret-but-long-enough"


@dataclass
class Receiver:
    """A webhook receiver on loopback that answers 500 to its first ``fail_first`` calls."""

    fail_first: int = 0
    calls: int = 0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        body = await request.read()
        if self.calls <= self.fail_first:
            return web.Response(status=500, text="down for maintenance")
        self.received.append((dict(request.headers), body))
        return web.Response(status=204)

    def alert_ids(self) -> list[str]:
        return [headers[ALERT_ID_HEADER] for headers, _ in self.received]


@pytest.fixture
async def receivers() -> AsyncIterator[Callable[[int], Any]]:
    runners: list[web.AppRunner] = []

    async def start(fail_first: int = 0) -> Receiver:
        receiver = Receiver(fail_first=fail_first)
        app = web.Application()
        app.router.add_post("/hook", receiver.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        receiver.url = f"http://127.0.0.1:{port}/hook"
        runners.append(runner)
        return receiver

    yield start
    for runner in runners:
        await runner.cleanup()


class AlerterProcess(ServiceProcess):
    """``mediawatch alerter run`` through the console entry point's function."""

    def start(self) -> AlerterProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from mediawatch.cli.main import main; main()", *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self


def _worker(
    settings: KafkaSettings, tmp_path: Path, rules: list[dict[str, Any]], app_id: str, **env: str
) -> ServiceProcess:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"version": 1, "rules": rules}))
    variables = (
        settings_environment(settings)
        | {
            "MEDIAWATCH_APP_ID": app_id,
            "MEDIAWATCH_RULES_FILE": str(rules_file),
            "MEDIAWATCH_STATE_DIR": str(tmp_path / "state"),
            "MEDIAWATCH_KAFKA_SESSION_TIMEOUT_S": "6",
            "MEDIAWATCH_NOTIFY_ATTEMPTS": "2",
            "MEDIAWATCH_NOTIFY_BACKOFF_S": "0.05",
            "MEDIAWATCH_NOTIFY_RETRY_DELAY_S": "0.2",
            "MEDIAWATCH_NOTIFY_RETRY_MAX_DELAY_S": "1",
            "MEDIAWATCH_DIGEST_TICK_S": "0",
            "MEDIAWATCH_LOG_FORMAT": "text",
            "HOOK_SECRET": HOOK_SECRET,
        }
        | env
    )
    return AlerterProcess(["alerter", "run"], variables, tmp_path / f"{app_id}.log")


async def _start(worker: ServiceProcess) -> ServiceProcess:
    await start_ready(worker)
    return worker


async def _produce_tagged(settings: KafkaSettings, events: list[ArticleTagged], key: bytes) -> None:
    """One key for all, so the articles keep their order through the one partition."""
    records = [(key, e.to_json(), cloudevent_headers(e, source="/tests")) for e in events]
    await produce(settings, settings.topic_articles_tagged, records)


async def _eventually(
    check: Callable[[], bool], worker: ServiceProcess, timeout_s: float = 90.0
) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                if check():
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"condition not reached; log:\n{worker.log_tail(8000)}") from None


def _metric(worker: ServiceProcess, name: str) -> float | None:
    for line in worker.metrics().splitlines():
        if line.startswith(name + " ") or (
            line.startswith(name + "{") and line.split(" ")[0] == name
        ):
            return float(line.rsplit(" ", 1)[1])
    return None


async def _wait_metric(worker: ServiceProcess, name: str, value: float) -> None:
    async with asyncio.timeout(90):
        while True:
            if await asyncio.to_thread(_metric, worker, name) == value:
                return
            await asyncio.sleep(0.3)


async def test_each_match_alert_is_published_once_and_delivered_despite_a_flaky_receiver(
    kafka_settings: KafkaSettings, tmp_path: Path, receivers: Callable[[int], Any]
) -> None:
    await ensure_topics(kafka_settings)
    good: Receiver = await receivers(0)
    flaky: Receiver = await receivers(5)
    rule = {
        "id": "indivisible-security",
        "description": "indivisible security invoked",
        "severity": "warning",
        "condition": {"themes": ["indivisible-security"], "query": '"indivisible security"'},
        "mode": "each_match",
        "notify": [
            {"name": "good", "type": "webhook", "url": good.url, "secret_env": "HOOK_SECRET"},
            {"name": "flaky", "type": "webhook", "url": flaky.url},
        ],
    }
    worker = await _start(_worker(kafka_settings, tmp_path, [rule], f"al-{uuid.uuid4().hex[:6]}"))
    try:
        oped = Tagger.from_settings(TaggerSettings()).tag(read_article(OPED))
        unrelated = tagged("unrelated", themes=("brics",))
        await _produce_tagged(kafka_settings, [oped, unrelated], b"k")
        alerts = await read_topic(
            kafka_settings, kafka_settings.topic_alerts, until=lambda r: len(r) >= 1
        )
        assert len(alerts) == 1, worker.log_tail()
        alert = Alert.from_json(alerts[0].value or b"")
        assert alerts[0].key == b"indivisible-security"
        assert alert.alert_id == f"indivisible-security:{oped.article_id}"
        assert alert.articles[0].title == oped.article.title
        assert alert.articles[0].url == oped.article.url
        assert any("indivisible security" in e.text.lower() for e in alert.articles[0].evidence)
        headers = {k: v.decode() for k, v in alerts[0].headers.items()}
        assert headers["ce_type"] == "io.mediawatch.Alert.v1"
        assert headers["ce_id"] == alert.alert_id

        await _eventually(lambda: len(good.received) >= 1 and len(flaky.received) >= 1, worker)
        # a second alert is the barrier: once it is delivered, the first was not repeated
        second = tagged("second", themes=("indivisible-security",),
                        text="They spoke of indivisible security again.")  # fmt: skip
        await _produce_tagged(kafka_settings, [second], b"k")
        await _eventually(lambda: len(good.received) >= 2 and len(flaky.received) >= 2, worker)
        expected = [alert.alert_id, "indivisible-security:second"]
        assert good.alert_ids() == expected
        assert flaky.alert_ids() == expected
        headers_in, body = good.received[0]
        assert headers_in[SIGNATURE_HEADER] == signature(HOOK_SECRET, body)
        assert json.loads(body)["alert_id"] == alert.alert_id
        assert flaky.calls > len(flaky.received)  # it did fail first

        parked = [
            NotificationFailed.from_json(r.value or b"")
            for r in await read_all(kafka_settings, kafka_settings.topic_notifications_retry)
        ]
        assert parked and {p.destination for p in parked} == {"flaky"}
        assert all("HTTP 500" in p.last_error for p in parked)
        alerts = await read_all(kafka_settings, kafka_settings.topic_alerts)
        assert len(alerts) == 2
        metrics = worker.metrics()
        assert 'mediawatch_notifications_total{destination="flaky",outcome="parked"' in metrics
        assert HOOK_SECRET not in worker.log_tail(100_000)
    finally:
        worker.stop()


async def test_threshold_window_survives_sigkill_without_loss_or_duplicate(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    rule = {
        "id": "burst",
        "condition": {"themes": ["nato-expansion"]},
        "mode": {"type": "threshold", "count": 3, "window": "1h"},
        "cooldown": "1h",
    }
    app_id = f"al-{uuid.uuid4().hex[:6]}"
    worker = await _start(_worker(kafka_settings, tmp_path, [rule], app_id))
    gauge = 'mediawatch_alerter_window_matches{rule="burst"}'
    try:
        first_two = [tagged(f"n{i}", at(i), themes=("nato-expansion",)) for i in (1, 2)]
        await _produce_tagged(kafka_settings, first_two, b"n")
        await _wait_metric(worker, gauge, 2.0)
        worker.kill()
        assert await read_all(kafka_settings, kafka_settings.topic_alerts) == []

        worker = await _start(_worker(kafka_settings, tmp_path, [rule], app_id))
        rest = [tagged(f"n{i}", at(i), themes=("nato-expansion",)) for i in (3, 4)]
        await _produce_tagged(kafka_settings, first_two[:1] + rest, b"n")  # n1 again: a replay
        await _wait_metric(worker, gauge, 4.0)
        alerts = [
            Alert.from_json(r.value or b"")
            for r in await read_all(kafka_settings, kafka_settings.topic_alerts)
        ]
        assert [a.alert_id for a in alerts] == ["burst:threshold:20250303T060100Z"], (
            worker.log_tail()
        )
        assert [a.article_id for a in alerts[0].articles] == ["n1", "n2", "n3"]
        assert alerts[0].statistics["count"] == 3
    finally:
        worker.stop()


async def test_each_match_memory_is_written_as_small_records_and_survives_a_kill(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    """Remembering one more counted article must not rewrite the rule's whole memory (it
    once wrote ~230 kB per alert), and the memory must still hold across a SIGKILL."""
    await ensure_topics(kafka_settings)
    rule = {"id": "every", "condition": {"themes": ["brics"]}, "mode": "each_match"}
    app_id = f"al-{uuid.uuid4().hex[:6]}"
    count = 600
    events = [tagged(f"e{i:04d}", at(i / 10), themes=("brics",)) for i in range(count)]
    worker = await _start(_worker(kafka_settings, tmp_path, [rule], app_id))
    try:
        await _produce_tagged(kafka_settings, events, b"e")
        await _wait_metric(worker, 'mediawatch_alerts_total{mode="each_match",rule="every",'
                           'severity="warning"}', float(count))  # fmt: skip
        worker.kill()
        worker = await _start(_worker(kafka_settings, tmp_path, [rule], app_id))
        fresh = tagged("fresh", at(count), themes=("brics",))
        await _produce_tagged(kafka_settings, [*events[:50], fresh], b"e")  # 50 replays
        alerts = await read_topic(
            kafka_settings,
            kafka_settings.topic_alerts,
            until=lambda got: any(r.value and b'"every:fresh"' in r.value for r in got),
        )
    finally:
        worker.stop()
    ids = [Alert.from_json(r.value or b"").alert_id for r in alerts]
    assert sorted(ids) == sorted(f"every:{e.article_id}" for e in [*events, fresh]), (
        "each article alerted once, the replays not again"
    )
    memory = await read_all(kafka_settings, f"{app_id}-counted-articles-changelog")
    keys = {CountedKey.decode(json.loads(r.key or b"")) for r in memory}
    assert keys == {CountedKey("every", e.article_id) for e in [*events, fresh]}
    assert len(memory) == count + 1, "one record per counted article"
    states = await read_all(kafka_settings, f"{app_id}-rule-states-changelog")
    assert {json.loads(r.key or b"") for r in states} == {"every"}
    largest = max(len(r.value or b"") for r in [*states, *memory])
    assert largest < 16_000, f"a changelog record of {largest} bytes"


async def test_spike_and_digest_fire_on_generated_streams(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    rules = [
        {
            "id": "surge",
            "condition": {"themes": ["brics"]},
            "mode": {
                "type": "spike",
                "window": "1h",
                "baseline": "6h",
                "min_count": 4,
                "min_ratio": 3,
            },
            "cooldown": "6h",
        },
        {
            "id": "daily",
            "condition": {"themes": ["global-south"]},
            "mode": {"type": "digest", "cron": "0 8 * * *", "timezone": "UTC"},
        },
    ]
    worker = await _start(_worker(kafka_settings, tmp_path, rules, f"al-{uuid.uuid4().hex[:6]}"))
    try:
        baseline = [tagged(f"b{i}", at(i * 60), themes=("brics",)) for i in range(6)]  # 1/hour
        burst = [tagged(f"s{i}", at(360 + 10 * i), themes=("brics",)) for i in range(5)]
        digest = [
            tagged("g1", at(10), themes=("global-south",), actors=("org:brics",)),
            tagged("g2", at(70), themes=("global-south",)),
            tagged("g3", at(125), themes=("global-south",)),  # 08:05: past the slot
        ]
        await _produce_tagged(kafka_settings, baseline + digest[:2] + burst + digest[2:], b"s")
        found = await read_topic(
            kafka_settings, kafka_settings.topic_alerts, until=lambda r: len(r) >= 2
        )
        alerts = {a.rule_id: a for a in (Alert.from_json(r.value or b"") for r in found)}
        assert set(alerts) == {"surge", "daily"}, worker.log_tail()
        spike_alert = alerts["surge"]
        assert spike_alert.mode.value == "spike"
        assert spike_alert.statistics["count"] == 4  # fired on the fourth of the burst
        assert spike_alert.statistics["ratio"] >= 3
        daily = alerts["daily"]
        assert daily.alert_id == "daily:digest:20250303T080000Z"
        assert [a.article_id for a in daily.articles] == ["g1", "g2"]
        assert daily.groups == {"theme:global-south": 2, "actor:org:brics": 1}
    finally:
        worker.stop()


def _sample(metrics_text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition, whatever the order of its labels."""
    wanted = {f'{key}="{value}"' for key, value in labels.items()}
    for line in metrics_text.splitlines():
        series, _, value = line.rpartition(" ")
        if series.startswith(name + "{") and set(series[len(name) + 1 : -1].split(",")) == wanted:
            return float(value)
    return None


async def test_matches_held_by_a_cooldown_are_summarised_with_the_rules_version(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    rule = {"id": "calm", "condition": {"themes": ["brics"]}, "cooldown": "10m"}
    worker = await _start(_worker(kafka_settings, tmp_path, [rule], f"al-{uuid.uuid4().hex[:6]}"))
    version = hashlib.sha256((tmp_path / "rules.yaml").read_bytes()).hexdigest()[:16]
    try:
        events = [
            tagged("c1", at(0), themes=("brics",)),
            tagged("c2", at(2), themes=("brics",)),  # held by the cooldown
            tagged("c3", at(4), themes=("brics",)),  # held
            tagged("c3-reprint", at(5), themes=("brics",), duplicate_of="c3"),  # no match
            tagged("c4", at(12), themes=("brics",)),  # after the cooldown
        ]
        await _produce_tagged(kafka_settings, events, b"c")
        found = await read_topic(
            kafka_settings, kafka_settings.topic_alerts, until=lambda r: len(r) >= 3
        )
        alerts = [Alert.from_json(r.value or b"") for r in found]
        assert [a.alert_id for a in alerts] == ["calm:c1", "calm:more:c2", "calm:c4"], (
            worker.log_tail()
        )
        summary = alerts[1]
        assert "2 more matches" in summary.summary
        assert [a.article_id for a in summary.articles] == ["c2", "c3"]
        assert {a.rules_version for a in alerts} == {version}
        assert {a.schema_version for a in alerts} == {Alert.current_version}
        exposition = worker.metrics()
        theme = "mediawatch_theme_matches_total"
        assert _sample(exposition, theme, theme="brics", kind="story") == 4.0
        assert _sample(exposition, theme, theme="brics", kind="reprint") == 1.0
        suppressed = "mediawatch_alerts_suppressed_total"
        assert _sample(exposition, suppressed, rule="calm", reason="cooldown") == 2.0
    finally:
        worker.stop()


async def test_the_timer_publishes_the_summary_when_no_later_match_comes(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    rule = {"id": "quiet", "condition": {"themes": ["brics"]}, "cooldown": "10m"}
    app_id = f"al-{uuid.uuid4().hex[:6]}"
    worker = _worker(kafka_settings, tmp_path, [rule], app_id, MEDIAWATCH_DIGEST_TICK_S="1")
    worker = await _start(worker)
    try:
        events = [tagged("q1", at(0), themes=("brics",)), tagged("q2", at(3), themes=("brics",))]
        await _produce_tagged(kafka_settings, events, b"q")
        found = await read_topic(
            kafka_settings, kafka_settings.topic_alerts, until=lambda r: len(r) >= 2
        )
        alerts = [Alert.from_json(r.value or b"") for r in found]
        assert [a.alert_id for a in alerts] == ["quiet:q1", "quiet:more:q2"], worker.log_tail()
        assert "1 more match" in alerts[1].summary
        assert [a.article_id for a in alerts[1].articles] == ["q2"]
    finally:
        worker.stop()


async def test_a_rule_input_that_fails_is_dead_lettered_and_the_partition_moves_on(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    rule = {"id": "dl", "condition": {"themes": ["brics"]}}
    app_id = f"al-{uuid.uuid4().hex[:6]}"
    worker = await _start(_worker(kafka_settings, tmp_path, [rule], app_id))
    matches_topic = f"{app_id}-rule-matches"
    bad = b'{"kind":"match","rule_id":"dl","at":"not a time","story":"x","article":{}}'
    try:
        # Same key as the rule's own matches: the same partition, ahead of the good one.
        await produce(kafka_settings, matches_topic, [(b"dl", bad, None)])
        await _produce_tagged(kafka_settings, [tagged("ok", at(0), themes=("brics",))], b"d")
        found = await read_topic(
            kafka_settings, kafka_settings.topic_alerts, until=lambda r: len(r) >= 1
        )
        assert [Alert.from_json(r.value or b"").alert_id for r in found] == ["dl:ok"]
        letters = await read_topic(
            kafka_settings,
            kafka_settings.topic_deadletter,
            until=lambda got: any(b"rule-matches" in (r.value or b"") for r in got),
        )
        mine = [DeadLetter.from_json(r.value or b"") for r in letters]
        mine = [letter for letter in mine if letter.origin_topic == matches_topic]
        assert len(mine) == 1, worker.log_tail()
        letter = mine[0]
        assert letter.value == bad and letter.key == b"dl"
        assert letter.service == "alerter"
        assert letter.error_type == "ValueError" and "not a time" in letter.error_message
        dead = "mediawatch_dead_letters_total"
        exposition = worker.metrics()
        assert _sample(exposition, dead, service="alerter", origin_topic=matches_topic,
                       error_type="ValueError") == 1.0  # fmt: skip
    finally:
        worker.stop()


async def test_the_skip_policy_holds_for_both_of_the_alerters_streams(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    """MEDIAWATCH_ON_ERROR=skip is the alerter's choice too, on the articles it reads and on
    its internal rule inputs: the bad records are counted and left, nothing is dead-lettered,
    and the good article after them still alerts."""
    await ensure_topics(kafka_settings)
    rule = {"id": "sk", "condition": {"themes": ["brics"]}}
    app_id = f"al-{uuid.uuid4().hex[:6]}"
    worker = await _start(
        _worker(kafka_settings, tmp_path, [rule], app_id, MEDIAWATCH_ON_ERROR="skip")
    )
    matches_topic = f"{app_id}-rule-matches"
    try:
        await produce(kafka_settings, matches_topic, [(b"sk", b'{"kind":"rewind"}', None)])
        await produce(kafka_settings, kafka_settings.topic_articles_tagged, [(b"s", b"{", None)])
        await _produce_tagged(kafka_settings, [tagged("ok", at(0), themes=("brics",))], b"s")
        found = await read_topic(
            kafka_settings, kafka_settings.topic_alerts, until=lambda r: len(r) >= 1
        )
        assert [Alert.from_json(r.value or b"").alert_id for r in found] == ["sk:ok"]
        skipped = "mediawatch_records_skipped_total"
        exposition = worker.metrics()
        for topic in (matches_topic, kafka_settings.topic_articles_tagged):
            counted = _sample(exposition, skipped, service="alerter", topic=topic, step="decode")
            assert counted == 1.0, (topic, worker.log_tail())
        letters = [line for line in exposition.splitlines()
                   if line.startswith("mediawatch_dead_letters_total{")]  # fmt: skip
        assert letters == [], letters
    finally:
        worker.stop()


async def test_a_rule_added_to_the_rules_file_alerts_without_a_restart(
    kafka_settings: KafkaSettings, tmp_path: Path, receivers: Callable[[int], Any]
) -> None:
    """The workspace rewrites the rules file (os.replace) while the alerter runs: a broken
    version is refused and counted, the valid one after it is taken by the same process, and
    only articles that come after the reload alert for the new rule, through the evaluation
    and the delivery of the new rule's destination."""
    await ensure_topics(kafka_settings)
    hook: Receiver = await receivers(0)
    first = {"id": "first", "condition": {"themes": ["brics"]}}
    added = {
        "id": "added",
        "condition": {"themes": ["global-south"]},
        "notify": [{"name": "desk", "type": "webhook", "url": hook.url}],
    }
    worker = _worker(kafka_settings, tmp_path, [first], f"al-{uuid.uuid4().hex[:6]}",
                     MEDIAWATCH_RULES_RELOAD_S="0.5")  # fmt: skip
    worker = await _start(worker)
    rules_file = tmp_path / "rules.yaml"
    old_version = hashlib.sha256(rules_file.read_bytes()).hexdigest()[:16]
    pid = worker.pid

    def rewrite(rules: list[dict[str, Any]]) -> str:
        temporary = tmp_path / "rules.yaml.tmp"
        temporary.write_text(yaml.safe_dump({"version": 1, "rules": rules}))
        os.replace(temporary, rules_file)
        return hashlib.sha256(rules_file.read_bytes()).hexdigest()[:16]

    async def sample(name: str, value: float, **labels: str) -> None:
        await _eventually(lambda: _sample(worker.metrics(), name, **labels) == value, worker)

    try:
        # "before" would match the added rule; the alert of "b1" behind it (same partition) is
        # the barrier that it was evaluated under the first rules alone
        before = tagged("before", at(0), themes=("global-south",))
        barrier = tagged("b1", at(1), themes=("brics",))
        await _produce_tagged(kafka_settings, [before, barrier], b"r")
        await read_topic(kafka_settings, kafka_settings.topic_alerts, until=lambda r: len(r) >= 1)

        rewrite([first, {**added, "mode": {"type": "threshold", "window": "1h"}}])  # no count
        await sample("mediawatch_rules_reload_failures_total", 1.0, reason="invalid")
        assert "mode.count: Field required" in worker.log_tail(20_000)

        new_version = rewrite([first, added])
        # set after the evaluator switched to the new rules
        await sample("mediawatch_alerter_rules", 2.0, mode="each_match")
        exposition = worker.metrics()
        version = "mediawatch_alerter_rules_version_info"
        assert _sample(exposition, version, rules_version=new_version) == 1.0
        assert _sample(exposition, version, rules_version=old_version) is None
        assert _metric(worker, "mediawatch_rules_reloads_total") == 1.0
        after = tagged("after", at(2), themes=("global-south",))
        second = tagged("b2", at(3), themes=("brics",))
        await _produce_tagged(kafka_settings, [after, second], b"r")
        found = await read_topic(
            kafka_settings, kafka_settings.topic_alerts, until=lambda r: len(r) >= 3
        )
        alerts = [Alert.from_json(r.value or b"") for r in found]  # partitions: any order
        assert sorted((a.alert_id, a.rules_version) for a in alerts) == [
            ("added:after", new_version),
            ("first:b1", old_version),
            ("first:b2", new_version),
        ], worker.log_tail()
        await _eventually(lambda: len(hook.received) >= 1, worker)
        assert hook.alert_ids() == ["added:after"]
        assert len(await read_all(kafka_settings, kafka_settings.topic_alerts)) == 3
        assert worker.process is not None and worker.process.poll() is None, "never restarted"
        os.kill(pid, 0)  # raises if no process of that id runs
    finally:
        worker.stop()
