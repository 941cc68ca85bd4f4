"""Which articles each rule has already counted: one small record per (rule, article) in the
table ``counted-articles``, beside the rule states of the table ``rule-states``.

Inside the rule state this memory (up to :data:`SEEN_MEMORY` article ids for an each_match
rule) was rewritten to the changelog with every match: about 230 kB per alert once full,
which made the alerter and the broker the bottleneck of the pipeline. As records of their own,
remembering one more article writes one record of a few dozen bytes.

Crash consistency: the evaluator flushes both tables after every input, before the input's
offset can be committed, so a crash can lose only (part of) what the last input wrote, and
that input is delivered again. The two tables have their own changelog topics, so the state
and the record of that input may be lost in either order:

* the state was written and the record lost: the state names the article it counted last
  (``last_counted``), so the replayed match is recognised as counted;
* the record was written and the state lost: the record names the state ``revision`` that
  counted it, which is newer than the state restored, so the record does not count and the
  replayed match is counted (once) again.

Either way an article is counted exactly once.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from mediawatch.alerter.rules import Rule
from mediawatch.alerter.state import RuleState

#: Articles remembered per rule: enough for any replay after a crash, and for reprints of an
#: article arriving within the rule's window.
SEEN_MEMORY = 5000
#: Adds between two sweeps of a rule's records (each sweep reads the worker's whole table).
SWEEP_EVERY = 500


@dataclass(frozen=True)
class CountedKey:
    """The key of one record: a JSON array ``[rule_id, article_id]``, so that no id can be
    mistaken for the other whatever characters either holds."""

    rule_id: str
    article_id: str

    def encode(self) -> str:
        return json.dumps([self.rule_id, self.article_id], separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> CountedKey:
        rule_id, article_id = json.loads(text)
        return cls(str(rule_id), str(article_id))


class CountedRecord(BaseModel):
    """When the rule counted the article (event time) and the state revision that did."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: float
    revision: int


class CountedArticles:
    """The counted articles of every rule whose partition this worker holds."""

    def __init__(
        self,
        table: MutableMapping[str, Any],
        *,
        keep: int = SEEN_MEMORY,
        sweep_every: int = SWEEP_EVERY,
    ) -> None:
        self.table = table
        self.keep = keep
        self.sweep_every = sweep_every
        self._adds_since_sweep: dict[str, int] = {}

    def counted(self, rule_id: str, article_id: str, state: RuleState) -> bool:
        """Whether ``state`` already counts the article (see the module's docstring)."""
        if state.last_counted == article_id:
            return True
        stored = self.table.get(CountedKey(rule_id, article_id).encode())
        if stored is None:
            return False
        return CountedRecord.model_validate(stored).revision <= state.revision

    def restore(self, rule: Rule, article_id: str, at: float, state: RuleState) -> None:
        """Write the record of an article the state names as counted last if a crash lost
        it; without it the article would count again once the state names another one."""
        if self.table.get(CountedKey(rule.id, article_id).encode()) is None:
            self.remember(rule, article_id, at, state)

    def remember(self, rule: Rule, article_id: str, at: float, state: RuleState) -> None:
        """Record the article ``state`` counted last; write it after the state itself. Now
        and then drop the records the rule no longer needs."""
        record = CountedRecord(at=at, revision=state.revision)
        self.table[CountedKey(rule.id, article_id).encode()] = record.model_dump()
        adds = self._adds_since_sweep.get(rule.id, 0) + 1
        if adds >= self.sweep_every:
            self.sweep(rule, state.clock if state.clock is not None else at)
            adds = 0
        self._adds_since_sweep[rule.id] = adds

    def sweep(self, rule: Rule, clock: float) -> int:
        """Drop the rule's records older than its window (windowed rules) and all but the
        newest :attr:`keep`; return how many were dropped. Call it while processing an input
        of the rule, so that the deletions go to the rule's changelog partition."""
        records = sorted(
            (CountedRecord.model_validate(value).at, key)
            for key, value in self.table.items()
            if CountedKey.decode(key).rule_id == rule.id
        )
        horizon = rule.horizon().total_seconds()
        oldest = clock - horizon if horizon > 0 else float("-inf")
        drop = [key for _at, key in records[: max(0, len(records) - self.keep)]]
        drop += [key for at, key in records[len(drop) :] if at <= oldest]
        for key in drop:
            del self.table[key]
        return len(drop)
