"""Rule evaluation: does a tagged article match a rule's condition, and what does a match (or
a clock tick) do to the rule's window state.

Evaluation has two steps so that the alerter scales like the rest of the stack:

1. :func:`match_article` is stateless and runs on the partition of the article;
2. :func:`apply` runs where the rule's state lives (records keyed by rule id) and returns the
   new state and the alerts to publish.

Rule state is a JSON-ready ``dict`` (it is stored in a faust table backed by a Kafka
changelog). Every alert id is deterministic, and the state remembers the articles it already
counted and the alerts it already fired, so a redelivered record changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mediawatch.alerter.rules import (
    DigestMode,
    EachMatchMode,
    Rule,
    SpikeMode,
    ThresholdMode,
)
from mediawatch.alerter.windows import (
    from_epoch,
    latest_slot,
    next_slot,
    slot_text,
    spike,
    threshold,
    to_epoch,
)
from mediawatch.schemas import (
    Alert,
    AlertArticle,
    AlertWindow,
    ArticleTagged,
    Evidence,
    StanceLabel,
)

#: Alert ids remembered per rule to suppress repeats.
_FIRED_MEMORY = 200
#: Articles kept per rule to list in threshold and spike alerts.
_RECENT_ARTICLES = 20
#: Evidence items kept per article in an alert.
_EVIDENCE_PER_ARTICLE = 8


class CompiledRule:
    """A rule with its query compiled once."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.query: Any = None
        if rule.condition.query:
            from mediawatch.query import compile_query

            self.query = compile_query(rule.condition.query)


def _shift(evidence: Evidence, offset: int) -> Evidence:
    if evidence.field != "text" or offset == 0:
        return evidence
    update: dict[str, Any] = {"start": evidence.start + offset, "end": evidence.end + offset}
    if evidence.sentence_start is not None:
        update["sentence_start"] = evidence.sentence_start + offset
    if evidence.sentence_end is not None:
        update["sentence_end"] = evidence.sentence_end + offset
    return evidence.model_copy(update=update)


def match_article(compiled: CompiledRule, tagged: ArticleTagged) -> AlertArticle | None:
    """The article as it would appear in an alert of this rule, or None if it does not match."""
    condition = compiled.rule.condition
    article = tagged.article
    if article.duplicate_of and not condition.include_duplicates:
        return None
    sources = condition.sources
    language = tagged.language or article.language or article.source.language
    if sources.country and (article.source.country or "").upper() not in {
        c.upper() for c in sources.country
    }:
        return None
    if sources.outlet_type and article.source.outlet_type not in sources.outlet_type:
        return None
    if sources.language and (language or "").split("-")[0].lower() not in {
        code.lower() for code in sources.language
    }:
        return None
    if sources.source_id and article.source.id not in sources.source_id:
        return None
    if condition.genres and article.genre not in condition.genres:
        return None

    article_themes = {theme.theme_id: theme for theme in tagged.themes}
    matched_themes = [t for t in condition.themes if t in article_themes]
    if condition.themes and not matched_themes:
        return None
    if any(t not in article_themes for t in condition.all_themes):
        return None
    matched_themes += [t for t in condition.all_themes if t not in matched_themes]

    # Outlets only cited as sources (role "source") are not actors of the story.
    article_actors = {a.actor_id: a for a in tagged.actors if a.role == "actor"}
    matched_actors = [a for a in condition.actors if a in article_actors]
    if condition.actors and not matched_actors:
        return None

    stances = []
    for wanted in condition.stance:
        found = [
            s
            for s in tagged.stances
            if s.target_id == wanted.target
            and (wanted.kind is None or s.target_kind == wanted.kind)
        ]
        # An unknown stance (no model for the language) has no score to hold a bound.
        holding = [s for s in found if s.label != StanceLabel.UNKNOWN and wanted.holds(s.score)]
        if not holding:
            return None
        stances.extend(holding)

    evidence: list[Evidence] = []
    if compiled.query is not None:
        from mediawatch.query import Document

        document = Document(
            tagged.text,
            title=article.title,
            language=language,
            source_id=article.source.id,
            country=article.source.country,
            outlet_type=article.source.outlet_type,
            genre=article.genre,
        )
        result = compiled.query.evaluate(document)
        if not result.matched:
            return None
        evidence.extend(_shift(e, tagged.text_start) for e in result.evidence)
    for theme_id in matched_themes:
        evidence.extend(article_themes[theme_id].evidence[:2])
    for stance in stances:
        evidence.extend(stance.evidence[:2])
    for actor_id in matched_actors:
        if not stances:
            evidence.extend(article_actors[actor_id].mentions[:1])
    unique: dict[tuple[str, int, int], Evidence] = {}
    for item in evidence:
        unique.setdefault((item.field, item.start, item.end), item)

    return AlertArticle(
        article_id=article.article_id,
        title=article.title,
        url=article.url,
        source=article.source,
        published_at=article.published_at,
        fetched_at=article.fetched_at,
        themes=matched_themes or sorted(article_themes),
        actors=matched_actors
        or [a.actor_id for a in tagged.actors if a.in_catalogue and a.role == "actor"],
        stances=stances,
        evidence=list(unique.values())[:_EVIDENCE_PER_ARTICLE],
    )


