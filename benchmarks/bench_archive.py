"""The archive's ingest rate, index size and search latency, SQLite backend, one core.

Usage:
    python benchmarks/bench_archive.py --bodies ../shared/data/news-bodies/bodies.csv \
        [--articles 100000] [--runs 20]

The FNC-1 set has 1,683 real bodies; to reach ``--articles`` each body is archived several
times under its own id, source, country and fetch time (spread over 90 days), so the index
holds as many postings as that many real articles of this length would, with repeats. The
articles carry no tags (ingest is the store's cost, not the tagger's). Then each query of
QUERIES is searched ``--runs`` times for its first page (50 results, newest first, exact
verification by the query library) and the latencies' p50/p95 printed; the first page of a
query that matches few articles reads every candidate the index gives.

Both backends by default (``--backend``): SQLite in a temporary folder, and PostgreSQL on a
throwaway server from Debian's packages (mediawatch.stack.postgres).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from bench_tagger import load_bodies
from machine import describe_machine

from mediawatch.archiver.postgres import PostgresArchive
from mediawatch.archiver.search import search
from mediawatch.archiver.sqlite import SqliteArchive
from mediawatch.archiver.store import ArchiveStore, ArticleFilters
from mediawatch.schemas import ArticleRef, ArticleTagged, SourceInfo, TaggerInfo
from mediawatch.stack.postgres import LocalPostgres

COUNTRIES = ("GB", "US", "RU", "FR", "DE", "CN", "IN", "BR")
QUERIES: list[tuple[str, str, ArticleFilters]] = [
    ("phrase", '"islamic state"', ArticleFilters()),
    ("and-or", "(putin OR kremlin) AND (sanctions OR nato)", ArticleFilters()),
    ("near", "police NEAR/5 (arrest* OR detain*)", ArticleFilters()),
    ("wildcard", "secur* AND guarantee*", ArticleFilters()),
    ("rare", '"indivisible security" OR "strategic stability"', ArticleFilters()),
    ("country filter", "ebola", ArticleFilters(countries=("RU",))),
    ("last 7 days", "apple", ArticleFilters(since=datetime(2026, 3, 24, tzinfo=UTC))),
    ("not", "isis AND NOT syria", ArticleFilters()),
]
START = datetime(2026, 1, 1, tzinfo=UTC)


def article(number: int, body: str) -> ArticleTagged:
    fetched = START + timedelta(seconds=number * 90 * 86400 / 100_000)
    identifier = f"bench-{number:06d}"
    return ArticleTagged(
        article=ArticleRef(
            article_id=identifier,
            title=body.split("\n", 1)[0][:120],
            source=SourceInfo(
                id=f"source-{number % 50:02d}", type="feed", country=COUNTRIES[number % 8]
            ),
            fetched_at=fetched,
            language="en",
            content_hash=hashlib.sha256(f"{identifier}{body}".encode()).hexdigest(),
        ),
        text_end=len(body),
        text_length=len(body),
        language="en",
        text=body,
        tagger=TaggerInfo(version="bench"),
        tagged_at=fetched,
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(
    store: ArchiveStore, bodies: list[str], args: argparse.Namespace, size: Callable[[], str]
) -> None:
    started = time.perf_counter()
    words = 0
    for first in range(0, args.articles, args.batch):
        batch = [
            article(n, bodies[n % len(bodies)])
            for n in range(first, min(first + args.batch, args.articles))
        ]
        words += sum(len(a.text.split()) for a in batch)
        store.upsert_articles(batch)
    elapsed = time.perf_counter() - started
    print(
        f"ingest: {args.articles / elapsed:,.0f} articles/s, {words / elapsed:,.0f} words/s "
        f"({elapsed:.0f} s, batches of {args.batch}); {size()}"
    )
    print(f"{'query':<16} {'matches/page':>12} {'read':>7} {'p50 ms':>8} {'p95 ms':>8}")
    all_latencies: list[float] = []
    for name, query, filters in QUERIES:
        latencies = []
        page = None
        for _ in range(args.runs):
            begun = time.perf_counter()
            page = search(store, query, filters, limit=50)
            latencies.append((time.perf_counter() - begun) * 1000)
        assert page is not None
        all_latencies.extend(latencies)
        print(
            f"{name:<16} {len(page.hits):>12} {page.candidates_read:>7} "
            f"{statistics.median(latencies):>8.1f} {percentile(latencies, 0.95):>8.1f}"
        )
    print(
        f"all queries: p50 {statistics.median(all_latencies):.1f} ms, "
        f"p95 {percentile(all_latencies, 0.95):.1f} ms (goal: p95 <= 200 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=Path, required=True, help="bodies.csv (FNC-1 bodies)")
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=500, help="articles per transaction")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    bodies = load_bodies(args.bodies)
    print(f"machine: {describe_machine()}")
    print(f"corpus: {len(bodies)} FNC-1 bodies, archived {args.articles} times in all")
    if args.backend in ("sqlite", "both"):
        print("\n== SQLite (FTS5) ==")
        with tempfile.TemporaryDirectory() as folder:
            sqlite = SqliteArchive(Path(folder) / "archive.sqlite3")
            measure(sqlite, bodies, args,
                    lambda: f"archive file {sqlite.index_size_bytes() / 1e6:,.0f} MB")  # fmt: skip
            sqlite.close()
    if args.backend in ("postgres", "both"):
        print("\n== PostgreSQL (tsvector, GIN) ==")
        server = LocalPostgres().start()
        try:
            url = server.new_database()
            postgres = PostgresArchive(url)

            def size() -> str:
                with psycopg.connect(url) as db:
                    row = db.execute("SELECT pg_database_size(current_database())").fetchone()
                return f"database {(row[0] if row else 0) / 1e6:,.0f} MB"

            measure(postgres, bodies, args, size)
            postgres.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
