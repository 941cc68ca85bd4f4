"""Rules reloaded without a restart: the file watch (:class:`RulesFile`) and the evaluator's
switch to new rules over the tables it already has (plain dicts here)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from mediawatch.alerter.engine import Tick
from mediawatch.alerter.reload import RulesFile
from mediawatch.alerter.rules import Rule, RulesError, content_hash, parse_rules
from tests.support.alerter import Runner, at, tagged

FIRST = {"id": "first", "condition": {"themes": ["brics"]}}
ADDED = {"id": "added", "condition": {"themes": ["global-south"]}, "severity": "critical"}
BROKEN = {"id": "added", "condition": {"themes": ["x"]}, "mode": {"type": "threshold",
                                                                   "window": "1h"}}  # fmt: skip


def _replace(path: Path, rules: list[dict[str, Any]]) -> None:
    """Rewrite the file as the workspace does: a temporary file, then ``os.replace``."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(yaml.safe_dump({"version": 1, "rules": rules}))
    os.replace(temporary, path)


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_rules_file_takes_valid_changes_and_keeps_the_rules_in_force_otherwise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rules.yaml"
    _replace(path, [FIRST])
    watched = RulesFile(path)
    loaded = watched.current
    assert [r.id for r in loaded.rules] == ["first"]
    assert loaded.content_hash == content_hash(path.read_bytes())
    version = "mediawatch_alerter_rules_version_info"
    assert _sample(version, rules_version=loaded.content_hash) == 1.0

    assert watched.check() is None, "an unchanged file is no new rule set"
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # touched: other stamp, same bytes
    assert watched.check() is None
    assert watched.current is loaded

    reloads = _sample("mediawatch_rules_reloads_total")
    _replace(path, [FIRST, ADDED])
    fresh = watched.check()
    assert fresh is not None
    assert [r.id for r in fresh.rules] == ["first", "added"]
    assert fresh.content_hash == content_hash(path.read_bytes()) != loaded.content_hash
    assert watched.current is fresh
    assert _sample("mediawatch_rules_reloads_total") == reloads + 1
    assert _sample(version, rules_version=fresh.content_hash) == 1.0
    assert _sample(version, rules_version=loaded.content_hash) == 0.0, "one series at a time"
    assert watched.check() is None, "the same change is taken once"

    invalid = _sample("mediawatch_rules_reload_failures_total", reason="invalid")
    _replace(path, [FIRST, BROKEN])
    with caplog.at_level(logging.INFO, logger="mediawatch.alerter.reload"):
        assert watched.check() is None
        assert watched.check() is None  # looked at again: logged and counted once
    assert watched.current is fresh, "the rules in force stay"
    assert _sample("mediawatch_rules_reload_failures_total", reason="invalid") == invalid + 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in caplog.records]
    message = errors[0].getMessage()
    assert f"{path}: rule 'added': mode.count: Field required" in message
    assert "stay in force" in message and fresh.content_hash in message

    caplog.clear()
    missing = _sample("mediawatch_rules_reload_failures_total", reason="missing")
    path.unlink()
    with caplog.at_level(logging.INFO, logger="mediawatch.alerter.reload"):
        assert watched.check() is None
        assert watched.check() is None
    assert watched.current is fresh
    assert _sample("mediawatch_rules_reload_failures_total", reason="missing") == missing + 1
    gone = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(gone) == 1 and str(path) in gone[0], gone

    _replace(path, [ADDED])  # back, valid: taken
    back = watched.check()
    assert back is not None and [r.id for r in back.rules] == ["added"]
    assert watched.current is back


def test_a_rules_file_that_does_not_validate_at_start_raises(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    _replace(path, [BROKEN])
    with pytest.raises(RulesError, match=r"mode\.count"):
        RulesFile(path)


def _rule(**fields: Any) -> Rule:
    return parse_rules({"version": 1, "rules": [fields]}).rules[0]


async def test_reload_keeps_the_state_of_rules_that_stay_and_drops_removed_ones() -> None:
    kept = _rule(id="kept", condition={"themes": ["t"]},
                 mode={"type": "threshold", "count": 3, "window": "1h"})  # fmt: skip
    removed = _rule(id="removed", condition={"themes": ["g"]})
    new = _rule(id="new", condition={"themes": ["n"]})
    runner = Runner(kept, removed, rules_version="v1")
    fired = await runner.feed(tagged("a1", at(0), themes=("t", "g")))
    assert [a.alert_id for a in fired] == ["removed:a1"]
    assert await runner.feed(tagged("a2", at(1), themes=("t",))) == []

    runner.evaluator.reload([kept, new], "v2")
    assert set(runner.evaluator.rules) == {"kept", "new"}
    # kept: its window still holds a1 and a2, so the third match fires it
    fired = await runner.feed(tagged("a3", at(2), themes=("t", "g")))
    assert [a.alert_id for a in fired] == ["kept:threshold:20250303T060000Z"], "no removed:a3"
    assert [a.article_id for a in fired[0].articles] == ["a1", "a2", "a3"]
    assert fired[0].rules_version == "v2"
    # removed: no match, and an input of it still in the topic is skipped
    assert runner.evaluator.matches(tagged("a4", at(3), themes=("g",))) == []

    async def publish(alert: Any) -> None:
        raise AssertionError(f"published {alert}")

    tick = Tick(rule_id="removed", now=at(4).timestamp())
    assert await runner.evaluator.apply(tick, publish) is None
    assert "removed" in runner.states, "its state stays in the table"
    assert "new" not in runner.states, "a new rule starts with a fresh state"
    fired = await runner.feed(tagged("n1", at(5), themes=("n",)))
    assert [(a.alert_id, a.rules_version) for a in fired] == [("new:n1", "v2")]

    # the removed rule comes back where it was: a1 is not alerted again, a new article is
    runner.evaluator.reload([kept, removed, new], "v3")
    assert await runner.feed(tagged("a1", at(0), themes=("g",))) == []
    fired = await runner.feed(tagged("a5", at(6), themes=("g",)))
    assert [(a.alert_id, a.rules_version) for a in fired] == [("removed:a5", "v3")]
