"""Conditions, window maths and the four modes, driven by event time (no sleeping)."""

from __future__ import annotations

from typing import Any

from mediawatch.alerter.counted import CountedArticles
from mediawatch.alerter.engine import CompiledRule, RuleMatch, match_article
from mediawatch.alerter.rules import Rule, parse_rules
from mediawatch.alerter.windows import latest_slot, next_slot, spike, threshold, to_epoch
from mediawatch.fetcher.files import read_article
from mediawatch.schemas import Alert, ArticleTagged
from mediawatch.tagger.pipeline import Tagger
from mediawatch.tagger.settings import TaggerSettings
from tests.alerter.helpers import at, tagged
from tests.conftest import REPOSITORY

OPED = REPOSITORY / "tests" / "tagger" / "fixtures" / "oped-indivisible.txt"


def _rule(**fields: Any) -> Rule:
    raw = {"id": "r", "condition": {"themes": ["t"]}} | fields
    return parse_rules({"version": 1, "rules": [raw]}).rules[0]


class Runner:
    """Feeds articles to one rule as the service does: match, then apply with the rule's
    memory, over one table that holds the rule state and the counted articles."""

    def __init__(self, rule: Rule, table: dict[str, Any] | None = None) -> None:
        self.rule = rule
        self.compiled = CompiledRule(rule)
        self.table: dict[str, Any] = table if table is not None else {}
        self.memory = CountedArticles(self.table)
        self.alerts: list[Alert] = []
        self.suppressed: list[str] = []

    @property
    def state(self) -> dict[str, Any] | None:
        return self.table.get(self.rule.id)

    def feed(self, event: ArticleTagged) -> list[Alert]:
        article = match_article(self.compiled, event)
        if article is None:
            return []
        return self._apply(RuleMatch.of(self.rule.id, event, article), None)

    def tick(self, now: float) -> list[Alert]:
        return self._apply(None, now)

    def _apply(self, match: RuleMatch | None, now: float | None) -> list[Alert]:
        outcome = self.memory.apply(self.rule, self.state, match, now)
        self.table[self.rule.id] = outcome.state
        self.memory.commit(self.rule, match, outcome)
        self.alerts.extend(outcome.alerts)
        self.suppressed.extend(outcome.suppressed)
        return outcome.alerts


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


def test_each_match_fires_once_per_article_and_respects_cooldown() -> None:
    runner = Runner(_rule(cooldown="10m"))
    first = runner.feed(tagged("a1", at(0), themes=("t",)))
    assert [a.alert_id for a in first] == ["r:a1"]
    assert runner.feed(tagged("a1", at(1), themes=("t",))) == []  # redelivery: nothing
    assert runner.feed(tagged("a2", at(5), themes=("t",))) == []  # cooldown
    assert runner.feed(tagged("a3", at(11), themes=("t",)))[0].alert_id == "r:a3"
    assert runner.suppressed == ["cooldown"]
    assert runner.feed(tagged("zz", at(30), themes=("other",))) == []


def test_threshold_counts_stories_in_a_sliding_window() -> None:
    runner = Runner(_rule(mode={"type": "threshold", "count": 3, "window": "1h"}))
    runner.feed(tagged("a1", at(0), themes=("t",)))
    runner.feed(tagged("a2", at(30), themes=("t",)))
    runner.feed(tagged("a2-reprint", at(40), themes=("t",), duplicate_of="a2"))
    assert runner.feed(tagged("a3", at(70), themes=("t",))) == []  # a1 slid out of the window
    fired = runner.feed(tagged("a4", at(80), themes=("t",)))
    assert len(fired) == 1
    alert = fired[0]
    assert alert.alert_id == "r:threshold:20250303T063000Z"
    assert alert.statistics["count"] == 3
    assert alert.window is not None and alert.window.start == at(30)
    assert [a.article_id for a in alert.articles] == ["a2", "a3", "a4"]
    # the same burst does not fire again; a new full window does
    assert runner.feed(tagged("a5", at(85), themes=("t",))) == []
    runner.feed(tagged("a6", at(90), themes=("t",)))
    assert len(runner.feed(tagged("a7", at(95), themes=("t",)))) == 1


def test_threshold_redelivery_after_restart_changes_nothing() -> None:
    rule = _rule(mode={"type": "threshold", "count": 2, "window": "1h"})
    runner = Runner(rule)
    runner.feed(tagged("a1", at(0), themes=("t",)))
    saved = dict(runner.table)
    fired = runner.feed(tagged("a2", at(1), themes=("t",)))
    again = Runner(rule, saved)  # a restarted worker with the table of its changelog
    assert [a.alert_id for a in again.feed(tagged("a1", at(0), themes=("t",)))] == []
    assert again.feed(tagged("a2", at(1), themes=("t",)))[0].alert_id == fired[0].alert_id


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


def test_spike_rule_fires_on_a_generated_stream() -> None:
    rule = _rule(
        mode={"type": "spike", "window": "1h", "baseline": "6h", "min_count": 4, "min_ratio": 3},
        cooldown="2h",
    )
    runner = Runner(rule)
    for i in range(12):  # two an hour for six hours
        assert runner.feed(tagged(f"base{i}", at(i * 30), themes=("t",))) == []
    burst = [runner.feed(tagged(f"hot{i}", at(360 + 5 + i * 5), themes=("t",))) for i in range(8)]
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


def test_digest_summarises_everything_since_the_last_slot() -> None:
    rule = _rule(
        condition={"themes": ["t", "u"]},
        mode={"type": "digest", "cron": "0 8 * * *", "timezone": "Europe/Paris"},
    )
    runner = Runner(rule)
    runner.tick(to_epoch(at(-60)))  # 05:00 UTC: first sight, sets the last slot
    runner.feed(tagged("d1", at(10), themes=("t",), actors=("org:nato",)))
    runner.feed(tagged("d2", at(20), themes=("t", "u")))
    runner.feed(tagged("d1", at(25), themes=("t",)))  # redelivery: not counted twice
    assert runner.tick(to_epoch(at(59))) == []  # 06:59 UTC, before 08:00 Paris
    fired = runner.tick(to_epoch(at(61)))
    assert len(fired) == 1
    digest = fired[0]
    assert digest.alert_id == "r:digest:20250303T070000Z"
    assert digest.statistics == {"count": 2.0}
    assert digest.groups == {"theme:t": 2, "actor:org:nato": 1, "theme:u": 1}
    assert [a.article_id for a in digest.articles] == ["d1", "d2"]
    assert runner.tick(to_epoch(at(62))) == []  # same slot: nothing more
    runner.feed(tagged("d3", at(100), themes=("u",)))
    next_day = runner.feed(tagged("d4", at(60 * 25 + 5), themes=("u",)))  # article after slot
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
