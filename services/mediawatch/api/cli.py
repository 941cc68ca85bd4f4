"""API commands: ``api run`` and ``api openapi``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

errors = Console(stderr=True)
api_app = typer.Typer(help="The REST API over the archive.", no_args_is_help=True)


@api_app.command("run")
def api_run(
    archive: Path | None = typer.Option(None, "--archive", help="SQLite file (default: settings)."),
) -> None:
    """Serve the API until Ctrl-C (MEDIAWATCH_HTTP_PORT, 8085 by default)."""
    from mediawatch.api.app import run
    from mediawatch.api.settings import ApiSettings
    from mediawatch.runtime.settings import SettingsError, load_settings

    overrides: dict[str, object] = {} if archive is None else {"archive_path": archive}
    try:
        settings = load_settings(ApiSettings, **overrides)
    except SettingsError as exc:
        errors.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    run(settings)


@api_app.command("openapi")
def api_openapi() -> None:
    """Print the OpenAPI document built from the code (the committed copy must equal it)."""
    from mediawatch.api.openapi import render

    sys.stdout.write(render())


def register(app: typer.Typer) -> None:
    app.add_typer(api_app, name="api")
