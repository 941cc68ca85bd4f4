"""Rules files: parsing, defaults, and errors that name the file, the rule and the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mediawatch.alerter.rules import (
    RulesError,
    SpikeMode,
    StanceCondition,
    ThresholdMode,
    WebhookDestination,
    load_rules,
    parse_duration,
    parse_rules,
)
from mediawatch.alerter.settings import AlerterSettings
from mediawatch.cli.main import app


def _rule(**fields: object) -> dict[str, object]:
    return {"id": "r1", "condition": {"themes": ["indivisible-security"]}} | fields


def test_deployed_rules_file_is_valid() -> None:
    ruleset = load_rules(AlerterSettings().rules_file)
    assert {r.mode.type for r in ruleset.rules} == {"each_match", "threshold", "spike", "digest"}


def test_durations_and_modes_parse() -> None:
    assert parse_duration("1h30m") == timedelta(hours=1, minutes=30)
    assert parse_duration(90) == timedelta(seconds=90)
    assert parse_duration("2d") == timedelta(days=2)
    with pytest.raises(ValueError):
        parse_duration("soon")
    ruleset = parse_rules(
        {
            "version": 1,
            "rules": [
                _rule(id="a", mode={"type": "threshold", "count": 3, "window": "2h"}),
                _rule(
                    id="b", mode={"type": "spike", "window": "1h", "baseline": "1d", "min_ratio": 3}
                ),
                _rule(id="c"),
            ],
        }
    )
    a, b, c = ruleset.rules
    assert isinstance(a.mode, ThresholdMode) and a.mode.window == timedelta(hours=2)
    assert isinstance(b.mode, SpikeMode) and b.mode.min_count == 3
    assert c.mode.type == "each_match" and c.cooldown == timedelta(0)


def test_stance_text_and_structured_forms_are_equal() -> None:
    text = StanceCondition.model_validate("stance(org:nato) <= -0.3")
    structured = StanceCondition.model_validate({"target": "org:nato", "max": -0.3})
    assert text == structured
    assert text.holds(-0.5) and not text.holds(-0.1)
    above = StanceCondition.model_validate("stance(actor:state:ru) > 0.2")
    assert above.kind == "actor" and above.target == "state:ru" and above.min == 0.2


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MW_TEST_HOOK_SECRET", "s3cr3t")
    hook = {"name": "h", "type": "webhook", "url": "http://x", "secret_env": "MW_TEST_HOOK_SECRET"}
    rule = parse_rules({"version": 1, "rules": [_rule(notify=[hook])]}).rules[0]
    destination = rule.notify[0]
    assert isinstance(destination, WebhookDestination)
    assert destination.secret is not None
    assert destination.secret.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(rule)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (_rule(mode={"type": "threshold", "count": 3}), "rule 'r1': mode.window: Field required"),
        (_rule(mode={"type": "threshold", "count": 0, "window": "1h"}), "rule 'r1': mode.count:"),
        (_rule(mode={"type": "weekly"}), "rule 'r1': mode:"),
        (_rule(mode={"type": "spike", "window": "1h", "baseline": "1d"}),
         "rule 'r1': mode: give min_ratio, min_zscore or both"),
        (_rule(mode={"type": "digest", "cron": "not cron"}),
         "rule 'r1': mode.cron: 'not cron' is not a valid cron expression"),
        (_rule(mode={"type": "digest", "cron": "0 8 * * *", "timezone": "Mars/Olympus"}),
         "rule 'r1': mode.timezone: 'Mars/Olympus' is not an IANA time zone"),
        (_rule(condition={"query": '"unclosed'}), "rule 'r1': condition.query:"),
        (_rule(condition={"stance": "stance(nato) ~ 3"}), "rule 'r1': condition.stance[0]:"),
        (_rule(condition={}), "rule 'r1': condition: a condition needs themes"),
        (_rule(cooldown="soon"), "rule 'r1': cooldown: 'soon' is not a duration"),
        (_rule(severity="urgent"), "rule 'r1': severity:"),
        (_rule(notify=[{"name": "x", "type": "webhook", "url": "ftp://x"}]),
         "rule 'r1': notify[0].url:"),
        (_rule(notify=[{"name": "x", "type": "webhook", "url": "http://x",
                        "secret_env": "MW_TEST_NOT_SET_ANYWHERE"}]),
         "MW_TEST_NOT_SET_ANYWHERE' is not set"),
        (_rule(colour="red"), "rule 'r1': colour: Extra inputs are not permitted"),
        ({"id": "Bad Id!", "condition": {"themes": ["x"]}}, "rule 'Bad Id!': id:"),
    ],
)  # fmt: skip
def test_errors_name_file_rule_and_field(rule: dict[str, object], expected: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules({"version": 1, "rules": [rule]}, "rules.yaml")
    assert any(p.startswith("rules.yaml: ") and expected in p for p in caught.value.problems), (
        caught.value.problems
    )


def test_file_level_errors() -> None:
    with pytest.raises(RulesError, match=r"rules.yaml: version: 7 is not supported"):
        parse_rules({"version": 7, "rules": []}, "rules.yaml")
    with pytest.raises(RulesError, match=r"rule 'r1': id: duplicate id"):
        parse_rules({"version": 1, "rules": [_rule(), _rule()]}, "rules.yaml")


def test_rules_check_command(tmp_path: Path) -> None:
    runner = CliRunner()
    good = AlerterSettings().rules_file
    result = runner.invoke(app, ["rules", "check", str(good)])
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - id: spiky\n    condition: {themes: [x]}\n"
                   "    mode: {type: spike, window: 2h, baseline: 1h, min_ratio: 2}\n")  # fmt: skip
    result = runner.invoke(app, ["rules", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: rule 'spiky': mode: baseline must be at least as long as window" in (
        result.output.replace("\n", "")
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nrules: [\n")
    result = runner.invoke(app, ["rules", "check", str(broken)])
    assert result.exit_code == 1 and "not valid YAML" in result.output
