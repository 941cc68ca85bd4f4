"""The committed configuration reference is the one the settings classes generate."""

from __future__ import annotations

from mediawatch.cli.reference import render_reference
from tests.support.environment import REPOSITORY


def test_configuration_reference_is_current() -> None:
    committed = (REPOSITORY / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == render_reference(), "run `mediawatch settings reference`"


def test_reference_names_every_service_variable() -> None:
    text = render_reference()
    for variable in (
        "MEDIAWATCH_KAFKA_BOOTSTRAP",
        "MEDIAWATCH_KAFKA_SASL_PASSWORD",
        "MEDIAWATCH_SOURCES_FILE",
        "MEDIAWATCH_THEMES_FILE",
        "MEDIAWATCH_RULES_FILE",
        "MEDIAWATCH_BROKER_PORT",
    ):
        assert f"`{variable}`" in text
