"""One rule of the rules file, edited in place: the editor shows a rule as YAML, and saving
puts the edited rule back where it was, keeping every other rule, comment and blank line.

ruamel.yaml's round trip does the keeping (PyYAML would drop the comments that explain the
shipped rules). The whole new file is validated by the alerter's own parser before anything
is written, and written by rename, so the alerter's reload never reads half a file. A save
names the content hash the editor started from: when the file changed in between (another
editor, a deploy), the save is refused instead of silently undoing that change.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from mediawatch.alerter.rules import RulesError, RuleSet, content_hash, parse_rules_text

#: What the editor offers for a new rule.
NEW_RULE_TEMPLATE = """\
id: my-new-rule
description: What this rule watches for
severity: info
condition:
  query: '"indivisible security"'
mode: each_match
"""


class RuleEditConflict(Exception):
    """The rules file changed since the editor opened it."""


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, order and quoting kept
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    return yaml


@dataclass(frozen=True)
class RuleDraft:
    """The rules file as it would be with one rule replaced (or added): its text, and the
    rule set the alerter would load from it."""

    rule_id: str
    text: str
    ruleset: RuleSet


def current_hash(path: Path) -> str:
    return content_hash(path.read_bytes())


def rule_text(path: Path, rule_id: str) -> str | None:
    """The YAML of one rule as the file has it (comments inside it included)."""
    document = _yaml().load(path.read_text(encoding="utf-8"))
    for rule in _rules_of(document, str(path)):
        if isinstance(rule, CommentedMap) and rule.get("id") == rule_id:
            out = io.StringIO()
            _yaml().dump(rule, out)
            return out.getvalue()
    return None


def _rules_of(document: Any, where: str) -> CommentedSeq:
    rules = document.get("rules") if isinstance(document, CommentedMap) else None
    if not isinstance(rules, CommentedSeq):
        raise RulesError([f"{where}: rules: must be a list of rules"])
    return rules


def draft(path: Path, rule_id: str | None, edited: str) -> RuleDraft:
    """The file with the rule ``rule_id`` replaced by ``edited`` (None: ``edited`` is a
    new rule, appended); :class:`RulesError` naming the line, the rule and the field."""
    try:
        new_rule = _yaml().load(edited)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise RulesError([f"the edited rule{where}: not valid YAML: {exc}"]) from None
    if not isinstance(new_rule, CommentedMap) or not isinstance(new_rule.get("id"), str):
        raise RulesError(["the edited rule: must be a mapping with an 'id'"])
    document = _yaml().load(path.read_text(encoding="utf-8"))
    rules = _rules_of(document, str(path))
    index = next(
        (n for n, r in enumerate(rules) if isinstance(r, CommentedMap) and r.get("id") == rule_id),
        None,
    )
    if rule_id is not None and index is None:
        raise RulesError([f"{path}: no rule {rule_id!r} to replace"])
    if index is None:
        rules.append(new_rule)
    else:
        rules[index] = new_rule
    out = io.StringIO()
    _yaml().dump(document, out)
    text = out.getvalue()
    return RuleDraft(new_rule["id"], text, parse_rules_text(text, str(path)))


def save(path: Path, rule_draft: RuleDraft, started_from: str) -> str:
    """Write the draft over the file unless the file changed since ``started_from``;
    the new content hash."""
    if current_hash(path) != started_from:
        raise RuleEditConflict(
            f"{path} changed since the editor opened it (hash {started_from} is now "
            f"{current_hash(path)}): reload the rule and edit again"
        )
    mode = path.stat().st_mode & 0o777
    descriptor, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(rule_draft.text)
        os.chmod(partial, mode)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return current_hash(path)
