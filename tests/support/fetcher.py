"""Helpers of the fetcher's real-broker tests: settings for fast loopback runs, sources
files, and reading a topic with a check that nothing extra arrives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mediawatch.fetcher.settings import FetcherSettings
from mediawatch.runtime.auth import Role, TokensFile
from mediawatch.runtime.settings import KafkaSettings
from tests.support.kafka_io import Record, read_topic

#: What the tests let the fetcher connect to: their sites listen on loopback, which the
#: fetcher refuses by default.
LOOPBACK_ALLOWED = "127.0.0.0/8"
#: The same for a fetcher run as a child process.
LOOPBACK_ALLOWED_ENV = {"MEDIAWATCH_FETCH_ALLOW": LOOPBACK_ALLOWED}

FAST = {
    "fetch_allow": LOOPBACK_ALLOWED,
    "politeness_delay_s": 0.0,
    "retry_base_delay_s": 0.05,
    "retry_max_delay_s": 0.5,
    "read_timeout_s": 2.0,
    "total_timeout_s": 5.0,
}


def fetcher_settings(kafka: KafkaSettings, tmp_path: Path, **extra: Any) -> FetcherSettings:
    values = kafka.model_dump() | FAST | {"state_dir": tmp_path / "state"} | extra
    return FetcherSettings(**values)


def new_token_in(tokens_file: Path, role: Role = Role.INGEST, *sources: str) -> str:
    """A new token stored (hashed) in ``tokens_file``, as `mediawatch tokens create` does."""
    return TokensFile(tokens_file).create(role, sources)[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def write_sources(path: Path, sources: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"sources": sources}))  # JSON is YAML
    return path


async def read_exactly(settings: KafkaSettings, topic: str, expected: int) -> list[Record]:
    """Everything on the topic, waiting for ``expected`` records plus a short grace period
    that would let one record too many show up."""
    records = await read_topic(settings, topic, until=lambda r: len(r) >= expected, timeout_s=60)
    extra = await read_topic(settings, topic, until=lambda r: len(r) > expected, timeout_s=3)
    return extra if len(extra) > len(records) else records
