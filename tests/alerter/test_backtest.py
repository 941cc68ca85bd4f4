"""``mediawatch rules backtest`` (issue 16, item 3): the alerter's own engine over past
coverage gives the alert ids that the live alerter fired on it.

The live alerter runs as a real process over a real broker; the same tagged articles are then
backtested from a replay of the topic and from the archive, through the command line.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from mediawatch.alerter.backtest import backtest
from mediawatch.alerter.rules import load_rules
from mediawatch.archiver.sqlite import SqliteArchive
from mediawatch.cli.main import app
from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import Alert, ArticleTagged, cloudevent_headers
from tests.support.alerter import at, tagged
from tests.support.environment import settings_environment
from tests.support.kafka_io import produce, read_topic
from tests.support.workers import ServiceProcess, start_ready

RULES: list[dict[str, Any]] = [
    {"id": "every-nato", "condition": {"themes": ["nato"]}, "mode": {"type": "each_match"}},
    {
        "id": "brics-burst",
        "condition": {"themes": ["brics"]},
        "mode": {"type": "threshold", "window": "1h", "count": 3},
    },
    {
        "id": "daily-south",
        "condition": {"themes": ["global-south"]},
        "mode": {"type": "digest", "cron": "0 8 * * *", "timezone": "UTC"},
    },
    {
        "id": "quiet-sanctions",
        "condition": {"themes": ["sanctions"]},
        "mode": {"type": "each_match"},
        "cooldown": "2h",
    },
]


def coverage() -> list[ArticleTagged]:
    """Two days of articles for the four rules, in event-time order."""
    articles = []
    for day in (0, 1):
        base = day * 24 * 60
        articles += [tagged(f"n{day}-{i}", at(base + 7 * i), themes=("nato",)) for i in range(3)]
        articles += [
            tagged(f"b{day}-{i}", at(base + 20 + 9 * i), themes=("brics",)) for i in range(4)
        ]
        articles += [
            tagged(f"g{day}-{i}", at(base + 30 + 80 * i), themes=("global-south",))
            for i in range(3)
        ]
        articles += [
            tagged(f"s{day}-{i}", at(base + 40 + 25 * i), themes=("sanctions",)) for i in range(4)
        ]
    return sorted(articles, key=lambda t: t.article.fetched_at)


def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "rules": RULES}))
    return path


async def test_the_backtest_counts_per_rule_and_per_day(tmp_path: Path) -> None:
    result = await backtest(load_rules(rules_file(tmp_path)), coverage())
    assert result.articles_read == 28
    per_rule = result.per_rule()
    assert per_rule["every-nato"] == 6  # each match, both days
    assert per_rule["brics-burst"] == 2  # once per day: three within the hour
    assert per_rule["daily-south"] >= 1
    assert 0 < per_rule["quiet-sanctions"] < 8, "the cooldown held some back"
    days = result.per_day()
    assert list(days) == ["2025-03-03", "2025-03-04"]
    assert sum(n for counts in days.values() for n in counts.values()) == len(result.alerts)
    assert len({a.alert_id for a in result.alerts}) == len(result.alerts)


async def test_a_final_tick_closes_the_open_digest_and_duplicates_are_read_once(
    tmp_path: Path,
) -> None:
    rules = load_rules(rules_file(tmp_path))
    articles = coverage()
    plain = await backtest(rules, articles)
    closed = await backtest(rules, [*articles, *articles], until=at(3 * 24 * 60))
    assert closed.articles_read == plain.articles_read
    extra = {a.alert_id for a in closed.alerts} - {a.alert_id for a in plain.alerts}
    assert extra and all(a.startswith(("daily-south:", "quiet-sanctions:")) for a in extra), extra


@pytest.mark.kafka
@pytest.mark.slow
async def test_a_backtest_of_what_the_live_alerter_saw_gives_its_alert_ids(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    articles = coverage()
    records = [(b"one-key", t.to_json(), cloudevent_headers(t, source="/tests")) for t in articles]
    await produce(kafka_settings, kafka_settings.topic_articles_tagged, records)
    expected = await backtest(load_rules(rules_file(tmp_path)), articles)
    env = settings_environment(kafka_settings) | {
        "MEDIAWATCH_APP_ID": f"al-{uuid.uuid4().hex[:6]}",
        "MEDIAWATCH_RULES_FILE": str(rules_file(tmp_path)),
        "MEDIAWATCH_STATE_DIR": str(tmp_path / "state"),
        "MEDIAWATCH_KAFKA_SESSION_TIMEOUT_S": "6",
        "MEDIAWATCH_DIGEST_TICK_S": "0",  # time moves with the articles, as in the backtest
        "MEDIAWATCH_LOG_FORMAT": "text",
    }
    worker = ServiceProcess(["alerter", "run"], env, tmp_path / "alerter.log")
    await start_ready(worker)
    try:
        found = await read_topic(
            kafka_settings,
            kafka_settings.topic_alerts,
            until=lambda r: len(r) >= len(expected.alerts),
            timeout_s=90,
        )
        await asyncio.sleep(2)  # room for an alert too many to show up
        found = await read_topic(
            kafka_settings, kafka_settings.topic_alerts, until=lambda r: len(r) >= len(found)
        )
    finally:
        worker.stop()
    live = {Alert.from_json(r.value or b"").alert_id for r in found}
    assert live == {a.alert_id for a in expected.alerts}, worker.log_tail()

    runner = CliRunner()
    # In a thread: the command runs its own event loop, as it does from a shell.
    replay = await asyncio.to_thread(
        runner.invoke,
        app,
        ["rules", "backtest", "--rules", str(rules_file(tmp_path)), "--source", "kafka",
         "--format", "jsonl"],
        env=settings_environment(kafka_settings),
    )  # fmt: skip
    assert replay.exit_code == 0, replay.output
    replayed = {json.loads(line)["alert_id"] for line in replay.stdout.splitlines()}
    assert replayed == live, replay.output[-3000:]

    archive = tmp_path / "archive.sqlite3"
    store = SqliteArchive(archive)
    store.upsert_articles(articles)
    store.close()
    archived = await asyncio.to_thread(
        runner.invoke,
        app,
        ["rules", "backtest", "--rules", str(rules_file(tmp_path)), "--archive", str(archive)],
    )
    assert archived.exit_code == 0, archived.output
    assert f"{len(live)} alert(s) from" in archived.stdout
    for alert_id in live:
        assert alert_id in archived.stdout
    assert "2025-03-04" in archived.stdout and "every-nato: 6" in archived.stdout
