"""docker-compose.yml, proved without a Docker engine: schema, commands, settings names,
ports, topics, health checks, start order, volumes and secrets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from mediawatch.runtime.settings import ENV_PREFIX, KafkaSettings, ServiceSettings
from mediawatch.schemas.topics import CATALOGUE, DEFAULT_PARTITIONS
from mediawatch.stack.broker import builtin_pom, kafka_version_of
from mediawatch.stack.services import SERVICES, settings_classes
from tests.support.deploy import compose_schema, load_compose, split_volume
from tests.support.environment import REPOSITORY

COMPOSE = load_compose()
SERVICES_IN_COMPOSE: dict[str, Any] = COMPOSE["services"]
MEDIAWATCH_IMAGE_SERVICES = [
    name for name, service in SERVICES_IN_COMPOSE.items() if "build" in service
]


def env_of(service: str) -> dict[str, str]:
    env = SERVICES_IN_COMPOSE[service].get("environment", {})
    assert isinstance(env, dict), f"{service}: write environment as a mapping"
    return {key: str(value) for key, value in env.items()}


def test_validates_against_the_compose_specification() -> None:
    schema = compose_schema()
    validator = jsonschema.Draft201909Validator(schema)
    problems = sorted(validator.iter_errors(COMPOSE), key=lambda e: list(e.absolute_path))
    assert not problems, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in problems
    )


def test_the_schema_rejects_a_broken_file() -> None:
    """The validation above has teeth: a typo'd key and a bad condition are caught."""
    validator = jsonschema.Draft201909Validator(compose_schema())
    broken = {"services": {"a": {"image": "x", "depends_on": {"b": {"condition": "ready"}}}}}
    assert list(validator.iter_errors(broken))
    assert list(validator.iter_errors({"services": {"a": {"imag": "x"}}}))


def test_the_three_services_and_the_infrastructure_are_there() -> None:
    expected = {"kafka", "topics-init", "fetcher", "tagger", "alerter"}
    expected |= {"prometheus", "grafana", "alertmanager"}
    assert expected <= set(SERVICES_IN_COMPOSE)


def test_kafka_is_the_version_of_the_pom_in_kraft_mode() -> None:
    version = kafka_version_of(builtin_pom())
    kafka = SERVICES_IN_COMPOSE["kafka"]
    assert kafka["image"] == f"apache/kafka:{version}"
    env = env_of("kafka")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "zookeeper" not in str(kafka).lower()
    assert env["KAFKA_NUM_PARTITIONS"] == str(DEFAULT_PARTITIONS)
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


