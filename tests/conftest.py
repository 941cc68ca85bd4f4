"""Session-wide fixtures: one real Kafka broker per test session, started by the project's
own :class:`LocalKafka` on free ports, and per-test topic names so tests never share data.

With ``CI=true`` a broker that cannot start (no Java, no Maven) fails the run; elsewhere the
tests that need it are skipped with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from mediawatch.runtime.settings import KafkaSettings
from mediawatch.stack.broker import BrokerError, BrokerSettings, LocalKafka, free_port
from tests.support.environment import REPOSITORY, unavailable


@pytest.fixture(scope="session")
def local_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    settings = BrokerSettings(
        state_dir=tmp_path_factory.mktemp("broker"),
        port=free_port(),
        controller_port=free_port(),
        jar_cache=REPOSITORY / ".mediawatch" / "jars",
    )
    kafka = LocalKafka(settings)
    try:
        kafka.start()
    except BrokerError as exc:
        unavailable(f"the Kafka broker could not start: {exc}")
    yield kafka
    kafka.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(local_kafka: LocalKafka) -> str:
    return local_kafka.bootstrap


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Settings pointing at the session broker with topic names unique to this test."""
    suffix = uuid.uuid4().hex[:8]
    return KafkaSettings(
        kafka_bootstrap=kafka_bootstrap, **KafkaSettings.topics_under(f"test.{suffix}")
    )
