"""Notification delivery: apart from rule evaluation, from the alerts topic.

Two consumer groups of their own: ``<app_id>-delivery`` reads ``mediawatch.alerts``, tries each
destination of the alert's rule a few times with backoff, and parks what still fails as a
:class:`NotificationFailed` on the retry topic; ``<app_id>-delivery-retry`` reads the retry
topic, waits until each record is due, tries again, and parks it again with a longer delay if
it still fails. Offsets are committed only after a record was delivered or parked (acks=all),
so a crash repeats work but loses nothing; a notification is never dropped, and a receiver that
is down never blocks evaluation, which runs in another consumer group.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from mediawatch.alerter.metrics import NOTIFICATIONS
from mediawatch.alerter.notify import AnyDestination, Notifier, retry_delay
from mediawatch.alerter.rules import RuleSet
from mediawatch.alerter.settings import AlerterSettings
from mediawatch.runtime.deadletter import dead_letter_for
from mediawatch.runtime.durable import send_event_durably
from mediawatch.runtime.kafka import consumer, producer
from mediawatch.runtime.lag import observe_lag
from mediawatch.schemas import Alert, Event, NotificationFailed

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


class Delivery:
    """Both delivery loops, sharing one producer, one notifier and the memory of what was
    delivered (so a repeated alert id is not sent twice to a destination by this process)."""

    def __init__(
        self,
        settings: AlerterSettings,
        rules: RuleSet,
        *,
        clock: Clock = wall_clock,
        notifier: Notifier | None = None,
        memory: int = 10_000,
    ) -> None:
        self.settings = settings
        self.rules = rules.by_id()
        self.clock = clock
        self.notifier = notifier or Notifier(settings)
        self.delivered: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.memory = memory
        self.source = f"/mediawatch/{settings.service_name}"
        self.group = f"{settings.app_id}-delivery"
        self._producer: AIOKafkaProducer | None = None
        self.ready = asyncio.Event()
        self._consumers: list[AIOKafkaConsumer] = []

    def use_rules(self, rules: RuleSet) -> None:
        """Deliver by ``rules`` from now on (a reloaded rules file). Destinations are looked
        up when an alert or a parked notification is handled, so an alert of a rule that was
        removed meanwhile is not notified, and a parked notification whose destination is
        gone is left, as after a restart with the new file."""
        self.rules = rules.by_id()

    # --- bookkeeping -----------------------------------------------------------------------

    def _remember(self, alert_id: str, destination: str) -> None:
        self.delivered[(alert_id, destination)] = None
        while len(self.delivered) > self.memory:
            self.delivered.popitem(last=False)

    async def _send(self, topic: str, key: str, event: Event) -> None:
        assert self._producer is not None
        # Durable: giving up would drop the notification.
        await send_event_durably(self._producer, topic, key, event, source=self.source)

    async def _dead_letter(self, message: Any, error: BaseException) -> None:
        key, letter = dead_letter_for(
            message, error, self.settings.service_name, failed_at=self.clock()
        )
        await self._send(self.settings.topic_deadletter, key, letter)

    async def _park(
        self, alert: Alert, destination: AnyDestination, attempts: int, error: str
    ) -> None:
        now = self.clock()
        parked = NotificationFailed(
            alert=alert,
            destination=destination.name,
            destination_kind=destination.type,
            attempts=attempts,
            last_error=error,
            next_attempt_at=now + retry_delay(self.settings, attempts),
            failed_at=now,
        )
        await self._send(self.settings.topic_notifications_retry, alert.alert_id, parked)
        NOTIFICATIONS.labels(destination.name, destination.type, "parked").inc()
        log.warning(
            "notification parked for retry",
            extra={
                "alert_id": alert.alert_id,
                "destination": destination.name,
                "attempts": attempts,
                "next_attempt_at": parked.next_attempt_at.isoformat(),
            },
        )

    # --- one alert, one destination ----------------------------------------------------------

    async def _notify(self, alert: Alert, destination: AnyDestination, done: int) -> None:
        """Deliver or park; ``done`` = attempts made in earlier rounds."""
        if (alert.alert_id, destination.name) in self.delivered:
            NOTIFICATIONS.labels(destination.name, destination.type, "duplicate").inc()
            return
        error = await self.notifier.deliver(alert, destination, self.settings.notify_attempts)
        if error is None:
            self._remember(alert.alert_id, destination.name)
            return
        await self._park(alert, destination, done + 1, error)

    async def handle_alert(self, alert: Alert) -> None:
        rule = self.rules.get(alert.rule_id)
        if rule is None:
            log.warning("alert of an unknown rule; not notified", extra={"rule": alert.rule_id})
            return
        await asyncio.gather(*(self._notify(alert, d, 0) for d in rule.notify))

    async def handle_retry(self, parked: NotificationFailed) -> bool:
        """Retry one parked notification when it is due; return True when it was deferred.

        A record that is not due yet goes back to the end of the retry topic instead of being
        waited for, so that one notification parked for an hour never holds up the records
        behind it (bad ones to dead-letter, others already due)."""
        rule = self.rules.get(parked.alert.rule_id)
        try:
            destination = rule.destination(parked.destination) if rule else None
        except KeyError:
            destination = None
        if destination is None:
            log.warning(
                "parked notification for a destination no longer configured; kept in topic",
                extra={"alert_id": parked.alert.alert_id, "destination": parked.destination},
            )
            return False
        wait = (parked.next_attempt_at - self.clock()).total_seconds()
        if wait > 0:
            await self._send(self.settings.topic_notifications_retry, parked.alert.alert_id, parked)
            return True
        await self._notify(parked.alert, destination, parked.attempts)
        return False

    # --- loops ---------------------------------------------------------------------------------

    async def _loop(self, topic: str, group: str, handle: Callable[[bytes], Any]) -> None:
        client = consumer(
            self.settings,
            topic,
            group_id=group,
            auto_offset_reset="earliest",
            max_poll_records=50,
            max_poll_interval_ms=3_600_000,
        )
        self._consumers.append(client)
        await client.start()
        try:
            while True:
                batches = await client.getmany(timeout_ms=500)
                if client.assignment():
                    self.ready.set()
                handled = deferred = 0
                for tp, messages in batches.items():
                    for message in messages:
                        handled += 1
                        try:
                            deferred += await handle(message.value) is True
                        except Exception as exc:  # a bad record must not stall delivery
                            log.exception("delivery failed", extra={"offset": message.offset})
                            await self._dead_letter(message, exc)
                        await client.commit({tp: message.offset + 1})
                if handled and deferred == handled:
                    # Nothing in reach is due yet: do not spin re-parking the same records.
                    await asyncio.sleep(1.0)
                await observe_lag(client, self.settings.service_name)
        finally:
            await client.stop()

    async def _on_alert(self, value: bytes) -> None:
        await self.handle_alert(Alert.from_json(value))

    async def _on_retry(self, value: bytes) -> bool:
        return await self.handle_retry(NotificationFailed.from_json(value))

    async def run(self) -> None:
        """Run both loops until cancelled."""
        self._producer = producer(self.settings)
        await self._producer.start()
        try:
            await asyncio.gather(
                self._loop(self.settings.topic_alerts, self.group, self._on_alert),
                self._loop(
                    self.settings.topic_notifications_retry, f"{self.group}-retry", self._on_retry
                ),
            )
        finally:
            await self._producer.stop()
            await self.notifier.close()

    def assigned(self) -> list[TopicPartition]:
        found: list[TopicPartition] = []
        for client in self._consumers:
            try:
                found.extend(client.assignment())
            except Exception:  # not started yet
                continue
        return found
