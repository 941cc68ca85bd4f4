"""Conditions, window maths and the four modes, driven by event time (no sleeping), through
the alerter's own evaluator."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from mediawatch.alerter.engine import (
    CompiledRule,
    Tick,
    decode_rule_input,
    encode_rule_input,
    match_article,
)
from mediawatch.alerter.rules import Rule, load_rules, parse_rules
from mediawatch.alerter.state import HELD_ARTICLES, EachMatchState, ThresholdState
from mediawatch.alerter.windows import latest_slot, next_slot, spike, threshold, to_epoch
from mediawatch.fetcher.files import read_article
from mediawatch.tagger.pipeline import Tagger
from mediawatch.tagger.settings import TaggerSettings
from tests.support.alerter import Runner, at, tagged
from tests.support.environment import REPOSITORY

OPED = REPOSITORY / "tests" / "tagger" / "fixtures" / "oped-indivisible.txt"


def _rule(**fields: Any) -> Rule:
    raw = {"id": "r", "condition": {"themes": ["t"]}} | fields
    return parse_rules({"version": 1, "rules": [raw]}).rules[0]


def test_op_ed_matches_indivisible_security_rule_with_evidence() -> None:
    event = Tagger.from_settings(TaggerSettings()).tag(read_article(OPED))
    rule = _rule(
        id="indivisible",
        condition={
            "themes": ["indivisible-security"],
            "query": '"indivisible security"',
            "actors": ["org:nato"],
            "sources": {"language": ["en"]},
        },
    )
    article = match_article(CompiledRule(rule), event)
    assert article is not None
    assert article.themes == ["indivisible-security"] and article.actors == ["org:nato"]
    full_text = read_article(OPED).text
    texts = [e for e in article.evidence if e.field == "text"]
    assert texts and all(full_text[e.start : e.end] == e.text for e in texts)
    assert any("indivisible security" in e.text.lower() for e in article.evidence)
    wrong_language = _rule(condition={"themes": ["indivisible-security"],
                                      "sources": {"language": ["fr"]}})  # fmt: skip
    assert match_article(CompiledRule(wrong_language), event) is None
    no_query_hit = _rule(condition={"query": '"carrier pigeon"'})
    assert match_article(CompiledRule(no_query_hit), event) is None


def test_condition_parts_combine() -> None:
    rule = _rule(
        condition={
            "themes": ["a", "b"],
            "actors": ["org:nato"],
            "stance": "stance(org:nato) <= -0.3",
            "sources": {"country": ["ru"], "outlet_type": ["newspaper"]},
        }
    )
    compiled = CompiledRule(rule)
    good = tagged("x", themes=("b",), actors=("org:nato",), stances={"org:nato": -0.6},
                  country="RU")  # fmt: skip
    assert match_article(compiled, good) is not None
    assert match_article(compiled, good.model_copy(update={"stances": []})) is None
    mild = tagged("x", themes=("b",), actors=("org:nato",), stances={"org:nato": -0.1},
                  country="RU")  # fmt: skip
    assert match_article(compiled, mild) is None
    elsewhere = tagged("x", themes=("b",), actors=("org:nato",), stances={"org:nato": -0.6})
    assert match_article(compiled, elsewhere) is None
    reprint = tagged("y", themes=("b",), actors=("org:nato",), stances={"org:nato": -0.6},
                     country="RU", duplicate_of="x")  # fmt: skip
    assert match_article(compiled, reprint) is None
    with_reprints = _rule(condition={"themes": ["b"], "include_duplicates": True})
    assert match_article(CompiledRule(with_reprints), reprint) is not None


def test_genre_and_unknown_stance_conditions() -> None:
    opinion_only = CompiledRule(_rule(condition={"themes": ["b"], "genres": "opinion"}))
    plain = tagged("x", themes=("b",))
    opinion = plain.model_copy(
        update={"article": plain.article.model_copy(update={"genre": "opinion"})}
    )
    assert match_article(opinion_only, opinion) is not None
    assert match_article(opinion_only, plain) is None  # nobody labelled its genre
    # A target whose stance is unknown (no model for the language) holds no bound.
    lenient = CompiledRule(_rule(condition={"stance": "stance(org:nato) <= 0.5"}))
    known = tagged("x", actors=("org:nato",), stances={"org:nato": 0.0})
    assert match_article(lenient, known) is not None
    unknown = known.model_copy(
        update={"stances": [known.stances[0].model_copy(update={"label": "unknown"})]}
    )
    assert match_article(lenient, unknown) is None


async def test_each_match_fires_once_per_article_and_respects_cooldown() -> None:
    runner = Runner(_rule(cooldown="10m"))
    first = await runner.feed(tagged("a1", at(0), themes=("t",)))
    assert [a.alert_id for a in first] == ["r:a1"]
    assert await runner.feed(tagged("a1", at(1), themes=("t",))) == []  # redelivery: nothing
    assert await runner.feed(tagged("a2", at(5), themes=("t",))) == []  # cooldown
    after = await runner.feed(tagged("a3", at(11), themes=("t",)))
    assert [a.alert_id for a in after] == ["r:more:a2", "r:a3"]  # the held match, then a3
    assert runner.suppressed == ["cooldown"]
    assert await runner.feed(tagged("zz", at(30), themes=("other",))) == []


async def test_threshold_counts_stories_in_a_sliding_window() -> None:
    runner = Runner(_rule(mode={"type": "threshold", "count": 3, "window": "1h"}))
    await runner.feed(tagged("a1", at(0), themes=("t",)))
    await runner.feed(tagged("a2", at(30), themes=("t",)))
    await runner.feed(tagged("a2-reprint", at(40), themes=("t",), duplicate_of="a2"))
    assert await runner.feed(tagged("a3", at(70), themes=("t",))) == []  # a1 slid out of the window
    fired = await runner.feed(tagged("a4", at(80), themes=("t",)))
    assert len(fired) == 1
    alert = fired[0]
    assert alert.alert_id == "r:threshold:20250303T063000Z"
    assert alert.statistics["count"] == 3
    assert alert.window is not None and alert.window.start == at(30)
    assert [a.article_id for a in alert.articles] == ["a2", "a3", "a4"]
    # the same burst does not fire again; a new full window does
    assert await runner.feed(tagged("a5", at(85), themes=("t",))) == []
    await runner.feed(tagged("a6", at(90), themes=("t",)))
    assert len(await runner.feed(tagged("a7", at(95), themes=("t",)))) == 1


async def test_threshold_redelivery_after_restart_changes_nothing() -> None:
    rule = _rule(mode={"type": "threshold", "count": 2, "window": "1h"})
    runner = Runner(rule)
    await runner.feed(tagged("a1", at(0), themes=("t",)))
    states, counted = dict(runner.states), dict(runner.counted)
    fired = await runner.feed(tagged("a2", at(1), themes=("t",)))
    again = Runner(rule, states=states, counted=counted)  # restarted, tables of the changelogs
    assert [a.alert_id for a in await again.feed(tagged("a1", at(0), themes=("t",)))] == []
    replayed = await again.feed(tagged("a2", at(1), themes=("t",)))
    assert [a.alert_id for a in replayed] == [fired[0].alert_id]


def test_spike_window_maths() -> None:
    hour = 3600.0
    baseline = [i * hour + 10 for i in range(24)]  # one per hour for a day
    now = 25 * hour
    calm = spike([*baseline, now - 10], now, hour, 24 * hour, min_count=3, min_ratio=3,
                 min_zscore=None)  # fmt: skip
    assert not calm.fired and calm.count == 1 and calm.baseline_mean == 1.0
    burst = [now - i * 60 for i in range(6)]
    hot = spike(baseline + burst, now, hour, 24 * hour, min_count=3, min_ratio=3, min_zscore=3)
    assert hot.fired and hot.count == 6 and hot.ratio == 6.0 and hot.zscore == 5.0
    one_after_nothing = spike([now], now, hour, 24 * hour, min_count=3, min_ratio=2,
                              min_zscore=None)  # fmt: skip
    assert not one_after_nothing.fired and one_after_nothing.ratio == 24.0
    assert threshold([1, 2, 3], 3, 10, 3).fired
    assert not threshold([1, 2, 3], 3, 10, 3, floor=1).fired


async def test_spike_rule_fires_on_a_generated_stream() -> None:
    rule = _rule(
        mode={"type": "spike", "window": "1h", "baseline": "6h", "min_count": 4, "min_ratio": 3},
        cooldown="2h",
    )
    runner = Runner(rule)
    for i in range(12):  # two an hour for six hours
        assert await runner.feed(tagged(f"base{i}", at(i * 30), themes=("t",))) == []
    burst = [
        await runner.feed(tagged(f"hot{i}", at(360 + 5 + i * 5), themes=("t",))) for i in range(8)
    ]
    fired = [alerts for alerts in burst if alerts]
    assert len(fired) == 1  # the rest of the burst does not fire again
    alert = fired[0][0]
    assert alert.mode.value == "spike"
    # eleven baseline matches in (-30m, 5h30m] -> mean 11/6 per hour; six in the last hour
    assert alert.statistics["count"] == 6
    assert alert.statistics["ratio"] == round(6 / (11 / 6), 6)


def test_cron_slots_follow_the_time_zone() -> None:
    # 08:00 in Paris is 07:00 UTC in winter and 06:00 UTC in summer
    winter = to_epoch(at(60 * 2))  # 2025-03-03 08:00 UTC
    assert latest_slot("0 8 * * *", "Europe/Paris", winter) == to_epoch(at(60))
    summer_now = to_epoch(at(60 * 24 * 30))
    slot = latest_slot("0 8 * * *", "Europe/Paris", summer_now)
    assert next_slot("0 8 * * *", "Europe/Paris", slot) - slot == 24 * 3600
    from datetime import UTC, datetime

    assert datetime.fromtimestamp(slot, UTC).hour == 6


async def test_digest_summarises_everything_since_the_last_slot() -> None:
    rule = _rule(
        condition={"themes": ["t", "u"]},
        mode={"type": "digest", "cron": "0 8 * * *", "timezone": "Europe/Paris"},
    )
    runner = Runner(rule)
    await runner.tick(to_epoch(at(-60)))  # 05:00 UTC: first sight, sets the last slot
    await runner.feed(tagged("d1", at(10), themes=("t",), actors=("org:nato",)))
    await runner.feed(tagged("d2", at(20), themes=("t", "u")))
    await runner.feed(tagged("d1", at(25), themes=("t",)))  # redelivery: not counted twice
    assert await runner.tick(to_epoch(at(59))) == []  # 06:59 UTC, before 08:00 Paris
    fired = await runner.tick(to_epoch(at(61)))
    assert len(fired) == 1
    digest = fired[0]
    assert digest.alert_id == "r:digest:20250303T070000Z"
    assert digest.statistics == {"count": 2.0}
    assert digest.groups == {"theme:t": 2, "actor:org:nato": 1, "theme:u": 1}
    assert [a.article_id for a in digest.articles] == ["d1", "d2"]
    assert await runner.tick(to_epoch(at(62))) == []  # same slot: nothing more
    await runner.feed(tagged("d3", at(100), themes=("u",)))
    next_day = await runner.feed(tagged("d4", at(60 * 25 + 5), themes=("u",)))  # article after slot
    assert [a.alert_id for a in next_day] == ["r:digest:20250304T070000Z"]
    assert [a.article_id for a in next_day[0].articles] == ["d3"]


def test_an_outlet_only_cited_as_a_source_does_not_satisfy_an_actor_condition() -> None:
    rule = CompiledRule(_rule(condition={"themes": ["b"], "actors": ["org:tass"]}))
    event = tagged("x", themes=("b",), actors=("org:tass",))
    assert match_article(rule, event) is not None
    cited = event.model_copy(
        update={"actors": [a.model_copy(update={"role": "source"}) for a in event.actors]}
    )
    assert match_article(rule, cited) is None


async def test_matches_inside_a_cooldown_are_summarised_once_when_it_ends() -> None:
    runner = Runner(_rule(cooldown="10m"))
    assert [a.alert_id for a in await runner.feed(tagged("a1", at(0), themes=("t",)))] == ["r:a1"]
    assert await runner.feed(tagged("a2", at(2), themes=("t",))) == []
    assert await runner.feed(tagged("a3", at(4), themes=("t",))) == []
    assert runner.suppressed == ["cooldown", "cooldown"]
    assert await runner.feed(tagged("a2", at(2), themes=("t",))) == []  # a replay: held once
    assert await runner.tick(to_epoch(at(9))) == []  # still inside the cooldown
    summary = await runner.tick(to_epoch(at(10)))
    assert len(summary) == 1
    alert = summary[0]
    assert alert.alert_id == "r:more:a2"
    assert "2 more matches" in alert.summary
    assert [a.article_id for a in alert.articles] == ["a2", "a3"]
    assert alert.statistics == {"count": 2.0}
    assert alert.window is not None and (alert.window.start, alert.window.end) == (at(0), at(10))
    assert await runner.tick(to_epoch(at(11))) == []  # exactly one summary
    # The summary starts no cooldown: the next match fires at once.
    assert [a.alert_id for a in await runner.feed(tagged("a4", at(12), themes=("t",)))] == ["r:a4"]


async def test_a_threshold_cooldown_summary_takes_the_place_of_a_second_window_alert() -> None:
    rule = _rule(mode={"type": "threshold", "count": 2, "window": "1h"}, cooldown="30m")
    runner = Runner(rule)
    await runner.feed(tagged("a1", at(0), themes=("t",)))
    assert [a.alert_id for a in await runner.feed(tagged("a2", at(1), themes=("t",)))] == [
        "r:threshold:20250303T060000Z"
    ]
    await runner.feed(tagged("a3", at(10), themes=("t",)))
    assert await runner.feed(tagged("a4", at(20), themes=("t",))) == []  # window full: cooldown
    assert runner.suppressed == ["cooldown"]
    after = await runner.feed(tagged("a5", at(40), themes=("t",)))
    assert [a.alert_id for a in after] == ["r:more:a3"]
    assert "2 more matches" in after[0].summary
    assert [a.article_id for a in after[0].articles] == ["a3", "a4"]
    # a3 and a4 were reported: the next window needs two stories after the cooldown
    fired = await runner.feed(tagged("a6", at(45), themes=("t",)))
    assert [a.alert_id for a in fired] == ["r:threshold:20250303T064000Z"]
    assert [a.article_id for a in fired[0].articles] == ["a5", "a6"]


async def test_every_alert_records_the_version_of_the_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    content = (
        "version: 1\nrules:\n"
        "  - {id: each, condition: {themes: [t]}, cooldown: 10m}\n"
        "  - {id: burst, condition: {themes: [t]}, mode: {type: threshold, count: 2, window: 1h}}\n"
        "  - {id: daily, condition: {themes: [t]}, mode: {type: digest, cron: '0 8 * * *'}}\n"
    )
    path.write_text(content)
    ruleset = load_rules(path)
    assert ruleset.content_hash == hashlib.sha256(content.encode()).hexdigest()[:16]
    path.write_text(content.replace("10m", "11m"))
    assert load_rules(path).content_hash != ruleset.content_hash
    runner = Runner(*ruleset.rules, rules_version=ruleset.content_hash)
    await runner.tick(to_epoch(at(0)), "daily")
    for i, minute in enumerate((1, 2, 3, 130)):
        await runner.feed(tagged(f"v{i}", at(minute), themes=("t",)))
    fired = {a.alert_id.split(":")[1] for a in runner.alerts}
    assert fired == {"v0", "threshold", "more", "digest", "v3"}, fired
    assert {a.rules_version for a in runner.alerts} == {ruleset.content_hash}


async def test_rule_state_is_stored_typed_per_mode() -> None:
    rule = _rule(mode={"type": "threshold", "count": 5, "window": "1h"})
    runner = Runner(rule)
    await runner.feed(tagged("a1", at(0), themes=("t",)))
    await runner.feed(tagged("a1-reprint", at(1), themes=("t",), duplicate_of="a1"))
    assert runner.states["r"]["mode"] == "threshold"  # JSON in the table
    state = runner.state("r")
    assert isinstance(state, ThresholdState)
    assert [m.article_id for m in state.matches] == ["a1"]
    assert (state.revision, state.last_counted) == (1, "a1")
    # The rules file changed the rule's mode: a fresh state that keeps what it fired.
    state.fired = ["r:old"]
    runner.states["r"] = state.model_dump(mode="json")
    changed = Runner(_rule(cooldown="1m"), states=runner.states, counted=runner.counted)
    fresh = changed.state("r")
    assert isinstance(fresh, EachMatchState)
    assert (fresh.fired, fresh.revision) == (["r:old"], 1)


async def test_a_record_that_cannot_be_applied_raises_before_anything_is_written() -> None:
    runner = Runner(_rule())
    await runner.feed(tagged("a1", at(0), themes=("t",)))
    states, counted = dict(runner.states), dict(runner.counted)
    future_tick = b'{"kind": "tick", "rule_id": "r", "now": 1, "schema_version": "2.0"}'
    for payload in (b"not json", b"[1]", b'{"kind": "match", "rule_id": "r"}',
                    b'{"kind": "rewind", "rule_id": "r"}', future_tick):  # fmt: skip
        with pytest.raises((ValueError, KeyError)):
            await runner.process(payload)
    assert (runner.states, runner.counted) == (states, counted)
    assert await runner.process(b'{"kind": "tick", "rule_id": "gone", "now": 1}') == []


def test_rule_inputs_are_versioned_events() -> None:
    """The internal topic carries typed events with a schema version, like the public ones."""
    tick = Tick(rule_id="r", now=5.0)
    record = json.loads(encode_rule_input(tick))
    assert record == {"schema_version": "1.0", "kind": "tick", "rule_id": "r", "now": 5.0}
    assert decode_rule_input(encode_rule_input(tick)) == tick


async def test_a_summary_counts_every_held_match_and_lists_the_first_ones() -> None:
    runner = Runner(_rule(cooldown="1h"))
    await runner.feed(tagged("first", at(0), themes=("t",)))
    for i in range(HELD_ARTICLES + 5):
        await runner.feed(tagged(f"h{i:02d}", at(1 + i), themes=("t",)))
    (summary,) = await runner.tick(to_epoch(at(60)))
    assert summary.statistics == {"count": float(HELD_ARTICLES + 5)}
    assert f"{HELD_ARTICLES + 5} more matches" in summary.summary
    assert [a.article_id for a in summary.articles] == [f"h{i:02d}" for i in range(HELD_ARTICLES)]
