"""Window maths of the alert modes, as plain functions of timestamps (seconds since the epoch).

Nothing here reads a clock: the caller passes ``now`` (event time of the newest match, or the
injectable clock of the rule timer), which is what makes the modes testable without sleeping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter


def to_epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def slot_text(seconds: float) -> str:
    """Compact UTC time used inside alert ids: ``20250301T080000Z``."""
    return from_epoch(seconds).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class ThresholdResult:
    fired: bool
    count: int
    window_start: float | None


def threshold(
    times: Sequence[float], now: float, window_s: float, count: int, floor: float | None = None
) -> ThresholdResult:
    """At least ``count`` of ``times`` lie in ``(now - window_s, now]`` and after ``floor``
    (the end of the last window that fired, so one burst fires once)."""
    start = now - window_s
    if floor is not None:
        start = max(start, floor)
    inside = sorted(t for t in times if start < t <= now)
    return ThresholdResult(len(inside) >= count, len(inside), inside[0] if inside else None)


@dataclass(frozen=True)
class SpikeResult:
    fired: bool
    count: int
    baseline_mean: float
    baseline_std: float
    ratio: float
    zscore: float
    window_start: float | None


def spike(
    times: Sequence[float],
    now: float,
    window_s: float,
    baseline_s: float,
    *,
    min_count: int,
    min_ratio: float | None,
    min_zscore: float | None,
    floor: float | None = None,
) -> SpikeResult:
    """Compare the count in the recent window ``(now - window_s, now]`` with the counts of the
    ``baseline_s`` before it, cut into buckets of ``window_s``.

    ``ratio`` = recent count / mean bucket count, the mean floored at one match over the whole
    baseline (so an empty baseline gives a large but finite ratio); ``zscore`` = (recent - mean)
    / std, the std floored at 1. Both thresholds given must hold, and ``min_count`` always.
    """
    recent_start = now - window_s
    if floor is not None:
        recent_start = max(recent_start, floor)
    recent = sorted(t for t in times if recent_start < t <= now)
    buckets = max(1, math.floor(baseline_s / window_s))
    base_start = now - window_s - buckets * window_s
    counts = [0] * buckets
    for t in times:
        if base_start < t <= now - window_s:
            index = min(buckets - 1, int((t - base_start) // window_s))
            counts[index] += 1
    mean = sum(counts) / buckets
    std = math.sqrt(sum((c - mean) ** 2 for c in counts) / buckets)
    ratio = len(recent) / max(mean, 1.0 / buckets)
    zscore = (len(recent) - mean) / max(std, 1.0)
    fired = (
        len(recent) >= min_count
        and (min_ratio is None or ratio >= min_ratio)
        and (min_zscore is None or zscore >= min_zscore)
    )
    return SpikeResult(fired, len(recent), mean, std, ratio, zscore, recent[0] if recent else None)


def latest_slot(cron: str, timezone: str, now: float) -> float:
    """The last schedule slot at or before ``now``."""
    local = from_epoch(now).astimezone(ZoneInfo(timezone))
    previous: datetime = croniter(cron, local).get_prev(datetime)
    following: datetime = croniter(cron, previous).get_next(datetime)
    if to_epoch(following) <= now:
        previous = following
    return to_epoch(previous)


def next_slot(cron: str, timezone: str, after: float) -> float:
    """The first schedule slot strictly after ``after``."""
    local = from_epoch(after).astimezone(ZoneInfo(timezone))
    following: datetime = croniter(cron, local).get_next(datetime)
    return to_epoch(following)
