"""SIGKILL in the middle of a stream of 2,000 articles, for each service, then an accounting
over the output topics: no article lost, no alert id duplicated (after de-duplication by id,
the same alerts as a run without a kill), every rejected input in the dead-letter topic (or
the inbox's ``failed/`` folder) with its reason.

Duplicates in an output topic are allowed where the services promise at-least-once (a replay
after a crash); they must then be the same event: same id, same content.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mediawatch.alerter.rules import load_rules
from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import Alert, ArticleFetched, ArticleTagged, cloudevent_headers
from mediawatch.tagger.pipeline import Tagger
from mediawatch.tagger.settings import TaggerSettings
from tests.support.alerter import Runner, at, tagged
from tests.support.articles import article
from tests.support.environment import settings_environment
from tests.support.faults import (
    ARTICLES,
    SESSION_TIMEOUT_S,
    TEXTS,
    TaggedAccount,
    account_dead_letters,
    account_fetched,
    account_inbox,
    count_keys,
    eventually,
    fetcher_worker,
    files_in,
    fill_inbox,
    metric,
    processed,
    read_all,
    summary,
    tag_signature,
    tagger_worker,
    write_inbox_sources,
)
from tests.support.kafka_io import produce, read_topic
from tests.support.workers import ServiceProcess, start_ready

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

#: Rejected inputs of the stream services, by value, with the reason their dead letter gives.
BAD_FETCHED = {
    b"not json %d": "not valid JSON",
    b'{"schema_version": "1.0", "article_id": %d}': "Field required",
    b'{"schema_version": "9.0", "n": %d}': "is not supported",
}


def _articles(first: int, last: int) -> list[ArticleFetched]:
    return [
        article(f"art-{i:04d}", text=TEXTS[i % len(TEXTS)].format(i=i)) for i in range(first, last)
    ]


def _bad_records(batch: int) -> dict[bytes, str]:
    return {
        template % (batch * 10 + n): reason
        for n, (template, reason) in enumerate(BAD_FETCHED.items())
    }


async def _produce_articles(
    settings: KafkaSettings, articles: list[ArticleFetched], bad: dict[bytes, str]
) -> None:
    """The articles with the bad records spread among them."""
    records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]] | None]] = [
        (a.article_id.encode(), a.to_json(), cloudevent_headers(a, source="/tests"))
        for a in articles
    ]
    step = max(1, len(records) // (len(bad) + 1))
    for n, value in enumerate(bad):
        records.insert((n + 1) * step + n, (f"bad-{n}".encode(), value, None))
    await produce(settings, settings.topic_articles_fetched, records)


async def _account_tagged(
    settings: KafkaSettings, articles: list[ArticleFetched], bad: dict[bytes, str], name: str
) -> TaggedAccount:
    """No article lost; duplicates identical and equal to tagging the article locally; every
    bad record dead-lettered by the tagger with its reason."""
    account = TaggedAccount.of(await read_all(settings, settings.topic_articles_tagged))
    expected = {a.article_id for a in articles}
    missing = expected - set(account.by_id)
    assert not missing, f"{len(missing)} articles never tagged, e.g. {sorted(missing)[:5]}"
    assert set(account.by_id) == expected
    assert account.inconsistent() == []
    local = Tagger.from_settings(TaggerSettings())
    for source in articles:
        assert tag_signature(account.by_id[source.article_id][0]) == tag_signature(
            local.tag(source)
        ), source.article_id
    letters = await read_all(settings, settings.topic_deadletter)
    account_dead_letters(letters, bad, "tagger")
    summary(name, tagged_records=account.records, articles=len(account.by_id),
            duplicates=account.duplicates, dead_letters=len(letters))  # fmt: skip
    return account


async def _wait_tagged(
    settings: KafkaSettings, expected: int, workers: list[ServiceProcess]
) -> None:
    records = await read_topic(
        settings,
        settings.topic_articles_tagged,
        until=lambda r: len({x.key for x in r}) >= expected,
        timeout_s=240,
    )
    if len({r.key for r in records}) < expected:
        logs = "\n".join(f"--- {w.log_path.name}:\n{w.log_tail(4000)}" for w in workers)
        raise AssertionError(f"{len({r.key for r in records})} of {expected} tagged\n{logs}")


async def test_tagger_killed_mid_stream_tags_every_article_after_restart(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    app_id = f"tagger-{uuid.uuid4().hex[:6]}"
    articles = _articles(0, ARTICLES)
    bad_first, bad_second = _bad_records(1), _bad_records(2)
    cut = 1200  # produced before the kill; the rest arrives while the tagger is down
    await _produce_articles(kafka_settings, articles[:cut], bad_first)
    worker = tagger_worker(kafka_settings, tmp_path, app_id, "tagger")
    worker.start()
    try:
        await eventually(
            lambda: (processed(worker, "tagger") or 0) >= 300,
            "the tagger tags its first 300 articles",
            workers=[worker],
            interval_s=0.05,
        )
        worker.kill()
        tagged_at_kill = await count_keys(kafka_settings, kafka_settings.topic_articles_tagged)
        assert 0 < tagged_at_kill < ARTICLES, tagged_at_kill

        await _produce_articles(kafka_settings, articles[cut:], bad_second)
        worker = tagger_worker(kafka_settings, tmp_path, app_id, "tagger").start()
        await _wait_tagged(kafka_settings, ARTICLES, [worker])
        await eventually(
            lambda: (processed(worker, "tagger") or 0) >= ARTICLES - tagged_at_kill,
            "the restarted tagger counts what it tagged",
            workers=[worker],
        )
    finally:
        worker.stop()
    summary("tagger-kill", tagged_at_kill=tagged_at_kill)
    await _account_tagged(kafka_settings, articles, bad_first | bad_second, "tagger-kill")


async def test_second_tagger_takes_over_the_partitions_of_a_killed_one(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    app_id = f"tagger-{uuid.uuid4().hex[:6]}"
    survivor = tagger_worker(kafka_settings, tmp_path, app_id, "survivor")
    victim = tagger_worker(kafka_settings, tmp_path, app_id, "victim")
    articles = _articles(0, ARTICLES)
    bad = _bad_records(3)
    cut = 1200
    try:
        await start_ready(survivor, victim)

        async def shared() -> bool:  # both hold partitions of the same group
            answers = [await asyncio.to_thread(_readiness, w) for w in (survivor, victim)]
            return all(a is not None and a["ready"] for a in answers)

        await eventually(shared, "both workers hold partitions", workers=[survivor, victim])
        await _produce_articles(kafka_settings, articles[:cut], bad)
        await eventually(
            lambda: (processed(victim, "tagger") or 0) >= 100,
            "the victim tags its first 100 articles",
            workers=[survivor, victim],
            interval_s=0.05,
        )
        victim_count = processed(victim, "tagger") or 0
        before = await asyncio.to_thread(_readiness, survivor)
        victim.kill()
        await _produce_articles(kafka_settings, articles[cut:], {})
        await _wait_tagged(kafka_settings, ARTICLES, [survivor, victim])
        readiness = await asyncio.to_thread(_readiness, survivor)
        survivor_count = processed(survivor, "tagger") or 0
    finally:
        survivor.stop()
        victim.stop()
    # the survivor holds more partitions than before: the victim's moved to it
    assert before is not None and readiness is not None
    assert _partitions(readiness) > _partitions(before), (before, readiness)
    summary("two-taggers", victim_before_kill=victim_count, survivor=survivor_count)
    # The articles written after the kill, on every partition, the victim's included, are the
    # survivor's alone. (The victim's own count is only a reading taken before the kill: it
    # may have tagged and committed a few more before the signal landed.)
    assert survivor_count >= ARTICLES - cut, (survivor_count, victim_count)
    await _account_tagged(kafka_settings, articles, bad, "two-taggers")


def _partitions(readiness: dict[str, Any]) -> int:
    return int(str(readiness["reason"]).split()[0])


def _readiness(worker: ServiceProcess) -> dict[str, Any] | None:
    try:
        answer = httpx.get(f"http://127.0.0.1:{worker.http_port}/readyz", timeout=2.0)
    except httpx.HTTPError:
        return None
    result: dict[str, Any] = answer.json()
    return result


# -- the alerter ---------------------------------------------------------------------------

ALERT_RULES: list[dict[str, Any]] = [
    {
        "id": "burst",
        "condition": {"themes": ["nato-expansion"]},
        "mode": {"type": "threshold", "count": 5, "window": "30m"},
    },
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
    },
    {"id": "each", "condition": {"themes": ["global-south"]}, "mode": "each_match"},
]
BAD_TAGGED = {
    b"not json, tagged %d": "not valid JSON",
    b'{"schema_version": "1.0", "article": %d}': "Field required",
}


def _tagged_stream() -> list[ArticleTagged]:
    """One article a minute of event time: nato-expansion every 4 minutes (threshold windows
    fill and fire all the time), brics once in two hours plus a burst of five every five hours
    (spikes), global-south every 50 minutes (each_match)."""
    events = []
    for i in range(ARTICLES):
        themes = []
        if i % 4 == 1:
            themes.append("nato-expansion")
        if i % 120 == 0 or i % 300 in (200, 210, 220, 230, 240):
            themes.append("brics")
        if i % 50 == 7:
            themes.append("global-south")
        events.append(tagged(f"t{i:04d}", at(i), themes=tuple(themes)))
    return events


async def _expected_alerts(rules_file: Path, events: list[ArticleTagged]) -> dict[str, Alert]:
    """The alerts of the stream, computed in process with the alerter's own evaluator."""
    ruleset = load_rules(rules_file)
    runner = Runner(*ruleset.enabled(), rules_version=ruleset.content_hash)
    for event in events:
        await runner.feed(event)
    return {alert.alert_id: alert for alert in runner.alerts}


