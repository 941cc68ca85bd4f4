"""The project's broker with a SASL_SSL listener (TLS from a private CA made for the test,
SCRAM-SHA-512): clients without the credentials are refused, and fetcher, tagger and alerter
run fetch -> tag -> alert over it with the existing MEDIAWATCH_KAFKA_* settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from aiokafka.errors import KafkaError

from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import Alert
from tests.support.faults import write_inbox_sources
from tests.support.kafka_io import read_topic
from tests.support.tls import SecureBroker
from tests.support.workers import ServiceProcess, start_ready

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


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
    secure_kafka_settings: SecureBroker, wrong: dict[str, object]
) -> None:
    values = secure_kafka_settings.settings.model_dump() | wrong
    intruder = KafkaSettings(**values)
    with pytest.raises((KafkaError, TimeoutError)):
        await ensure_topics(intruder, timeout_s=15)


async def test_fetch_tag_alert_over_sasl_ssl(
    secure_kafka_settings: SecureBroker, tmp_path: Path
) -> None:
    settings = secure_kafka_settings.settings
    await ensure_topics(settings)
    env = secure_kafka_settings.environment() | {
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
    assert secure_kafka_settings.password not in logs
