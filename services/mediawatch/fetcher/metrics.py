"""Prometheus metrics of the fetcher (prefix ``mediawatch_fetcher_``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

FETCHES = Counter(
    "mediawatch_fetcher_fetches_total",
    "HTTP fetches and inbox reads by source and outcome "
    "(ok, not_modified, http_error, timeout, connection, too_large, redirect_loop, "
    "robots_denied, refused_address, parse_error, error).",
    ["source", "outcome"],
)
FETCH_SECONDS = Histogram(
    "mediawatch_fetcher_fetch_duration_seconds",
    "Time of one fetch including retries and redirects.",
    ["source"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
FETCHED_BYTES = Counter(
    "mediawatch_fetcher_fetched_bytes_total", "Decoded body bytes fetched.", ["source"]
)
PUBLISHED = Counter(
    "mediawatch_fetcher_articles_published_total",
    "ArticleFetched events acknowledged by Kafka.",
    ["source"],
)
DUPLICATES = Counter(
    "mediawatch_fetcher_duplicates_total",
    "Articles not published because the same text was published before.",
    ["source"],
)
NEAR_DUPLICATES = Counter(
    "mediawatch_fetcher_near_duplicates_total",
    "Articles published with duplicate_of set (SimHash near-duplicates).",
    ["source"],
)
LAST_SUCCESS = Gauge(
    "mediawatch_fetcher_last_success_timestamp_seconds",
    "Unix time of the last successful pass over the source.",
    ["source"],
)
SOURCE_HEALTHY = Gauge(
    "mediawatch_fetcher_source_healthy", "1 if the last pass over the source succeeded.", ["source"]
)
REJECTED = Counter(
    "mediawatch_fetcher_rejected_total",
    "Inbox files and pushed articles rejected as invalid.",
    ["source", "reason"],
)
