"""``mediawatch secure init`` and the secured compose override's files (issue 15, item 4).

The certificates are proven with real TLS handshakes on loopback; the whole override runs on
the engine in tests/engine/test_secure_stack.py.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from mediawatch.cli.main import app
from mediawatch.stack.secure import CA_FILE, CREDENTIALS_FILE, KEYSTORE_FILE
from tests.support.environment import REPOSITORY

SECURE = REPOSITORY / "deploy" / "secure"
runner = CliRunner()


def init(folder: Path, *extra: str) -> Any:
    return runner.invoke(app, ["secure", "init", "--out", str(folder), *extra])


def password_of(folder: Path) -> str:
    text = (folder / CREDENTIALS_FILE).read_text()
    match = re.search(r"^MEDIAWATCH_KAFKA_SASL_PASSWORD=(\S+)$", text, re.M)
    assert match, text
    return match.group(1)


async def handshake(folder: Path, server_hostname: str) -> str:
    """A TLS handshake on loopback between a server with the broker keystore and a client
    that trusts only the private CA; the protocol version agreed."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(folder / KEYSTORE_FILE)
    client_context = ssl.create_default_context(cafile=str(folder / CA_FILE))

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context, server_hostname=server_hostname
        )
        version = str(writer.get_extra_info("ssl_object").version())
        writer.close()
        return version
    finally:
        server.close()


def test_init_writes_a_ca_a_keystore_and_private_credentials(tmp_path: Path) -> None:
    folder = tmp_path / "secure"
    result = init(folder)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / CREDENTIALS_FILE).stat().st_mode) == 0o600
    keystore = (folder / KEYSTORE_FILE).read_text()
    assert keystore.startswith("-----BEGIN PRIVATE KEY-----"), "Kafka's PEM keystore needs PKCS#8"
    assert keystore.count("BEGIN CERTIFICATE") == 2, "the chain: broker, then the CA"
    assert "MEDIAWATCH_KAFKA_SASL_USERNAME=mediawatch\n" in (folder / CREDENTIALS_FILE).read_text()
    assert len(password_of(folder)) >= 40


@pytest.mark.parametrize("name", ["kafka", "localhost", "127.0.0.1"])
async def test_the_broker_certificate_is_trusted_for_every_compose_name(
    tmp_path: Path, name: str
) -> None:
    assert init(tmp_path).exit_code == 0
    assert (await handshake(tmp_path, name)).startswith("TLS")


async def test_the_certificate_is_refused_for_any_other_name_and_by_another_ca(
    tmp_path: Path,
) -> None:
    assert init(tmp_path / "one").exit_code == 0
    assert init(tmp_path / "two").exit_code == 0
    with pytest.raises(ssl.SSLCertVerificationError, match=r"Hostname mismatch|doesn't match"):
        await handshake(tmp_path / "one", "kafka.example.org")
    (tmp_path / "one" / CA_FILE).write_bytes((tmp_path / "two" / CA_FILE).read_bytes())
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await handshake(tmp_path / "one", "kafka")


def test_init_keeps_existing_material_unless_forced(tmp_path: Path) -> None:
    assert init(tmp_path).exit_code == 0
    first = password_of(tmp_path)
    again = init(tmp_path)
    assert again.exit_code == 1
    assert "already holds ca.pem, kafka-keystore.pem, kafka-client.env" in again.output
    assert "--force" in again.output
    assert password_of(tmp_path) == first
    assert init(tmp_path, "--force").exit_code == 0
    assert password_of(tmp_path) != first


def test_hosts_of_your_own_go_into_the_certificate(tmp_path: Path) -> None:
    result = init(tmp_path, "--host", "broker.internal", "--host", "10.1.2.3")
    assert result.exit_code == 0, result.output
    assert asyncio.run(handshake(tmp_path, "broker.internal")).startswith("TLS")
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(handshake(tmp_path, "kafka"))


def listeners() -> dict[str, tuple[str, str]]:
    """Listener name -> (bind address, security protocol) of the secured broker."""
    properties = dict(
        line.split("=", 1)
        for line in (SECURE / "kafka" / "server.properties").read_text().splitlines()
        if line and not line.startswith("#")
    )
    protocols = dict(
        pair.split(":") for pair in properties["listener.security.protocol.map"].split(",")
    )
    bound: dict[str, tuple[str, str]] = {}
    for listener in properties["listeners"].split(","):
        name, _, address = listener.partition("://")
        bound[name] = (address.rpartition(":")[0], protocols[name])
    assert properties["inter.broker.listener.name"] in bound
    return bound


def test_every_listener_off_the_brokers_loopback_is_sasl_ssl() -> None:
    found = listeners()
    assert {name for name, (host, _) in found.items() if host != "127.0.0.1"} == {"SECURE", "HOST"}
    for name, (host, protocol) in found.items():
        assert host == "127.0.0.1" or protocol == "SASL_SSL", f"{name} on {host!r}: {protocol}"


def _override() -> dict[str, Any]:
    class Loader(yaml.SafeLoader):
        """Reads Compose's !override and !reset tags as the values they carry."""

    def carried(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_scalar(node)  # type: ignore[arg-type]

    Loader.add_constructor("!override", carried)
    Loader.add_constructor("!reset", carried)
    loaded: dict[str, Any] = yaml.load((SECURE / "compose.secure.yaml").read_text(), Loader)
    return loaded


def test_the_override_mounts_what_the_broker_and_the_services_read() -> None:
    services = _override()["services"]
    kafka = services["kafka"]
    mounted = {volume.rsplit(":", 2)[1] for volume in kafka["volumes"]}
    assert {"/etc/kafka/secure/start", "/etc/kafka/secure/server.properties",
            "/etc/kafka/secure/kafka-keystore.pem"} <= mounted  # fmt: skip
    assert (
        "ssl.keystore.location=/etc/kafka/secure/kafka-keystore.pem"
        in (SECURE / "kafka" / "server.properties").read_text()
    )
    for name in ("topics-init", "fetcher", "tagger", "alerter", "archiver", "api"):
        service = services[name]
        assert service["environment"]["MEDIAWATCH_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        cafile = service["environment"]["MEDIAWATCH_KAFKA_SSL_CAFILE"]
        assert any(volume.rsplit(":", 2)[1] == cafile for volume in service["volumes"]), name
        assert any(path.endswith(CREDENTIALS_FILE) for path in service["env_file"]), name


def test_the_broker_start_script_names_what_is_missing(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(SECURE / "kafka" / "start")],
        env={"PATH": "/usr/bin:/bin", "CLUSTER_ID": "bWVkaWF3YXRjaC1rYWZrYQ"},
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode != 0
    assert "MEDIAWATCH_KAFKA_SASL_USERNAME" in result.stderr
    assert "mediawatch secure init" in result.stderr
