"""The embedded archive: SQLite with an FTS5 index, in one file of the state directory.

Python's own ``sqlite3``, no server: the store for ``make run`` and single-machine use.

* ``articles`` holds each article's filterable metadata and the whole ``ArticleTagged`` as
  zlib-compressed JSON; ``article_themes`` and ``article_actors`` hold the ids tagged, for
  filters.
* ``article_index`` (FTS5, ``detail=none``: which rows hold a token, not where) indexes the
  title and the text as the query library tokenises them (casefolded, accents and punctuation
  normalised), so that every token a query can match is a token of the index.
* ``alerts`` holds each alert as JSON, by alert id.
* ``schema_migrations`` records the versions applied; :data:`MIGRATIONS` are applied in order
  at open, each in its own transaction.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from mediawatch.archiver.store import (
    ActorDay,
    ActorTimeline,
    ArticleFilters,
    Candidates,
    Cursor,
    StoredArticle,
    TrendGroup,
    TrendPoint,
)
from mediawatch.query import normalise, tokenise
from mediawatch.schemas import Alert, ArticleTagged

#: Schema versions, in order; a store opened by an older release is upgraded in place.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE articles (
            row INTEGER PRIMARY KEY,
            article_id TEXT NOT NULL UNIQUE,
            fetched_us INTEGER NOT NULL,
            published_us INTEGER,
            source_id TEXT NOT NULL,
            country TEXT,
            outlet_type TEXT,
            language TEXT,
            genre TEXT,
            duplicate_of TEXT,
            tagged BLOB NOT NULL
        );
        CREATE INDEX articles_by_time ON articles (fetched_us DESC, article_id DESC);
        CREATE TABLE article_themes (
            row INTEGER NOT NULL REFERENCES articles (row) ON DELETE CASCADE,
            theme_id TEXT NOT NULL,
            PRIMARY KEY (theme_id, row)
        ) WITHOUT ROWID;
        CREATE TABLE article_actors (
            row INTEGER NOT NULL REFERENCES articles (row) ON DELETE CASCADE,
            actor_id TEXT NOT NULL,
            PRIMARY KEY (actor_id, row)
        ) WITHOUT ROWID;
        CREATE TABLE article_stances (
            row INTEGER NOT NULL REFERENCES articles (row) ON DELETE CASCADE,
            target_kind TEXT NOT NULL,
            target_id TEXT NOT NULL,
            label TEXT NOT NULL,
            score REAL NOT NULL,
            PRIMARY KEY (target_id, row, target_kind)
        ) WITHOUT ROWID;
        CREATE VIRTUAL TABLE article_index USING fts5 (
            title, text, detail = none, tokenize = 'unicode61 remove_diacritics 0'
        );
        CREATE TABLE alerts (
            alert_id TEXT PRIMARY KEY,
            rule_id TEXT NOT NULL,
            severity TEXT NOT NULL,
            fired_us INTEGER NOT NULL,
            alert TEXT NOT NULL
        );
        CREATE INDEX alerts_by_rule ON alerts (rule_id, fired_us DESC);
        CREATE INDEX alerts_by_time ON alerts (fired_us DESC);
        """,
    ),
)


