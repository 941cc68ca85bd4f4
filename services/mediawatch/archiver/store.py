"""What an archive store is, apart from how one is built (faust's manner: abstract types
beside, not inside, the implementations).

A store keeps every tagged article and every alert, upserted by id so that a record read
twice (at-least-once delivery) is stored once, and answers candidate searches from a full-text
index over the text *as the query library normalises it*: the candidates of a query are then
a superset of what the query matches, and :mod:`mediawatch.archiver.search` verifies them with
the query library itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from mediawatch.schemas import Alert, ArticleTagged


class StoreUnavailable(RuntimeError):
    """The store as a whole cannot be written now (the database down, the disk full, the
    file locked): the caller waits and tries again, nothing is the record's fault."""


@dataclass(frozen=True)
class Word:
    """An index condition: the article holds this normalised word (``prefix``: a word that
    starts with it)."""

    text: str
    prefix: bool = False


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


#: What a backend's full-text index is asked: every article a query matches satisfies it
#: (:func:`mediawatch.archiver.search.candidate_condition`); each backend renders it in its
#: own syntax.
Condition = Word | AllOf | AnyOf


@dataclass(frozen=True)
class ArticleFilters:
    """Filters applied in the store, before any text is read. Empty tuples filter nothing."""

    since: datetime | None = None  # fetched at or after
    until: datetime | None = None  # fetched before
    sources: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    outlet_types: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()  # any of these theme ids tagged
    actors: tuple[str, ...] = ()  # any of these actor ids tagged
    #: (target id, stance label) pairs, all of which must hold: ("state:ru", "critical").
    stances: tuple[tuple[str, str], ...] = ()
    #: Leave out reprints (articles that are near-duplicates of an earlier one).
    stories_only: bool = False


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: results are ordered by fetch time, newest first; ``key`` is the
    store's own position of that article when it has one (SQLite's time-ordered row key)."""

    fetched_at: datetime
    article_id: str
    key: int | None = None


@dataclass(frozen=True)
class StoredArticle:
    """One archived article as a candidate: its place in the order, and the event, read
    only when asked for (most candidates of a broad page are never read)."""

    article_id: str
    fetched_at: datetime
    load: Callable[[], ArticleTagged] = field(repr=False)
    key: int | None = None  # the store's position of the article, for the next cursor

    def cursor(self) -> Cursor:
        """The cursor of a page that ends with this article."""
        return Cursor(self.fetched_at, self.article_id, self.key)


@dataclass(frozen=True)
class Candidates:
    """Articles that may match, newest first."""

    articles: list[StoredArticle] = field(default_factory=list)
    #: Whether the store had more rows past the last one returned.
    more: bool = False


#: What a trend can be split by: a column of the article's source.
TrendGroup = Literal["country", "source", "language"]


@dataclass(frozen=True)
class TrendPoint:
    day: str  # YYYY-MM-DD, UTC, of the fetch time
    group: str | None  # the country, source or language; None when not split
    stories: int  # articles that are not reprints of an earlier one


@dataclass(frozen=True)
class ActorDay:
    day: str
    articles: int  # articles tagged with the actor
    supportive: int
    neutral: int
    critical: int
    mean_score: float | None  # mean stance score of the articles with a stance toward it


@dataclass(frozen=True)
class ActorTimeline:
    actor_id: str
    days: list[ActorDay]
    #: Actors tagged in the same articles, with how many articles, most first.
    co_occurring: list[tuple[str, int]]


@dataclass(frozen=True)
class StoredRef:
    """An archived article as a line of a list: what a reader needs to pick it, without its
    text (a list of reprints never reads their bodies)."""

    article_id: str
    title: str
    source_id: str
    fetched_at: datetime
    url: str | None


@dataclass(frozen=True)
class AlertAck:
    """An analyst's acknowledgement of an alert. The first one stands (acknowledging again
    changes nothing), so it says who picked the alert up, and when."""

    alert_id: str
    by: str
    at: datetime


@dataclass(frozen=True)
class RuleMute:
    """A rule muted by an analyst from ``at`` until ``until``: its alerts are still fired and
    archived, the workspace only keeps them out of the way. One per rule: a later mute
    replaces it."""

    rule_id: str
    by: str
    at: datetime
    until: datetime


@dataclass(frozen=True)
class SourceActivity:
    """How one source has been doing, for a page of every source's health: a source that
    has gone quiet shows as zero days and an old ``last_fetched``."""

    source_id: str
    articles: int  # articles (reprints too) fetched in [since, now)
    last_fetched: datetime  # the fetch time of its newest archived article, at any time
    #: Articles per UTC day (YYYY-MM-DD), every day of [since, now), oldest first, zeros too.
    per_day: dict[str, int]


class ArchiveStore(Protocol):
    """An archive backend: SQLite with FTS5 (:mod:`mediawatch.archiver.sqlite`) today."""

    def upsert_articles(self, articles: Sequence[ArticleTagged]) -> None:
        """Store these articles in one transaction; an id stored before is replaced."""

    def upsert_alerts(self, alerts: Sequence[Alert]) -> None:
        """Store these alerts in one transaction; an id stored before is replaced."""

    def candidates(
        self,
        condition: Condition | None,
        filters: ArticleFilters,
        *,
        after: Cursor | None,
        limit: int,
    ) -> Candidates:
        """Up to ``limit`` articles past ``after`` whose index satisfies ``condition``
        (None: every article the filters let through)."""

    def article(self, article_id: str) -> ArticleTagged | None: ...

    def trend(
        self, theme_id: str | None, group: TrendGroup | None, filters: ArticleFilters
    ) -> list[TrendPoint]:
        """Stories per day (of one theme, split by ``group``), oldest day first."""

    def actor_timeline(
        self, actor_id: str, filters: ArticleFilters, *, co_occurring: int = 20
    ) -> ActorTimeline:
        """Mentions and stance per day, and the actors seen with it most often."""

    def alerts(
        self,
        *,
        rule_id: str | None = None,
        severity: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """The newest alerts (of one rule, one severity, fired in [since, until))."""

    def count_articles(self) -> int: ...

    def count_alerts(self) -> int: ...

    def article_ids(self) -> Iterator[str]: ...

    def purge_before(self, moment: datetime) -> tuple[int, int]:
        """Delete articles fetched and alerts fired before ``moment`` (with the alerts'
        acknowledgements, and mutes that ended before it); how many articles and alerts."""

    def theme_counts(self, since: datetime, limit: int = 100) -> list[tuple[str, int]]:
        """The themes tagged in articles fetched since ``since``, with how many articles,
        most first (the choices of the workspace's trend form)."""

    def reprints_of(self, article_id: str, limit: int = 50) -> list[StoredRef]:
        """Up to ``limit`` archived reprints of this article (those whose ``duplicate_of``
        is its id), newest first: how far a story travelled, without loading the copies."""

    def acknowledge_alert(self, alert_id: str, by: str, at: datetime) -> None:
        """Record that ``by`` acknowledged this alert at ``at``; acknowledging it again keeps
        the first. An alert id not in the archive raises ``KeyError`` (a 404 to the caller)."""

    def alert_triage(self, alert_ids: Sequence[str]) -> dict[str, AlertAck]:
        """The acknowledgements of those of these alerts that have one, by alert id (a page
        of alerts asks once for all of its rows)."""

    def mute_rule(self, rule_id: str, by: str, at: datetime, until: datetime) -> None:
        """Mute a rule until ``until``, replacing a mute it had; ``until`` at or before
        ``at`` unmutes it (the mute is removed)."""

    def rule_mutes(self, now: datetime) -> dict[str, RuleMute]:
        """The mutes that have not ended at ``now``, by rule id."""

    def source_activity(
        self, since: datetime, *, now: datetime | None = None
    ) -> list[SourceActivity]:
        """Every source with an archived article, by id: its articles in [since, now) (now:
        the current time unless given), per day, and its newest article's fetch time."""

    def close(self) -> None: ...


def every_article(store: ArchiveStore, filters: ArticleFilters) -> Iterator[ArticleTagged]:
    """Every archived article the filters let through, newest first, page by page (a
    backtest's input, an export without a query)."""
    after: Cursor | None = None
    while True:
        page = store.candidates(None, filters, after=after, limit=1000)
        for stored in page.articles:
            yield stored.load()
        if not page.more or not page.articles:
            return
        after = page.articles[-1].cursor()
