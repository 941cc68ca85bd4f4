"""CloudEvents Kafka protocol binding (binary mode) for mediawatch events.

The payload stays the JSON body; the CloudEvents attributes travel as ``ce_*`` record
headers so that any consumer (kcat, Java, Go) can route on them without parsing bodies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from mediawatch.schemas._base import Event

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
TYPE_PREFIX = "io.mediawatch"

Headers = list[tuple[str, bytes]]


def ce_type(event_type: type[Event]) -> str:
    """``io.mediawatch.ArticleFetched.v1``: the major version is part of the type."""
    return f"{TYPE_PREFIX}.{event_type.event_name}.v{event_type.supported_major()}"


def cloudevent_headers(event: Event, *, source: str, time: datetime | None = None) -> Headers:
    """Headers for one event; ``source`` names the producing service (``/mediawatch/fetcher``)."""
    moment = (time or datetime.now(UTC)).isoformat()
    pairs = {
        "ce_specversion": SPEC_VERSION,
        "ce_id": event.event_id(),
        "ce_type": ce_type(type(event)),
        "ce_source": source,
        "ce_time": moment,
        "ce_dataschema": f"urn:mediawatch:schema:{event.event_name}:{event.schema_version}",
        "content-type": CONTENT_TYPE,
    }
    return [(name, value.encode()) for name, value in pairs.items()]


def header_map(headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None) -> dict[str, str]:
    """Decode record headers into a name -> text mapping (last value wins)."""
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {name: value.decode("utf-8", "replace") for name, value in items if value is not None}
