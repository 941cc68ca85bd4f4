"""Settings of the alerter service (``MEDIAWATCH_*`` environment variables)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from mediawatch.runtime.settings import ServiceSettings


class AlerterSettings(ServiceSettings):
    """What the alerter evaluates and how it delivers notifications."""

    service_name: str = Field(default="alerter", description="Name used in logs and DLQ.")
    http_port: int = Field(default=8083, ge=0, le=65535, description="Port of /metrics, /readyz.")
    app_id: str = Field(
        default="mediawatch-alerter",
        description="faust application id = consumer group of rule evaluation; the delivery "
        "consumer group is '<app_id>-delivery'.",
    )
    rules_file: Path = Field(
        default_factory=lambda: Path(
            str(resources.files("mediawatch.alerter") / "data" / "rules.yaml")
        ),
        description="Watch rules (YAML); the default is the example set that ships with "
        "mediawatch.",
    )
    rules_reload_s: float = Field(
        default=2.0,
        ge=0.0,
        description="How often the rules file is checked for changes, which are then taken "
        "without a restart (rule state is kept; a file that does not validate is logged and "
        "counted, and the rules loaded before stay in force); 0 turns reloading off.",
    )
    role: Literal["all", "evaluate", "deliver"] = Field(
        default="all",
        description="all: evaluation and delivery in one process; evaluate or deliver: one "
        "of them, to run delivery as its own process.",
    )
    kafka_session_timeout_s: float = Field(
        default=30.0,
        ge=6.0,
        description="Session timeout of the alerter's consumer group (shorter than faust's "
        "60 s default, so a restarted alerter takes its windows back sooner).",
    )
    digest_tick_s: float = Field(
        default=30.0,
        ge=0.0,
        description="How often the rule timer looks for due digests and for ended cooldowns "
        "with held matches to summarise; 0 turns the timer off (both then wait for a later "
        "matching article).",
    )
    notify_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one attempt.")
    notify_attempts: int = Field(
        default=3, ge=1, description="Attempts made inline before a notification is parked."
    )
    notify_backoff_s: float = Field(
        default=0.5, ge=0.0, description="First delay between attempts; doubles each time."
    )
    notify_retry_delay_s: float = Field(
        default=30.0,
        ge=0.0,
        description="First delay before a parked notification is retried from the retry "
        "topic; doubles on each failure up to notify_retry_max_delay_s.",
    )
    notify_retry_max_delay_s: float = Field(
        default=3600.0, ge=0.0, description="Longest delay between two retries."
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server for e-mail rules.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port.")
    smtp_starttls: bool = Field(default=False, description="Upgrade with STARTTLS.")
    smtp_username: str | None = Field(default=None, description="SMTP user name.")
    smtp_password: SecretStr | None = Field(
        default=None, description="SMTP password; never logged."
    )
    smtp_sender: str = Field(
        default="mediawatch@localhost", description="From: address of e-mail notifications."
    )
