"""Per-source health: what the last pass over each source came to, for ``/v1/sources``,
the ``--once`` exit status and the source metrics."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from mediawatch.fetcher import metrics
from mediawatch.fetcher.passes import PassResult


@dataclass
class SourceHealth:
    healthy: bool | None = None  # None: not tried yet
    #: The last failed pass's error, kept after later successes (``healthy`` says whether
    #: the source works now; this says what broke last, and ``last_error_at`` when).
    last_error: str | None = None
    last_error_at: float | None = None
    last_success: float | None = None
    last_attempt: float | None = None
    published: int = 0
    #: What went wrong with single entries in the last pass (a refused address, a page
    #: that would not load), while the pass itself succeeded.
    entry_errors: list[str] = field(default_factory=list)


class HealthBoard:
    """The health of every source this instance knows, by source id."""

    def __init__(self, source_ids: list[str]) -> None:
        self.sources: dict[str, SourceHealth] = {sid: SourceHealth() for sid in source_ids}

    def attempt(self, source_id: str) -> None:
        self.sources.setdefault(source_id, SourceHealth()).last_attempt = time.time()

    def failed(self, source_id: str, message: str) -> None:
        health = self.sources.setdefault(source_id, SourceHealth())
        health.healthy, health.last_error, health.last_error_at = False, message, time.time()
        metrics.SOURCE_HEALTHY.labels(source_id).set(0)

    def succeeded(self, source_id: str, result: PassResult) -> None:
        health = self.sources.setdefault(source_id, SourceHealth())
        now = time.time()
        health.healthy, health.last_success = True, now
        health.entry_errors = result.entry_errors
        health.published += result.published
        metrics.SOURCE_HEALTHY.labels(source_id).set(1)
        metrics.LAST_SUCCESS.labels(source_id).set(now)

    def failures(self) -> dict[str, str]:
        """{source id: last error} of the sources whose last pass failed."""
        return {
            sid: health.last_error or "failed"
            for sid, health in self.sources.items()
            if health.healthy is False
        }

    def as_json(self) -> dict[str, dict[str, Any]]:
        return {sid: asdict(health) for sid, health in self.sources.items()}
