"""Which archive store a process opens: PostgreSQL when an archive URL is set, else the
embedded SQLite file."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from mediawatch.archiver.store import ArchiveStore


def open_archive(path: Path, url: SecretStr | None) -> ArchiveStore:
    """The store at ``url`` (``postgresql://...``), or the SQLite file at ``path``."""
    if url is not None:
        from mediawatch.archiver.postgres import PostgresArchive

        return PostgresArchive(url.get_secret_value())
    from mediawatch.archiver.sqlite import SqliteArchive

    return SqliteArchive(path)


def describe(path: Path, url: SecretStr | None) -> str:
    """Where the archive is, for logs and readiness: never the URL's password."""
    if url is None:
        return str(path)
    from urllib.parse import urlsplit

    parts = urlsplit(url.get_secret_value())
    return f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"
