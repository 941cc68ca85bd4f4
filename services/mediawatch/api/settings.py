"""Settings of the API service (``MEDIAWATCH_*`` environment variables)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

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
    fetcher_urls: str = Field(
        default="",
        description="Comma-separated base URLs of the fetchers whose /v1/sources the sources "
        "view shows (http://fetcher:8080); empty: archive counts only.",
    )
    fetcher_token: SecretStr | None = Field(
        default=None, description="A viewer token the fetchers accept (never logged)."
    )
    fetcher_timeout_s: float = Field(
        default=3.0, gt=0, description="Seconds to wait for each fetcher's answer."
    )
    session_ttl_s: float = Field(
        default=8 * 3600.0, gt=0, description="How long a workspace login lasts."
    )
    session_cookie_secure: bool = Field(
        default=False,
        description="Mark the session cookie Secure even on plain HTTP (behind a TLS proxy); "
        "it is always Secure when the request came over HTTPS.",
    )
    api_max_export_rows: int = Field(
        default=1_000_000, ge=1, description="Most articles one export streams."
    )

    @field_validator("fetcher_urls")
    @classmethod
    def _urls(cls, value: str) -> str:
        for url in (part.strip() for part in value.split(",") if part.strip()):
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http:// or https:// URL")
        return value

    def fetcher_url_list(self) -> list[str]:
        return [part.strip() for part in self.fetcher_urls.split(",") if part.strip()]

    def resolved_archive_path(self) -> Path:
        return self.archive_path or Path(self.state_dir) / "archive.sqlite3"