@dataclass(frozen=True)
class RuleMatch:
    """What travels from step 1 to step 2: one article matched one rule."""

    rule_id: str
    at: float
    story: str
    article: AlertArticle

    def to_record(self) -> dict[str, Any]:
        return {
            "kind": "match",
            "rule_id": self.rule_id,
            "at": self.at,
            "story": self.story,
            "article": self.article.model_dump(mode="json"),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RuleMatch:
        return cls(
            rule_id=str(record["rule_id"]),
            at=float(record["at"]),
            story=str(record["story"]),
            article=AlertArticle.model_validate(record["article"]),
        )

    @classmethod
    def of(cls, rule_id: str, tagged: ArticleTagged, article: AlertArticle) -> RuleMatch:
        ref = tagged.article
        return cls(rule_id, to_epoch(ref.fetched_at), ref.duplicate_of or ref.article_id, article)


@dataclass(frozen=True)
class Outcome:
    state: dict[str, Any]
    alerts: list[Alert]
    suppressed: list[str]
    counted: bool


def new_state() -> dict[str, Any]:
    return {
        "clock": None,
        "matches": [],
        "recent": [],
        "last_fired_at": None,
        "floor": None,
        "fired": [],
        "pending": [],
        "pending_count": 0,
        "pending_groups": {},
        "pending_since": None,
        "digest_slot": None,
    }


def _alert(rule: Rule, alert_id: str, fired_at: datetime, summary: str, **fields: Any) -> Alert:
    return Alert(
        alert_id=alert_id,
        rule_id=rule.id,
        rule_description=rule.description,
        mode=rule.alert_mode,
        severity=rule.severity,
        summary=summary,
        fired_at=fired_at,
        **fields,
    )


def _titles(articles: list[AlertArticle], limit: int = 3) -> str:
    titles = [a.title or a.article_id for a in articles[:limit]]
    more = f" (+{len(articles) - limit} more)" if len(articles) > limit else ""
    return "; ".join(titles) + more


def _gate(rule: Rule, state: dict[str, Any], alert_id: str, now: float) -> str | None:
    """Why an alert must not fire now (a repeat, or within the cooldown), or None."""
    if alert_id in state["fired"]:
        return "repeat"
    last = state["last_fired_at"]
    cooldown = rule.cooldown.total_seconds()
    if cooldown > 0 and last is not None and now < last + cooldown:
        return "cooldown"
    return None


def _record_fired(state: dict[str, Any], alert_id: str, now: float) -> None:
    state["fired"] = (state["fired"] + [alert_id])[-_FIRED_MEMORY:]
    state["last_fired_at"] = now


def _prune(rule: Rule, state: dict[str, Any], now: float) -> None:
    horizon = rule.horizon().total_seconds()
    if horizon > 0:
        oldest = now - horizon
        state["matches"] = [m for m in state["matches"] if m[0] > oldest]


def apply(
    rule: Rule,
    state: dict[str, Any] | None,
    match: RuleMatch | None,
    now: float | None = None,
    *,
    fired_at: datetime | None = None,
    already_counted: bool = False,
) -> Outcome:
    """Apply one match (or, with ``match=None``, a clock tick at ``now``) to the rule state.

    Time is event time: ``now`` defaults to the newest match time seen by the rule, so windows
    advance with the stream, not with the wall clock. ``fired_at`` stamps the alerts (defaults
    to ``now``). ``already_counted``: the rule counted this article before (a replay or a
    reprint), so it changes nothing but the clock; the rule's memory of counted articles is
    :class:`mediawatch.alerter.counted.CountedArticles`, which calls this.
    """
    state = new_state() | (state or {})
    state = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
             for k, v in state.items()}  # fmt: skip
    candidates = [t for t in (now, match.at if match else None, state["clock"]) if t is not None]
    if not candidates:
        return Outcome(state, [], [], False)
    clock = max(candidates)
    state["clock"] = clock
    stamp = fired_at or from_epoch(clock)
    alerts: list[Alert] = []
    suppressed: list[str] = []

    if isinstance(rule.mode, DigestMode):
        alerts, suppressed = _digest_due(rule, rule.mode, state, clock, stamp)

    counted = False
    if match is not None and not already_counted:
        counted = True
        if isinstance(rule.mode, EachMatchMode):
            alert_id = f"{rule.id}:{match.article.article_id}"
            reason = _gate(rule, state, alert_id, clock)
            if reason is None:
                summary = f"{rule.description or rule.id}: {_titles([match.article])}"
                alerts.append(_alert(rule, alert_id, stamp, summary, articles=[match.article]))
                _record_fired(state, alert_id, clock)
            else:
                suppressed.append(reason)
        elif isinstance(rule.mode, ThresholdMode | SpikeMode):
            state["matches"].append([match.at, match.article.article_id, match.story])
            state["matches"].sort(key=lambda m: m[0])
            recent = state["recent"] + [match.article.model_dump(mode="json")]
            recent.sort(key=lambda a: a["fetched_at"])
            state["recent"] = recent[-_RECENT_ARTICLES:]
            fired, why = _windowed(rule, state, clock, stamp, match)
            alerts.extend(fired)
            suppressed.extend(why)
        elif isinstance(rule.mode, DigestMode):
            _add_pending(rule.mode, state, match)

    _prune(rule, state, clock)
    return Outcome(state, alerts, suppressed, counted)


