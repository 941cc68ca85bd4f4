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

from mediawatch.archiver._sql import (
    LAST_FETCHED_SQL,
    THEME_COUNTS_SQL,
    activity_window,
    alert_clauses,
    filter_clauses,
    from_us,
    require_ids,
    require_limit,
    require_text,
    source_activities,
    to_us,
)
from mediawatch.archiver.store import (
    ActorDay,
    ActorTimeline,
    AlertAck,
    AnyOf,
    ArticleFilters,
    Candidates,
    Condition,
    Cursor,
    RuleMute,
    SourceActivity,
    StoredArticle,
    StoredRef,
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
    (
        3,
        # Triage in the analysts' workspace. An acknowledgement goes with its alert: the
        # retention that deletes the alert deletes it (an upsert of the alert updates the
        # row in place, so a redelivered alert keeps it).
        """
        CREATE TABLE alert_acks (
            alert_id TEXT PRIMARY KEY REFERENCES alerts (alert_id) ON DELETE CASCADE,
            acked_by TEXT NOT NULL,
            acked_us BIGINT NOT NULL
        );
        CREATE TABLE rule_mutes (
            rule_id TEXT PRIMARY KEY,
            muted_by TEXT NOT NULL,
            muted_us BIGINT NOT NULL,
            until_us BIGINT NOT NULL
        )
        """,
    ),
    (
        4,
        # An article's reprints as a list: their title and address beside the metadata, so
        # the list reads no document (older rows are filled from theirs, once), and an index
        # of reprints by original, newest first (only reprints: most rows are none).
        """
        ALTER TABLE articles ADD COLUMN title TEXT NOT NULL DEFAULT '';
        ALTER TABLE articles ADD COLUMN url TEXT;
        UPDATE articles SET title = coalesce(tagged #>> '{article,title}', ''),
            url = tagged #>> '{article,url}';
        CREATE INDEX articles_by_original ON articles (duplicate_of, fetched_us DESC,
            article_id DESC) WHERE duplicate_of IS NOT NULL
        """,
    ),
)
#: The version whose articles have their title and address as columns: a store opened at an
#: older one (a test of its upgrade) writes its rows as the releases before it did.
TITLE_COLUMNS_VERSION = 4
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
        self._version = 0  # the schema version it is at, once migrated
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
        self._version = self.schema_version()
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
        titled = self._version >= TITLE_COLUMNS_VERSION
        found = db.execute(
            "INSERT INTO articles (article_id, fetched_us, published_us, source_id, country, "
            "outlet_type, language, genre, duplicate_of, tagged, words"
            f"{', title, url' if titled else ''}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, array_to_tsvector(%s::text[])"
            f"{', %s, %s' if titled else ''}) RETURNING row",
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
            )
            + ((article.title, article.url) if titled else ()),
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
            # The alerts' acknowledgements go with them (ON DELETE CASCADE).
            alerts = self._db.execute("DELETE FROM alerts WHERE fired_us < %s", (cutoff,)).rowcount
            self._db.execute("DELETE FROM rule_mutes WHERE until_us < %s", (cutoff,))
        return articles, alerts

    def acknowledge_alert(self, alert_id: str, by: str, at: datetime) -> None:
        require_text("alert_id", alert_id)
        require_text("by", by)
        with self._whole_store_failures(), self._db.transaction():
            # From the alert's own row, so an id not archived (or purged meanwhile) inserts
            # nothing, and two analysts at once leave the first acknowledgement.
            self._db.execute(
                "INSERT INTO alert_acks SELECT alert_id, %s, %s FROM alerts "
                "WHERE alert_id = %s ON CONFLICT (alert_id) DO NOTHING",
                (by, to_us(at), alert_id),
            )
            known = self._db.execute(
                "SELECT 1 FROM alerts WHERE alert_id = %s", (alert_id,)
            ).fetchone()
            if known is None:
                raise KeyError(f"alert {alert_id!r} is not in the archive")

    def mute_rule(self, rule_id: str, by: str, at: datetime, until: datetime) -> None:
        require_text("rule_id", rule_id)
        require_text("by", by)
        with self._whole_store_failures(), self._db.transaction():
            if to_us(until) <= to_us(at):
                self._db.execute("DELETE FROM rule_mutes WHERE rule_id = %s", (rule_id,))
                return
            self._db.execute(
                "INSERT INTO rule_mutes VALUES (%s, %s, %s, %s) ON CONFLICT (rule_id) DO UPDATE "
                "SET muted_by = excluded.muted_by, muted_us = excluded.muted_us, "
                "until_us = excluded.until_us",
                (rule_id, by, to_us(at), to_us(until)),
            )

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
        rows = self._day_counts(theme_id, group, filters, reprints=False)
        return [TrendPoint(day, grp, n) for day, grp, n in rows]

    def _day_counts(
        self,
        theme_id: str | None,
        group: TrendGroup | None,
        filters: ArticleFilters,
        *,
        reprints: bool,
    ) -> list[tuple[str, str | None, int]]:
        """(day, group, articles) of a trend, oldest day first; ``reprints``: count them
        too (a source's activity is every article it had, a story's reach is not)."""
        where, params = filter_clauses(filters, "%s")
        if not reprints:
            where.append("a.duplicate_of IS NULL")
        if theme_id is not None:
            where.append("a.row IN (SELECT row FROM article_themes WHERE theme_id = %s)")
            params.append(theme_id)
        column = {"country": "a.country", "source": "a.source_id", "language": "a.language"}
        grouped = column[group] if group else "NULL::text"
        rows = self._db.execute(
            f"SELECT {_DAY} AS day, {grouped} AS grp, count(*) FROM articles a "
            f"WHERE {' AND '.join(where) or 'TRUE'} GROUP BY day, grp "
            "ORDER BY day, grp NULLS FIRST",
            params,
        )
        return [(str(day), grp, int(n)) for day, grp, n in rows]

    def source_activity(
        self, since: datetime, *, now: datetime | None = None
    ) -> list[SourceActivity]:
        start, end = activity_window(since, now)
        counts = self._day_counts(
            None, "source", ArticleFilters(since=start, until=end), reprints=True
        )
        last = self._db.execute(LAST_FETCHED_SQL.format(newest="a.fetched_us DESC")).fetchall()
        return source_activities(
            start,
            end,
            ((day, str(source_id), n) for day, source_id, n in counts),
            ((str(source_id), int(fetched_us)) for source_id, fetched_us in last),
        )

    def theme_counts(self, since: datetime, limit: int = 100) -> list[tuple[str, int]]:
        rows = self._db.execute(
            THEME_COUNTS_SQL.format(p="%s"), (to_us(since), require_limit(limit))
        )
        return [(str(theme_id), int(count)) for theme_id, count in rows]

    def reprints_of(self, article_id: str, limit: int = 50) -> list[StoredRef]:
        require_text("article_id", article_id)
        rows = self._db.execute(
            "SELECT article_id, title, source_id, fetched_us, url FROM articles "
            "WHERE duplicate_of = %s ORDER BY fetched_us DESC, article_id DESC LIMIT %s",
            (article_id, require_limit(limit)),
        )
        return [
            StoredRef(str(ref_id), str(title), str(source_id), from_us(fetched_us), url)
            for ref_id, title, source_id, fetched_us, url in rows
        ]

    def alert_triage(self, alert_ids: Sequence[str]) -> dict[str, AlertAck]:
        ids = require_ids("alert_ids", alert_ids)
        if not ids:
            return {}
        rows = self._db.execute(
            "SELECT alert_id, acked_by, acked_us FROM alert_acks WHERE alert_id = ANY(%s)",
            (ids,),
        )
        return {
            str(alert_id): AlertAck(str(alert_id), str(by), from_us(acked_us))
            for alert_id, by, acked_us in rows
        }

    def rule_mutes(self, now: datetime) -> dict[str, RuleMute]:
        return {
            str(rule_id): RuleMute(str(rule_id), str(by), from_us(at_us), from_us(until_us))
            for rule_id, by, at_us, until_us in self._db.execute(
                "SELECT rule_id, muted_by, muted_us, until_us FROM rule_mutes "
                "WHERE until_us > %s ORDER BY rule_id",
                (to_us(now),),
            )
        }

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
