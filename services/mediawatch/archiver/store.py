"""What an archive store is, apart from how one is built (faust's manner: abstract types
beside, not inside, the implementations).

A store keeps every tagged article and every alert, upserted by id so that a record read
twice (at-least-once delivery) is stored once, and answers candidate searches from a full-text
index over the text *as the query library normalises it*: the candidates of a query are then
a superset of what the query matches, and :mod:`mediawatch.archiver.search` verifies them with
the query library itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from mediawatch.schemas import Alert, ArticleTagged


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


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: results are ordered by fetch time, newest first, then by id."""

    fetched_at: datetime
    article_id: str


@dataclass(frozen=True)
class Candidates:
    """Articles that may match, newest first, as they were tagged."""

    articles: list[ArticleTagged] = field(default_factory=list)
    #: Whether the store had more rows past the last one returned.
    more: bool = False


class ArchiveStore(Protocol):
    """An archive backend: SQLite with FTS5 (:mod:`mediawatch.archiver.sqlite`) today."""

    def upsert_articles(self, articles: Sequence[ArticleTagged]) -> None:
        """Store these articles in one transaction; an id stored before is replaced."""

    def upsert_alerts(self, alerts: Sequence[Alert]) -> None:
        """Store these alerts in one transaction; an id stored before is replaced."""

    def candidates(
        self,
        fts_expression: str | None,
        filters: ArticleFilters,
        *,
        after: Cursor | None,
        limit: int,
    ) -> Candidates:
        """Up to ``limit`` articles past ``after`` whose index holds ``fts_expression``
        (None: every article the filters let through)."""

    def article(self, article_id: str) -> ArticleTagged | None: ...

    def alerts(self, *, rule_id: str | None = None, limit: int = 100) -> list[Alert]:
        """The newest alerts (of one rule), newest first."""

    def count_articles(self) -> int: ...

    def count_alerts(self) -> int: ...

    def article_ids(self) -> Iterator[str]: ...

    def purge_before(self, moment: datetime) -> tuple[int, int]:
        """Delete articles fetched and alerts fired before ``moment``; how many of each."""

    def close(self) -> None: ...
