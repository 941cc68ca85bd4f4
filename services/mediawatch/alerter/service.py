"""The alerter service: faust agents from ``articles.tagged`` to ``alerts``, plus delivery.

Step 1 (agent ``match-articles``, partitioned like the articles): evaluate every rule's
condition, count the content metrics, and forward each match keyed by rule id to the internal
topic ``<app_id>-rule-matches``. Step 2 (agent ``evaluate-rules``, partitioned by rule id):
the :class:`RuleEvaluator` applies the match to the rule's state in the tables ``rule-states``
and ``counted-articles`` (in memory, restored from their Kafka changelogs on start) and
publishes the alerts. The rule clock timer forwards ticks to step 2 through the same topic
(digest rules, and rules with a cooldown whose held matches are due), so every state change
happens in one place, on the worker that owns the rule.

The rules file is reloaded while the service runs (the ``rules-reload`` timer, see
:mod:`reload`): both steps, the rule clock and delivery then use the new rules, and the tables
keep the state of every rule that stays.

Crash safety: an alert is written (acks=all) *before* the state that records it, and the
tables are flushed before the offset can be committed (see :mod:`evaluator`, :mod:`counted`).
A record step 2 cannot decode or apply goes to the dead-letter topic with the reason, and the
partition moves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import faust

from mediawatch.alerter import metrics
from mediawatch.alerter.delivery import Delivery
from mediawatch.alerter.engine import (
    RuleInput,
    RuleInputDecoder,
    RuleMatch,
    Tick,
    encode_rule_input,
)
from mediawatch.alerter.evaluator import RuleEvaluator
from mediawatch.alerter.reload import RulesFile
from mediawatch.alerter.rules import DigestMode, RuleSet, load_rules
from mediawatch.alerter.settings import AlerterSettings
from mediawatch.runtime.errors import policy_of
from mediawatch.runtime.settings import load_settings
from mediawatch.runtime.streaming import (
    EventPipe,
    Output,
    make_app,
    raw_topic,
    send_bytes_durably,
    send_durably,
)
from mediawatch.runtime.worker import run_worker
from mediawatch.schemas import Alert, ArticleTagged
from mediawatch.schemas.topics import CATALOGUE

log = logging.getLogger(__name__)

Clock = Callable[[], float]


async def _send_rule_input(topic: faust.TopicT, rule_input: RuleMatch | Tick) -> None:
    # A lost match is a lost alert: written durably, like every output.
    await send_bytes_durably(topic, rule_input.rule_id, encode_rule_input(rule_input))


def _count_rules(rules: RuleSet) -> None:
    enabled = rules.enabled()
    for mode in ("each_match", "threshold", "spike", "digest"):
        metrics.RULES_LOADED.labels(mode).set(sum(1 for r in enabled if r.mode.type == mode))


def build_app(settings: AlerterSettings, rules: RuleSet, *, clock: Clock = time.time) -> faust.App:
    """The evaluation app (and, with role ``all``, the delivery loops as a task of it).
    ``rules`` were loaded from ``settings.rules_file``, which is then watched for changes
    every ``settings.rules_reload_s`` seconds."""
    app = make_app(settings, settings.app_id)
    partitions = CATALOGUE["articles_tagged"].partitions
    _count_rules(rules)

    alerts_topic = raw_topic(app, settings.topic_alerts)
    matches_topic = app.topic(
        f"{settings.app_id}-rule-matches",
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=True,
    )
    # Two tables, one changelog topic each, partitioned like the rule-matches topic.
    states = app.Table("rule-states", default=None, partitions=partitions, key_type=str)
    counted = app.Table("counted-articles", default=None, partitions=partitions, key_type=str)
    evaluator = RuleEvaluator(rules.enabled(), rules.content_hash, states, counted)
    source = f"/mediawatch/{settings.service_name}"
    dead_letters = raw_topic(app, settings.topic_deadletter)

    async def match(tagged: ArticleTagged) -> Sequence[Output]:
        metrics.observe_tagged(tagged)
        for found in evaluator.matches(tagged):
            metrics.RULE_MATCHES.labels(found.rule_id).inc()
            await _send_rule_input(matches_topic, found)
        return []

    on_error = policy_of(settings.on_error)
    EventPipe(
        app,
        service=settings.service_name,
        source=raw_topic(app, settings.topic_articles_tagged),
        event_type=ArticleTagged,
        handler=match,
        dead_letters=dead_letters,
        name="match-articles",
        on_error=on_error,
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

    async def evaluate(rule_input: RuleInput) -> Sequence[Output]:
        # Windows run on event time; fired_at is when the alert is emitted.
        await evaluator.apply(rule_input, publish, emitted=datetime.now(UTC))
        await app.producer.flush()  # the tables on Kafka before the offset is committed
        return []

    EventPipe(
        app,
        service=settings.service_name,
        source=matches_topic,
        event_type=RuleInputDecoder(),
        handler=evaluate,
        dead_letters=dead_letters,
        name="evaluate-rules",
        on_error=on_error,
    )

    # Digest rules need the timer to publish on schedule, rules with a cooldown to publish the
    # summary of their held matches when no later match arrives. The rules are read at each
    # tick: a reload may add such a rule, or take one away.
    def ticked() -> list[str]:
        return [
            c.rule.id
            for c in evaluator.compiled
            if isinstance(c.rule.mode, DigestMode) or c.rule.cooldown.total_seconds()
        ]

    reloading = settings.rules_reload_s > 0
    if settings.digest_tick_s > 0 and (reloading or ticked()):

        @app.timer(settings.digest_tick_s, name="rule-clock")  # type: ignore[untyped-decorator]
        async def rule_clock() -> None:
            now = clock()
            for rule_id in ticked():
                await _send_rule_input(matches_topic, Tick(rule_id=rule_id, now=now))

    delivery = Delivery(settings, rules) if settings.role == "all" else None
    if delivery is not None:

        @app.task  # type: ignore[untyped-decorator]
        async def deliver() -> None:
            await delivery.run()

    if reloading:
        # Every worker watches the file: each evaluates step 1 for its own articles.
        rules_file = RulesFile(settings.rules_file, rules)

        @app.timer(settings.rules_reload_s, name="rules-reload")  # type: ignore[untyped-decorator]
        async def reload_rules() -> None:
            try:
                fresh = rules_file.check()
                if fresh is None:
                    return
                evaluator.reload(fresh.enabled(), fresh.content_hash)
                _count_rules(fresh)
                if delivery is not None:
                    delivery.use_rules(fresh)
            except Exception:  # the rules in force keep working; the timer must not stop
                log.exception("rules reload failed", extra={"path": str(settings.rules_file)})

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

        server = ServiceHttpServer.for_service(settings, readiness=readiness)
        await server.start()
        reload_task: asyncio.Task[None] | None = None
        if settings.rules_reload_s > 0:
            rules_file = RulesFile(settings.rules_file, rules)
            reload_task = asyncio.create_task(
                rules_file.follow(settings.rules_reload_s, delivery.use_rules)
            )
        task = asyncio.create_task(delivery.run())
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass
        finally:
            if reload_task is not None:
                reload_task.cancel()
            await server.stop()

    asyncio.run(main())
