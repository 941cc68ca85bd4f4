"""Alerter commands: ``alerter run``, ``rules check``, ``alerts tail``."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import typer
from rich.console import Console

from mediawatch.schemas import Alert

console = Console()
errors = Console(stderr=True)

alerter_app = typer.Typer(help="The alerter service.", no_args_is_help=True)
rules_app = typer.Typer(help="Watch rules.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts on the alerts topic.", no_args_is_help=True)


@alerter_app.command("run")
def alerter_run(
    rules: Path | None = typer.Option(None, "--rules", help="Rules file (default: settings)."),
    role: str | None = typer.Option(None, "--role", help="all, evaluate or deliver."),
) -> None:
    """Start the alerter: rule evaluation and notification delivery."""
    from mediawatch.alerter.rules import RulesError
    from mediawatch.alerter.service import run
    from mediawatch.alerter.settings import AlerterSettings
    from mediawatch.runtime.settings import SettingsError, load_settings

    overrides: dict[str, object] = {}
    if rules is not None:
        overrides["rules_file"] = rules
    if role is not None:
        overrides["role"] = role
    try:
        settings = load_settings(AlerterSettings, **overrides)
        run(settings)
    except (SettingsError, RulesError) as exc:
        errors.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None


@rules_app.command("check")
def rules_check(
    paths: list[Path] = typer.Argument(..., help="Rules files (YAML)."),
    themes: Path | None = typer.Option(
        None, "--themes", help="Theme catalogue the rules' theme ids must exist in."
    ),
) -> None:
    """Validate rules files; errors name the file, the rule id and the field."""
    from mediawatch.alerter.rules import RulesError, check_theme_ids, load_rules
    from mediawatch.query import ThemeCatalogueError, builtin_themes_file, load_theme_catalogue

    catalogue_path = themes or builtin_themes_file()
    try:
        known = {theme.id for theme in load_theme_catalogue(catalogue_path).themes}
    except ThemeCatalogueError as exc:
        errors.print(f"theme catalogue: {exc}", markup=False)
        raise typer.Exit(1) from None
    failed = False
    for path in paths:
        try:
            ruleset = load_rules(path)
            check_theme_ids(ruleset, known, str(path), str(catalogue_path))
        except RulesError as exc:
            for problem in exc.problems:
                errors.print(problem, markup=False, highlight=False, soft_wrap=True)
            failed = True
            continue
        modes = ", ".join(sorted({r.mode.type for r in ruleset.rules})) or "none"
        console.print(
            f"{path}: {len(ruleset.rules)} rules ({modes}), version {ruleset.version}: ok"
        )
    if failed:
        raise typer.Exit(1)


def _show(alert: Alert) -> None:
    colour = {"critical": "red", "warning": "yellow"}.get(alert.severity.value, "cyan")
    console.rule(
        f"[{colour}]{alert.severity.value.upper()}[/{colour}] {alert.rule_id} "
        f"({alert.mode.value}) {alert.fired_at:%Y-%m-%d %H:%M:%S}Z"
    )
    console.print(alert.summary, markup=False)
    if alert.statistics:
        console.print(
            "  " + "  ".join(f"{k}={v:g}" for k, v in alert.statistics.items()), markup=False
        )
    for article in alert.articles[:10]:
        source = article.source.name or article.source.id
        console.print(f"  • {article.title or article.article_id} — {source}", markup=False)
        if article.url:
            console.print(f"    {article.url}", markup=False, style="dim")
        for evidence in article.evidence[:2]:
            console.print(f"    > {(evidence.sentence or evidence.text)[:200]}", markup=False)
    fired_by = f"  rules version {alert.rules_version}" if alert.rules_version else ""
    console.print(f"  id: {alert.alert_id}{fired_by}", style="dim", markup=False)


async def _tail(from_beginning: bool, rule: str | None, as_json: bool, limit: int | None) -> None:
    from mediawatch.alerter.settings import AlerterSettings
    from mediawatch.runtime.kafka import consumer
    from mediawatch.runtime.settings import load_settings

    settings = load_settings(AlerterSettings)
    client = consumer(
        settings,
        settings.topic_alerts,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await client.start()
    shown = 0
    try:
        async for message in client:
            try:
                alert = Alert.from_json(message.value or b"")
            except Exception as exc:  # show, do not stop the tail
                errors.print(f"offset {message.offset}: not an alert: {exc}", markup=False)
                continue
            if rule is not None and alert.rule_id != rule:
                continue
            if as_json:
                sys.stdout.write(alert.model_dump_json() + "\n")
                sys.stdout.flush()
            else:
                _show(alert)
            shown += 1
            if limit is not None and shown >= limit:
                return
    finally:
        await client.stop()


@alerts_app.command("tail")
def alerts_tail(
    from_beginning: bool = typer.Option(False, "--from-beginning", help="Replay kept alerts."),
    rule: str | None = typer.Option(None, "--rule", help="Only alerts of this rule id."),
    as_json: bool = typer.Option(False, "--json", help="One Alert JSON per line."),
    limit: int | None = typer.Option(None, "--limit", help="Stop after this many alerts."),
) -> None:
    """Print alerts as they arrive."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_tail(from_beginning, rule, as_json, limit))


def register(app: typer.Typer) -> None:
    app.add_typer(alerter_app, name="alerter")
    app.add_typer(rules_app, name="rules")
    app.add_typer(alerts_app, name="alerts")
