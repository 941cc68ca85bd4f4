"""Which articles each rule has already counted, kept beside the rule's state in the
``rule-state`` table as one small record per (rule, article).

Inside the rule state this memory (up to :data:`SEEN_MEMORY` article ids for an each_match
rule) was rewritten to the changelog with every match: about 230 kB per alert once full,
which made the alerter and the broker the bottleneck of the pipeline. As records of their own,
remembering one more article writes one record of a few dozen bytes.

Crash safety rests on two facts. The records share the rule state's table, so they share its
changelog partition (faust writes a change to the partition of the event being processed)
and a crash can only lose a suffix of what one event wrote. The rule state is written first
and names the article it counted last (``last_counted``), so if the crash falls between the
two writes, the replayed match is still recognised as counted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mediawatch.alerter.engine import Outcome, RuleMatch, apply
from mediawatch.alerter.rules import Rule

#: Articles remembered per rule: enough for any replay after a crash, and for reprints of an
#: article arriving within the rule's window.
SEEN_MEMORY = 5000
#: Adds between two sweeps of a rule's records (each sweep reads the worker's whole table).
SWEEP_EVERY = 500
_SEPARATOR = "\x1f"


class CountedArticles:
    """The counted articles of every rule whose partition this worker holds."""

    def __init__(self, table: Any, *, keep: int = SEEN_MEMORY, sweep_every: int = SWEEP_EVERY):
        self.table = table
        self.keep = keep
        self.sweep_every = sweep_every
        self._adds_since_sweep: dict[str, int] = {}

    @staticmethod
    def key(rule_id: str, article_id: str) -> str:
        return f"{rule_id}{_SEPARATOR}{article_id}"

    @staticmethod
    def is_record(key: str) -> bool:
        """Whether a key of the shared table is one of these records (not a rule state)."""
        return _SEPARATOR in key

    def apply(
        self,
        rule: Rule,
        state: dict[str, Any] | None,
        match: RuleMatch | None,
        now: float | None = None,
        *,
        fired_at: datetime | None = None,
    ) -> Outcome:
        """:func:`engine.apply` with this memory saying whether the article was counted
        before. The state returned names the article it counts (``last_counted``): write that
        state, then call :meth:`commit`, in that order."""
        already = match is not None and self.counted(rule.id, match.article.article_id, state)
        outcome = apply(rule, state, match, now, fired_at=fired_at, already_counted=already)
        if match is not None and outcome.counted:
            outcome.state["last_counted"] = match.article.article_id
        return outcome

    def commit(self, rule: Rule, match: RuleMatch | None, outcome: Outcome) -> None:
        """Remember the article ``outcome`` counted, once its state is written."""
        if match is not None and outcome.counted:
            self.remember(rule, match.article.article_id, match.at, outcome.state["clock"])

    def counted(self, rule_id: str, article_id: str, state: dict[str, Any] | None) -> bool:
        if state is not None and state.get("last_counted") == article_id:
            return True
        return self.table.get(self.key(rule_id, article_id)) is not None

    def remember(self, rule: Rule, article_id: str, at: float, clock: float) -> None:
        """Record one counted article; now and then drop those the rule no longer needs."""
        self.table[self.key(rule.id, article_id)] = at
        adds = self._adds_since_sweep.get(rule.id, 0) + 1
        if adds >= self.sweep_every:
            self.sweep(rule, clock)
            adds = 0
        self._adds_since_sweep[rule.id] = adds

    def sweep(self, rule: Rule, clock: float) -> int:
        """Drop the rule's records older than its window (windowed rules) and all but the
        newest :attr:`keep`; return how many were dropped. Call it while processing an event
        of the rule, so that the deletions go to the rule's changelog partition."""
        prefix = f"{rule.id}{_SEPARATOR}"
        records = sorted(
            (at, key)
            for key, at in self.table.items()
            if key.startswith(prefix) and isinstance(at, int | float)
        )
        horizon = rule.horizon().total_seconds()
        oldest = clock - horizon if horizon > 0 else float("-inf")
        drop = [key for at, key in records[: max(0, len(records) - self.keep)]]
        drop += [key for at, key in records[len(drop) :] if at <= oldest]
        for key in drop:
            del self.table[key]
        return len(drop)
