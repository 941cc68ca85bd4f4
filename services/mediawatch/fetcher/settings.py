"""Settings of the fetcher, read from ``MEDIAWATCH_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from mediawatch.fetcher.guard import parse_allow_list
from mediawatch.runtime.settings import ServiceSettings

DEFAULT_USER_AGENT = "mediawatch-fetcher/0.1 (+https://github.com/mediawatch)"


class FetcherSettings(ServiceSettings):
    """Everything the fetcher can be tuned with; defaults are polite to publishers."""

    service_name: str = Field(default="fetcher", description="Name used in logs and DLQ.")
    http_port: int = Field(default=8081, ge=0, le=65535, description="Metrics, health, push.")
    sources_file: Path | None = Field(
        default=None,
        description="YAML file listing the sources to poll (deploy/config/sources.yaml is an "
        "example). Unset: nothing is polled, and the fetcher still takes pushed articles.",
    )
    user_agent: str = Field(default=DEFAULT_USER_AGENT, description="User-Agent of every request.")
    per_host_concurrency: int = Field(
        default=2, ge=1, le=64, description="Requests in flight at once to one host."
    )
    politeness_delay_s: float = Field(
        default=1.0, ge=0.0, description="Minimum time between two request starts to one host."
    )
    connect_timeout_s: float = Field(default=10.0, gt=0, description="TCP/TLS connect timeout.")
    read_timeout_s: float = Field(default=20.0, gt=0, description="Timeout between two reads.")
    total_timeout_s: float = Field(
        default=60.0, gt=0, description="Upper bound of one request including the body."
    )
    max_response_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Decoded bytes after which a body is cut."
    )
    fetch_allow: str = Field(
        default="",
        description="Comma-separated CIDRs and host names the fetcher may connect to although "
        "they are not public (loopback, link-local, private, multicast, reserved), e.g. "
        "127.0.0.0/8 for local test sites or 10.20.0.0/16 for an intranet. Empty: public "
        "addresses only; the check is made on the address connected to, every redirect hop.",
    )
    max_redirects: int = Field(default=5, ge=0, le=30, description="Redirects followed.")
    retry_attempts: int = Field(
        default=3, ge=0, le=10, description="Retries after the first attempt (errors, 5xx, 429)."
    )
    retry_base_delay_s: float = Field(default=0.5, ge=0, description="First backoff delay.")
    retry_max_delay_s: float = Field(
        default=30.0, ge=0, description="Cap of one backoff delay, Retry-After included."
    )
    respect_robots: bool = Field(default=True, description="Obey robots.txt for pages.")
    robots_cache_s: float = Field(default=3600.0, ge=0, description="How long robots.txt is kept.")
    push_max_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Largest accepted POST /v1/articles body."
    )
    push_max_batch: int = Field(default=500, ge=1, description="Most articles in one POST.")
    push_unknown_sources: Literal["refuse", "fold"] = Field(
        default="refuse",
        description="What a push naming a source id that is not in the sources file gets: "
        "refuse (422) or fold (published as the one 'push' source). Either way the source "
        "label of the metrics takes only configured ids and 'push'.",
    )
    push_requests_per_minute: int = Field(
        default=120,
        ge=1,
        description="POST /v1/articles requests one token may make a minute (bursts of as "
        "many); past it the answer is 429 with Retry-After.",
    )
    max_entries_per_pass: int = Field(
        default=200, ge=1, description="Most new entries/URLs of one source handled per pass."
    )
    entry_concurrency: int = Field(
        default=8, ge=1, description="Entries of one feed or sitemap processed at once."
    )
    near_duplicate_distance: int = Field(
        default=3, ge=0, le=3, description="Largest SimHash Hamming distance of a near-duplicate."
    )
    seen_memory: int = Field(
        default=100_000,
        ge=100,
        description="Newest published articles kept in memory for duplicate detection (about "
        "1.4 kB each); older ones are forgotten, so an exact copy of an article older than "
        "that is published again.",
    )
    min_text_chars: int = Field(
        default=200, ge=0, description="Shorter extracted page text counts as a failed extraction."
    )
    shutdown_grace_s: float = Field(
        default=30.0, ge=0, description="Time given to in-flight work on SIGTERM."
    )
    shard_sources: bool = Field(
        default=False,
        description="Share the sources among every fetcher instance with this Kafka "
        "bootstrap and group: each source is polled by one instance (the one assigned its "
        "partition of the sources topic), and a dead instance's sources move to the others "
        "within the session timeout. Off: this instance polls every source.",
    )
    fetcher_group_id: str = Field(
        default="mediawatch-fetcher",
        description="Kafka consumer group the fetcher instances share the sources in.",
    )

    @field_validator("fetch_allow")
    @classmethod
    def _allow_list(cls, value: str) -> str:
        parse_allow_list(value)
        return value
