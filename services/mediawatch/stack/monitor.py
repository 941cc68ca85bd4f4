"""Watch the pipeline from outside: how many records reached the fetched, tagged, alerts and
dead-letter topics since ``mediawatch up`` started, and every alert as it fires.

Counts come from partition end offsets (no record is decoded for them); alerts are read with
an aiokafka consumer without a group, from the offsets at start, so nothing is committed and
the services' consumer groups are not disturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from mediawatch.runtime.kafka import consumer, topic_partitions
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import Alert

log = logging.getLogger(__name__)

#: Roles shown in the progress display, in pipeline order, with their labels.
COUNTED_ROLES = {
    "articles_fetched": "fetched",
    "articles_tagged": "tagged",
    "alerts": "alerts",
    "deadletter": "dead letters",
}


@dataclass
class PipelineCounts:
    """Records per topic role: since start (``run``) and retained on the topic (``total``)."""

    run: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    connected: bool = False
    error: str | None = None


def format_alert(alert: Alert) -> str:
    titles = "; ".join(article.title or article.article_id for article in alert.articles[:3])
    more = f" (+{len(alert.articles) - 3} more)" if len(alert.articles) > 3 else ""
    summary = alert.summary or alert.rule_description or alert.rule_id
    return f"ALERT [{alert.severity}] {alert.rule_id} ({alert.mode}): {summary}" + (
        f" -- {titles}{more}" if titles else ""
    )


class PipelineMonitor:
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        on_alert: Callable[[Alert], None],
        interval_s: float = 1.0,
    ) -> None:
        self.settings = settings
        self.on_alert = on_alert
        self.interval_s = interval_s
        self.counts = PipelineCounts()
        self._topics = {role: settings.topic_name(role) for role in COUNTED_ROLES}
        self._baseline: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pipeline-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker restarting, topic missing: retry
                self.counts.connected = False
                self.counts.error = f"{type(exc).__name__}: {exc}"
                log.debug("monitor retry", exc_info=True)
                await asyncio.sleep(2.0)

    async def _partitions(self) -> dict[str, list[TopicPartition]]:
        numbers = await topic_partitions(self.settings, self._topics.values())
        return {
            role: [TopicPartition(topic, n) for n in numbers[topic]]
            for role, topic in self._topics.items()
        }

    async def _watch(self) -> None:
        client = consumer(self.settings, enable_auto_commit=False, group_id=None)
        await client.start()
        try:
            partitions = await self._partitions()
            every = [tp for tps in partitions.values() for tp in tps]
            if not self._baseline:
                self._baseline = dict(await client.end_offsets(every))
            alert_partitions = partitions["alerts"]
            client.assign(alert_partitions)
            for tp in alert_partitions:
                client.seek(tp, self._baseline.get(tp, 0))
            self.counts.connected, self.counts.error = True, None
            while True:
                batches = await client.getmany(timeout_ms=int(self.interval_s * 1000))
                for records in batches.values():
                    for record in records:
                        self._alert(record.value)
                ends = await client.end_offsets(every)
                starts = await client.beginning_offsets(every)
                for role, tps in partitions.items():
                    self.counts.run[role] = sum(ends[tp] - self._baseline.get(tp, 0) for tp in tps)
                    self.counts.total[role] = sum(ends[tp] - starts[tp] for tp in tps)
        finally:
            await client.stop()

    def _alert(self, value: bytes | None) -> None:
        if value is None:
            return
        try:
            alert = Alert.from_json(value)
        except ValueError as exc:
            log.warning("undecodable alert record: %s", exc)
            return
        self.on_alert(alert)
