"""Settings of the archiver service (``MEDIAWATCH_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from mediawatch.runtime.settings import ServiceSettings


class ArchiverSettings(ServiceSettings):
    """Where the archive lives, how long it keeps things, and how the archiver reads."""

    service_name: str = Field(default="archiver", description="Name used in logs and DLQ.")
    http_port: int = Field(default=8084, ge=0, le=65535, description="Port of /metrics, /readyz.")
    archiver_group_id: str = Field(
        default="mediawatch-archiver",
        description="Consumer group of the archiver on the tagged-articles and alerts topics.",
    )
    archive_path: Path | None = Field(
        default=None,
        description="SQLite file of the archive. Unset: <MEDIAWATCH_STATE_DIR>/archive.sqlite3.",
    )
    archive_url: SecretStr | None = Field(
        default=None,
        description="postgresql://USER:PASSWORD@HOST:PORT/DATABASE of a PostgreSQL archive; "
        "set, it is used instead of the SQLite file (never logged).",
    )
    archive_retention_days: float | None = Field(
        default=None,
        gt=0,
        description="Articles fetched and alerts fired longer ago than this are deleted, "
        "hourly and at start. Unset: kept for ever.",
    )
    archiver_batch_records: int = Field(
        default=500, ge=1, le=10_000, description="Most records written in one transaction."
    )

    def resolved_archive_path(self) -> Path:
        return self.archive_path or Path(self.state_dir) / "archive.sqlite3"
