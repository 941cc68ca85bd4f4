"""Archive commands: ``archiver run`` and ``archive search``."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from mediawatch.archiver.search import SearchPage

console = Console()
errors = Console(stderr=True)

archiver_app = typer.Typer(help="The archiver service.", no_args_is_help=True)
archive_app = typer.Typer(help="The archive of tagged articles and alerts.", no_args_is_help=True)


@archiver_app.command("run")
def archiver_run(
    archive: Path | None = typer.Option(None, "--archive", help="SQLite file (default: settings)."),
) -> None:
    """Consume tagged articles and alerts into the archive until Ctrl-C."""
    from mediawatch.archiver.service import run
    from mediawatch.archiver.settings import ArchiverSettings
    from mediawatch.runtime.settings import SettingsError, load_settings

    overrides: dict[str, object] = {} if archive is None else {"archive_path": archive}
    try:
        settings = load_settings(ArchiverSettings, **overrides)
    except SettingsError as exc:
        errors.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    run(settings)


def parse_moment(value: str | None, *, now: datetime | None = None) -> datetime | None:
    """``7d``, ``12h``, ``30m`` before ``now``, or an ISO 8601 time (UTC when naive)."""
    if value is None:
        return None
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if value[-1:] in units and value[:-1].isdigit():
        return (now or datetime.now(UTC)) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is neither 7d/12h/30m nor an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@archive_app.command("search")
def archive_search(
    query: str = typer.Argument("", help="A query in the theme language; empty: everything."),
    archive: Path | None = typer.Option(None, "--archive", help="SQLite file (default: settings)."),
    since: str | None = typer.Option(None, "--since", help="7d, 12h, 30m or an ISO time."),
    until: str | None = typer.Option(None, "--until", help="ISO time (exclusive)."),
    source: list[str] = typer.Option([], "--source", help="Source id (repeatable)."),
    country: list[str] = typer.Option([], "--country", help="Outlet country, ISO alpha-2."),
    outlet_type: list[str] = typer.Option([], "--outlet-type", help="newspaper, agency, ..."),
    language: list[str] = typer.Option([], "--language", help="ISO 639-1 code."),
    genre: list[str] = typer.Option([], "--genre", help="news, opinion, analysis, ..."),
    theme: list[str] = typer.Option([], "--theme", help="Tagged with this theme id."),
    actor: list[str] = typer.Option([], "--actor", help="Tagged with this actor id."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000, help="Results per page."),
    cursor: str | None = typer.Option(None, "--cursor", help="Where the previous page ended."),
    output: str = typer.Option("table", "--format", help="table, jsonl or csv."),
    every_page: bool = typer.Option(
        False, "--all", help="Every match, page after page: an export (jsonl or csv)."
    ),
) -> None:
    """Search the archive: exactly the articles a theme with this query would match."""
    from mediawatch.archiver.backends import open_archive
    from mediawatch.archiver.search import SearchError, search
    from mediawatch.archiver.settings import ArchiverSettings
    from mediawatch.archiver.store import ArticleFilters
    from mediawatch.runtime.settings import load_settings

    if output not in {"table", "jsonl", "csv"}:
        raise typer.BadParameter(f"--format {output!r}: use table, jsonl or csv")
    if every_page and output == "table":
        raise typer.BadParameter("--all exports: use it with --format jsonl or csv")
    settings = load_settings(ArchiverSettings)
    url = None if archive else settings.archive_url  # --archive names a SQLite file
    path = archive or settings.resolved_archive_path()
    if url is None and not path.exists():
        errors.print(f"no archive at {path}: run `mediawatch archiver run` first", soft_wrap=True)
        raise typer.Exit(2)
    filters = ArticleFilters(
        since=parse_moment(since),
        until=parse_moment(until),
        sources=tuple(source),
        countries=tuple(c.upper() for c in country),
        outlet_types=tuple(outlet_type),
        languages=tuple(language),
        genres=tuple(genre),
        themes=tuple(theme),
        actors=tuple(actor),
    )
    store = open_archive(path, url)
    try:
        page = search(store, query, filters, limit=limit, cursor=cursor)
        _write_page(page, output, header=True)
        while every_page and page.next_cursor:
            page = search(store, query, filters, limit=limit, cursor=page.next_cursor)
            _write_page(page, output, header=False)
    except SearchError as exc:
        errors.print(f"search failed: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    if page.next_cursor:
        errors.print(f"more: --cursor {page.next_cursor}", soft_wrap=True)


CSV_COLUMNS = ["article_id", "fetched_at", "source", "title", "url", "evidence"]


def _write_page(page: SearchPage, output: str, *, header: bool) -> None:
    """One page of results to stdout as a table, JSON Lines or CSV rows."""
    rows = [
        {
            "article_id": hit.article.article.article_id,
            "fetched_at": hit.article.article.fetched_at.isoformat(),
            "source": hit.article.article.source.id,
            "title": hit.article.article.title,
            "url": hit.article.article.url or "",
            "evidence": " | ".join(e.text for e in hit.evidence[:5]),
        }
        for hit in page.hits
    ]
    if output == "jsonl":
        for hit in page.hits:
            line = {
                "article": json.loads(hit.article.to_json()),
                "evidence": [e.model_dump(mode="json") for e in hit.evidence],
            }
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    elif output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS)
        if header:
            writer.writeheader()
        writer.writerows(rows)
    else:
        for row in rows:
            console.print(
                f"{row['fetched_at'][:16]}  {escape(row['source']):<24} "
                f"{escape(row['title'][:70])}\n"
                f"    {row['article_id']}  [dim]{escape(row['evidence'][:100])}[/dim]",
                soft_wrap=True,
                highlight=False,
            )
        console.print(f"{len(rows)} result(s); {page.candidates_read} candidate(s) read")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.add_typer(archiver_app, name="archiver")
    app.add_typer(archive_app, name="archive")
