"""A rule file tried on past coverage: the alerter's own evaluator over tagged articles in
event-time order, with tables of its own in memory.

Nothing here re-implements a rule: step 1 (:meth:`RuleEvaluator.matches`) and step 2
(:meth:`RuleEvaluator.apply`) are the service's, and alert ids are derived from the rule, the
article or the window slot, so a backtest over what the live alerter saw gives the ids it
fired. The articles come from wherever the caller reads them (the archive, a replay of the
tagged topic); duplicates of one article id are read once.

One difference is stated, not hidden: the live alerter's timer ticks on the wall clock, so a
digest's slot or a cooldown's summary can close between two articles; here time advances
with the articles, and with one last tick at ``until`` when it is given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from mediawatch.alerter.engine import Tick
from mediawatch.alerter.evaluator import RuleEvaluator
from mediawatch.alerter.rules import DigestMode, RuleSet
from mediawatch.schemas import Alert, ArticleTagged


@dataclass
class BacktestResult:
    alerts: list[Alert] = field(default_factory=list)
    articles_read: int = 0
    matches: int = 0

    def per_rule(self) -> dict[str, int]:
        return dict(sorted(Counter(a.rule_id for a in self.alerts).items()))

    def per_day(self) -> dict[str, dict[str, int]]:
        """Day (UTC, ``YYYY-MM-DD``, of the alert's event time) -> rule -> alerts."""
        days: dict[str, Counter[str]] = {}
        for alert in self.alerts:
            days.setdefault(alert.fired_at.date().isoformat(), Counter())[alert.rule_id] += 1
        return {day: dict(sorted(days[day].items())) for day in sorted(days)}


async def backtest(
    rules: RuleSet, articles: Iterable[ArticleTagged], *, until: datetime | None = None
) -> BacktestResult:
    """The alerts ``rules`` would have fired on ``articles``, in the order they fire."""
    enabled = rules.enabled()
    evaluator = RuleEvaluator(enabled, rules.content_hash, {}, {})
    result = BacktestResult()
    fired: set[str] = set()

    async def publish(alert: Alert) -> None:
        if alert.alert_id not in fired:  # a repeat is dropped downstream, as live
            fired.add(alert.alert_id)
            result.alerts.append(alert)

    unique = {tagged.article.article_id: tagged for tagged in articles}
    ordered = sorted(unique.values(), key=lambda t: (t.article.fetched_at, t.article.article_id))
    for tagged in ordered:
        result.articles_read += 1
        for match in evaluator.matches(tagged):
            result.matches += 1
            await evaluator.apply(match, publish)
    if until is not None:
        ticked = [
            r for r in enabled if isinstance(r.mode, DigestMode) or r.cooldown.total_seconds()
        ]
        for rule in ticked:
            await evaluator.apply(Tick(rule_id=rule.id, now=until.timestamp()), publish)
    return result
