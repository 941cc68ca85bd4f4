"""The per-article memory of each rule, on plain dicts standing in for the faust tables (the
real tables are exercised through the broker in test_alerter_stream), and the crash
consistency of the two tables: whichever of the last input's writes a crash loses, the
replayed article is counted exactly once."""

from __future__ import annotations

from typing import Any

from mediawatch.alerter.counted import CountedArticles, CountedKey
from mediawatch.alerter.rules import Rule
from mediawatch.alerter.state import EachMatchState, ThresholdState
from tests.support.alerter import Runner, at, tagged

EACH = Rule.model_validate({"id": "each", "condition": {"themes": ["x"]}, "mode": "each_match"})
WINDOWED = Rule.model_validate(
    {"id": "win", "condition": {"themes": ["x"]},
     "mode": {"type": "threshold", "count": 3, "window": "10m"}}
)  # fmt: skip


def _records(table: dict[str, Any], rule_id: str) -> list[str]:
    keys = [CountedKey.decode(k) for k in table]
    return sorted(k.article_id for k in keys if k.rule_id == rule_id)


def _state(revision: int, clock: float = 0.0) -> EachMatchState:
    return EachMatchState(revision=revision, clock=clock)


def test_keys_hold_any_ids_without_ambiguity() -> None:
    tricky = CountedKey('a"\x1f[b', "c,d\x1fe")
    assert CountedKey.decode(tricky.encode()) == tricky
    assert CountedKey("a", "b,c").encode() != CountedKey("a,b", "c").encode()


def test_an_article_is_counted_by_its_record_or_as_the_last_one_the_state_names() -> None:
    table: dict[str, Any] = {}
    memory = CountedArticles(table)
    assert not memory.counted("each", "a1", _state(0))
    memory.remember(EACH, "a1", 100.0, _state(1, 100.0))
    assert memory.counted("each", "a1", _state(1))
    assert not memory.counted("other-rule", "a1", _state(1))
    # The state was written, the crash came before the article's record: still counted.
    assert memory.counted("each", "a2", EachMatchState(revision=2, last_counted="a2"))
    # The record was written, the state that counted it was lost: not counted.
    assert not memory.counted("each", "a1", _state(0))


def test_a_sweep_keeps_the_newest_articles_of_that_rule_only() -> None:
    table: dict[str, Any] = {CountedKey("win", "w1").encode(): {"at": 1.0, "revision": 1}}
    memory = CountedArticles(table, keep=3, sweep_every=1000)
    for i in range(6):
        memory.remember(EACH, f"a{i}", float(i), _state(i + 1, float(i)))
    assert memory.sweep(EACH, 5.0) == 3
    assert _records(table, "each") == ["a3", "a4", "a5"]
    assert _records(table, "win") == ["w1"]


def test_a_windowed_rule_forgets_articles_older_than_its_window() -> None:
    table: dict[str, Any] = {}
    memory = CountedArticles(table, keep=100, sweep_every=1000)
    for i, minute in enumerate((0, 5, 9, 14)):
        memory.remember(WINDOWED, f"m{minute}", minute * 60.0, _state(i + 1, minute * 60.0))
    memory.sweep(WINDOWED, 14 * 60.0)  # the window reaches back to minute 4
    assert _records(table, "win") == ["m14", "m5", "m9"]


def test_remember_sweeps_every_n_adds() -> None:
    table: dict[str, Any] = {}
    memory = CountedArticles(table, keep=2, sweep_every=4)
    for i in range(3):
        memory.remember(EACH, f"a{i}", float(i), _state(i + 1, float(i)))
    assert len(_records(table, "each")) == 3, "no sweep before the 4th add"
    memory.remember(EACH, "a3", 3.0, _state(4, 3.0))
    assert _records(table, "each") == ["a2", "a3"]


async def _crash_on_the_third_article(lose: str) -> Runner:
    """Three articles through a threshold rule, then a crash that loses ``lose`` ("state"
    or "record") of the third one's writes, then a restarted worker that gets the third
    article again (its offset was never committed)."""
    runner = Runner(WINDOWED)
    for i in (1, 2):
        await runner.feed(tagged(f"w{i}", at(i), themes=("x",)))
    states, counted = dict(runner.states), dict(runner.counted)
    await runner.feed(tagged("w3", at(3), themes=("x",)))
    assert [a.alert_id for a in runner.alerts] == ["win:threshold:20250303T060100Z"]
    if lose == "state":
        counted = dict(runner.counted)  # the record made it to its changelog
    else:
        states = dict(runner.states)  # the state made it, the record did not
    restarted = Runner(WINDOWED, states=states, counted=counted)
    replayed = await restarted.feed(tagged("w3", at(3), themes=("x",)))
    restarted.alerts = runner.alerts + replayed
    return restarted


async def test_a_crash_that_loses_the_state_but_keeps_the_record_counts_the_article_once() -> None:
    restarted = await _crash_on_the_third_article(lose="state")
    state = restarted.state("win")
    assert isinstance(state, ThresholdState)
    assert [m.article_id for m in state.matches] == ["w1", "w2", "w3"]
    # The alert was published before the state was lost: the replay repeats its id.
    assert {a.alert_id for a in restarted.alerts} == {"win:threshold:20250303T060100Z"}
    assert len(restarted.alerts) == 2


async def test_a_crash_that_loses_the_record_but_keeps_the_state_counts_the_article_once() -> None:
    restarted = await _crash_on_the_third_article(lose="record")
    state = restarted.state("win")
    assert isinstance(state, ThresholdState)
    assert [m.article_id for m in state.matches] == ["w1", "w2", "w3"]
    assert [a.alert_id for a in restarted.alerts] == ["win:threshold:20250303T060100Z"]
    # The replay wrote the missing record, so w3 is still known once the state names
    # another article (a second crash may replay from an offset before w3).
    assert CountedKey("win", "w3").encode() in restarted.counted
    await restarted.feed(tagged("w4", at(4), themes=("x",)))
    assert await restarted.feed(tagged("w3", at(3), themes=("x",))) == []
    assert restarted.state("win").revision == 4
