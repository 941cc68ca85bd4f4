"""The alerter service: faust agents from ``articles.tagged`` to ``alerts``, plus delivery.

Step 1 (agent ``match-articles``, partitioned like the articles): evaluate every rule's
condition, count the content metrics, and forward each match keyed by rule id to the internal
topic ``<app_id>-rule-matches``. Step 2 (agent ``evaluate-rules``, partitioned by rule id):
apply the match to the rule's state in the table ``rule-state`` (in memory, restored from its
Kafka changelog on start) and publish the alerts. The digest timer forwards clock ticks to
step 2 through the same topic, so every state change happens in one place, on the worker that
owns the rule.

Crash safety: an alert is written (acks=all) *before* the state that records it, and the
state is flushed before the offset can be committed. A crash in between repeats the alert
with the same id (dropped downstream), it never loses it; a redelivered match changes nothing
because the articles a rule counted are remembered beside its state (see :mod:`counted`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import faust

from mediawatch.alerter import metrics
from mediawatch.alerter.counted import CountedArticles
from mediawatch.alerter.delivery import Delivery
from mediawatch.alerter.engine import CompiledRule, RuleMatch, match_article
from mediawatch.alerter.rules import DigestMode, RuleSet, load_rules
from mediawatch.alerter.settings import AlerterSettings
from mediawatch.runtime.settings import load_settings
from mediawatch.runtime.streaming import EventPipe, Output, make_app, raw_topic, send_durably
from mediawatch.runtime.worker import run_worker
from mediawatch.schemas import Alert, ArticleTagged
from mediawatch.schemas.topics import CATALOGUE

log = logging.getLogger(__name__)

Clock = Callable[[], float]


async def _send_json(topic: faust.TopicT, key: str, value: dict[str, Any]) -> None:
    payload = json.dumps(value, separators=(",", ":")).encode()
    while True:
        try:
            future = await topic.send(key=key.encode(), value=payload)
            await future
            return
        except Exception as exc:  # retried until Kafka takes it: a lost match is a lost alert
            log.warning("write failed; retrying", extra={"error": repr(exc)})
            await asyncio.sleep(1.0)


def build_app(settings: AlerterSettings, rules: RuleSet, *, clock: Clock = time.time) -> faust.App:
    """The evaluation app (and, with role ``all``, the delivery loops as a task of it)."""
    app = make_app(settings, settings.app_id)
    partitions = CATALOGUE["articles_tagged"].partitions
    compiled = [CompiledRule(rule) for rule in rules.enabled()]
    by_id = {c.rule.id: c.rule for c in compiled}
    for mode in ("each_match", "threshold", "spike", "digest"):
        metrics.RULES_LOADED.labels(mode).set(sum(1 for r in by_id.values() if r.mode.type == mode))

    alerts_topic = raw_topic(app, settings.topic_alerts)
    matches_topic = app.topic(
        f"{settings.app_id}-rule-matches",
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=True,
    )
    state = app.Table(
        "rule-state",
        default=None,
        partitions=partitions,
        key_type=str,
    )
    counted = CountedArticles(state)
    source = f"/mediawatch/{settings.service_name}"

    async def match(tagged: ArticleTagged) -> Sequence[Output]:
        metrics.observe_tagged(tagged)
        for rule in compiled:
            article = match_article(rule, tagged)
            if article is None:
                continue
            metrics.RULE_MATCHES.labels(rule.rule.id).inc()
            found = RuleMatch.of(rule.rule.id, tagged, article)
            await _send_json(matches_topic, rule.rule.id, found.to_record())
        return []

    EventPipe(
        app,
        service=settings.service_name,
        source=raw_topic(app, settings.topic_articles_tagged),
        event_type=ArticleTagged,
        handler=match,
        dead_letters=raw_topic(app, settings.topic_deadletter),
        name="match-articles",
    )

    async def publish(alert: Alert) -> None:
        await send_durably(Output(alerts_topic, alert.rule_id, alert), source=source)
        metrics.ALERTS.labels(alert.rule_id, alert.mode.value, alert.severity.value).inc()
        if alert.mode.value != "digest" and alert.articles:
            newest = max(a.fetched_at for a in alert.articles)
            latency = datetime.now(UTC).timestamp() - newest.timestamp()
            metrics.ALERT_LATENCY.labels(alert.mode.value).observe(max(0.0, latency))
        log.info(
            "alert published",
            extra={"alert_id": alert.alert_id, "rule": alert.rule_id, "mode": alert.mode.value},
        )

    @app.agent(matches_topic, name="evaluate-rules")
    async def evaluate(stream: faust.StreamT[Any]) -> None:
        async for record in stream.events():
            try:
                value = json.loads(record.message.value)
                rule = by_id.get(str(value.get("rule_id")))
                if rule is None:
                    continue  # a rule removed since the record was written
                stored = state.get(rule.id)
                # Windows run on event time; fired_at is when the alert is emitted.
                emitted = datetime.now(UTC)
                if value.get("kind") == "tick":
                    found, now = None, float(value["now"])
                else:
                    found, now = RuleMatch.from_record(value), None
                outcome = counted.apply(rule, stored, found, now, fired_at=emitted)
            except Exception:  # a bad internal record must not stall the rule partition
                log.exception("rule evaluation failed", extra={"offset": record.message.offset})
                continue
            for alert in outcome.alerts:
                await publish(alert)
            for reason in outcome.suppressed:
                metrics.ALERTS_SUPPRESSED.labels(rule.id, reason).inc()
            changed = outcome.state != stored
            if changed:
                state[rule.id] = outcome.state
            counted.commit(rule, found, outcome)
            if changed or outcome.counted:
                await app.producer.flush()  # state on Kafka before the offset is committed
            if rule.mode.type in ("threshold", "spike"):
                metrics.WINDOW_MATCHES.labels(rule.id).set(len(outcome.state["matches"]))

    digest_rules = [r for r in by_id.values() if isinstance(r.mode, DigestMode)]
    if digest_rules and settings.digest_tick_s > 0:

        @app.timer(settings.digest_tick_s, name="digest-clock")  # type: ignore[untyped-decorator]
        async def digest_clock() -> None:
            now = clock()
            for rule in digest_rules:
                await _send_json(
                    matches_topic, rule.id, {"kind": "tick", "rule_id": rule.id, "now": now}
                )

    if settings.role == "all":
        delivery = Delivery(settings, rules)

        @app.task  # type: ignore[untyped-decorator]
        async def deliver() -> None:
            await delivery.run()

    return app


def run(settings: AlerterSettings | None = None) -> None:
    """Start the alerter (evaluation, delivery, or both) and block until it is stopped."""
    settings = settings or load_settings(AlerterSettings)
    rules = load_rules(settings.rules_file)
    if settings.role == "deliver":
        run_delivery(settings, rules)
        return
    app = build_app(settings, rules)
    run_worker(app, settings)


def run_delivery(settings: AlerterSettings, rules: RuleSet) -> None:
    """Delivery as its own process: the two delivery loops and the HTTP server."""
    import signal

    from mediawatch.runtime.http import ServiceHttpServer
    from mediawatch.runtime.kafka import ensure_topics
    from mediawatch.runtime.logs import configure_logging

    configure_logging(settings.service_name, settings.log_level, settings.log_format)

    async def main() -> None:
        await ensure_topics(settings)
        delivery = Delivery(settings, rules)

        def readiness() -> tuple[bool, str]:
            assigned = delivery.assigned()
            return (bool(assigned), f"{len(assigned)} partitions assigned")

        server = ServiceHttpServer(settings.http_host, settings.http_port, readiness=readiness)
        await server.start()
        task = asyncio.create_task(delivery.run())
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass
        finally:
            await server.stop()

    asyncio.run(main())