def _us(moment: datetime) -> int:
    """Microseconds since the epoch (naive times are taken as UTC, as the events' are)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


#: The UTC day of an article's fetch time, in SQL.
_DAY = "date(a.fetched_us / 1000000, 'unixepoch')"


def _from_us(microseconds: int) -> datetime:
    return datetime.fromtimestamp(microseconds / 1_000_000, UTC)


def _decode(blob: bytes) -> ArticleTagged:
    return ArticleTagged.from_json(zlib.decompress(blob))


def index_text(text: str) -> str:
    """``text`` as the query library tokenises it, one space between tokens."""
    return " ".join(tokenise(normalise(text).text))


def _filter_clauses(filters: ArticleFilters) -> tuple[list[str], list[object]]:
    """SQL conditions on ``articles a`` (and their parameters) for ``filters``."""
    where: list[str] = []
    params: list[object] = []
    if filters.since is not None:
        where.append("a.fetched_us >= ?")
        params.append(_us(filters.since))
    if filters.until is not None:
        where.append("a.fetched_us < ?")
        params.append(_us(filters.until))
    for column, values in (
        ("source_id", filters.sources),
        ("country", filters.countries),
        ("outlet_type", filters.outlet_types),
        ("language", filters.languages),
        ("genre", filters.genres),
    ):
        if values:
            where.append(f"a.{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    for table, column, values in (
        ("article_themes", "theme_id", filters.themes),
        ("article_actors", "actor_id", filters.actors),
    ):
        if values:
            where.append(
                f"a.row IN (SELECT row FROM {table} "
                f"WHERE {column} IN ({', '.join('?' * len(values))}))"
            )
            params.extend(values)
    for target_id, label in filters.stances:
        where.append("a.row IN (SELECT row FROM article_stances WHERE target_id = ? AND label = ?)")
        params.extend([target_id, label])
    if filters.stories_only:
        where.append("a.duplicate_of IS NULL")
    return where, params


class SqliteArchive:
    """An :class:`~mediawatch.archiver.store.ArchiveStore` in one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self.migrate()

    # -- schema --------------------------------------------------------------------------
    def schema_version(self) -> int:
        exists = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'"
        ).fetchone()
        if not exists:
            return 0
        row = self._db.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def migrate(self) -> list[int]:
        """Apply the migrations this file lacks; the versions applied."""
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        current = self.schema_version()
        applied: list[int] = []
        for version, script in MIGRATIONS:
            if version <= current:
                continue
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?)",
                    (version, datetime.now(UTC).isoformat()),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            applied.append(version)
        return applied

    # -- writes --------------------------------------------------------------------------
    def upsert_articles(self, articles: Sequence[ArticleTagged]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for tagged in articles:
                self._upsert_article(tagged)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _upsert_article(self, tagged: ArticleTagged) -> None:
        db = self._db
        article = tagged.article
        old = db.execute(
            "SELECT row FROM articles WHERE article_id = ?", (article.article_id,)
        ).fetchone()
        if old is not None:
            db.execute("DELETE FROM article_index WHERE rowid = ?", (old[0],))
            db.execute("DELETE FROM articles WHERE row = ?", (old[0],))
        row = db.execute(
            "INSERT INTO articles (article_id, fetched_us, published_us, source_id, country, "
            "outlet_type, language, genre, duplicate_of, tagged) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article.article_id,
                _us(article.fetched_at),
                _us(article.published_at) if article.published_at else None,
                article.source.id,
                article.source.country,
                article.source.outlet_type,
                tagged.language or article.language,
                str(article.genre) if article.genre else None,
                article.duplicate_of,
                zlib.compress(tagged.to_json(), 6),
            ),
        ).lastrowid
        db.executemany(
            "INSERT OR IGNORE INTO article_themes VALUES (?, ?)",
            [(row, theme.theme_id) for theme in tagged.themes],
        )
        db.executemany(
            "INSERT OR IGNORE INTO article_actors VALUES (?, ?)",
            [(row, actor.actor_id) for actor in tagged.actors],
        )
        db.executemany(
            "INSERT OR REPLACE INTO article_stances VALUES (?, ?, ?, ?, ?)",
            [(row, s.target_kind, s.target_id, str(s.label), s.score) for s in tagged.stances],
        )
        db.execute(
            "INSERT INTO article_index (rowid, title, text) VALUES (?, ?, ?)",
            (row, index_text(article.title), index_text(tagged.text)),
        )

    def upsert_alerts(self, alerts: Sequence[Alert]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO alerts VALUES (?, ?, ?, ?, ?) ON CONFLICT (alert_id) DO UPDATE "
                "SET rule_id = excluded.rule_id, severity = excluded.severity, "
                "fired_us = excluded.fired_us, alert = excluded.alert",
                [
                    (a.alert_id, a.rule_id, str(a.severity), _us(a.fired_at), a.to_json().decode())
                    for a in alerts
                ],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def purge_before(self, moment: datetime) -> tuple[int, int]:
        db = self._db
        cutoff = _us(moment)
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "DELETE FROM article_index WHERE rowid IN "
                "(SELECT row FROM articles WHERE fetched_us < ?)",
                (cutoff,),
            )
            articles = db.execute("DELETE FROM articles WHERE fetched_us < ?", (cutoff,)).rowcount
            alerts = db.execute("DELETE FROM alerts WHERE fired_us < ?", (cutoff,)).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return articles, alerts

    # -- reads ---------------------------------------------------------------------------
    def candidates(
        self,
        fts_expression: str | None,
        filters: ArticleFilters,
        *,
        after: Cursor | None,
        limit: int,
    ) -> Candidates:
        where, params = _filter_clauses(filters)
        if fts_expression is not None:
            where.append("a.row IN (SELECT rowid FROM article_index WHERE article_index MATCH ?)")
            params.append(fts_expression)
        if after is not None:
            where.append("(a.fetched_us < ? OR (a.fetched_us = ? AND a.article_id < ?))")
            at = _us(after.fetched_at)
            params.extend([at, at, after.article_id])
        sql = "SELECT a.article_id, a.fetched_us, a.tagged FROM articles a"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY a.fetched_us DESC, a.article_id DESC LIMIT ?"
        params.append(limit + 1)
        rows = self._db.execute(sql, params).fetchall()
        articles = [
            StoredArticle(article_id, _from_us(fetched_us), partial(_decode, blob))
            for article_id, fetched_us, blob in rows[:limit]
        ]
        return Candidates(articles, more=len(rows) > limit)

    def trend(
        self, theme_id: str | None, group: TrendGroup | None, filters: ArticleFilters
    ) -> list[TrendPoint]:
        where, params = _filter_clauses(filters)
        where.append("a.duplicate_of IS NULL")
        if theme_id is not None:
            where.append("a.row IN (SELECT row FROM article_themes WHERE theme_id = ?)")
            params.append(theme_id)
        column = {"country": "a.country", "source": "a.source_id", "language": "a.language"}
        grouped = column[group] if group else "NULL"
        rows = self._db.execute(
            f"SELECT {_DAY} AS day, {grouped} AS grp, count(*) FROM articles a "
            f"WHERE {' AND '.join(where)} GROUP BY day, grp ORDER BY day, grp",
            params,
        )
        return [TrendPoint(day, grp, int(n)) for day, grp, n in rows]

    def actor_timeline(
        self, actor_id: str, filters: ArticleFilters, *, co_occurring: int = 20
    ) -> ActorTimeline:
        where, params = _filter_clauses(filters)
        where.append("a.row IN (SELECT row FROM article_actors WHERE actor_id = ?)")
        params.append(actor_id)
        condition = " AND ".join(where)
        days = [
            ActorDay(day, int(n), int(sup or 0), int(neu or 0), int(cri or 0), mean)
            for day, n, sup, neu, cri, mean in self._db.execute(
                f"SELECT {_DAY} AS day, count(*), sum(s.label = 'supportive'), "
                "sum(s.label = 'neutral'), sum(s.label = 'critical'), avg(s.score) "
                "FROM articles a LEFT JOIN article_stances s "
                "ON s.row = a.row AND s.target_id = ? AND s.label != 'unknown' "
                f"WHERE {condition} GROUP BY day ORDER BY day",
                [actor_id, *params],
            )
        ]
        others = [
            (str(other), int(n))
            for other, n in self._db.execute(
                "SELECT o.actor_id, count(*) AS n FROM article_actors o WHERE o.actor_id != ? "
                f"AND o.row IN (SELECT a.row FROM articles a WHERE {condition}) "
                "GROUP BY o.actor_id ORDER BY n DESC, o.actor_id LIMIT ?",
                [actor_id, *params, co_occurring],
            )
        ]
        return ActorTimeline(actor_id, days, others)

    def article(self, article_id: str) -> ArticleTagged | None:
        row = self._db.execute(
            "SELECT tagged FROM articles WHERE article_id = ?", (article_id,)
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
        where: list[str] = []
        params: list[object] = []
        for condition, value in (
            ("rule_id = ?", rule_id),
            ("severity = ?", severity),
            ("fired_us >= ?", _us(since) if since else None),
            ("fired_us < ?", _us(until) if until else None),
        ):
            if value is not None:
                where.append(condition)
                params.append(value)
        sql = "SELECT alert FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.execute(sql + " ORDER BY fired_us DESC, alert_id LIMIT ?", [*params, limit])
        return [Alert.from_json(row[0].encode()) for row in rows]

    def count_articles(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM articles").fetchone()[0])

    def count_alerts(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM alerts").fetchone()[0])

    def article_ids(self) -> Iterator[str]:
        for (article_id,) in self._db.execute("SELECT article_id FROM articles"):
            yield str(article_id)

    def index_size_bytes(self) -> int:
        """Bytes of the database file (with its write-ahead log), for the benchmarks."""
        if str(self.path) == ":memory:":
            return 0
        wal = self.path.with_name(self.path.name + "-wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    def close(self) -> None:
        self._db.close()
