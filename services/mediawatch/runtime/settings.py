"""Typed settings shared by every service; each service subclasses :class:`ServiceSettings`.

Every field is read from an environment variable named ``MEDIAWATCH_<FIELD>`` (for example
``MEDIAWATCH_KAFKA_BOOTSTRAP``). Settings are frozen: a running service never changes them.
Credentials are ``SecretStr`` so that they never appear in logs, reprs or tracebacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mediawatch.runtime.errors import OnError

ENV_PREFIX = "MEDIAWATCH_"

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
LogFormat = Literal["json", "text"]
S = TypeVar("S", bound=BaseSettings)


class SettingsError(ValueError):
    """Settings could not be read; the message names each offending environment variable."""


class KafkaSettings(BaseSettings):
    """How to reach Kafka, plain or secured; the topic names of the catalogue."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092",
        pattern=r"^[^,\s]+:\d+(,[^,\s]+:\d+)*$",
        description="Comma-separated host:port list of Kafka brokers.",
    )
    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_mechanism: SaslMechanism | None = Field(
        default=None, description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password; never logged."
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle that signed the brokers' certificates."
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate for mutual TLS."
    )
    kafka_ssl_keyfile: Path | None = Field(default=None, description="Client key for mutual TLS.")
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of the client key; never logged."
    )
    kafka_fetch_min_bytes: int = Field(
        default=1,
        ge=1,
        description="A consumer's fetch waits for this many bytes (or the wait below). 1: each "
        "record is read as soon as it is written, the lowest latency. At high volume, 65536 "
        "with a 100 ms wait reads records in batches and cut the alerter's CPU per article "
        "by a third at 200 articles/s (docs/benchmarks.md), for up to that wait more per "
        "consuming hop on a quiet topic.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=1500,
        ge=0,
        le=30_000,
        description="The longest a fetch waits for kafka_fetch_min_bytes; with 1 byte, only "
        "how often a quiet consumer polls.",
    )
    kafka_replication_factor: int = Field(
        default=1, ge=1, description="Replication factor for topics mediawatch creates."
    )
    topic_articles_fetched: str = Field(
        default="mediawatch.articles.fetched", description="Topic of ArticleFetched events."
    )
    topic_articles_tagged: str = Field(
        default="mediawatch.articles.tagged", description="Topic of ArticleTagged events."
    )
    topic_alerts: str = Field(default="mediawatch.alerts", description="Topic of Alert events.")
    topic_deadletter: str = Field(
        default="mediawatch.deadletter", description="Topic of DeadLetter records."
    )
    topic_fetcher_seen: str = Field(
        default="mediawatch.fetcher.seen", description="Compacted topic of ArticleSeen records."
    )
    topic_notifications_retry: str = Field(
        default="mediawatch.notifications.retry",
        description="Topic of NotificationFailed records the alerter retries.",
    )
    topic_fetcher_sources: str = Field(
        default="mediawatch.fetcher.sources",
        description="Compacted topic of SourcePolled records keyed by source id: its "
        "partitions are what the fetcher group divides (MEDIAWATCH_SHARD_SOURCES).",
    )

    @model_validator(mode="after")
    def _security_is_complete(self) -> Self:
        protocol = self.kafka_security_protocol
        if protocol.startswith("SASL"):
            missing = [
                f"{ENV_PREFIX}{name.upper()}"
                for name in ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"{ENV_PREFIX}KAFKA_SECURITY_PROTOCOL={protocol} needs {', '.join(missing)}"
                )
        return self

    @staticmethod
    def topics_under(prefix: str) -> dict[str, str]:
        """``topic_*`` values that put every catalogue topic under ``prefix`` instead of
        ``mediawatch`` (``<prefix>.articles.fetched`` ...), for isolated test and benchmark
        runs on a shared broker."""
        from mediawatch.schemas.topics import CATALOGUE

        return {
            f"topic_{role}": prefix + spec.name.removeprefix("mediawatch")
            for role, spec in CATALOGUE.items()
        }

    def environment(self) -> dict[str, str]:
        """The ``MEDIAWATCH_*`` variables that give a child process this broker and these
        topic names."""
        env = {f"{ENV_PREFIX}KAFKA_BOOTSTRAP": self.kafka_bootstrap}
        for name in type(self).model_fields:
            if name.startswith("topic_"):
                env[f"{ENV_PREFIX}{name.upper()}"] = getattr(self, name)
        return env

    def topic_name(self, role: str) -> str:
        """Name of the catalogue topic with this role, as configured."""
        name = getattr(self, f"topic_{role}", None)
        if not isinstance(name, str):
            raise KeyError(f"no topic setting for catalogue role {role!r}")
        return name


class ServiceSettings(KafkaSettings):
    """What every service has: Kafka, an HTTP port for health and metrics, logging."""

    service_name: str = Field(default="mediawatch", description="Name used in logs and DLQ.")
    http_host: str = Field(default="127.0.0.1", description="Address of the HTTP server.")
    http_port: int = Field(default=8080, ge=0, le=65535, description="Port of the HTTP server.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Minimum level of log records."
    )
    log_format: LogFormat = Field(default="json", description="json (one object per line) or text.")
    state_dir: Path = Field(
        default=Path(".mediawatch"), description="Directory for local state (faust data, broker)."
    )
    kafka_session_timeout_s: float = Field(
        default=60.0,
        ge=6.0,
        description="Session timeout of a stream service's consumer group: how soon a crashed "
        "worker's partitions move to the others (faust's default is 60 s).",
    )
    api_tokens_file: Path | None = Field(
        default=None,
        description="Tokens file written by `mediawatch tokens create` (hashes only, mode "
        "0600), read again when it changes. Unset: <MEDIAWATCH_STATE_DIR>/tokens.json.",
    )
    api_tokens: SecretStr | None = Field(
        default=None,
        description="More API tokens, for .env files and secret stores: entries "
        "ROLE[:SOURCE,...]=TOKEN separated by spaces or ';' (roles: ingest, viewer, editor, "
        "admin); never logged.",
    )
    http_probes_require_token: bool = Field(
        default=False,
        description="Make /metrics, /healthz and /readyz need a token with role viewer "
        "(open by default, for probes and scrapers on a private network).",
    )
    on_error: OnError = Field(
        default=OnError.DEAD_LETTER,
        description="What a stream does with a record it cannot decode or handle: dead_letter "
        "(to the dead-letter topic with the reason, and on), skip (count, log, and on) or "
        "raise (stop the service before the record is committed; it is read again on restart).",
    )

    @field_validator("api_tokens")
    @classmethod
    def _api_tokens_parse(cls, value: SecretStr | None) -> SecretStr | None:
        from mediawatch.runtime.auth import parse_env_tokens  # auth builds on these settings

        parse_env_tokens(value)
        return value

    @property
    def tokens_path(self) -> Path:
        """Where the tokens file is: the setting, else ``tokens.json`` in the state dir."""
        return self.api_tokens_file or self.state_dir / "tokens.json"


def load_settings(settings_type: type[S], **overrides: object) -> S:
    """Build settings from the environment; errors name the environment variable at fault."""
    try:
        return settings_type(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            variable = f"{ENV_PREFIX}{field.upper()}" if field else settings_type.__name__
            value = error.get("input")
            secret = any(word in field for word in ("password", "secret", "token"))
            shown = "" if secret or isinstance(value, dict) else f" (got {value!r})"
            problems.append(f"{variable}: {error['msg']}{shown}")
        raise SettingsError(f"invalid {settings_type.__name__}: " + "; ".join(problems)) from None
