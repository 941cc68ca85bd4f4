"""A throwaway PostgreSQL server from Debian's packages, for the tests and the archive
benchmark: initdb and pg_ctl on a free loopback port, in a folder of its own, removed when
it stops.

As root the server runs as Debian's ``postgres`` user (PostgreSQL refuses to run as root);
its folder is made in /tmp, outside pytest's root-only temporary tree, and given to that
user. :meth:`LocalPostgres.new_database` gives each user of the server a database of its own.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from mediawatch.stack.broker import free_port

SUPERUSER = "mediawatch"


class PostgresError(RuntimeError):
    """The server could not be had: what is missing or which step failed."""


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class LocalPostgres:
    def __init__(self) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise PostgresError(
                "PostgreSQL is not installed (Debian package postgresql; `make tools`)"
            )
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="mediawatch-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            [*self.as_user, *command], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text()[-3000:] if log.exists() else ""
            raise PostgresError(
                f"{' '.join(command)} failed (exit {result.returncode}): "
                f"{result.stdout}{result.stderr}\n{tail}"
            )

    def start(self) -> LocalPostgres:
        """Start the server, creating its cluster first if there is none yet."""
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
                      "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        log = str(self.folder / "server.log")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", log, "-o", options,
                  "-w", "-t", "60", "start")  # fmt: skip
        return self

    def halt(self) -> None:
        """Stop the server, keeping its data (for outage tests; :meth:`start` resumes it)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"mw_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(PostgresError):  # it may be stopped already
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
