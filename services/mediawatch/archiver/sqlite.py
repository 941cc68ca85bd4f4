"""The embedded archive: SQLite with an FTS5 index, in one file of the state directory.

Python's own ``sqlite3``, no server: the store for ``make run`` and single-machine use.

* ``articles`` holds each article's filterable metadata and the whole ``ArticleTagged`` as
  zlib-compressed JSON; ``article_themes`` and ``article_actors`` hold the ids tagged, for
  filters.
* ``article_index`` (FTS5, ``detail=none``: which rows hold a token, not where) indexes the
  title and the text as the query library tokenises them (casefolded, accents and punctuation
  normalised), so that every token a query can match is a token of the index.
* ``alerts`` holds each alert as JSON, by alert id; ``alert_acks`` the analysts'
  acknowledgements of them, ``rule_mutes`` the rules they muted.
* ``schema_migrations`` records the versions applied; :data:`MIGRATIONS` are applied in order
  at open, each in its own transaction.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

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

#: Schema versions, in order; a store opened by an older release is upgraded in place.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE articles (
            -- fetched_us * 1024 + n: the row key is the time order, so the index answers a
            -- page newest first and stops at its end (see ROW_SLOTS)
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
    (
        2,
        # A page of one source's articles reads that source's rows newest first.
        "CREATE INDEX articles_by_source ON articles (source_id, row DESC)",
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
            acked_us INTEGER NOT NULL
        );
        CREATE TABLE rule_mutes (
            rule_id TEXT PRIMARY KEY,
            muted_by TEXT NOT NULL,
            muted_us INTEGER NOT NULL,
            until_us INTEGER NOT NULL
        );
        """,
    ),
    (
        4,
        # An article's reprints as a list: their title and address beside the metadata, so
        # the list reads no compressed body (older rows are filled from theirs, once), and an
        # index of reprints by original, newest first (only reprints: most rows are none).
        """
        ALTER TABLE articles ADD COLUMN title TEXT NOT NULL DEFAULT '';
        ALTER TABLE articles ADD COLUMN url TEXT;
        UPDATE articles SET title = coalesce(mediawatch_article_field(tagged, 'title'), ''),
            url = mediawatch_article_field(tagged, 'url');
        CREATE INDEX articles_by_original ON articles (duplicate_of, row DESC)
            WHERE duplicate_of IS NOT NULL;
        """,
    ),
)


#: The version whose articles have their title and address as columns: a store opened at an
#: older one (a test of its upgrade) writes its rows as the releases before it did.
TITLE_COLUMNS_VERSION = 4

#: Row keys per microsecond of fetch time: an article's row is fetched_us * ROW_SLOTS + n.
ROW_SLOTS = 1024
#: The UTC day of an article's fetch time, in SQL.
_DAY = "date(a.fetched_us / 1000000, 'unixepoch')"
#: Ids bound in one ``IN (...)``: well under SQLite's limit of bound parameters.
_IDS_PER_QUERY = 500


def _decode(blob: bytes) -> ArticleTagged:
    return ArticleTagged.from_json(zlib.decompress(blob))


def _article_field(blob: bytes, name: str) -> str | None:
    """One field of a stored article's ``ArticleRef``, for SQL (migration 4 fills the title
    and address columns of the rows archived before them)."""
    value = json.loads(zlib.decompress(blob))["article"].get(name)
    return None if value is None else str(value)


#: FTS5 barewords are letters and digits; unicode61 splits the indexed text on anything
#: else (an underscore, too), so a query word is split the same way.
_FTS_PART = re.compile(r"[^\W_]+")