def _alerter(settings: KafkaSettings, tmp_path: Path, rules: Path, app_id: str) -> ServiceProcess:
    env = settings_environment(settings) | {
        "MEDIAWATCH_APP_ID": app_id,
        "MEDIAWATCH_RULES_FILE": str(rules),
        "MEDIAWATCH_STATE_DIR": str(tmp_path / app_id),
        "MEDIAWATCH_KAFKA_SESSION_TIMEOUT_S": SESSION_TIMEOUT_S,
        "MEDIAWATCH_DIGEST_TICK_S": "0",
        "MEDIAWATCH_LOG_LEVEL": "INFO",
        "MEDIAWATCH_LOG_FORMAT": "json",
    }
    return ServiceProcess(["alerter", "run"], env, tmp_path / f"{app_id}.log")


async def _produce_tagged(
    settings: KafkaSettings, events: list[ArticleTagged], bad: dict[bytes, str]
) -> None:
    """One key for all, so the articles keep their (event-time) order in one partition."""
    records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]] | None]] = [
        (b"stream", e.to_json(), cloudevent_headers(e, source="/tests")) for e in events
    ]
    step = max(1, len(records) // (len(bad) + 1))
    for n, value in enumerate(bad):
        records.insert((n + 1) * step + n, (b"stream", value, None))
    await produce(settings, settings.topic_articles_tagged, records)


def _bad_tagged(batch: int) -> dict[bytes, str]:
    return {
        template % (batch * 10 + n): reason
        for n, (template, reason) in enumerate(BAD_TAGGED.items())
    }


def _alert_content(alert: Alert) -> tuple[object, ...]:
    return (
        alert.alert_id,
        alert.rule_id,
        [a.article_id for a in alert.articles],
        alert.window.model_dump(mode="json") if alert.window else None,
        alert.statistics,
        alert.rules_version,
    )


async def _wait_alerts(
    settings: KafkaSettings, expected: set[str], worker: ServiceProcess
) -> list[Alert]:
    def complete(records: list[Any]) -> bool:
        return expected <= {Alert.from_json(r.value or b"").alert_id for r in records}

    await read_topic(settings, settings.topic_alerts, until=complete, timeout_s=180)
    alerts = [Alert.from_json(r.value or b"") for r in await read_all(settings,
              settings.topic_alerts)]  # fmt: skip
    missing = expected - {a.alert_id for a in alerts}
    unexpected = {a.alert_id for a in alerts} - expected
    assert not missing, (
        f"{len(missing)} alerts missing, e.g. {sorted(missing)[:5]}; {len(unexpected)} "
        f"unexpected, e.g. {sorted(unexpected)[:5]}\n{worker.log_tail(3000)}"
    )
    return alerts


def _topics(kafka_settings: KafkaSettings, run: str) -> KafkaSettings:
    suffix = f"{run}{uuid.uuid4().hex[:6]}"
    return kafka_settings.model_copy(
        update={
            "topic_articles_tagged": f"test.{suffix}.articles.tagged",
            "topic_alerts": f"test.{suffix}.alerts",
            "topic_deadletter": f"test.{suffix}.deadletter",
            "topic_notifications_retry": f"test.{suffix}.notifications.retry",
        }
    )


def _by_id(alerts: list[Alert]) -> dict[str, Alert]:
    """De-duplicated by id; a repeated id must carry the same alert."""
    unique: dict[str, Alert] = {}
    for alert in alerts:
        first = unique.setdefault(alert.alert_id, alert)
        assert _alert_content(first) == _alert_content(alert), alert.alert_id
    return unique


async def test_alerter_killed_with_open_windows_fires_the_same_alerts_as_without(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"version": 1, "rules": ALERT_RULES}))
    events = _tagged_stream()
    expected = await _expected_alerts(rules, events)
    modes = {a.mode.value for a in expected.values()}
    assert modes == {"threshold", "spike", "each_match"}, modes  # the stream exercises each
    half = ARTICLES // 2

    # Run A: no kill.
    quiet = _topics(kafka_settings, "a")
    await ensure_topics(quiet)
    worker = _alerter(quiet, tmp_path, rules, f"al-a-{uuid.uuid4().hex[:6]}")
    bad_a = _bad_tagged(1)
    try:
        await start_ready(worker)
        await _produce_tagged(quiet, events, bad_a)
        without_kill = await _wait_alerts(quiet, set(expected), worker)
    finally:
        worker.stop()
    account_dead_letters(await read_all(quiet, quiet.topic_deadletter), bad_a, "alerter")

    # Run B: SIGKILL while threshold and spike windows hold matches, restart, the rest.
    crashed = _topics(kafka_settings, "b")
    await ensure_topics(crashed)
    app_id = f"al-b-{uuid.uuid4().hex[:6]}"
    bad_b1, bad_b2 = _bad_tagged(2), _bad_tagged(3)
    worker = _alerter(crashed, tmp_path, rules, app_id)
    try:
        await start_ready(worker)
        await _produce_tagged(crashed, events[:half], bad_b1)

        def windows_open() -> bool:
            counted = processed(worker, "alerter") or 0
            burst = metric(worker, r'mediawatch_alerter_window_matches\{rule="burst"')
            surge = metric(worker, r'mediawatch_alerter_window_matches\{rule="surge"')
            return counted >= half * 0.6 and bool(burst) and bool(surge)

        await eventually(windows_open, "threshold and spike windows hold matches",
                         workers=[worker], interval_s=0.05)  # fmt: skip
        worker.kill()
        at_kill = {Alert.from_json(r.value or b"").alert_id for r in await read_all(crashed,
                   crashed.topic_alerts)}  # fmt: skip
        assert at_kill < set(expected), "killed mid-stream: some alerts are still to come"
        await _produce_tagged(crashed, events[half:], bad_b2)
        worker = _alerter(crashed, tmp_path, rules, app_id)
        await start_ready(worker)
        with_kill = await _wait_alerts(crashed, set(expected), worker)
    finally:
        worker.stop()
    account_dead_letters(
        await read_all(crashed, crashed.topic_deadletter), bad_b1 | bad_b2, "alerter"
    )

    quiet_ids, crashed_ids = _by_id(without_kill), _by_id(with_kill)
    summary("alerter-kill", expected=len(expected), alerts_at_kill=len(at_kill),
            records_without_kill=len(without_kill), records_with_kill=len(with_kill),
            repeated_ids=len(with_kill) - len(crashed_ids))  # fmt: skip
    assert set(quiet_ids) == set(crashed_ids) == set(expected)
    assert len(without_kill) == len(quiet_ids), "a run without a kill repeats no alert"
    for alert_id, alert in expected.items():
        assert _alert_content(quiet_ids[alert_id]) == _alert_content(alert), alert_id
        assert _alert_content(crashed_ids[alert_id]) == _alert_content(alert), alert_id


