"""``mediawatch rules backtest``: a rules file tried on past coverage before it is turned on.

It composes two services (the archiver's store or a replay of the tagged topic, and the
alerter's own evaluator in :mod:`mediawatch.alerter.backtest`), so it lives here, in the
command line above them.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from aiokafka import TopicPartition
from rich.console import Console
from rich.markup import escape

from mediawatch.archiver.backends import open_archive
from mediawatch.archiver.cli import parse_moment
from mediawatch.archiver.store import ArticleFilters, every_article
from mediawatch.runtime.kafka import consumer, partitions_of
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import ArticleTagged

console = Console()
errors = Console(stderr=True, soft_wrap=True)


async def replayed(
    settings: KafkaSettings, since: datetime | None, until: datetime | None
) -> list[ArticleTagged]:
    """The tagged topic from its start (or ``since``) to its current end."""
    topic = settings.topic_articles_tagged
    partitions = [TopicPartition(topic, n) for n in await partitions_of(settings, topic)]
    reader = consumer(settings, group_id=None, auto_offset_reset="earliest")
    await reader.start()
    found: list[ArticleTagged] = []
    try:
        reader.assign(partitions)
        ends = await reader.end_offsets(partitions)
        if since is not None:
            starts = await reader.offsets_for_times(
                {tp: int(since.timestamp() * 1000) for tp in partitions}
            )
            for tp in partitions:
                start = starts.get(tp)
                reader.seek(tp, start.offset if start is not None else ends[tp])
        else:
            firsts = await reader.beginning_offsets(partitions)
            for tp in partitions:
                reader.seek(tp, firsts[tp])
        remaining = {tp for tp in partitions if await reader.position(tp) < ends[tp]}
        while remaining:
            batches = await reader.getmany(*remaining, timeout_ms=1000, max_records=2000)
            for tp, records in batches.items():
                for record in records:
                    if record.value is not None:
                        try:
                            found.append(ArticleTagged.from_json(record.value))
                        except ValueError as exc:
                            errors.print(
                                f"skipped {tp.topic}[{tp.partition}]@{record.offset}: {exc}"
                            )
            for tp in list(remaining):
                if await reader.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await reader.stop()
    return [
        t
        for t in found
        if (since is None or t.article.fetched_at >= since)
        and (until is None or t.article.fetched_at < until)
    ]


def rules_backtest(
    rules: Path = typer.Option(..., "--rules", help="The rules file to try."),
    since: str | None = typer.Option(None, "--since", help="7d, 12h, 30m or an ISO time."),
    start: str | None = typer.Option(None, "--from", help="ISO time (inclusive)."),
    end: str | None = typer.Option(None, "--to", help="ISO time (exclusive); closes windows."),
    source: str = typer.Option("archive", "--source", help="archive or kafka (the tagged topic)."),
    archive: Path | None = typer.Option(None, "--archive", help="SQLite file (default: settings)."),
    output: str = typer.Option("table", "--format", help="table or jsonl (one alert per line)."),
) -> None:
    """The alerts a rules file would have fired on past coverage, by the alerter's own
    engine in event-time order: each alert, per-rule counts and a per-day histogram."""
    from mediawatch.alerter.backtest import backtest
    from mediawatch.alerter.rules import RulesError, load_rules
    from mediawatch.archiver.settings import ArchiverSettings
    from mediawatch.runtime.settings import SettingsError, load_settings

    if source not in {"archive", "kafka"} or output not in {"table", "jsonl"}:
        raise typer.BadParameter("--source is archive or kafka; --format is table or jsonl")
    now = datetime.now(UTC)
    since_at = parse_moment(since or start, now=now)
    until_at = parse_moment(end, now=now) if end else (now if since else None)
    try:
        rule_set = load_rules(rules)
        settings = load_settings(ArchiverSettings)
    except (RulesError, SettingsError) as exc:
        errors.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    if source == "archive":
        url = None if archive else settings.archive_url  # --archive names a SQLite file
        path = archive or settings.resolved_archive_path()
        if url is None and not path.exists():
            errors.print(f"no archive at {path}: run `mediawatch archiver run` first")
            raise typer.Exit(2)
        store = open_archive(path, url)
        try:
            filters = ArticleFilters(since=since_at, until=until_at)
            articles: list[ArticleTagged] = list(every_article(store, filters))
        finally:
            store.close()
    else:
        articles = asyncio.run(replayed(settings, since_at, until_at))
    result = asyncio.run(backtest(rule_set, articles, until=until_at))
    if output == "jsonl":
        for alert in result.alerts:
            sys.stdout.write(alert.to_json().decode() + "\n")
        return
    for alert in result.alerts:
        console.print(
            f"{alert.fired_at:%Y-%m-%d %H:%M}  {escape(alert.alert_id)}  "
            f"[dim]{escape(alert.summary[:90])}[/dim]",
            soft_wrap=True,
            highlight=False,
        )
    console.print(
        f"{len(result.alerts)} alert(s) from {result.matches} match(es) in "
        f"{result.articles_read} article(s); rules {rule_set.content_hash}"
    )
    for rule_id, count in result.per_rule().items():
        console.print(f"  {rule_id}: {count}", highlight=False)
    for day, counts in result.per_day().items():
        console.print(f"  {day}  " + "  ".join(f"{r}={n}" for r, n in counts.items()))


def register() -> None:
    """Add ``backtest`` to the alerter's ``rules`` command group."""
    from mediawatch.alerter.cli import rules_app

    rules_app.command("backtest")(rules_backtest)
