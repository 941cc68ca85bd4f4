"""Settings of the API service (``MEDIAWATCH_*`` environment variables)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import Field, SecretStr

from mediawatch.runtime.settings import ServiceSettings


class ApiSettings(ServiceSettings):
    """Which archive the API reads and which rules file it shows and backtests by default."""

    service_name: str = Field(default="api", description="Name used in logs.")
    http_port: int = Field(default=8085, ge=0, le=65535, description="Port of the API.")
    archive_path: Path | None = Field(
        default=None,
        description="SQLite file of the archive. Unset: <MEDIAWATCH_STATE_DIR>/archive.sqlite3.",
    )
    archive_url: SecretStr | None = Field(
        default=None,
        description="postgresql://... of a PostgreSQL archive; set, it is read instead of the "
        "SQLite file (never logged).",
    )
    rules_file: Path = Field(
        default_factory=lambda: Path(
            str(resources.files("mediawatch.alerter") / "data" / "rules.yaml")
        ),
        description="The rules file GET /v1/rules shows and backtests use when given none.",
    )
    api_max_export_rows: int = Field(
        default=1_000_000, ge=1, description="Most articles one export streams."
    )

    def resolved_archive_path(self) -> Path:
        return self.archive_path or Path(self.state_dir) / "archive.sqlite3"
