"""SQL shared by the archive's backends: times as stored (microseconds), and the filter
conditions on the articles and alerts tables, the same columns in SQLite and PostgreSQL,
with each driver's parameter placeholder."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from mediawatch.archiver.store import ArticleFilters, SourceActivity


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC (naive times are taken as UTC, as the events' are)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch (naive times are taken as UTC, as the events' are)."""
    return int(as_utc(moment).timestamp() * 1_000_000)


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


def require_text(name: str, value: object) -> str:
    """``value`` if it is a string with something in it: an id or an analyst's name that the
    caller left empty is its mistake, named, not a row nobody can find again."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: a non-empty string is needed, got {value!r}")
    return value


def require_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit: a whole number of at least 1 is needed, got {limit!r}")
    return limit


def require_ids(name: str, ids: Sequence[str]) -> list[str]:
    """The ids of a batch read, each checked; one string is refused rather than read as a
    sequence of one-letter ids."""
    if isinstance(ids, str):
        raise TypeError(f"{name}: a sequence of ids is needed, not one string ({ids!r})")
    return [require_text(name, one) for one in ids]


#: Each source's newest fetch time without reading every row: a loose index scan (the next
#: source id after the last, then that source's newest row), as many index probes as there
#: are sources. ``{newest}`` is the backend's order of a source's rows, newest first.
#: The themes of the articles fetched since a time, most articles first; ``{p}`` is the
#: backend's placeholder.
THEME_COUNTS_SQL = (
    "SELECT t.theme_id, COUNT(*) FROM article_themes t JOIN articles a ON a.row = t.row "
    "WHERE a.fetched_us >= {p} GROUP BY t.theme_id ORDER BY 2 DESC, 1 LIMIT {p}"
)

LAST_FETCHED_SQL = """
WITH RECURSIVE sources (source_id) AS (
    SELECT min(source_id) FROM articles
    UNION ALL
    SELECT (SELECT min(a.source_id) FROM articles a WHERE a.source_id > s.source_id)
    FROM sources s WHERE s.source_id IS NOT NULL
)
SELECT s.source_id, (
    SELECT a.fetched_us FROM articles a WHERE a.source_id = s.source_id
    ORDER BY {newest} LIMIT 1
) FROM sources s WHERE s.source_id IS NOT NULL
"""


def activity_window(since: datetime, now: datetime | None) -> tuple[datetime, datetime]:
    """``since`` and ``now`` (the current time unless given) in UTC, ``since`` first."""
    start = as_utc(since)
    end = datetime.now(UTC) if now is None else as_utc(now)
    if start >= end:
        raise ValueError(f"since: {start.isoformat()} is not before now ({end.isoformat()})")
    return start, end


def utc_days(since: datetime, until: datetime) -> list[str]:
    """Every UTC day (YYYY-MM-DD) that [since, until) touches, oldest first."""
    first = as_utc(since).date()
    last = (as_utc(until) - timedelta(microseconds=1)).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def source_activities(
    since: datetime,
    until: datetime,
    day_counts: Iterable[tuple[str, str, int]],
    last_fetched_us: Iterable[tuple[str, int]],
) -> list[SourceActivity]:
    """Every source of ``last_fetched_us`` (each source and its newest fetch time), with
    its (day, source, articles) counts of [since, until), every day present, by source id."""
    days = utc_days(since, until)
    per_source: dict[str, dict[str, int]] = {}
    for day, source_id, n in day_counts:
        per_source.setdefault(source_id, {})[day] = int(n)
    activities = []
    for source_id, newest in sorted(last_fetched_us):
        counts = per_source.get(source_id, {})
        per_day = {day: counts.get(day, 0) for day in days}
        activities.append(
            SourceActivity(source_id, sum(per_day.values()), from_us(newest), per_day)
        )
    return activities
