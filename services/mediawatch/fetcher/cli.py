"""``mediawatch fetcher run [--sources FILE] [--once]`` and ``mediawatch fetcher check``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console

fetcher_app = typer.Typer(help="The fetcher service.", no_args_is_help=True)
errors = Console(stderr=True)
console = Console()

SourcesOption = typer.Option(
    None, "--sources", help="Sources YAML file (default: MEDIAWATCH_SOURCES_FILE)."
)


@fetcher_app.command("run")
def fetcher_run(
    sources: Path | None = SourcesOption,
    once: bool = typer.Option(
        False, "--once", help="One pass over every source; exit 1 if any source failed."
    ),
) -> None:
    """Fetch continuously (or once) and publish ArticleFetched events to Kafka."""
    from mediawatch.fetcher.service import serve
    from mediawatch.fetcher.settings import FetcherSettings
    from mediawatch.fetcher.sources import SourcesError, load_sources
    from mediawatch.runtime.logs import configure_logging
    from mediawatch.runtime.settings import SettingsError, load_settings

    try:
        overrides: dict[str, object] = {} if sources is None else {"sources_file": sources}
        settings = load_settings(FetcherSettings, **overrides)
        source_list = [] if settings.sources_file is None else load_sources(settings.sources_file)
    except (SettingsError, SourcesError) as exc:
        errors.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    from aiokafka.errors import KafkaError

    try:
        status = asyncio.run(serve(settings, source_list, once=once))
    except KafkaError as exc:
        errors.print(f"Kafka at {settings.kafka_bootstrap}: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    raise typer.Exit(status)


@fetcher_app.command("check")
def fetcher_check(sources: Path = typer.Argument(..., help="Sources YAML file.")) -> None:
    """Validate a sources file and list its sources."""
    from mediawatch.fetcher.sources import SourcesError, load_sources

    try:
        source_list = load_sources(sources)
    except SourcesError as exc:
        errors.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    for source in source_list:
        where = source.url or str(source.path)
        console.print(f"{source.id:<24} {source.type:<8} every {source.interval:>6.0f}s  {where}")
