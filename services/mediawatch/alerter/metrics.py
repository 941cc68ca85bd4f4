"""Prometheus metrics of the alerter (prefix ``mediawatch_``).

Every label value comes from a catalogue or the rules file (theme ids, catalogued actor ids,
source ids, rule ids, destination names, the rules version) or from a fixed set (mode,
severity, outcome, kind, reason), never from article text. As a last guard,
:class:`BoundedLabel` folds values beyond a fixed number of distinct ones into ``"other"``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from mediawatch.schemas import ArticleTagged, StanceLabel

_KNOWN_LANGUAGES = frozenset({"en", "fr", "de", "es", "it", "ru", "uk", "zh", "ar", "pt"})


class BoundedLabel:
    """Pass label values through until ``limit`` distinct ones were seen, then ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, value: str | None) -> str:
        value = value or "unknown"
        if value in self.seen:
            return value
        if len(self.seen) >= self.limit:
            return "other"
        self.seen.add(value)
        return value


ARTICLES_TAGGED = Counter(
    "mediawatch_articles_tagged_total",
    "Tagged articles seen by the alerter, by source id, language and genre (news, opinion, "
    "analysis or unknown).",
    ["source", "language", "genre"],
)
THEME_MATCHES = Counter(
    "mediawatch_theme_matches_total",
    "Articles tagged with a theme, by theme id and kind (story: an original article; "
    "reprint: a near-duplicate of one, which rules do not count unless told to).",
    ["theme", "kind"],
)
ACTOR_MENTIONS = Counter(
    "mediawatch_actor_mentions_total",
    "Articles mentioning a catalogued actor, by actor id and kind (story or reprint).",
    ["actor", "kind"],
)
STANCE_SCORE = Histogram(
    "mediawatch_stance_score",
    "Stance scores (-1 critical .. +1 supportive), by target kind (actor, theme) and target id.",
    ["target_kind", "target"],
    buckets=(-0.75, -0.5, -0.25, -0.1, 0.1, 0.25, 0.5, 0.75, 1.0),
)
RULE_MATCHES = Counter(
    "mediawatch_rule_matches_total", "Articles that matched a rule's condition.", ["rule"]
)
ALERTS = Counter(
    "mediawatch_alerts_total", "Alerts published, by rule, mode and severity.",
    ["rule", "mode", "severity"],
)  # fmt: skip
ALERTS_SUPPRESSED = Counter(
    "mediawatch_alerts_suppressed_total",
    "Alerts not published, by rule and reason (cooldown, repeat).",
    ["rule", "reason"],
)
ALERT_LATENCY = Histogram(
    "mediawatch_alert_latency_seconds",
    "Time from an article's fetched_at to the alert it caused being published, by mode.",
    ["mode"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600),
)
NOTIFICATIONS = Counter(
    "mediawatch_notifications_total",
    "Notification attempts, by destination name, destination type and outcome "
    "(delivered, failed, parked, duplicate).",
    ["destination", "type", "outcome"],
)
NOTIFICATION_SECONDS = Histogram(
    "mediawatch_notification_duration_seconds",
    "Duration of one notification attempt, by destination type.",
    ["type"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WINDOW_MATCHES = Gauge(
    "mediawatch_alerter_window_matches",
    "Matches a threshold or spike rule holds in its window state, by rule.",
    ["rule"],
)
RULES_LOADED = Gauge("mediawatch_alerter_rules", "Enabled watch rules, by mode.", ["mode"])
RULES_RELOADS = Counter(
    "mediawatch_rules_reloads_total",
    "Changed rules files that were loaded without a restart and are now in force.",
)
RULES_RELOAD_FAILURES = Counter(
    "mediawatch_rules_reload_failures_total",
    "Changed rules files that could not be loaded, so the rules loaded before stayed in force, "
    "by reason (invalid: the file does not validate; missing: it cannot be read). Each broken "
    "version of the file counts once, however often it is looked at.",
    ["reason"],
)
RULES_VERSION = Gauge(
    "mediawatch_alerter_rules_version_info",
    "1 for the rules version in force (the rules_version that alerts carry: 16 hex digits of "
    "the SHA-256 of the rules file); one series at a time.",
    ["rules_version"],
)

_sources = BoundedLabel(500)
_themes = BoundedLabel(500)
_actors = BoundedLabel(2000)


def observe_rules_version(rules_version: str) -> None:
    """Show ``rules_version`` as the one version in force (the series of the one before goes,
    so reloads do not pile up series)."""
    RULES_VERSION.clear()
    RULES_VERSION.labels(rules_version).set(1)


def article_kind(tagged: ArticleTagged) -> str:
    """``reprint`` for a near-duplicate of an earlier article (the fetcher set
    ``duplicate_of``), else ``story``: the unit that rules count by default."""
    return "reprint" if tagged.article.duplicate_of else "story"


def observe_tagged(tagged: ArticleTagged) -> None:
    """Count one tagged article in the content metrics."""
    language = tagged.language or tagged.article.language or "unknown"
    language = language if language in _KNOWN_LANGUAGES else "other"
    genre = tagged.article.genre or "unknown"
    ARTICLES_TAGGED.labels(_sources(tagged.article.source.id), language, genre).inc()
    kind = article_kind(tagged)
    for theme in {t.theme_id for t in tagged.themes}:
        THEME_MATCHES.labels(_themes(theme), kind).inc()
    catalogued = {a.actor_id for a in tagged.actors if a.in_catalogue and a.role == "actor"}
    for actor in catalogued:
        ACTOR_MENTIONS.labels(_actors(actor), kind).inc()
    for stance in tagged.stances:
        if stance.label == StanceLabel.UNKNOWN:
            continue  # no model read the language: there is no score to observe
        if stance.target_kind == "actor":
            if stance.target_id not in catalogued:
                continue
            target = _actors(stance.target_id)
        else:
            target = _themes(stance.target_id)
        STANCE_SCORE.labels(stance.target_kind, target).observe(stance.score)
