"""The tagger's command line: tag, match, stance, catalogue checks."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mediawatch.cli.main import app
from mediawatch.query import builtin_themes_file
from mediawatch.schemas import ArticleTagged
from mediawatch.stack.samples import SAMPLES_DIR

FIXTURE = Path(__file__).parent / "fixtures" / "oped-indivisible.txt"
runner = CliRunner()


def test_tag_json_prints_one_valid_event_per_file(tmp_path: Path) -> None:
    other = tmp_path / "weather.md"
    other.write_text("# Rain tomorrow\n\nHeavy rain is expected across the valley on Sunday.\n")
    result = runner.invoke(app, ["tag", "--json", str(FIXTURE), str(other)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    oped, weather = (ArticleTagged.from_json(line) for line in lines)
    assert oped.article.title == "Beijing and Moscow Invoke Indivisible Security Against NATO"
    assert "indivisible-security" in {t.theme_id for t in oped.themes}
    assert weather.themes == []


def test_tag_report_highlights_evidence() -> None:
    result = runner.invoke(app, ["tag", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert "indivisible-security" in result.stdout
    assert "person:ray-mcgovern" in result.stdout
    assert "org:nato" in result.stdout


def test_match_prints_path_and_verdict(tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("Football\nThe home side won three to one on Saturday.\n")
    result = runner.invoke(
        app, ["match", '"indivisible security" AND NATO', str(FIXTURE), str(other)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{FIXTURE}\ttrue", f"{other}\tfalse"]
    as_json = runner.invoke(app, ["match", "--json", "cs(SCO)", str(FIXTURE)])
    payload = json.loads(as_json.stdout)
    assert payload["matched"] is True
    assert payload["evidence"][0]["text"] == "SCO"


def test_match_query_error_exits_2_with_position() -> None:
    result = runner.invoke(app, ["match", "NATO AND Russia OR China", str(FIXTURE)])
    assert result.exit_code == 2
    assert "position" in result.output.lower()


def test_stance_jsonl_adds_label_and_score_in_order(tmp_path: Path) -> None:
    sentence = "Moscow praised Beijing but condemned NATO's reckless expansion."
    lines = [
        {"text": sentence, "start": sentence.index("NATO"), "end": sentence.index("NATO") + 4},
        {"text": sentence, "start": 0, "end": 6, "id": "keep-me"},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = runner.invoke(app, ["stance", "--jsonl", str(source)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["start"] for o in out] == [lines[0]["start"], 0]
    assert out[0]["label"] == "critical" and -1 <= out[0]["score"] < 0
    assert out[1]["id"] == "keep-me" and out[1]["label"] in {"critical", "neutral", "supportive"}


def test_stance_rejects_a_span_outside_the_text(tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text(json.dumps({"text": "short", "start": 3, "end": 99}) + "\n")
    result = runner.invoke(app, ["stance", "--jsonl", str(source)])
    assert result.exit_code == 2
    assert "bad.jsonl:1" in result.output


def test_catalogue_checks(tmp_path: Path) -> None:
    assert runner.invoke(app, ["themes", "check", str(builtin_themes_file())]).exit_code == 0
    assert runner.invoke(app, ["actors", "check", str(SAMPLES_DIR / "actors.yaml")]).exit_code == 0
    broken = tmp_path / "themes.yaml"
    broken.write_text('version: "1"\nthemes:\n  - id: bad\n    label: Bad\n    query: "NATO AND"\n')
    result = runner.invoke(app, ["themes", "check", str(broken)])
    assert result.exit_code == 1
    assert "bad" in result.output and "query" in result.output
