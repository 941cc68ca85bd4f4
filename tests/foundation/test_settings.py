"""Settings: environment variables, precise errors, secrets never shown."""

from __future__ import annotations

import pytest

from mediawatch.runtime.settings import ServiceSettings, SettingsError, load_settings


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAWATCH_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    settings = load_settings(ServiceSettings)
    assert settings.kafka_bootstrap == "kafka-1:9092,kafka-2:9092"
    assert settings.topic_name("alerts") == "mediawatch.alerts"


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAWATCH_KAFKA_BOOTSTRAP", "no port here")
    monkeypatch.setenv("MEDIAWATCH_HTTP_PORT", "99999")
    with pytest.raises(SettingsError) as caught:
        load_settings(ServiceSettings)
    message = str(caught.value)
    assert "MEDIAWATCH_KAFKA_BOOTSTRAP" in message
    assert "'no port here'" in message
    assert "MEDIAWATCH_HTTP_PORT" in message


def test_sasl_needs_credentials_and_hides_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAWATCH_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("MEDIAWATCH_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    with pytest.raises(SettingsError, match="MEDIAWATCH_KAFKA_SASL_USERNAME"):
        load_settings(ServiceSettings)
    monkeypatch.setenv("MEDIAWATCH_KAFKA_SASL_USERNAME", "analyst")
    monkeypatch.setenv("MEDIAWATCH_KAFKA_SASL_PASSWORD", "hunter2-secret")
    settings = load_settings(ServiceSettings)
    assert "hunter2-secret" not in repr(settings)
    assert "hunter2-secret" not in str(settings.model_dump())
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == "hunter2-secret"


def test_topics_under_a_prefix_and_the_environment_that_reproduces_them() -> None:
    settings = ServiceSettings(kafka_bootstrap="k:9092", **ServiceSettings.topics_under("run.42"))
    assert settings.topic_articles_fetched == "run.42.articles.fetched"
    assert settings.topic_deadletter == "run.42.deadletter"
    assert settings.topic_notifications_retry == "run.42.notifications.retry"
    env = settings.environment()
    assert env["MEDIAWATCH_KAFKA_BOOTSTRAP"] == "k:9092"
    assert env["MEDIAWATCH_TOPIC_FETCHER_SEEN"] == "run.42.fetcher.seen"
    assert env["MEDIAWATCH_TOPIC_FETCHER_SOURCES"] == "run.42.fetcher.sources"
    assert len([name for name in env if name.startswith("MEDIAWATCH_TOPIC_")]) == 7
