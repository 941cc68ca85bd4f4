"""SQL shared by the archive's backends: the filter conditions on the articles table, the
same columns in SQLite and PostgreSQL, with each driver's parameter placeholder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from mediawatch.archiver.store import ArticleFilters


def filter_clauses(
    filters: ArticleFilters, us: Callable[[datetime], int], mark: str = "?"
) -> tuple[list[str], list[object]]:
    """SQL conditions on ``articles a`` (and their parameters) for ``filters``; ``mark`` is
    the driver's parameter placeholder, ``us`` turns a time into the stored microseconds."""
    where: list[str] = []
    params: list[object] = []
    if filters.since is not None:
        where.append(f"a.fetched_us >= {mark}")
        params.append(us(filters.since))
    if filters.until is not None:
        where.append(f"a.fetched_us < {mark}")
        params.append(us(filters.until))
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
