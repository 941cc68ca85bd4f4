"""The topic catalogue: every topic mediawatch owns, in one place.

Services create these topics idempotently at start-up from this table, the AsyncAPI
document describes them from it, and the compose file's settings are checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mediawatch.schemas._base import Event
from mediawatch.schemas.events import (
    Alert,
    ArticleFetched,
    ArticleSeen,
    ArticleTagged,
    DeadLetter,
    NotificationFailed,
    SourcePolled,
)

DAY_MS = 24 * 60 * 60 * 1000

#: Partitions of the partitioned topics: enough for three tagger workers of two cores each.
DEFAULT_PARTITIONS = 6


@dataclass(frozen=True)
class TopicSpec:
    """What a topic is for and how Kafka must keep it."""

    #: Key in the catalogue; stable even if the topic name is overridden by settings.
    role: str
    name: str
    payload: type[Event]
    key: str
    description: str
    partitions: int = DEFAULT_PARTITIONS
    retention_ms: int = 7 * DAY_MS
    cleanup_policy: Literal["delete", "compact", "compact,delete"] = "delete"
    extra_config: dict[str, str] = field(default_factory=dict)
    #: Created by the component that uses it, when it does (not by ``topics ensure``): a
    #: mode that is off by default should not put its partitions on every cluster.
    on_demand: bool = False

    def kafka_config(self) -> dict[str, str]:
        config = {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}
        config.update(self.extra_config)
        return config


ARTICLES_FETCHED = TopicSpec(
    role="articles_fetched",
    name="mediawatch.articles.fetched",
    payload=ArticleFetched,
    key="article_id",
    description="Articles as fetched and extracted, one event per new article or changed text.",
)
ARTICLES_TAGGED = TopicSpec(
    role="articles_tagged",
    name="mediawatch.articles.tagged",
    payload=ArticleTagged,
    key="article_id",
    description="Themes, actors and stance of each article, with evidence spans.",
)
ALERTS = TopicSpec(
    role="alerts",
    name="mediawatch.alerts",
    payload=Alert,
    key="rule_id",
    description="Alerts fired by watch rules; the subscription surface for users.",
    retention_ms=30 * DAY_MS,
)
DEAD_LETTER = TopicSpec(
    role="deadletter",
    name="mediawatch.deadletter",
    payload=DeadLetter,
    key="original record key",
    description="Records a service could not process, with the raw bytes and the reason.",
    partitions=1,
    retention_ms=30 * DAY_MS,
)

FETCHER_SEEN = TopicSpec(
    role="fetcher_seen",
    name="mediawatch.fetcher.seen",
    payload=ArticleSeen,
    key="article_id",
    description="Compacted memory of published articles (content hash, SimHash) that makes "
    "duplicate detection survive restarts and span several fetcher instances.",
    partitions=1,
    retention_ms=-1,
    cleanup_policy="compact",
)

NOTIFICATIONS_RETRY = TopicSpec(
    role="notifications_retry",
    name="mediawatch.notifications.retry",
    payload=NotificationFailed,
    key="alert_id",
    description="Notifications a destination did not take yet; the alerter retries them after "
    "a growing delay and never drops them.",
    partitions=1,
    retention_ms=30 * DAY_MS,
)

FETCHER_SOURCES = TopicSpec(
    role="fetcher_sources",
    name="mediawatch.fetcher.sources",
    payload=SourcePolled,
    key="source_id",
    description="The fetcher group divides this topic's partitions, and so the sources; "
    "compacted, it keeps when each source was last polled.",
    partitions=12,
    retention_ms=-1,
    cleanup_policy="compact",
    on_demand=True,
)

#: Every topic in the catalogue, by role.
CATALOGUE: dict[str, TopicSpec] = {
    spec.role: spec
    for spec in (
        ARTICLES_FETCHED,
        ARTICLES_TAGGED,
        ALERTS,
        DEAD_LETTER,
        FETCHER_SEEN,
        NOTIFICATIONS_RETRY,
        FETCHER_SOURCES,
    )
}
