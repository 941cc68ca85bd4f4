"""Kafka client configuration and topic administration shared by every service.

One place turns :class:`KafkaSettings` into aiokafka keyword arguments and faust broker
credentials, so that a secured cluster is configured once for producers, consumers, the
admin client and faust alike.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas.topics import CATALOGUE, TopicSpec

log = logging.getLogger(__name__)

#: Kafka error code for "topic already exists" in a CreateTopics response.
_TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if settings.kafka_ssl_certfile:
        password = settings.kafka_ssl_key_password
        context.load_cert_chain(
            str(settings.kafka_ssl_certfile),
            str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            password.get_secret_value() if password else None,
        )
    return context


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments common to aiokafka producers, consumers and admin clients."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=password.get_secret_value() if password else None,
        )
    return options


def producer(settings: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    """A durable producer: every write acknowledged by all in-sync replicas, no duplicates
    from internal retries."""
    options = client_options(settings) | {
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_request_size": 8 * 1024 * 1024,
    }
    return AIOKafkaProducer(**(options | overrides))


def consumer(settings: KafkaSettings, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    """A plain consumer with the settings' security and fetch batching, committing by hand."""
    options = client_options(settings) | {
        "enable_auto_commit": False,
        "fetch_min_bytes": settings.kafka_fetch_min_bytes,
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
    }
    return AIOKafkaConsumer(*topics, **(options | overrides))


def faust_broker_url(settings: KafkaSettings) -> list[str]:
    return [f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")]


def faust_credentials(settings: KafkaSettings) -> Any:
    """faust ``broker_credentials`` for the configured security protocol, or None."""
    import faust  # imported here: only the faust services need it

    protocol = settings.kafka_security_protocol
    context = ssl_context(settings)
    if protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


async def ensure_topics(
    settings: KafkaSettings,
    specs: Iterable[TopicSpec] | None = None,
    *,
    timeout_s: float = 60.0,
) -> list[str]:
    """Create every catalogue topic (but those created on demand) that does not exist yet,
    or the ``specs`` given; return the names created.

    Idempotent: topics that exist are left as they are. Retries while the broker is still
    starting, so services may be started before the broker answers.
    """
    chosen = specs or [spec for spec in CATALOGUE.values() if not spec.on_demand]
    wanted = {settings.topic_name(spec.role): spec for spec in chosen}
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=15000)
        try:
            await admin.start()
            try:
                existing = set(await admin.list_topics())
                missing = [
                    NewTopic(
                        name,
                        num_partitions=spec.partitions,
                        replication_factor=settings.kafka_replication_factor,
                        topic_configs=spec.kafka_config(),
                    )
                    for name, spec in wanted.items()
                    if name not in existing
                ]
                created: list[str] = []
                if missing:
                    response = await admin.create_topics(missing)
                    for name, code, *_ in response.topic_errors:
                        if code == 0:
                            created.append(name)
                        elif code != _TOPIC_ALREADY_EXISTS:
                            raise KafkaError(f"creating topic {name} failed with error {code}")
                    log.info("topics created", extra={"topics": created})
                return created
            finally:
                await admin.close()
        except (KafkaConnectionError, OSError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise KafkaConnectionError(
                    f"Kafka at {settings.kafka_bootstrap} did not answer within "
                    f"{timeout_s:.0f}s: {exc}"
                ) from exc
            await asyncio.sleep(1.0)


async def topic_partitions(settings: KafkaSettings, topics: Iterable[str]) -> dict[str, list[int]]:
    """Partition numbers of each topic that exists (a missing topic maps to an empty list)."""
    names = list(topics)
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [name for name in names if name in existing]
        described = await admin.describe_topics(wanted) if wanted else []
    finally:
        await admin.close()
    result: dict[str, list[int]] = {name: [] for name in names}
    for topic in described:
        result[topic["topic"]] = sorted(p["partition"] for p in topic["partitions"])
    return result


async def partitions_of(
    settings: KafkaSettings, topic: str, *, timeout_s: float = 30.0
) -> list[int]:
    """Partition numbers of ``topic``, waiting for them to show.

    A topic that another client (or this one) has just created can be listed by the broker
    before its partitions are in the metadata, or not be listed yet at all; a caller that
    hashes keys onto the partitions must not see zero of them.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        numbers = (await topic_partitions(settings, [topic]))[topic]
        if numbers:
            return numbers
        if asyncio.get_running_loop().time() > deadline:
            raise KafkaError(
                f"topic {topic} at {settings.kafka_bootstrap} showed no partitions "
                f"within {timeout_s:.0f}s"
            )
        await asyncio.sleep(0.5)
