"""The project's broker with a SASL_SSL listener (TLS from a private CA made for the test,
SCRAM-SHA-512): clients without the credentials are refused, and fetcher, tagger and alerter
run fetch -> tag -> alert over it with the existing MEDIAWATCH_KAFKA_* settings."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from aiokafka.errors import KafkaError

from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import Alert
from mediawatch.stack.broker import BrokerError, BrokerSettings, LocalKafka, free_port
from tests.support.environment import REPOSITORY, unavailable
from tests.support.faults import write_inbox_sources
from tests.support.kafka_io import read_topic
from tests.support.tls import make_broker_tls
from tests.support.workers import ServiceProcess, start_ready

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@dataclass(frozen=True)
class SecureBroker:
    plaintext: str  # bootstrap of the PLAINTEXT listener (inter-broker, not for clients)
    settings: KafkaSettings  # a client of the SASL_SSL listener, with the credentials
    password: str


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
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
        **KafkaSettings.topics_under(f"secure.{uuid.uuid4().hex[:8]}"),
    )
    yield SecureBroker(kafka.bootstrap, settings, password)
    kafka.stop()


@pytest.mark.parametrize(
    "wrong",
    [
        {"kafka_sasl_password": "not-the-password"},
        {"kafka_sasl_username": "intruder"},
        {
            "kafka_security_protocol": "SSL",
            "kafka_sasl_mechanism": None,
            "kafka_sasl_username": None,
            "kafka_sasl_password": None,
        },
    ],
    ids=["wrong-password", "unknown-user", "tls-without-sasl"],
)
async def test_a_client_without_the_credentials_is_refused(
    secure_broker: SecureBroker, wrong: dict[str, object]
) -> None:
    values = secure_broker.settings.model_dump() | wrong
    intruder = KafkaSettings(**values)
    with pytest.raises((KafkaError, TimeoutError)):
        await ensure_topics(intruder, timeout_s=15)


async def test_fetch_tag_alert_over_sasl_ssl(secure_broker: SecureBroker, tmp_path: Path) -> None:
    settings = secure_broker.settings
    await ensure_topics(settings)
    env = settings.environment() | {
        "MEDIAWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "MEDIAWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "MEDIAWATCH_KAFKA_SASL_USERNAME": "mediawatch",
        "MEDIAWATCH_KAFKA_SASL_PASSWORD": secure_broker.password,
        "MEDIAWATCH_KAFKA_SSL_CAFILE": str(settings.kafka_ssl_cafile),
        "MEDIAWATCH_KAFKA_SESSION_TIMEOUT_S": "6",
        "MEDIAWATCH_LOG_FORMAT": "text",
    }
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    sources = write_inbox_sources(tmp_path / "sources.yaml", inbox)
    rules = tmp_path / "rules.yaml"
    rule = {"id": "secure-watch", "condition": {"query": "harbour", "include_duplicates": True}}
    rules.write_text(yaml.safe_dump({"version": 1, "rules": [rule]}))
    workers = [
        ServiceProcess(
            ["fetcher", "run", "--sources", str(sources)],
            env | {"MEDIAWATCH_STATE_DIR": str(tmp_path / "fetcher")},
            tmp_path / "fetcher.log",
        ),
        ServiceProcess(
            ["tagger", "run"],
            env | {"MEDIAWATCH_STATE_DIR": str(tmp_path / "tagger")},
            tmp_path / "tagger.log",
        ),
        ServiceProcess(
            ["alerter", "run"],
            env
            | {
                "MEDIAWATCH_STATE_DIR": str(tmp_path / "alerter"),
                "MEDIAWATCH_RULES_FILE": str(rules),
            },
            tmp_path / "alerter.log",
        ),
    ]
    try:
        await start_ready(*workers)
        (inbox / "harbour.txt").write_text(
            "Harbour expansion approved\n\nThe city council approved the expansion of the "
            "northern harbour on Tuesday after a debate that lasted nine hours; fishermen "
            "warned that dredging would harm the spawning grounds."
        )
        records = await read_topic(
            settings, settings.topic_alerts, until=lambda found: bool(found), timeout_s=120
        )
    finally:
        for worker in workers:
            worker.stop()
    logs = "\n".join(f"--- {w.log_path.name}\n{w.log_tail()}" for w in workers)
    assert records, f"no alert over SASL_SSL; logs:\n{logs}"
    alert = Alert.from_json(records[0].value or b"")
    assert alert.rule_id == "secure-watch"
    assert secure_broker.password not in logs
