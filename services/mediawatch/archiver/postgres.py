"""The archive in PostgreSQL, for deployments: the same tables as the embedded store, with
PostgreSQL's own full-text index.

The index is a ``tsvector`` of the query library's tokens, built with ``array_to_tsvector``
(each token a lexeme as it is: no parser, no dictionary), with a GIN index; a candidate
condition becomes a ``tsquery`` of the same lexemes (``'secur':*`` for a prefix), cast, not
parsed. So, as in SQLite, every token a query can match is a lexeme of the index, and the
query library verifies the candidates. psycopg 3 is the driver; migrations are recorded in
the store's own ``schema_migrations`` table, each applied in its own transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from mediawatch.archiver._sql import alert_clauses, filter_clauses, from_us, to_us
from mediawatch.archiver.store import (
    ActorDay,
    ActorTimeline,
    AnyOf,
    ArticleFilters,
    Candidates,
    Condition,
    Cursor,
    StoredArticle,
    StoreUnavailable,
    TrendGroup,
    TrendPoint,
    Word,
)
from mediawatch.query import normalise, tokenise
from mediawatch.schemas import Alert, ArticleTagged

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE articles (
            row BIGSERIAL PRIMARY KEY,
            article_id TEXT NOT NULL UNIQUE,
            fetched_us BIGINT NOT NULL,
            published_us BIGINT,
            source_id TEXT NOT NULL,
            country TEXT,
            outlet_type TEXT,
            language TEXT,
            genre TEXT,
            duplicate_of TEXT,
            tagged JSONB NOT NULL,
            words TSVECTOR NOT NULL
        );
        CREATE INDEX articles_by_time ON articles (fetched_us DESC, article_id DESC);
        CREATE INDEX articles_words ON articles USING GIN (words);
        CREATE TABLE article_themes (
            row BIGINT NOT NULL REFERENCES articles (row) ON DELETE CASCADE,
            theme_id TEXT NOT NULL,
            PRIMARY KEY (theme_id, row)
        );
        CREATE TABLE article_actors (
            row BIGINT NOT NULL REFERENCES articles (row) ON DELETE CASCADE,
            actor_id TEXT NOT NULL,
            PRIMARY KEY (actor_id, row)
        );
        CREATE TABLE article_stances (
            row BIGINT NOT NULL REFERENCES articles (row) ON DELETE CASCADE,
            target_kind TEXT NOT NULL,
            target_id TEXT NOT NULL,
            label TEXT NOT NULL,
            score DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (target_id, row, target_kind)
        );
        CREATE TABLE alerts (
            alert_id TEXT PRIMARY KEY,
            rule_id TEXT NOT NULL,
            severity TEXT NOT NULL,
            fired_us BIGINT NOT NULL,
            alert JSONB NOT NULL
        );
        CREATE INDEX alerts_by_rule ON alerts (rule_id, fired_us DESC);
        CREATE INDEX alerts_by_time ON alerts (fired_us DESC)
        """,
    ),
    (
        2,
        # A page of one source's articles reads that source's rows newest first.
        "CREATE INDEX articles_by_source ON articles (source_id, fetched_us DESC)",
    ),
)
_DAY = "to_char(to_timestamp(a.fetched_us / 1000000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def _tokens(text: str) -> list[str]:
    return tokenise(normalise(text).text)


def tsquery(condition: Condition) -> str:
    """``condition`` as a ``tsquery`` of literal lexemes (the words are \\w runs: nothing in
    them needs quoting but the quotes around them)."""
    if isinstance(condition, Word):
        return f"'{condition.text}'" + (":*" if condition.prefix else "")
    joiner = " | " if isinstance(condition, AnyOf) else " & "
    return "(" + joiner.join(tsquery(part) for part in condition.parts) + ")"


