"""The secured override (deploy/secure/compose.secure.yaml) run for real on the project's
private engine (issue 15, item 4): Kafka over TLS with SCRAM-SHA-512 between every service
and the broker, and for clients on the host.

The material comes from ``mediawatch secure init``, run as an operator would. The tests read
the stack only through the ports published on 127.0.0.1, and from inside a service's
container for what the compose network can reach.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from mediawatch.runtime.kafka import topic_partitions
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.stack.engine import Engine
from tests.support.deploy import COMPOSE_FILE
from tests.support.engine_stack import (
    ALERTS,
    KAFKA_HOST,
    OVERRIDE,
    RULE,
    ComposeStack,
    alerts_for,
    oped_article,
)
from tests.support.environment import REPOSITORY

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.timeout(2400)]

SECURE_OVERRIDE = REPOSITORY / "deploy" / "secure" / "compose.secure.yaml"
PROJECT = "mediawatch-secure-test"


def credentials(folder: Path) -> dict[str, str]:
    lines = (folder / "kafka-client.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def host_client(folder: Path, *, password: str | None = None) -> KafkaSettings:
    """A client of the host listener with the credentials of ``folder`` (or another
    password), trusting the private CA."""
    known = credentials(folder)
    return KafkaSettings(
        kafka_bootstrap=KAFKA_HOST,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username=known["MEDIAWATCH_KAFKA_SASL_USERNAME"],
        kafka_sasl_password=SecretStr(password or known["MEDIAWATCH_KAFKA_SASL_PASSWORD"]),
        kafka_ssl_cafile=folder / "ca.pem",
    )


@pytest.fixture(scope="module")
def secure_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("secure")
    result = subprocess.run(
        [sys.executable, "-m", "mediawatch.cli.main", "secure", "init", "--out", str(folder)],
        capture_output=True, text=True, check=False, cwd=REPOSITORY,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture(scope="module")
def secure_stack(engine: Engine, secure_dir: Path) -> Iterator[ComposeStack]:
    stack = ComposeStack(
        engine,
        files=(COMPOSE_FILE, OVERRIDE, SECURE_OVERRIDE),
        project=PROJECT,
        extra_environment={"MEDIAWATCH_SECURE_DIR": str(secure_dir)},
        kafka_settings=host_client(secure_dir),
    )
    stack.down(volumes=True)
    stack.up_and_wait()
    timings = stack.timings
    print(f"\nsecured stack: build {timings['build']} s, healthy {timings['healthy']} s")
    yield stack
    stack.down(volumes=True)


def refusal(settings: KafkaSettings, caplog: pytest.LogCaptureFixture) -> str | None:
    """Why reaching the host listener with ``settings`` failed (the exception and what
    aiokafka logged of each attempt: it raises only "unable to bootstrap"), or None if the
    broker answered."""

    async def attempt() -> None:
        await asyncio.wait_for(topic_partitions(settings, [ALERTS]), timeout=30)

    caplog.clear()
    try:
        asyncio.run(attempt())
    except (KafkaError, OSError, TimeoutError) as exc:
        return " | ".join([repr(exc), *(record.getMessage() for record in caplog.records)])
    return None


def test_the_founding_oped_yields_its_alert_over_sasl_ssl(secure_stack: ComposeStack) -> None:
    started = time.monotonic()
    [outcome] = secure_stack.post([oped_article()])
    values = secure_stack.read_until(
        ALERTS,
        lambda v: bool(alerts_for(v, outcome["article_id"])),
        bound_s=120,
        what=f"the {RULE} alert of article {outcome['article_id']}",
    )
    print(f"\nsecured stack: op-ed POST to its alert, read over SASL_SSL: "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip
    [alert] = alerts_for(values, outcome["article_id"])
    assert RULE in alert["articles"][0]["themes"]


def test_the_host_listener_refuses_clients_without_the_credentials_or_the_ca(
    secure_stack: ComposeStack, secure_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="aiokafka")
    assert refusal(host_client(secure_dir), caplog) is None, "the right credentials were refused"
    plaintext = refusal(KafkaSettings(kafka_bootstrap=KAFKA_HOST), caplog)
    assert plaintext is not None, "a PLAINTEXT client got in"
    assert "closed" in plaintext, plaintext
    wrong = refusal(host_client(secure_dir, password="not-the-password"), caplog)
    assert wrong is not None, "a wrong password was let in"
    assert "SaslAuthenticationFailed" in wrong, wrong
    untrusted = host_client(secure_dir).model_copy(update={"kafka_ssl_cafile": None})
    refused = refusal(untrusted, caplog)
    assert refused is not None, "a client that does not trust the private CA got in"
    assert "CERTIFICATE_VERIFY_FAILED" in refused, refused


def test_nothing_on_the_compose_network_speaks_plaintext_to_the_broker(
    secure_stack: ComposeStack,
) -> None:
    """From the fetcher's container: the services' listener refuses PLAINTEXT and the
    broker's loopback listeners cannot be reached at all."""
    probe = (
        "import asyncio, socket\n"
        "from aiokafka.admin import AIOKafkaAdminClient\n"
        "async def plain():\n"
        "    admin = AIOKafkaAdminClient(bootstrap_servers='kafka:9092', request_timeout_ms=8000)\n"
        "    try:\n"
        "        await admin.start(); await admin.list_topics(); print('9092 PLAINTEXT ANSWERED')\n"
        "    except Exception as exc:\n"
        "        print('9092 refused', type(exc).__name__)\n"
        "    finally:\n"
        "        await admin.close()\n"
        "asyncio.run(plain())\n"
        "for port in (9093, 9095):\n"
        "    try:\n"
        "        socket.create_connection(('kafka', port), timeout=5).close()\n"
        "        print(port, 'OPEN')\n"
        "    except OSError as exc:\n"
        "        print(port, 'closed', type(exc).__name__)\n"
    )
    output = secure_stack.compose("exec", "-T", "fetcher", "python", "-c", probe).stdout
    assert "9092 refused" in output, output
    assert "9093 closed" in output and "9095 closed" in output, output


def test_no_service_logs_the_scram_password(secure_stack: ComposeStack, secure_dir: Path) -> None:
    password = credentials(secure_dir)["MEDIAWATCH_KAFKA_SASL_PASSWORD"]
    logs = secure_stack.compose("logs", "--no-color").stdout
    assert "mediawatch-secure-test" in logs or "kafka-1" in logs, "no logs were read"
    assert password not in logs, "the SCRAM password is in a container's log"


def test_the_documented_password_change_takes_effect(
    secure_stack: ComposeStack, secure_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/security.md's command for a running broker; last, as it locks out the old one."""
    caplog.set_level(logging.ERROR, logger="aiokafka")
    new = f"rotated-{uuid.uuid4().hex}"
    secure_stack.compose(
        "exec", "-T", "kafka", "/opt/kafka/bin/kafka-configs.sh",
        "--bootstrap-server", "127.0.0.1:9095", "--alter", "--entity-type", "users",
        "--entity-name", "mediawatch", "--add-config", f"SCRAM-SHA-512=[password={new}]",
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while (refused := refusal(host_client(secure_dir, password=new), caplog)) is not None:
        assert time.monotonic() < deadline, f"the new password is still refused: {refused}"
        time.sleep(1)
    old = refusal(host_client(secure_dir), caplog)
    assert old is not None and "SaslAuthenticationFailed" in old, old