def _story_times(rule: Rule, state: dict[str, Any]) -> list[float]:
    """One time per story (its first match), or per article when reprints count."""
    if rule.condition.include_duplicates:
        return [m[0] for m in state["matches"]]
    first: dict[str, float] = {}
    for at, _article_id, story in state["matches"]:
        first.setdefault(story, at)
    return list(first.values())


def _window_articles(state: dict[str, Any], start: float, end: float) -> list[AlertArticle]:
    articles = [AlertArticle.model_validate(a) for a in state["recent"]]
    return [a for a in articles if start <= to_epoch(a.fetched_at) <= end]


def _windowed(
    rule: Rule, state: dict[str, Any], now: float, stamp: datetime, match: RuleMatch
) -> tuple[list[Alert], list[str]]:
    times = _story_times(rule, state)
    mode = rule.mode
    statistics: dict[str, float]
    if isinstance(mode, ThresholdMode):
        result = threshold(times, now, mode.window.total_seconds(), mode.count, state["floor"])
        if not result.fired or result.window_start is None:
            return [], []
        start = result.window_start
        statistics = {"count": float(result.count), "threshold": float(mode.count)}
        summary = (
            f"{rule.description or rule.id}: {result.count} matching stories within {mode.window}"
        )
    elif isinstance(mode, SpikeMode):
        spiked = spike(
            times,
            now,
            mode.window.total_seconds(),
            mode.baseline.total_seconds(),
            min_count=mode.min_count,
            min_ratio=mode.min_ratio,
            min_zscore=mode.min_zscore,
            floor=state["floor"],
        )
        if not spiked.fired or spiked.window_start is None:
            return [], []
        start = spiked.window_start
        statistics = {
            "count": float(spiked.count),
            "baseline_mean": round(spiked.baseline_mean, 6),
            "baseline_std": round(spiked.baseline_std, 6),
            "ratio": round(spiked.ratio, 6),
            "zscore": round(spiked.zscore, 6),
        }
        summary = (
            f"{rule.description or rule.id}: {spiked.count} matches in {mode.window}, "
            f"{spiked.ratio:.1f}x the baseline (z={spiked.zscore:.1f})"
        )
    else:
        return [], []
    alert_id = f"{rule.id}:{mode.type}:{slot_text(start)}"
    reason = _gate(rule, state, alert_id, now)
    if reason is not None:
        return [], [reason]
    articles = _window_articles(state, start, now)
    alert = _alert(
        rule,
        alert_id,
        stamp,
        summary,
        articles=articles,
        window=AlertWindow(start=from_epoch(start), end=from_epoch(now)),
        statistics=statistics,
    )
    _record_fired(state, alert_id, now)
    state["floor"] = now  # the next alert needs matches after this one
    return [alert], []


