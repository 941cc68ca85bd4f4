"""The archive's backends for the store tests: the embedded SQLite file, and a database on a
throwaway PostgreSQL server that the session starts from Debian's packages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mediawatch.archiver.store import ArchiveStore
from mediawatch.stack.postgres import LocalPostgres
from tests.support.postgres import start_postgres

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def new_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., ArchiveStore]]:
    """Opens the test's store of the backend the test is run for, as often as asked (the
    same file or database each time; ``schema_version`` stops its migrations there);
    closes them all at the end."""
    opened: list[ArchiveStore] = []
    if request.param == "sqlite":
        from mediawatch.archiver.sqlite import SqliteArchive

        def make(schema_version: int | None = None) -> ArchiveStore:
            path = tmp_path / "archive.sqlite3"
            opened.append(SqliteArchive(path, schema_version=schema_version))
            return opened[-1]
    else:
        from mediawatch.archiver.postgres import PostgresArchive

        url = request.getfixturevalue("postgres_server").new_database()

        def make(schema_version: int | None = None) -> ArchiveStore:
            opened.append(PostgresArchive(url, schema_version=schema_version))
            return opened[-1]

    yield make
    for store in opened:
        store.close()
