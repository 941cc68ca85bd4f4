"""Session-wide fixtures: one real Kafka broker per test session, started by the project's
own :class:`LocalKafka` on free ports, and per-test topic names so tests never share data.

With ``CI=true`` a broker that cannot start (no Java, no Maven) fails the run; elsewhere the
tests that need it are skipped with the reason.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pytest

from mediawatch.runtime.settings import KafkaSettings
from mediawatch.stack.broker import BrokerError, BrokerSettings, LocalKafka, free_port
from tests.support.environment import REPOSITORY, unavailable
from tests.support.tls import SecureBroker, make_broker_tls


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


@pytest.fixture(scope="session")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    """A second broker, started for the tests that ask for it, with a SASL_SSL listener
    (SCRAM-SHA-512, a certificate from a private CA made for the session)."""
    folder = tmp_path_factory.mktemp("secure-broker")
    tls = make_broker_tls(folder / "tls")
    password = secrets.token_urlsafe(24)
    port = free_port()
    kafka = LocalKafka(
        BrokerSettings(
            state_dir=folder / "broker",
            port=free_port(),
            controller_port=free_port(),
            sasl_ssl_port=port,
            ssl_keystore_pem=tls.keystore_pem,
            scram_password=password,  # type: ignore[arg-type]
            jar_cache=REPOSITORY / ".mediawatch" / "jars",
        )
    )
    try:
        kafka.start()
    except BrokerError as exc:
        unavailable(f"the secured Kafka broker could not start: {exc}")
    settings = KafkaSettings(
        kafka_bootstrap=f"127.0.0.1:{port}",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="mediawatch",
        kafka_sasl_password=password,  # type: ignore[arg-type]
        kafka_ssl_cafile=tls.ca_file,
    )
    yield SecureBroker(settings, password)
    kafka.stop()


@pytest.fixture
def secure_kafka_settings(secure_kafka: SecureBroker) -> SecureBroker:
    """The secured listener with topic names unique to this test."""
    suffix = uuid.uuid4().hex[:8]
    settings = secure_kafka.settings.model_copy(update=KafkaSettings.topics_under(f"test.{suffix}"))
    return SecureBroker(settings, secure_kafka.password)