def _add_pending(mode: DigestMode, state: dict[str, Any], match: RuleMatch) -> None:
    state["pending_count"] += 1
    if state["pending_since"] is None:
        state["pending_since"] = match.at
    groups = state["pending_groups"]
    for theme in match.article.themes:
        groups[f"theme:{theme}"] = groups.get(f"theme:{theme}", 0) + 1
    for actor in match.article.actors:
        groups[f"actor:{actor}"] = groups.get(f"actor:{actor}", 0) + 1
    if len(state["pending"]) < mode.max_articles:
        state["pending"].append(match.article.model_dump(mode="json"))


def _digest_due(
    rule: Rule, mode: DigestMode, state: dict[str, Any], now: float, stamp: datetime
) -> tuple[list[Alert], list[str]]:
    if state["digest_slot"] is None:
        state["digest_slot"] = latest_slot(mode.cron, mode.timezone, now)
        return [], []
    following = next_slot(mode.cron, mode.timezone, state["digest_slot"])
    if following > now:
        return [], []
    slot = latest_slot(mode.cron, mode.timezone, now)
    previous = state["digest_slot"]
    state["digest_slot"] = slot
    count = int(state["pending_count"])
    if count == 0 and not mode.send_empty:
        return [], []
    alert_id = f"{rule.id}:digest:{slot_text(slot)}"
    if alert_id in state["fired"]:
        return [], ["repeat"]
    articles = [AlertArticle.model_validate(a) for a in state["pending"]]
    groups = dict(sorted(state["pending_groups"].items(), key=lambda kv: (-kv[1], kv[0])))
    top = ", ".join(f"{k.split(':', 1)[1]} ({v})" for k, v in list(groups.items())[:3])
    summary = f"{rule.description or rule.id}: {count} matching articles" + (
        f"; most: {top}" if top else ""
    )
    alert = _alert(
        rule,
        alert_id,
        stamp,
        summary,
        articles=articles,
        window=AlertWindow(start=from_epoch(previous), end=from_epoch(slot)),
        statistics={"count": float(count)},
        groups=groups,
    )
    state["fired"] = (state["fired"] + [alert_id])[-_FIRED_MEMORY:]
    state["last_fired_at"] = now
    state["pending"] = []
    state["pending_count"] = 0
    state["pending_groups"] = {}
    state["pending_since"] = None
    return [alert], []