def _without_secret(error: BaseException) -> str:
    """libpq's message, which names host and port but never the password."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _decode(document: Any) -> ArticleTagged:
    return ArticleTagged.model_validate(document)


class PostgresArchive:
    """An :class:`~mediawatch.archiver.store.ArchiveStore` in a PostgreSQL database."""

    def __init__(self, url: str, *, schema_version: int | None = None) -> None:
        """Connect, migrated to the newest schema, or only up to ``schema_version`` (a test
        of upgrades)."""
        self.url = url
        self._connection: psycopg.Connection[Any] | None = None
        self.migrate(schema_version)

    @property
    def _db(self) -> psycopg.Connection[Any]:
        """The connection, opened again after the server went away."""
        if self._connection is None or self._connection.closed or self._connection.broken:
            try:
                self._connection = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            except psycopg.OperationalError as exc:
                raise StoreUnavailable(
                    f"PostgreSQL is unreachable: {_without_secret(exc)}"
                ) from exc
        return self._connection

    @contextlib.contextmanager
    def _whole_store_failures(self) -> Iterator[None]:
        """A lost server or connection is the store's failure, not a record's."""
        try:
            yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if self._connection is not None:
                self._connection.close()
            raise StoreUnavailable(f"PostgreSQL refused a write: {_without_secret(exc)}") from exc

    def schema_version(self) -> int:
        row = self._db.execute("SELECT to_regclass('schema_migrations')").fetchone()
        if row is None or row[0] is None:
            return 0
        found = self._db.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(found[0] or 0) if found else 0

    def migrate(self, up_to: int | None = None) -> list[int]:
        """Apply the migrations the database lacks (up to ``up_to``); the versions applied."""
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
        )
        applied: list[int] = []
        with self._db.transaction():
            # One migrating process at a time: two archivers starting together wait here.
            self._db.execute("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
            current = self.schema_version()
            for version, script in MIGRATIONS:
                if version <= current or (up_to is not None and version > up_to):
                    continue
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute("INSERT INTO schema_migrations VALUES (%s, now())", (version,))
                applied.append(version)
        return applied

    # -- writes --------------------------------------------------------------------------
    def upsert_articles(self, articles: Sequence[ArticleTagged]) -> None:
        with self._whole_store_failures(), self._db.transaction():
            for tagged in articles:
                self._upsert_article(tagged)

    def _upsert_article(self, tagged: ArticleTagged) -> None:
        db = self._db
        article = tagged.article
        db.execute("DELETE FROM articles WHERE article_id = %s", (article.article_id,))
        found = db.execute(
            "INSERT INTO articles (article_id, fetched_us, published_us, source_id, country, "
            "outlet_type, language, genre, duplicate_of, tagged, words) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, array_to_tsvector(%s::text[])) "
            "RETURNING row",
            (
                article.article_id,
                to_us(article.fetched_at),
                to_us(article.published_at) if article.published_at else None,
                article.source.id,
                article.source.country,
                article.source.outlet_type,
                tagged.language or article.language,
                str(article.genre) if article.genre else None,
                article.duplicate_of,
                Jsonb(tagged.model_dump(mode="json")),
                sorted(set(_tokens(article.title)) | set(_tokens(tagged.text))),
            ),
        ).fetchone()
        assert found is not None
        row = found[0]
        with db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO article_themes VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [(row, theme.theme_id) for theme in tagged.themes],
            )
            cursor.executemany(
                "INSERT INTO article_actors VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [(row, actor.actor_id) for actor in tagged.actors],
            )
            cursor.executemany(
                "INSERT INTO article_stances VALUES (%s, %s, %s, %s, %s) ON CONFLICT "
                "(target_id, row, target_kind) DO UPDATE SET label = excluded.label, "
                "score = excluded.score",
                [(row, s.target_kind, s.target_id, str(s.label), s.score) for s in tagged.stances],
            )

    def upsert_alerts(self, alerts: Sequence[Alert]) -> None:
        with self._whole_store_failures(), self._db.transaction(), self._db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO alerts VALUES (%s, %s, %s, %s, %s) ON CONFLICT (alert_id) DO UPDATE "
                "SET rule_id = excluded.rule_id, severity = excluded.severity, "
                "fired_us = excluded.fired_us, alert = excluded.alert",
                [
                    (a.alert_id, a.rule_id, str(a.severity), to_us(a.fired_at),
                     Jsonb(a.model_dump(mode="json")))
                    for a in alerts
                ],
            )  # fmt: skip

    def purge_before(self, moment: datetime) -> tuple[int, int]:
        cutoff = to_us(moment)
        with self._whole_store_failures(), self._db.transaction():
            articles = self._db.execute(
                "DELETE FROM articles WHERE fetched_us < %s", (cutoff,)
            ).rowcount
            alerts = self._db.execute("DELETE FROM alerts WHERE fired_us < %s", (cutoff,)).rowcount
        return articles, alerts

    # -- reads ---------------------------------------------------------------------------
    def candidates(
        self,
        condition: Condition | None,
        filters: ArticleFilters,
        *,
        after: Cursor | None,
        limit: int,
    ) -> Candidates:
        where, params = filter_clauses(filters, "%s")
        if condition is not None:
            where.append("a.words @@ %s::tsquery")
            params.append(tsquery(condition))
        if after is not None:
            where.append("(a.fetched_us < %s OR (a.fetched_us = %s AND a.article_id < %s))")
            at = to_us(after.fetched_at)
            params.extend([at, at, after.article_id])
        sql = "SELECT a.article_id, a.fetched_us, a.tagged FROM articles a"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY a.fetched_us DESC, a.article_id DESC LIMIT %s"
        params.append(limit + 1)
        rows = self._db.execute(sql, params).fetchall()
        articles = [
            StoredArticle(article_id, from_us(fetched_us), partial(_decode, document))
            for article_id, fetched_us, document in rows[:limit]
        ]
        return Candidates(articles, more=len(rows) > limit)

    def trend(
        self, theme_id: str | None, group: TrendGroup | None, filters: ArticleFilters
    ) -> list[TrendPoint]:
        where, params = filter_clauses(filters, "%s")
        where.append("a.duplicate_of IS NULL")
        if theme_id is not None:
            where.append("a.row IN (SELECT row FROM article_themes WHERE theme_id = %s)")
            params.append(theme_id)
        column = {"country": "a.country", "source": "a.source_id", "language": "a.language"}
        grouped = column[group] if group else "NULL::text"
        rows = self._db.execute(
            f"SELECT {_DAY} AS day, {grouped} AS grp, count(*) FROM articles a "
            f"WHERE {' AND '.join(where)} GROUP BY day, grp ORDER BY day, grp NULLS FIRST",
            params,
        )
        return [TrendPoint(day, grp, int(n)) for day, grp, n in rows]

    def actor_timeline(
        self, actor_id: str, filters: ArticleFilters, *, co_occurring: int = 20
    ) -> ActorTimeline:
        where, params = filter_clauses(filters, "%s")
        where.append("a.row IN (SELECT row FROM article_actors WHERE actor_id = %s)")
        params.append(actor_id)
        condition = " AND ".join(where)
        days = [
            ActorDay(day, int(n), int(sup or 0), int(neu or 0), int(cri or 0),
                     None if mean is None else float(mean))
            for day, n, sup, neu, cri, mean in self._db.execute(
                f"SELECT {_DAY} AS day, count(*), "
                "count(*) FILTER (WHERE s.label = 'supportive'), "
                "count(*) FILTER (WHERE s.label = 'neutral'), "
                "count(*) FILTER (WHERE s.label = 'critical'), avg(s.score) "
                "FROM articles a LEFT JOIN article_stances s "
                "ON s.row = a.row AND s.target_id = %s AND s.label != 'unknown' "
                f"WHERE {condition} GROUP BY day ORDER BY day",
                [actor_id, *params],
            )
        ]  # fmt: skip
        others = [
            (str(other), int(n))
            for other, n in self._db.execute(
                "SELECT o.actor_id, count(*) AS n FROM article_actors o WHERE o.actor_id != %s "
                f"AND o.row IN (SELECT a.row FROM articles a WHERE {condition}) "
                "GROUP BY o.actor_id ORDER BY n DESC, o.actor_id LIMIT %s",
                [actor_id, *params, co_occurring],
            )
        ]
        return ActorTimeline(actor_id, days, others)

    def article(self, article_id: str) -> ArticleTagged | None:
        row = self._db.execute(
            "SELECT tagged FROM articles WHERE article_id = %s", (article_id,)
        ).fetchone()
        return _decode(row[0]) if row else None

    def alerts(
        self,
        *,
        rule_id: str | None = None,
        severity: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        where, params = alert_clauses(rule_id, severity, since, until, "%s")
        sql = "SELECT alert FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.execute(
            sql + " ORDER BY fired_us DESC, alert_id LIMIT %s", [*params, limit]
        )
        return [Alert.model_validate(row[0]) for row in rows]

    def count_articles(self) -> int:
        row = self._db.execute("SELECT count(*) FROM articles").fetchone()
        return int(row[0]) if row else 0

    def count_alerts(self) -> int:
        row = self._db.execute("SELECT count(*) FROM alerts").fetchone()
        return int(row[0]) if row else 0

    def article_ids(self) -> Iterator[str]:
        for (article_id,) in self._db.execute("SELECT article_id FROM articles"):
            yield str(article_id)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