def fts5_expression(condition: Condition) -> str | None:
    """``condition`` in FTS5's query syntax, every word quoted; None: no constraint."""
    if isinstance(condition, Word):
        parts = _FTS_PART.findall(condition.text)
        if not parts:
            return None
        quoted = [f'"{part}"' for part in parts]
        if condition.prefix and condition.text.endswith(parts[-1]):
            quoted[-1] += "*"
        return quoted[0] if len(quoted) == 1 else "(" + " AND ".join(quoted) + ")"
    rendered = [fts5_expression(part) for part in condition.parts]
    if isinstance(condition, AnyOf):
        if any(r is None for r in rendered):
            return None
        return rendered[0] if len(rendered) == 1 else "(" + " OR ".join(map(str, rendered)) + ")"
    kept = [r for r in rendered if r is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else "(" + " AND ".join(kept) + ")"


def index_text(text: str) -> str:
    """``text`` as the query library tokenises it, one space between tokens."""
    return " ".join(tokenise(normalise(text).text))


@contextlib.contextmanager
def _whole_store_failures() -> Iterator[None]:
    """SQLite's operational errors (locked, disk full, I/O) are the file's, not a record's."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StoreUnavailable(f"the SQLite archive refused a write: {exc}") from exc


class SqliteArchive:
    """An :class:`~mediawatch.archiver.store.ArchiveStore` in one SQLite file."""

    def __init__(self, path: Path | str, *, schema_version: int | None = None) -> None:
        """Open (or create) the file, migrated to the newest schema, or only up to
        ``schema_version`` (a test of upgrades)."""
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._version = 0  # the schema version it is at, once migrated
        self._db.create_function("mediawatch_article_field", 2, _article_field, deterministic=True)
        self.migrate(schema_version)

    # -- schema --------------------------------------------------------------------------
    def schema_version(self) -> int:
        exists = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'"
        ).fetchone()
        if not exists:
            return 0
        row = self._db.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def migrate(self, up_to: int | None = None) -> list[int]:
        """Apply the migrations this file lacks (up to ``up_to``); the versions applied."""
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        current = self.schema_version()
        applied: list[int] = []
        for version, script in MIGRATIONS:
            if version <= current or (up_to is not None and version > up_to):
                continue
            with self._transaction():
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?)",
                    (version, datetime.now(UTC).isoformat()),
                )
            applied.append(version)
        self._version = self.schema_version()
        return applied

    # -- writes --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (the connection is in autocommit mode otherwise)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def upsert_articles(self, articles: Sequence[ArticleTagged]) -> None:
        with _whole_store_failures(), self._transaction():
            for tagged in articles:
                self._upsert_article(tagged)

    def _upsert_article(self, tagged: ArticleTagged) -> None:
        db = self._db
        article = tagged.article
        old = db.execute(
            "SELECT row FROM articles WHERE article_id = ?", (article.article_id,)
        ).fetchone()
        if old is not None:
            db.execute("DELETE FROM article_index WHERE rowid = ?", (old[0],))
            db.execute("DELETE FROM articles WHERE row = ?", (old[0],))
        base = to_us(article.fetched_at) * ROW_SLOTS
        last = db.execute(
            "SELECT max(row) FROM articles WHERE row BETWEEN ? AND ?", (base, base + ROW_SLOTS - 1)
        ).fetchone()[0]
        row = base if last is None else last + 1
        if row >= base + ROW_SLOTS:
            raise ValueError(
                f"article {article.article_id}: more than {ROW_SLOTS} articles fetched in the "
                "same microsecond"
            )
        titled = self._version >= TITLE_COLUMNS_VERSION
        values: tuple[object, ...] = (
            row,
            article.article_id,
            to_us(article.fetched_at),
            to_us(article.published_at) if article.published_at else None,
            article.source.id,
            article.source.country,
            article.source.outlet_type,
            tagged.language or article.language,
            str(article.genre) if article.genre else None,
            article.duplicate_of,
            zlib.compress(tagged.to_json(), 6),
        ) + ((article.title, article.url) if titled else ())
        db.execute(
            "INSERT INTO articles (row, article_id, fetched_us, published_us, source_id, "
            "country, outlet_type, language, genre, duplicate_of, tagged"
            f"{', title, url' if titled else ''}) VALUES ({', '.join('?' * len(values))})",
            values,
        )
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
        with _whole_store_failures(), self._transaction():
            self._db.executemany(
                "INSERT INTO alerts VALUES (?, ?, ?, ?, ?) ON CONFLICT (alert_id) DO UPDATE "
                "SET rule_id = excluded.rule_id, severity = excluded.severity, "
                "fired_us = excluded.fired_us, alert = excluded.alert",
                [
                    (
                        a.alert_id,
                        a.rule_id,
                        str(a.severity),
                        to_us(a.fired_at),
                        a.to_json().decode(),
                    )
                    for a in alerts
                ],
            )

    def purge_before(self, moment: datetime) -> tuple[int, int]:
        db = self._db
        cutoff = to_us(moment)
        with _whole_store_failures(), self._transaction():
            db.execute(
                "DELETE FROM article_index WHERE rowid IN "
                "(SELECT row FROM articles WHERE fetched_us < ?)",
                (cutoff,),
            )
            articles = db.execute("DELETE FROM articles WHERE fetched_us < ?", (cutoff,)).rowcount
            # The alerts' acknowledgements go with them (ON DELETE CASCADE).
            alerts = db.execute("DELETE FROM alerts WHERE fired_us < ?", (cutoff,)).rowcount
            db.execute("DELETE FROM rule_mutes WHERE until_us < ?", (cutoff,))
        return articles, alerts

    def acknowledge_alert(self, alert_id: str, by: str, at: datetime) -> None:
        require_text("alert_id", alert_id)
        require_text("by", by)
        with _whole_store_failures(), self._transaction():
            # From the alert's own row, so an id not archived inserts nothing.
            self._db.execute(
                "INSERT INTO alert_acks SELECT alert_id, ?, ? FROM alerts WHERE alert_id = ? "
                "ON CONFLICT (alert_id) DO NOTHING",
                (by, to_us(at), alert_id),
            )
            known = self._db.execute(
                "SELECT 1 FROM alerts WHERE alert_id = ?", (alert_id,)
            ).fetchone()
            if known is None:
                raise KeyError(f"alert {alert_id!r} is not in the archive")

    def mute_rule(self, rule_id: str, by: str, at: datetime, until: datetime) -> None:
        require_text("rule_id", rule_id)
        require_text("by", by)
        with _whole_store_failures(), self._transaction():
            if to_us(until) <= to_us(at):
                self._db.execute("DELETE FROM rule_mutes WHERE rule_id = ?", (rule_id,))
                return
            self._db.execute(
                "INSERT INTO rule_mutes VALUES (?, ?, ?, ?) ON CONFLICT (rule_id) DO UPDATE "
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
        where, params = filter_clauses(filters)
        if after is not None:
            where.append("a.row < ?")
            params.append(after.key if after.key is not None else self._key_of(after))
        expression = fts5_expression(condition) if condition is not None else None
        if expression is not None:
            # The index drives: its rows come newest first (the row key is the time order)
            # and the scan stops at the page's end instead of gathering every match.
            sql = (
                "SELECT a.article_id, a.fetched_us, a.tagged, a.row FROM article_index f "
                "JOIN articles a ON a.row = f.rowid WHERE article_index MATCH ?"
            )
            params.insert(0, expression)
            where = [c.replace("a.row <", "f.rowid <") for c in where]
        else:
            sql = "SELECT a.article_id, a.fetched_us, a.tagged, a.row FROM articles a WHERE 1"
        if where:
            sql += " AND " + " AND ".join(where)
        order = "f.rowid" if expression is not None else "a.row"
        sql += f" ORDER BY {order} DESC LIMIT ?"
        params.append(limit + 1)
        rows = self._db.execute(sql, params).fetchall()
        articles = [
            StoredArticle(article_id, from_us(fetched_us), partial(_decode, blob), row)
            for article_id, fetched_us, blob, row in rows[:limit]
        ]
        return Candidates(articles, more=len(rows) > limit)

    def _key_of(self, cursor: Cursor) -> int:
        """The row key of a cursor without one: its article's, or the start of its time."""
        found = self._db.execute(
            "SELECT row FROM articles WHERE article_id = ?", (cursor.article_id,)
        ).fetchone()
        return int(found[0]) if found else to_us(cursor.fetched_at) * ROW_SLOTS

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
        where, params = filter_clauses(filters)
        if not reprints:
            where.append("a.duplicate_of IS NULL")
        if theme_id is not None:
            where.append("a.row IN (SELECT row FROM article_themes WHERE theme_id = ?)")
            params.append(theme_id)
        column = {"country": "a.country", "source": "a.source_id", "language": "a.language"}
        grouped = column[group] if group else "NULL"
        rows = self._db.execute(
            f"SELECT {_DAY} AS day, {grouped} AS grp, count(*) FROM articles a "
            f"WHERE {' AND '.join(where) or '1'} GROUP BY day, grp ORDER BY day, grp",
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
        # The row key is the time order, and the source index holds it.
        last = self._db.execute(LAST_FETCHED_SQL.format(newest="a.row DESC")).fetchall()
        return source_activities(
            start,
            end,
            ((day, str(source_id), n) for day, source_id, n in counts),
            ((str(source_id), int(fetched_us)) for source_id, fetched_us in last),
        )

    def theme_counts(self, since: datetime, limit: int = 100) -> list[tuple[str, int]]:
        rows = self._db.execute(
            THEME_COUNTS_SQL.format(p="?"), (to_us(since), require_limit(limit))
        )
        return [(str(theme_id), int(count)) for theme_id, count in rows]

    def reprints_of(self, article_id: str, limit: int = 50) -> list[StoredRef]:
        require_text("article_id", article_id)
        rows = self._db.execute(
            "SELECT article_id, title, source_id, fetched_us, url FROM articles "
            "WHERE duplicate_of = ? ORDER BY row DESC LIMIT ?",
            (article_id, require_limit(limit)),
        )
        return [
            StoredRef(str(ref_id), str(title), str(source_id), from_us(fetched_us), url)
            for ref_id, title, source_id, fetched_us, url in rows
        ]

    def alert_triage(self, alert_ids: Sequence[str]) -> dict[str, AlertAck]:
        ids = require_ids("alert_ids", alert_ids)
        found: dict[str, AlertAck] = {}
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            for alert_id, by, acked_us in self._db.execute(
                "SELECT alert_id, acked_by, acked_us FROM alert_acks "
                f"WHERE alert_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            ):
                found[str(alert_id)] = AlertAck(str(alert_id), str(by), from_us(acked_us))
        return found

    def rule_mutes(self, now: datetime) -> dict[str, RuleMute]:
        return {
            str(rule_id): RuleMute(str(rule_id), str(by), from_us(at_us), from_us(until_us))
            for rule_id, by, at_us, until_us in self._db.execute(
                "SELECT rule_id, muted_by, muted_us, until_us FROM rule_mutes "
                "WHERE until_us > ? ORDER BY rule_id",
                (to_us(now),),
            )
        }

    def actor_timeline(
        self, actor_id: str, filters: ArticleFilters, *, co_occurring: int = 20
    ) -> ActorTimeline:
        where, params = filter_clauses(filters)
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
        where, params = alert_clauses(rule_id, severity, since, until)
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
