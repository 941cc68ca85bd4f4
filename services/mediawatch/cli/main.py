"""``mediawatch``: one command, one sub-command group per job."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from mediawatch.alerter.cli import register as register_alerter
from mediawatch.api.cli import register as register_api
from mediawatch.archiver.cli import register as register_archiver
from mediawatch.cli.articles import register as register_article_commands
from mediawatch.cli.backtest import register as register_backtest
from mediawatch.cli.tokens import tokens_app
from mediawatch.fetcher.cli import fetcher_app
from mediawatch.schemas.export import export
from mediawatch.stack.broker import BrokerError, BrokerSettings, LocalKafka
from mediawatch.stack.cli import register as register_stack
from mediawatch.tagger.cli import register as register_tagger

app = typer.Typer(
    name="mediawatch",
    help="Event-driven media monitoring: fetch, tag and alert on the press in seconds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
broker_app = typer.Typer(
    help="Run the project's own single-node Kafka broker.", no_args_is_help=True
)
schemas_app = typer.Typer(help="Event contracts: JSON Schema and AsyncAPI.", no_args_is_help=True)
settings_app = typer.Typer(help="Configuration of the services.", no_args_is_help=True)
app.add_typer(broker_app, name="broker")
app.add_typer(schemas_app, name="schemas")
app.add_typer(settings_app, name="settings")
app.add_typer(fetcher_app, name="fetcher")
app.add_typer(tokens_app, name="tokens")
register_tagger(app)
register_article_commands(app)
register_alerter(app)
register_archiver(app)
register_backtest()
register_api(app)
register_stack(app)

console = Console()
errors = Console(stderr=True, soft_wrap=True)  # a path in an error stays on one line


def _local_kafka(state_dir: Path | None, port: int | None) -> LocalKafka:
    overrides: dict[str, object] = {}
    if state_dir is not None:
        overrides["state_dir"] = state_dir
    if port is not None:
        overrides["port"] = port
        overrides["controller_port"] = port + 1
    return LocalKafka(BrokerSettings(**overrides))  # type: ignore[arg-type]


StateDirOption = typer.Option(None, "--state-dir", help="Default: .mediawatch")
PortOption = typer.Option(None, "--port", help="Client port (controller: port+1). Default 9092.")


@broker_app.command("start")
def broker_start(state_dir: Path | None = StateDirOption, port: int | None = PortOption) -> None:
    """Download Kafka if needed, format storage on first use, start and wait until ready."""
    try:
        kafka = _local_kafka(state_dir, port)
        with console.status(f"starting Kafka {kafka.version} ..."):
            status = kafka.start()
    except BrokerError as exc:
        errors.print(f"[red]broker start failed:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"Kafka {status.version} running (pid {status.pid})")
    console.print(f"bootstrap: [bold]{status.bootstrap}[/bold]   log: {status.log_file}")


@broker_app.command("stop")
def broker_stop(state_dir: Path | None = StateDirOption) -> None:
    """Stop the broker cleanly."""
    try:
        stopped = _local_kafka(state_dir, None).stop()
    except BrokerError as exc:
        errors.print(f"[red]broker stop failed:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print("Kafka stopped" if stopped else "Kafka was not running")


@broker_app.command("status")
def broker_status(state_dir: Path | None = StateDirOption) -> None:
    """Say whether the broker runs, where, and which version."""
    try:
        status = _local_kafka(state_dir, None).status()
    except BrokerError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if status.running:
        console.print(f"running: Kafka {status.version} at {status.bootstrap} (pid {status.pid})")
    else:
        console.print(f"not running (Kafka {status.version}, would listen on {status.bootstrap})")
        raise typer.Exit(3)


@schemas_app.command("export")
def schemas_export(
    out: Path = typer.Option(Path("schemas"), "--out", help="Directory to write into."),
) -> None:
    """Write schemas/json/<Event>.json and schemas/asyncapi.yaml from the models."""
    for path in export(out):
        console.print(f"wrote {path}")


@settings_app.command("reference")
def settings_reference(
    out: Path = typer.Option(
        Path("docs/configuration.md"), "--out", help="File to write; - for standard output."
    ),
) -> None:
    """Write the configuration reference generated from the settings classes."""
    from mediawatch.cli.reference import render_reference

    text = render_reference()
    if str(out) == "-":
        console.out(text, end="")
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}")


@settings_app.command("export-defaults")
def settings_export_defaults(
    out: Path = typer.Argument(..., help="Directory to write the files into."),
    force: bool = typer.Option(False, "--force", help="Overwrite files that exist."),
) -> None:
    """Copy the built-in themes and rules, and the sample desk's actors, out of the package
    for editing; point MEDIAWATCH_THEMES_FILE, _RULES_FILE and _ACTORS_FILE at the copies."""
    from mediawatch.alerter.settings import AlerterSettings
    from mediawatch.query import builtin_themes_file
    from mediawatch.stack.samples import SAMPLES_DIR

    defaults = {
        "themes.yaml": builtin_themes_file(),
        "rules.yaml": AlerterSettings().rules_file,
        "actors.yaml": SAMPLES_DIR / "actors.yaml",
    }
    existing = [name for name in defaults if (out / name).exists()]
    if existing and not force:
        errors.print(f"{out}: {', '.join(existing)} already there; --force overwrites")
        raise typer.Exit(1)
    out.mkdir(parents=True, exist_ok=True)
    for name, source in defaults.items():
        (out / name).write_bytes(source.read_bytes())
        console.print(f"wrote {out / name}")


def main() -> None:
    from mediawatch.runtime.compat import UntestedFaustError

    try:
        app()
    except UntestedFaustError as exc:
        errors.print(str(exc), markup=False, highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
