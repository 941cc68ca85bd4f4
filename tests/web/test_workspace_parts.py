"""The workspace's pure parts: span markup, the one-rule editor of the rules file, and the
vendored chart library's checksums."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import pytest
import yaml

from mediawatch.alerter.rules import RulesError, content_hash, load_rules
from mediawatch.api.web import highlight, rules_file
from tests.support.workspace import shipped_rules


def test_overlapping_spans_cut_the_text_into_pieces_with_every_kind() -> None:
    text = "NATO warned Russia today."
    spans = [
        highlight.Span(0, 25, "stance-critical", "critical toward state:ru"),
        highlight.Span(12, 18, "actor", "actor Russia"),
        highlight.Span(0, 4, "actor", "actor NATO"),
        highlight.Span(40, 50, "theme", "outside the text"),
    ]
    pieces = highlight.segments(text, spans)
    assert "".join(p.text for p in pieces) == text
    kinds = {p.text: p.kinds for p in pieces}
    assert kinds["NATO"] == ("actor", "stance-critical")
    assert kinds["Russia"] == ("actor", "stance-critical")
    assert kinds[" warned "] == ("stance-critical",)


def test_spans_are_placed_by_the_tagged_slice_offset() -> None:
    pieces = highlight.segments("world", [highlight.Span(106, 111, "theme", "t")], offset=106)
    assert [(p.text, p.kinds) for p in pieces] == [("world", ("theme",))]


def test_the_editor_replaces_one_rule_and_keeps_the_comments(tmp_path: Path) -> None:
    path = shipped_rules(tmp_path)
    before = path.read_text()
    shown = rules_file.rule_text(path, "nato-critical-burst")
    assert shown is not None and "threshold" in shown
    edited = shown.replace("count: 5", "count: 2")
    draft = rules_file.draft(path, "nato-critical-burst", edited)
    rules_file.save(path, draft, content_hash(before.encode()))
    after = path.read_text()
    assert after.startswith("# mediawatch watch rules.")
    rule = load_rules(path).by_id()["nato-critical-burst"]
    assert rule.mode.count == 2  # type: ignore[union-attr]
    assert len(yaml.safe_load(after)["rules"]) == len(yaml.safe_load(before)["rules"])


def test_the_editor_refuses_invalid_rules_and_stale_saves(tmp_path: Path) -> None:
    path = shipped_rules(tmp_path)
    with pytest.raises(RulesError) as invalid:
        rules_file.draft(path, None, "id: x\nmode: {type: spike}\ncondition: {themes: [a]}\n")
    assert "rule 'x'" in " ".join(invalid.value.problems)
    with pytest.raises(RulesError, match="not valid YAML"):
        rules_file.draft(path, None, "id: [unclosed\n")
    draft = rules_file.draft(path, None, rules_file.NEW_RULE_TEMPLATE)
    stale = rules_file.current_hash(path)
    path.write_text(path.read_text() + "\n# someone else edited this\n")
    with pytest.raises(rules_file.RuleEditConflict):
        rules_file.save(path, draft, stale)
    assert "my-new-rule" not in path.read_text()


def test_the_vendored_chart_library_matches_its_checksums() -> None:
    folder = resources.files("mediawatch.api.web") / "static" / "vendor" / "uplot"
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    assert len(lines) == 3
    for line in lines:
        digest, name = line.split()
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
