"""faust plumbing shared by the stream services: the app factory, the decode-handle-emit
loop with its dead-letter path, and durable sends.

faust acks a record even when the agent raises, so nothing here lets an exception escape
the loop: a record that cannot be decoded or that makes the handler raise becomes a
:class:`DeadLetter` and the loop moves on; a failing *write* is retried until Kafka takes it,
because giving up there would lose the article.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

import faust
from prometheus_client import Counter

from mediawatch.runtime.codec import EventCodec, register_event_codecs
from mediawatch.runtime.compat import require_tested_faust
from mediawatch.runtime.deadletter import dead_letter_for
from mediawatch.runtime.durable import until_acknowledged
from mediawatch.runtime.errors import (
    RECORDS_SKIPPED_TOTAL,
    ErrorPolicy,
    OnError,
    StreamFailure,
    StreamStopped,
    dead_letter_every_failure,
    stop_the_process,
)
from mediawatch.runtime.kafka import faust_broker_url, faust_credentials
from mediawatch.runtime.lag import install_lag_timer
from mediawatch.runtime.ordering import ContiguousTransport, FetchBatching
from mediawatch.runtime.settings import ServiceSettings
from mediawatch.schemas import Event, cloudevent_headers
from mediawatch.schemas.topics import CATALOGUE

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
E_co = TypeVar("E_co", bound=Event, covariant=True)

RECORDS_PROCESSED_TOTAL = Counter(
    "mediawatch_records_processed_total",
    "Records a stream service handled successfully, by service and topic.",
    ["service", "topic"],
)


#: How often a faust consumer refreshes its cluster metadata (see :func:`make_app`).
METADATA_MAX_AGE_MS = 5_000


def make_app(settings: ServiceSettings, app_id: str, **overrides: Any) -> faust.App:
    """A faust app with mediawatch's defaults: at-least-once, acks=all, in-memory stores
    restored from their Kafka changelogs, partitions as in the topic catalogue, and stream
    partitions read in order from the committed offset (see :mod:`ordering`), and the
    consumer lag exported as ``mediawatch_consumer_lag_records`` (see :mod:`lag`)."""
    require_tested_faust()
    register_event_codecs()
    datadir = Path(settings.state_dir).resolve() / "faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "broker": faust_broker_url(settings),
        "broker_credentials": faust_credentials(settings),
        "store": "memory://",
        "datadir": str(datadir),
        "topic_partitions": CATALOGUE["articles_fetched"].partitions,
        "topic_replication_factor": settings.kafka_replication_factor,
        "producer_acks": -1,
        "consumer_auto_offset_reset": "earliest",
        "web_enabled": False,
        "processing_guarantee": "at_least_once",
        "broker_commit_every": 100,
        "broker_commit_interval": 1.0,
        "broker_session_timeout": settings.kafka_session_timeout_s,
        "broker_heartbeat_interval": min(3.0, settings.kafka_session_timeout_s / 3),
        # faust creates its repartition and changelog topics just before it subscribes, and
        # the group leader may assign from metadata that does not list their partitions yet.
        # aiokafka rejoins once fresher metadata shows them; faust's 5-minute default left a
        # fresh alerter deaf to its own rule-matches topic for that long.
        "consumer_metadata_max_age_ms": METADATA_MAX_AGE_MS,
    }
    options.update(overrides)
    app = faust.App(app_id, **options)
    transport = ContiguousTransport(app.conf.broker_consumer, app)
    transport.fetch_batching = FetchBatching(
        settings.kafka_fetch_min_bytes, settings.kafka_fetch_max_wait_ms
    )
    app.transport = transport
    install_lag_timer(app, settings.service_name)
    return app


def raw_topic(app: faust.App, name: str, *, partitions: int | None = None) -> faust.TopicT:
    """A topic read and written as raw bytes; :class:`EventCodec` does the typing."""
    return app.topic(
        name,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=False,
    )


@dataclass(frozen=True)
class Output:
    """One record a handler wants written."""

    topic: faust.TopicT
    key: str
    event: Event


async def send_durably(output: Output, *, source: str) -> None:
    """Write one event to a faust topic and wait until Kafka acknowledged it, retrying
    with backoff (:func:`until_acknowledged`)."""
    headers = cloudevent_headers(output.event, source=source)
    await send_bytes_durably(output.topic, output.key, output.event.to_json(), headers=headers)


async def send_bytes_durably(
    topic: faust.TopicT, key: str, payload: bytes, *, headers: Any = None
) -> None:
    """Write raw bytes (an internal record) to a faust topic, durably."""

    async def write() -> None:
        await (await topic.send(key=key.encode(), value=payload, headers=headers))

    await until_acknowledged(write, topic=topic.get_topic_name())


Handler = Callable[[E], Awaitable[Sequence[Output]]]


class Decoder(Protocol[E_co]):
    """Record bytes to one typed event; raises, naming what is wrong, for bytes that are not.
    :class:`EventCodec` is the decoder of one event type; a topic that carries several (the
    alerter's rule inputs) brings its own."""

    def decode(self, data: bytes | None) -> E_co: ...


Writer = Callable[[Output], Awaitable[None]]


class EventPipe(Generic[E]):
    """Consume one topic as ``event_type`` (an event class, or a :class:`Decoder` of several),
    hand each event to ``handler``, write its
    outputs; what cannot be decoded or handled goes where ``on_error`` says (:mod:`errors`;
    by default the dead-letter topic).

    :meth:`process` is the whole per-record logic; the faust agent calls it for each record,
    and :class:`mediawatch.runtime.testing.PipeHarness` calls it in memory."""

    def __init__(
        self,
        app: faust.App,
        *,
        service: str,
        source: faust.TopicT,
        event_type: type[E] | Decoder[E],
        handler: Handler[E],
        dead_letters: faust.TopicT,
        name: str,
        concurrency: int = 1,
        on_error: ErrorPolicy = dead_letter_every_failure,
    ) -> None:
        self.service = service
        self.codec: Decoder[E] = (
            EventCodec(event_type) if isinstance(event_type, type) else event_type
        )
        self.handler = handler
        self.dead_letters = dead_letters
        self.on_error = on_error
        self.source_name = source.get_topic_name()
        self.ce_source = f"/mediawatch/{service}"
        self.write: Writer = self._write_durably
        self.agent = app.agent(source, name=name, concurrency=concurrency)(self._run)

    async def _write_durably(self, output: Output) -> None:
        await send_durably(output, source=self.ce_source)

    async def dead_letter(self, message: Any, error: BaseException) -> None:
        key, letter = dead_letter_for(message, error, self.service)
        await self.write(Output(self.dead_letters, key, letter))

    async def process(self, message: Any) -> None:
        """Decode, handle and write the outputs of one record (a faust or aiokafka message,
        or anything with ``topic``, ``partition``, ``offset``, ``key`` and ``value``)."""
        try:
            event = self.codec.decode(message.value)
        except Exception as exc:  # any decode failure is the record's fault
            await self._failed(message, "decode", exc)
            return
        try:
            outputs = await self.handler(event)
        except Exception as exc:  # a handler bug must not stall the partition
            log.exception("handler failed", extra={"offset": message.offset})
            await self._failed(message, "handle", exc)
            return
        for output in outputs:
            await self.write(output)
        RECORDS_PROCESSED_TOTAL.labels(self.service, self.source_name).inc()

    async def _failed(
        self, message: Any, step: Literal["decode", "handle"], error: BaseException
    ) -> None:
        failure = StreamFailure(
            self.service, step, str(message.topic), message.partition, message.offset, error
        )
        verdict = self.on_error(failure)
        if verdict is OnError.RAISE:
            raise StreamStopped(failure) from error
        if verdict is OnError.SKIP:
            RECORDS_SKIPPED_TOTAL.labels(self.service, failure.topic, step).inc()
            log.warning("record skipped", extra={"offset": message.offset, "step": step})
            return
        await self.dead_letter(message, error)

    async def _run(self, stream: faust.StreamT[Any]) -> None:
        async for record in stream.events():
            try:
                await self.process(record.message)
            except StreamStopped as stopped:
                # Inside the agent, before faust acks the record that made it stop.
                stop_the_process(stopped)
