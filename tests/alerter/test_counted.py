"""The per-article memory of each rule, on a plain dict standing in for the faust table (the
real table is exercised through the broker in test_alerter_stream)."""

from __future__ import annotations

from typing import Any

from mediawatch.alerter.counted import CountedArticles
from mediawatch.alerter.rules import Rule

EACH = Rule.model_validate({"id": "each", "condition": {"themes": ["x"]}, "mode": "each_match"})
WINDOWED = Rule.model_validate(
    {"id": "win", "condition": {"themes": ["x"]},
     "mode": {"type": "threshold", "count": 3, "window": "10m"}}
)  # fmt: skip


def _records(table: dict[str, Any], rule_id: str) -> list[str]:
    return sorted(k.split("\x1f")[1] for k in table if k.startswith(f"{rule_id}\x1f"))


def test_an_article_is_counted_by_its_record_or_as_the_last_one_the_state_names() -> None:
    table: dict[str, Any] = {}
    memory = CountedArticles(table)
    assert not memory.counted("each", "a1", None)
    memory.remember(EACH, "a1", 100.0, 100.0)
    assert memory.counted("each", "a1", None)
    assert not memory.counted("other-rule", "a1", None)
    # The state was written, the crash came before the article's record: still counted.
    assert memory.counted("each", "a2", {"last_counted": "a2"})


def test_a_sweep_keeps_the_newest_articles_of_that_rule_only() -> None:
    table: dict[str, Any] = {"each": {"clock": 1.0}, "win\x1fw1": 1.0}
    memory = CountedArticles(table, keep=3, sweep_every=1000)
    for i in range(6):
        memory.remember(EACH, f"a{i}", float(i), float(i))
    assert memory.sweep(EACH, 5.0) == 3
    assert _records(table, "each") == ["a3", "a4", "a5"]
    assert table["each"] == {"clock": 1.0}, "the rule state itself is left alone"
    assert _records(table, "win") == ["w1"]


def test_a_windowed_rule_forgets_articles_older_than_its_window() -> None:
    table: dict[str, Any] = {}
    memory = CountedArticles(table, keep=100, sweep_every=1000)
    for minute in (0, 5, 9, 14):
        memory.remember(WINDOWED, f"m{minute}", minute * 60.0, minute * 60.0)
    memory.sweep(WINDOWED, 14 * 60.0)  # the window reaches back to minute 4
    assert _records(table, "win") == ["m14", "m5", "m9"]


def test_remember_sweeps_every_n_adds() -> None:
    table: dict[str, Any] = {}
    memory = CountedArticles(table, keep=2, sweep_every=4)
    for i in range(3):
        memory.remember(EACH, f"a{i}", float(i), float(i))
    assert len(_records(table, "each")) == 3, "no sweep before the 4th add"
    memory.remember(EACH, "a3", 3.0, 3.0)
    assert _records(table, "each") == ["a2", "a3"]
