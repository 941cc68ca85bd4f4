"""The typed window state of one rule, one class per alert mode.

A state changes in two ways: :meth:`apply` counts one match the rule had not counted before,
:meth:`tick` tells it that time reached ``now`` (the rule timer, for a digest or a cooldown, or a
match the rule had already counted). Both append the alerts to publish and the suppressions
to an :class:`Evaluation`. Neither reads a clock or a table: :mod:`evaluator` reads the state
from the ``rule-states`` table, calls these and writes it back, so the service and the tests
run the very same steps.

Every alert id is deterministic and the state remembers the ids it fired, so a redelivered
input changes nothing. States are pydantic models stored as JSON in the faust table; the
``mode`` field says which class a stored record is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mediawatch.alerter.engine import RuleMatch
from mediawatch.alerter.rules import DigestMode, Rule, SpikeMode, ThresholdMode
from mediawatch.alerter.windows import (
    from_epoch,
    latest_slot,
    next_slot,
    slot_text,
    spike,
    threshold,
    to_epoch,
)
from mediawatch.schemas import Alert, AlertArticle, AlertWindow

#: Alert ids remembered per rule to suppress repeats.
FIRED_MEMORY = 200
#: Articles kept per rule to list in threshold and spike alerts.
RECENT_ARTICLES = 20
#: Articles a cooldown summary lists (it counts all the held matches); they live in the rule
#: state, which is rewritten with every match, so they are few, as in :data:`RECENT_ARTICLES`.
HELD_ARTICLES = 20


@dataclass
class Evaluation:
    """What one input did to one rule: the alerts to publish and why others were not."""

    rule: Rule
    rules_version: str
    #: When the alerts are emitted; None stamps them with the rule's event time.
    emitted: datetime | None = None
    alerts: list[Alert] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)

    def fire(self, alert_id: str, clock: float, summary: str, **fields: Any) -> None:
        rule = self.rule
        self.alerts.append(
            Alert(
                alert_id=alert_id,
                rule_id=rule.id,
                rule_description=rule.description,
                mode=rule.alert_mode,
                severity=rule.severity,
                summary=f"{rule.description or rule.id}: {summary}",
                fired_at=self.emitted or from_epoch(clock),
                rules_version=self.rules_version,
                **fields,
            )
        )


def _titles(articles: list[AlertArticle], limit: int = 3) -> str:
    titles = [a.title or a.article_id for a in articles[:limit]]
    more = f" (+{len(articles) - limit} more)" if len(articles) > limit else ""
    return "; ".join(titles) + more


class RuleState(BaseModel, ABC):
    """What every mode remembers: its event clock, the alerts it fired, and which article it
    counted last (see :mod:`counted` for why ``revision`` and ``last_counted`` exist)."""

    model_config = ConfigDict(extra="forbid")

    clock: float | None = Field(default=None, description="newest event time seen")
    fired: list[str] = Field(default_factory=list, description="the newest alert ids fired")
    last_fired_at: float | None = Field(default=None, description="event time of the last alert")
    revision: int = Field(default=0, description="articles counted so far")
    last_counted: str | None = Field(default=None, description="the article counted last")

    @abstractmethod
    def apply(self, match: RuleMatch, evaluation: Evaluation) -> None:
        """Count one match the rule had not counted before."""

    @abstractmethod
    def tick(self, now: float, evaluation: Evaluation) -> None:
        """Time reached ``now``: a timer tick, or a match the rule had already counted."""

    def _count(self, match: RuleMatch) -> float:
        """Advance the clock to the match and note that the match is counted; the clock."""
        self.clock = match.at if self.clock is None else max(self.clock, match.at)
        self.revision += 1
        self.last_counted = match.article.article_id
        return self.clock

    def _record_fired(self, alert_id: str, now: float) -> None:
        self.fired = [*self.fired, alert_id][-FIRED_MEMORY:]
        self.last_fired_at = now


class CooldownState(RuleState):
    """A mode whose alerts a cooldown holds back. The matches counted inside a cooldown are
    held, and the first input at or after its end publishes one summary of them ("N more
    matches"), so that a cooldown delays what the rule saw instead of dropping it."""

    held: list[AlertArticle] = Field(
        default_factory=list, description="articles of the held matches, the first ones"
    )
    held_count: int = Field(default=0, description="matches held in the current cooldown")

    def _cooldown_end(self, rule: Rule) -> float | None:
        cooldown = rule.cooldown.total_seconds()
        if cooldown <= 0 or self.last_fired_at is None:
            return None
        return self.last_fired_at + cooldown

    def _in_cooldown(self, rule: Rule, now: float) -> bool:
        end = self._cooldown_end(rule)
        return end is not None and now < end

    def _gate(self, rule: Rule, alert_id: str, now: float) -> str | None:
        """Why an alert must not fire now (a repeat, or within the cooldown), or None."""
        if alert_id in self.fired:
            return "repeat"
        if self._in_cooldown(rule, now):
            return "cooldown"
        return None

    def _hold(self, rule: Rule, match: RuleMatch, now: float) -> None:
        if not self._in_cooldown(rule, now):
            return
        self.held_count += 1
        if len(self.held) < HELD_ARTICLES:
            self.held.append(match.article)

    def _summarise_held(self, now: float, evaluation: Evaluation) -> bool:
        """Publish the summary of the held matches if their cooldown is over by ``now``;
        whether it did. The summary starts no cooldown of its own: the match that ended the
        cooldown is judged as usual right after it."""
        end = self._cooldown_end(evaluation.rule)
        if self.held_count == 0 or end is None or now < end or self.last_fired_at is None:
            return False
        count = self.held_count
        # The first held article names the batch: a rule counts an article once, so two
        # summaries never share an id, and a replay of the same batch repeats its id.
        alert_id = f"{evaluation.rule.id}:more:{self.held[0].article_id}"
        noun = "match" if count == 1 else "matches"
        evaluation.fire(
            alert_id,
            max(now, end),
            f"{count} more {noun} during the cooldown: {_titles(self.held)}",
            articles=list(self.held),
            window=AlertWindow(start=from_epoch(self.last_fired_at), end=from_epoch(end)),
            statistics={"count": float(count)},
        )
        self.fired = [*self.fired, alert_id][-FIRED_MEMORY:]
        self.held = []
        self.held_count = 0
        return True

    def tick(self, now: float, evaluation: Evaluation) -> None:
        """A timer tick or an already counted match: only a cooldown can end. The event
        clock is left alone, so a wall-clock tick never moves the windows of a replay."""
        self._summarise_held(max(now, self.clock or now), evaluation)


class EachMatchState(CooldownState):
    mode: Literal["each_match"] = "each_match"

    def apply(self, match: RuleMatch, evaluation: Evaluation) -> None:
        rule = evaluation.rule
        now = self._count(match)
        self._summarise_held(now, evaluation)
        alert_id = f"{rule.id}:{match.article.article_id}"
        reason = self._gate(rule, alert_id, now)
        if reason is None:
            evaluation.fire(alert_id, now, _titles([match.article]), articles=[match.article])
            self._record_fired(alert_id, now)
            return
        evaluation.suppressed.append(reason)
        if reason == "cooldown":
            self._hold(rule, match, now)


class WindowMatch(BaseModel):
    """One match a threshold or spike rule holds in its horizon."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: float
    article_id: str
    story: str = Field(description="the article id of the story (the original of a reprint)")


class WindowState(CooldownState):
    """Threshold and spike rules: the matches of the horizon and the newest articles."""

    matches: list[WindowMatch] = Field(default_factory=list)
    recent: list[AlertArticle] = Field(
        default_factory=list, description="the newest articles, listed in an alert"
    )
    floor: float | None = Field(
        default=None, description="the next alert needs matches after this time"
    )

    def apply(self, match: RuleMatch, evaluation: Evaluation) -> None:
        rule = evaluation.rule
        now = self._count(match)
        self._summarise_held(now, evaluation)
        in_cooldown = self._in_cooldown(rule, now)
        entry = WindowMatch(at=match.at, article_id=match.article.article_id, story=match.story)
        self.matches = sorted([*self.matches, entry], key=lambda m: m.at)
        recent = sorted([*self.recent, match.article], key=lambda a: a.fetched_at)
        self.recent = recent[-RECENT_ARTICLES:]
        self._evaluate_window(now, evaluation)
        if in_cooldown:
            self._hold(rule, match, now)
        horizon = rule.horizon().total_seconds()
        if horizon > 0:
            self.matches = [m for m in self.matches if m.at > now - horizon]

    def _summarise_held(self, now: float, evaluation: Evaluation) -> bool:
        summarised = super()._summarise_held(now, evaluation)
        end = self._cooldown_end(evaluation.rule)
        if summarised and end is not None:
            # The summary reported the matches of the cooldown: they do not fire again.
            self.floor = end if self.floor is None else max(self.floor, end)
        return summarised

    def _story_times(self, rule: Rule) -> list[float]:
        """One time per story (its first match), or per article when reprints count."""
        if rule.condition.include_duplicates:
            return [m.at for m in self.matches]
        first: dict[str, float] = {}
        for window_match in self.matches:
            first.setdefault(window_match.story, window_match.at)
        return list(first.values())

    @abstractmethod
    def _evaluate_window(self, now: float, evaluation: Evaluation) -> None:
        """Fire the mode's alert if the window now satisfies it."""

    def _fire_window(
        self,
        start: float,
        now: float,
        summary: str,
        statistics: dict[str, float],
        evaluation: Evaluation,
    ) -> None:
        rule = evaluation.rule
        alert_id = f"{rule.id}:{rule.mode.type}:{slot_text(start)}"
        reason = self._gate(rule, alert_id, now)
        if reason is not None:
            evaluation.suppressed.append(reason)
            return
        articles = [a for a in self.recent if start <= to_epoch(a.fetched_at) <= now]
        evaluation.fire(
            alert_id,
            now,
            summary,
            articles=articles,
            window=AlertWindow(start=from_epoch(start), end=from_epoch(now)),
            statistics=statistics,
        )
        self._record_fired(alert_id, now)
        self.floor = now  # the next alert needs matches after this one


class ThresholdState(WindowState):
    mode: Literal["threshold"] = "threshold"

    def _evaluate_window(self, now: float, evaluation: Evaluation) -> None:
        mode = evaluation.rule.mode
        assert isinstance(mode, ThresholdMode)
        times = self._story_times(evaluation.rule)
        result = threshold(times, now, mode.window.total_seconds(), mode.count, self.floor)
        if not result.fired or result.window_start is None:
            return
        self._fire_window(
            result.window_start,
            now,
            f"{result.count} matching stories within {mode.window}",
            {"count": float(result.count), "threshold": float(mode.count)},
            evaluation,
        )


class SpikeState(WindowState):
    mode: Literal["spike"] = "spike"

    def _evaluate_window(self, now: float, evaluation: Evaluation) -> None:
        mode = evaluation.rule.mode
        assert isinstance(mode, SpikeMode)
        spiked = spike(
            self._story_times(evaluation.rule),
            now,
            mode.window.total_seconds(),
            mode.baseline.total_seconds(),
            min_count=mode.min_count,
            min_ratio=mode.min_ratio,
            min_zscore=mode.min_zscore,
            floor=self.floor,
        )
        if not spiked.fired or spiked.window_start is None:
            return
        self._fire_window(
            spiked.window_start,
            now,
            f"{spiked.count} matches in {mode.window}, {spiked.ratio:.1f}x the baseline "
            f"(z={spiked.zscore:.1f})",
            {
                "count": float(spiked.count),
                "baseline_mean": round(spiked.baseline_mean, 6),
                "baseline_std": round(spiked.baseline_std, 6),
                "ratio": round(spiked.ratio, 6),
                "zscore": round(spiked.zscore, 6),
            },
            evaluation,
        )


class DigestState(RuleState):
    """Everything matched since the last schedule slot, published at the next one. A digest
    has no cooldown: its schedule is its pace."""

    mode: Literal["digest"] = "digest"
    slot: float | None = Field(default=None, description="the last schedule slot passed")
    pending: list[AlertArticle] = Field(default_factory=list, description="the first articles")
    pending_count: int = 0
    pending_groups: dict[str, int] = Field(
        default_factory=dict, description="pending matches per theme:<id> and actor:<id>"
    )

    def apply(self, match: RuleMatch, evaluation: Evaluation) -> None:
        now = self._count(match)
        self._publish_due(now, evaluation)
        mode = evaluation.rule.mode
        assert isinstance(mode, DigestMode)
        self.pending_count += 1
        groups = dict(self.pending_groups)
        for key in [f"theme:{t}" for t in match.article.themes] + [
            f"actor:{a}" for a in match.article.actors
        ]:
            groups[key] = groups.get(key, 0) + 1
        self.pending_groups = groups
        if len(self.pending) < mode.max_articles:
            self.pending = [*self.pending, match.article]

    def tick(self, now: float, evaluation: Evaluation) -> None:
        """Time reached ``now`` (the rule timer, or an already counted match)."""
        self.clock = now if self.clock is None else max(self.clock, now)
        self._publish_due(self.clock, evaluation)

    def _publish_due(self, now: float, evaluation: Evaluation) -> None:
        rule = evaluation.rule
        mode = rule.mode
        assert isinstance(mode, DigestMode)
        if self.slot is None:
            self.slot = latest_slot(mode.cron, mode.timezone, now)
            return
        if next_slot(mode.cron, mode.timezone, self.slot) > now:
            return
        slot = latest_slot(mode.cron, mode.timezone, now)
        previous, self.slot = self.slot, slot
        count = self.pending_count
        if count == 0 and not mode.send_empty:
            return
        alert_id = f"{rule.id}:digest:{slot_text(slot)}"
        if alert_id in self.fired:
            evaluation.suppressed.append("repeat")
            return
        groups = dict(sorted(self.pending_groups.items(), key=lambda kv: (-kv[1], kv[0])))
        top = ", ".join(f"{k.split(':', 1)[1]} ({v})" for k, v in list(groups.items())[:3])
        evaluation.fire(
            alert_id,
            now,
            f"{count} matching articles" + (f"; most: {top}" if top else ""),
            articles=list(self.pending),
            window=AlertWindow(start=from_epoch(previous), end=from_epoch(slot)),
            statistics={"count": float(count)},
            groups=groups,
        )
        self._record_fired(alert_id, now)
        self.pending = []
        self.pending_count = 0
        self.pending_groups = {}


STATE_TYPES: dict[str, type[RuleState]] = {
    "each_match": EachMatchState,
    "threshold": ThresholdState,
    "spike": SpikeState,
    "digest": DigestState,
}


def state_of(rule: Rule, stored: dict[str, Any] | None) -> RuleState:
    """The rule's state from its stored JSON; a fresh one if there is none, or if the rule's
    mode changed since (keeping the fired ids and the count of counted articles)."""
    kind = STATE_TYPES[rule.mode.type]
    if stored is None:
        return kind()
    if stored.get("mode") == rule.mode.type:
        return kind.model_validate(stored)
    kept = {name: stored[name] for name in RuleState.model_fields if name in stored}
    return kind.model_validate(kept)
