"""SQL shared by the archive's backends: times as stored (microseconds), and the filter
conditions on the articles and alerts tables, the same columns in SQLite and PostgreSQL,
with each driver's parameter placeholder."""

from __future__ import annotations

from datetime import UTC, datetime

from mediawatch.archiver.store import ArticleFilters


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch (naive times are taken as UTC, as the events' are)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def from_us(microseconds: int) -> datetime:
    return datetime.fromtimestamp(microseconds / 1_000_000, UTC)


def filter_clauses(filters: ArticleFilters, mark: str = "?") -> tuple[list[str], list[object]]:
    """SQL conditions on ``articles a`` (and their parameters) for ``filters``; ``mark`` is
    the driver's parameter placeholder."""
    where: list[str] = []
    params: list[object] = []
    if filters.since is not None:
        where.append(f"a.fetched_us >= {mark}")
        params.append(to_us(filters.since))
    if filters.until is not None:
        where.append(f"a.fetched_us < {mark}")
        params.append(to_us(filters.until))
    for column, values in (
        ("source_id", filters.sources),
        ("country", filters.countries),
        ("outlet_type", filters.outlet_types),
        ("language", filters.languages),
        ("genre", filters.genres),
    ):
        if values:
            where.append(f"a.{column} IN ({', '.join([mark] * len(values))})")
            params.extend(values)
    for table, column, values in (
        ("article_themes", "theme_id", filters.themes),
        ("article_actors", "actor_id", filters.actors),
    ):
        if values:
            where.append(
                f"a.row IN (SELECT row FROM {table} "
                f"WHERE {column} IN ({', '.join([mark] * len(values))}))"
            )
            params.extend(values)
    for target_id, label in filters.stances:
        where.append(
            "a.row IN (SELECT row FROM article_stances "
            f"WHERE target_id = {mark} AND label = {mark})"
        )
        params.extend([target_id, label])
    if filters.stories_only:
        where.append("a.duplicate_of IS NULL")
    return where, params


def alert_clauses(
    rule_id: str | None,
    severity: str | None,
    since: datetime | None,
    until: datetime | None,
    mark: str = "?",
) -> tuple[list[str], list[object]]:
    """SQL conditions on ``alerts`` (and their parameters): one rule, one severity, fired in
    [since, until)."""
    where: list[str] = []
    params: list[object] = []
    for condition, value in (
        (f"rule_id = {mark}", rule_id),
        (f"severity = {mark}", severity),
        (f"fired_us >= {mark}", to_us(since) if since else None),
        (f"fired_us < {mark}", to_us(until) if until else None),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    return where, params
