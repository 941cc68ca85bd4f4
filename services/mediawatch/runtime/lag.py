"""Consumer lag, exported by every service that consumes, in the same metric.

``mediawatch_consumer_lag_records{service, topic}`` is what the pipeline-health panel and the
``ConsumerLagGrowing`` alert read, so a stage that does not export it is invisible exactly when
it falls behind. :func:`make_app` installs the faust timer for the stream services; a service
with its own aiokafka consumer calls :func:`observe_lag` from its poll loop.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from aiokafka import TopicPartition
from prometheus_client import Gauge

log = logging.getLogger(__name__)

CONSUMER_LAG = Gauge(
    "mediawatch_consumer_lag_records",
    "Records not yet consumed (high watermark - position), summed over the assigned "
    "partitions, by service and topic.",
    ["service", "topic"],
)

#: How often the stream services refresh the gauge.
LAG_INTERVAL_S = 10.0


class _Consumer(Protocol):
    """What both aiokafka's consumer and faust's offer for reading positions."""

    def assignment(self) -> Any: ...

    def highwater(self, tp: TopicPartition) -> int | None: ...

    async def position(self, tp: TopicPartition) -> int | None: ...


async def observe_lag(consumer: _Consumer, service: str) -> None:
    """Set the gauge per topic from the consumer's assigned partitions.

    A partition whose high watermark or position is not known yet (just assigned, no fetch
    yet) is left out rather than counted as zero lag for its topic."""
    lags: dict[str, int] = {}
    unknown: set[str] = set()
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        position = await consumer.position(tp)
        if highwater is None or position is None:
            unknown.add(tp.topic)
            continue
        lags[tp.topic] = lags.get(tp.topic, 0) + max(0, highwater - position)
    for topic, lag in lags.items():
        if topic not in unknown:
            CONSUMER_LAG.labels(service, topic).set(lag)


def install_lag_timer(app: Any, service: str) -> None:
    """Refresh the gauge from the faust app's consumer every :data:`LAG_INTERVAL_S`."""

    @app.timer(LAG_INTERVAL_S, name="consumer-lag")  # type: ignore[untyped-decorator]
    async def consumer_lag() -> None:
        consumer = getattr(app, "_consumer", None)
        if consumer is None:
            return
        try:
            await observe_lag(consumer, service)
        except Exception as exc:  # the consumer may be rebalancing; the next tick retries
            log.debug("consumer lag not read: %r", exc)
