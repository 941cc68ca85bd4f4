"""Session-wide fixtures: one real Kafka broker per test session, started by the project's
own :class:`LocalKafka` on free ports, and per-test topic names so tests never share data.

With ``CI=true`` a broker that cannot start (no Java, no Maven) fails the run; elsewhere the
tests that need it are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediawatch.runtime.settings import KafkaSettings
from mediawatch.stack.broker import BrokerError, BrokerSettings, LocalKafka, free_port

REPOSITORY = Path(__file__).resolve().parents[1]
#: The FNC-1 bodies (../shared beside the checkout, or MEDIAWATCH_NEWS_BODIES); tests that
#: need them skip without them, and CI=true does not make that a failure: they are data.
NEWS_BODIES = Path(
    os.environ.get(
        "MEDIAWATCH_NEWS_BODIES",
        REPOSITORY.parent / "shared" / "data" / "news-bodies" / "bodies.csv",
    )
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


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
        if IN_CI:
            pytest.fail(f"the Kafka broker is required in CI and could not start: {exc}")
        pytest.skip(f"no Kafka broker: {exc}")
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


def settings_environment(settings: KafkaSettings) -> dict[str, str]:
    """The MEDIAWATCH_* variables that reproduce ``settings`` in a child process."""
    return settings.environment()
