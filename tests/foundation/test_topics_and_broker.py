"""The project's broker and the topic catalogue on it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from mediawatch.runtime.kafka import client_options, ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas.topics import CATALOGUE
from mediawatch.stack.broker import BrokerError, BrokerSettings, LocalKafka
from tests.support.environment import REPOSITORY


@pytest.mark.kafka
async def test_topics_are_created_once_with_catalogue_settings(
    kafka_settings: KafkaSettings,
) -> None:
    created = await ensure_topics(kafka_settings)
    by_default = [role for role, spec in CATALOGUE.items() if not spec.on_demand]
    assert sorted(created) == sorted(kafka_settings.topic_name(role) for role in by_default)
    assert await ensure_topics(kafka_settings) == []
    # A topic created on demand (the fetcher group's, when sharding is on) only when asked.
    on_demand = [spec for spec in CATALOGUE.values() if spec.on_demand]
    assert on_demand, "the fetcher group's sources topic is in the catalogue"
    assert await ensure_topics(kafka_settings, on_demand) == [
        kafka_settings.topic_name(spec.role) for spec in on_demand
    ]

    admin = AIOKafkaAdminClient(**client_options(kafka_settings))
    await admin.start()
    try:
        descriptions = await admin.describe_topics([kafka_settings.topic_alerts])
        assert len(descriptions[0]["partitions"]) == CATALOGUE["alerts"].partitions
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, kafka_settings.topic_deadletter)]
        )
        entries = {c[0]: c[1] for c in configs[0].resources[0][4]}
        assert entries["retention.ms"] == str(CATALOGUE["deadletter"].retention_ms)
        assert entries["cleanup.policy"] == "delete"
    finally:
        await admin.close()


@pytest.mark.kafka
def test_broker_status_command_reports_version(local_kafka: LocalKafka) -> None:
    result = subprocess.run(
        [str(REPOSITORY / ".venv" / "bin" / "mediawatch"), "broker", "status",
         "--state-dir", str(local_kafka.settings.state_dir)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Kafka {local_kafka.version}" in result.stdout
    assert local_kafka.bootstrap in result.stdout


def test_missing_java_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    kafka = LocalKafka(BrokerSettings(state_dir=tmp_path))
    with pytest.raises(BrokerError, match=r"Java 17 or newer is needed"):
        kafka.start()


def test_missing_maven_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    kafka = LocalKafka(BrokerSettings(state_dir=tmp_path, jar_cache=tmp_path / "empty"))
    with pytest.raises(BrokerError, match=r"Maven 3\.8 or newer is needed"):
        kafka.ensure_jars()


def test_pom_and_compose_agree_on_the_kafka_version() -> None:
    kafka = LocalKafka(BrokerSettings(state_dir=Path("/nonexistent")))
    assert kafka.version.startswith("4.")
