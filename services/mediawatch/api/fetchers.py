"""What the fetchers say about their sources (``GET /v1/sources`` of each fetcher), merged
for the API's sources view.

The fetchers are asked over HTTP, like any client would: the API imports no other service.
With several fetcher instances each polls its share of the sources; where two report the
same source (after a takeover), the one that tried it last is believed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from mediawatch.api.settings import ApiSettings


@dataclass(frozen=True)
class SourceReport:
    healthy: bool | None
    last_success: datetime | None
    last_attempt: datetime | None
    last_error: str | None
    last_error_at: datetime | None


def _moment(value: Any) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if isinstance(value, int | float) else None


def _report(raw: dict[str, Any]) -> SourceReport:
    healthy = raw.get("healthy")
    error = raw.get("last_error")
    return SourceReport(
        healthy=healthy if isinstance(healthy, bool) else None,
        last_success=_moment(raw.get("last_success")),
        last_attempt=_moment(raw.get("last_attempt")),
        last_error=str(error) if error is not None else None,
        last_error_at=_moment(raw.get("last_error_at")),
    )


async def _ask(client: httpx.AsyncClient, url: str) -> tuple[dict[str, SourceReport], str]:
    where = f"{url.rstrip('/')}/v1/sources"
    try:
        response = await client.get(where)
    except httpx.HTTPError as exc:
        return {}, f"{url}: unreachable ({type(exc).__name__}: {str(exc)[:120]})"
    if response.status_code != 200:
        return {}, f"{url}: HTTP {response.status_code} {response.text[:120]}"
    try:
        body = response.json()
        reports = {str(sid): _report(raw) for sid, raw in body.items() if isinstance(raw, dict)}
    except (ValueError, AttributeError):
        return {}, f"{url}: not the JSON of a fetcher's /v1/sources"
    return reports, f"{url}: {len(reports)} sources"


async def fetcher_health(settings: ApiSettings) -> tuple[dict[str, SourceReport], list[str]]:
    """The merged reports by source id, and one line per fetcher saying how asking it went."""
    urls = settings.fetcher_url_list()
    if not urls:
        return {}, ["no fetcher configured (MEDIAWATCH_FETCHER_URLS)"]
    token = settings.fetcher_token.get_secret_value() if settings.fetcher_token else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(headers=headers, timeout=settings.fetcher_timeout_s) as client:
        answers = await asyncio.gather(*(_ask(client, url) for url in urls))
    merged: dict[str, SourceReport] = {}
    for reports, _ in answers:
        for source_id, report in reports.items():
            known = merged.get(source_id)
            newest = datetime.min.replace(tzinfo=UTC)
            if known is None or (report.last_attempt or newest) > (known.last_attempt or newest):
                merged[source_id] = report
    return merged, [line for _, line in answers]
