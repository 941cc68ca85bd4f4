"""The one place that reads and writes the alerter's tables.

:class:`RuleEvaluator` takes the records of the ``<app_id>-rule-matches`` topic, one at a
time, on the worker that owns the rule: it reads the rule's typed state from ``rule-states``,
asks :mod:`counted` whether a match was counted before, lets the state apply the match (or the
tick), publishes the alerts and only then writes the state and the counted record. The faust
agent of the service and the tests call the same :meth:`RuleEvaluator.process`, over faust
tables or plain dicts.

Write order is what makes a crash harmless: an alert is acknowledged by Kafka before the state
that records it is written, so a crash in between repeats the alert with the same id (dropped
downstream) and never loses it; the state is written before the counted record (see
:mod:`counted` for why either may still be lost alone).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from datetime import datetime
from typing import Any

from mediawatch.alerter import metrics
from mediawatch.alerter.counted import SEEN_MEMORY, SWEEP_EVERY, CountedArticles
from mediawatch.alerter.engine import CompiledRule, RuleInput, RuleMatch, match_article
from mediawatch.alerter.rules import Rule
from mediawatch.alerter.state import Evaluation, RuleState, WindowState, state_of
from mediawatch.schemas import Alert, ArticleTagged

Publish = Callable[[Alert], Awaitable[None]]


class RuleEvaluator:
    """The rules of one rules file over the tables of this worker's partitions."""

    def __init__(
        self,
        rules: Iterable[Rule],
        rules_version: str,
        states: MutableMapping[str, Any],
        counted: MutableMapping[str, Any],
        *,
        keep: int = SEEN_MEMORY,
        sweep_every: int = SWEEP_EVERY,
    ) -> None:
        self.compiled = [CompiledRule(rule) for rule in rules]
        self.rules = {c.rule.id: c.rule for c in self.compiled}
        self.rules_version = rules_version
        self.states = states
        self.memory = CountedArticles(counted, keep=keep, sweep_every=sweep_every)

    def reload(self, rules: Iterable[Rule], rules_version: str) -> None:
        """Evaluate ``rules`` from now on (a rules file reloaded without a restart).

        The tables are left as they are: a rule that stays (by id) keeps its state, with its
        window, held matches, pending digest and fired ids, and :func:`state_of` turns a state
        whose mode changed into one of the new mode (keeping fired ids and counted articles).
        A removed rule stops matching, and its records still in the rule-matches topic are
        skipped; its state stays in the table, so the rule picks up where it was if it comes
        back, and repeats none of its alerts. A new rule starts with a fresh state. Alerts
        carry ``rules_version`` from now on. The rules are compiled before anything is
        swapped, so an input is evaluated under either the old or the new rules, never a mix.
        """
        compiled = [CompiledRule(rule) for rule in rules]
        removed = self.rules.keys() - {c.rule.id for c in compiled}
        self.compiled = compiled
        self.rules = {c.rule.id: c.rule for c in compiled}
        self.rules_version = rules_version
        for rule_id in removed:
            metrics.WINDOW_MATCHES.remove(rule_id)

    def matches(self, tagged: ArticleTagged) -> list[RuleMatch]:
        """Step 1, stateless: the rules the article matches, as records for step 2."""
        found = []
        for compiled in self.compiled:
            article = match_article(compiled, tagged)
            if article is not None:
                found.append(RuleMatch.of(compiled.rule.id, tagged, article))
        return found

    def state(self, rule_id: str) -> RuleState:
        """The rule's state as stored now (a fresh one if none is)."""
        return state_of(self.rules[rule_id], self.states.get(rule_id))

    async def apply(
        self, rule_input: RuleInput, publish: Publish, *, emitted: datetime | None = None
    ) -> Evaluation | None:
        """Step 2: apply one record of the rule-matches topic, publish its alerts, write the
        tables; None for a record of a rule that is no longer in the rules file. A record
        that cannot be applied raises before anything is published or written.
        ``emitted`` stamps the alerts (default: the rule's event time)."""
        rule = self.rules.get(rule_input.rule_id)
        if rule is None:
            return None
        stored = self.states.get(rule.id)
        state = state_of(rule, stored)
        evaluation = Evaluation(rule, self.rules_version, emitted)
        newly_counted: RuleMatch | None = None
        last_counted: RuleMatch | None = None
        if isinstance(rule_input, RuleMatch):
            article_id = rule_input.article.article_id
            if self.memory.counted(rule.id, article_id, state):
                state.tick(rule_input.at, evaluation)
                if article_id == state.last_counted:
                    last_counted = rule_input
            else:
                state.apply(rule_input, evaluation)
                newly_counted = rule_input
        else:
            state.tick(rule_input.now, evaluation)

        for alert in evaluation.alerts:
            await publish(alert)
        for reason in evaluation.suppressed:
            metrics.ALERTS_SUPPRESSED.labels(rule.id, reason).inc()
        written = state.model_dump(mode="json")
        if written != stored:
            self.states[rule.id] = written
        if newly_counted is not None:
            self.memory.remember(rule, newly_counted.article.article_id, newly_counted.at, state)
        elif last_counted is not None:
            self.memory.restore(rule, last_counted.article.article_id, last_counted.at, state)
        if isinstance(state, WindowState):
            metrics.WINDOW_MATCHES.labels(rule.id).set(len(state.matches))
        return evaluation
