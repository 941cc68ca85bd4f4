"""``mediawatch tokens``: create, list and revoke the API tokens of the services' HTTP
entry points. The tokens file holds hashes only; a new token is printed once, here."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from mediawatch.runtime.auth import Role, TokenError, TokensFile
from mediawatch.runtime.settings import ServiceSettings, SettingsError, load_settings

tokens_app = typer.Typer(
    help="API tokens of the HTTP entry points (push, read APIs).", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)

FileOption = typer.Option(
    None,
    "--file",
    help="Tokens file. Default: MEDIAWATCH_API_TOKENS_FILE, else "
    "<MEDIAWATCH_STATE_DIR>/tokens.json.",
)


def _tokens_file(path: Path | None) -> TokensFile:
    if path is not None:
        return TokensFile(path)
    try:
        return TokensFile(load_settings(ServiceSettings).tokens_path)
    except SettingsError as exc:
        errors.print(str(exc), markup=False)
        raise typer.Exit(2) from None


@tokens_app.command("create")
def tokens_create(
    role: Role = typer.Option(..., "--role", help="ingest, viewer, editor or admin."),
    source: list[str] = typer.Option(
        [], "--source", help="Bind an ingest token to this source id (repeatable)."
    ),
    file: Path | None = FileOption,
) -> None:
    """Make a new token, store its hash and print it (once: it is not stored anywhere)."""
    tokens = _tokens_file(file)
    try:
        record, token = tokens.create(role, tuple(source))
    except TokenError as exc:
        errors.print(f"tokens create failed: {exc}", markup=False)
        raise typer.Exit(1) from None
    bound = f" for {', '.join(record.sources)}" if record.sources else ""
    errors.print(
        f"created {record.role.value} token {record.token_id}{bound} in {tokens.path}; "
        "it is shown once, below:",
        markup=False,
    )
    console.out(token)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: str = typer.Argument(..., help="The token's id (mw_<id>_...)."),
    file: Path | None = FileOption,
) -> None:
    """Refuse the token from now on; running services see it at their next request."""
    try:
        record = _tokens_file(file).revoke(token_id)
    except TokenError as exc:
        errors.print(f"tokens revoke failed: {exc}", markup=False)
        raise typer.Exit(1) from None
    console.print(f"token {record.token_id} revoked at {record.revoked_at}", markup=False)


@tokens_app.command("list")
def tokens_list(file: Path | None = FileOption) -> None:
    """The tokens of the file: id, role, sources, when created and revoked (never a token)."""
    try:
        records = _tokens_file(file).read()
    except TokenError as exc:
        errors.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    table = Table("id", "role", "sources", "created", "revoked")
    for record in records:
        table.add_row(
            record.token_id,
            record.role.value,
            ", ".join(record.sources) or "any",
            record.created_at or "-",
            record.revoked_at or "-",
        )
    console.print(table)