# -- the fetcher ---------------------------------------------------------------------------


async def test_fetcher_killed_while_publishing_an_inbox_loses_no_file(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    inbox = tmp_path / "inbox"
    good, bad = fill_inbox(inbox, ARTICLES)
    sources = write_inbox_sources(tmp_path / "sources.yaml", inbox)
    worker = fetcher_worker(kafka_settings, tmp_path, sources, "fetcher").start()
    try:
        await eventually(
            lambda: len(files_in(inbox / "done")) >= 400,
            "the fetcher publishes its first 400 files",
            workers=[worker],
            interval_s=0.05,
        )
        worker.kill()
        done_at_kill = len(files_in(inbox / "done"))
        assert done_at_kill < len(good), "killed mid-stream"
        worker = fetcher_worker(kafka_settings, tmp_path, sources, "fetcher").start()
        await eventually(
            lambda: files_in(inbox) == [], "every inbox file handled", workers=[worker],
            timeout_s=240,
        )  # fmt: skip
    finally:
        worker.stop()
    done = account_inbox(inbox, good, bad)
    records = await read_all(kafka_settings, kafka_settings.topic_articles_fetched)
    events = [ArticleFetched.from_json(r.value or b"") for r in records]
    account_fetched(events, done, good)
    summary("fetcher-kill", done_at_kill=done_at_kill, done=len(done), failed=len(bad),
            fetched_records=len(events), repeated=len(events) - len(good))  # fmt: skip