@pytest.mark.parametrize("service", MEDIAWATCH_IMAGE_SERVICES)
def test_every_command_exists_in_the_cli(service: str) -> None:
    command = [str(word) for word in SERVICES_IN_COMPOSE[service]["command"]]
    # The sub-command path ends at the first option; its arguments follow it.
    options = [index for index, word in enumerate(command) if word.startswith("-")]
    path = command[: options[0]] if options else command
    result = subprocess.run(
        [sys.executable, "-c", "from mediawatch.cli.main import main; main()", *path, "--help"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, f"`mediawatch {' '.join(path)}`: {result.stderr[-2000:]}"
    for option in (w for w in command if w.startswith("--")):
        assert option in result.stdout, f"`mediawatch {' '.join(path)}` has no {option}"


def _service_settings(service: str) -> type[ServiceSettings]:
    classes = settings_classes()
    return classes.get(service, ServiceSettings)


@pytest.mark.parametrize("service", MEDIAWATCH_IMAGE_SERVICES)
def test_every_mediawatch_variable_is_a_settings_field(service: str) -> None:
    """No typo'd variable passes: each MEDIAWATCH_* must name a field of the service's
    settings class (topics-init and the sample server: the common ServiceSettings)."""
    cls = _service_settings(service)
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in cls.model_fields}
    unknown = [key for key in env_of(service) if key.startswith(ENV_PREFIX) and key not in fields]
    assert not unknown, f"{service} ({cls.__name__}) has no field for {unknown}"


def test_every_pipeline_service_has_its_settings_class() -> None:
    assert set(settings_classes()) == {entry.name for entry in SERVICES}


@pytest.mark.parametrize("service", [entry.name for entry in SERVICES])
def test_environment_values_are_valid_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The values, not only the names: the settings class accepts the compose environment
    (variables with a ${VAR:-default} take the default)."""
    cls = settings_classes()[service]
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in env_of(service).items():
        match = re.fullmatch(r"\$\{[A-Z0-9_]+:-(.*)\}", value)
        monkeypatch.setenv(key, match.group(1) if match else value)
    settings = cls()
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.http_host == "0.0.0.0"


@pytest.mark.parametrize("service", [entry.name for entry in SERVICES])
def test_ports_and_health_checks_match_the_settings(service: str) -> None:
    cls = settings_classes()[service]
    port = int(env_of(service)[f"{ENV_PREFIX}HTTP_PORT"])
    assert port == cls.model_fields["http_port"].default, "keep the documented default port"
    definition = SERVICES_IN_COMPOSE[service]
    published = [str(p) for p in definition.get("ports", [])]
    exposed = [str(p) for p in definition.get("expose", [])]
    assert all(p.rsplit(":", 1)[-1] == str(port) for p in published), published
    assert published or exposed == [str(port)]
    health = " ".join(definition["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/readyz" in health
    for condition in definition["depends_on"].values():
        assert condition["condition"] in {"service_healthy", "service_completed_successfully"}


def test_topics_are_the_catalogue() -> None:
    env = COMPOSE["x-mediawatch-env"]
    for role, spec in CATALOGUE.items():
        assert env[f"{ENV_PREFIX}TOPIC_{role.upper()}"] == spec.name
    topic_fields = {
        f"{ENV_PREFIX}{n.upper()}" for n in KafkaSettings.model_fields if n.startswith("topic_")
    }
    assert {k for k in env if k.startswith(f"{ENV_PREFIX}TOPIC_")} == topic_fields


def test_the_tagger_can_be_scaled() -> None:
    tagger = SERVICES_IN_COMPOSE["tagger"]
    assert "container_name" not in tagger
    assert "ports" not in tagger, "a host port would clash with --scale tagger=3"
    assert CATALOGUE["articles_fetched"].partitions >= 3


def test_start_order() -> None:
    deps = {name: s.get("depends_on", {}) for name, s in SERVICES_IN_COMPOSE.items()}
    assert deps["topics-init"]["kafka"]["condition"] == "service_healthy"
    for service in ("fetcher", "tagger", "alerter"):
        assert deps[service]["topics-init"]["condition"] == "service_completed_successfully"
    assert SERVICES_IN_COMPOSE["topics-init"]["command"][:2] == ["topics", "ensure"]
    assert deps["grafana"]["prometheus"]["condition"] == "service_healthy"
    assert "alertmanager" in deps["alerter"] and "alertmanager" in deps["prometheus"]
    for name, service in SERVICES_IN_COMPOSE.items():
        if name != "topics-init":
            assert "healthcheck" in service, f"{name} has no health check"


def test_named_volumes_and_mounted_files() -> None:
    declared = set(COMPOSE["volumes"])
    assert {"kafka-data", "grafana-data"} <= declared
    for name, service in SERVICES_IN_COMPOSE.items():
        for spec in service.get("volumes", []):
            host = split_volume(spec)[0]
            if host.startswith("."):
                target = REPOSITORY / host
                if "grafana" in host:
                    continue  # checked in test_deploy_files
                assert target.exists(), f"{name} mounts {host}, which does not exist"
            else:
                assert host in declared, f"{name} uses undeclared volume {host}"


def test_themes_come_from_the_image_and_actors_from_the_samples() -> None:
    """The image carries the built-in themes as package data; the stack adds the sample
    desk's own actors, mounted where the tagger is told to read them."""
    assert f"{ENV_PREFIX}THEMES_FILE" not in env_of("tagger")
    mounts = [split_volume(v) for v in SERVICES_IN_COMPOSE["tagger"]["volumes"]]
    actors = env_of("tagger")[f"{ENV_PREFIX}ACTORS_FILE"]
    assert ("./services/mediawatch/stack/data/samples/actors.yaml", actors) in mounts


def test_the_stack_rules_are_the_built_in_ones_notifying_the_stacks_alertmanager() -> None:
    """Nothing parked forever: the built-in rules (what `make run` uses) notify nothing, and
    the compose copy differs from them only by destinations that are services of the stack."""
    builtin_path = REPOSITORY / "services" / "mediawatch" / "alerter" / "data" / "rules.yaml"
    builtin = yaml.safe_load(builtin_path.read_text())
    assert all(not rule.get("notify") for rule in builtin["rules"])
    rules_file = env_of("alerter")[f"{ENV_PREFIX}RULES_FILE"]
    volumes = SERVICES_IN_COMPOSE["alerter"]["volumes"]
    mounts = {target: host for host, target in map(split_volume, volumes)}
    stack = yaml.safe_load((REPOSITORY / mounts[rules_file]).read_text())
    destinations = [d for rule in stack["rules"] for d in rule.pop("notify", [])]
    assert stack == builtin, "the compose rules drifted from the built-in ones"
    assert destinations, "the compose stack's rules notify nothing"
    for destination in destinations:
        host = re.match(r"https?://([^:/]+)", destination["url"])
        assert host and host.group(1) in SERVICES_IN_COMPOSE, destination


def test_no_secret_is_written_in_the_file() -> None:
    text = (REPOSITORY / "docker-compose.yml").read_text()
    secretish = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY)[A-Z_]*:\s*(\S+)")
    for name, value in secretish.findall(text):
        assert value.startswith("${"), f"{name} must come from the environment, not the file"
    example = (REPOSITORY / ".env.example").read_text()
    defined = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    required = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)(?::?[-?])", text))
    assert required <= defined, f".env.example lacks {sorted(required - defined)}"
    assert re.search(r"^GRAFANA_ADMIN_PASSWORD=$", example, re.MULTILINE), "no example secret"
