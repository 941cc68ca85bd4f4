"""What Kafka over TLS with SCRAM needs, made on the operator's machine: a private CA, the
broker's certificate and PEM keystore, and the SCRAM user's credentials.

``mediawatch secure init`` writes them for the compose file's secured override
(deploy/secure/compose.secure.yaml); the test suite's SASL_SSL broker uses the same code.
The CA's private key signs the broker certificate and is then dropped: nothing else is ever
signed with it, and rotating means running ``init`` again (docs/security.md).

Written with ``cryptography`` rather than by calling openssl, so that it works wherever the
wheel does (the runtime image has no openssl binary) and is typed end to end.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The broker names a compose deployment is reached by: ``kafka`` on the compose network,
#: ``localhost`` and 127.0.0.1 through the port published on the host's loopback.
COMPOSE_BROKER_HOSTS = ("kafka", "localhost", "127.0.0.1")
CA_FILE = "ca.pem"
KEYSTORE_FILE = "kafka-keystore.pem"
CREDENTIALS_FILE = "kafka-client.env"
DEFAULT_USERNAME = "mediawatch"


class SecureInitError(RuntimeError):
    """The secured deployment's material could not be written (what and where in the text)."""


@dataclass(frozen=True)
class BrokerTls:
    ca_file: Path  # what clients trust
    keystore_pem: Path  # the broker's private key (PKCS#8) and certificate chain


#: What the CA's key may do: sign certificates and revocation lists, nothing else.
_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
    key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
    decipher_only=False,
)  # fmt: skip


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _subject_alternative_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def issue_broker_tls(folder: Path, hosts: Sequence[str], *, days: int) -> BrokerTls:
    """A CA and a broker certificate it signs for ``hosts`` (names or IP addresses), both
    valid for ``days``; written to ``folder`` as the CA certificate and the keystore.

    The keystore file is readable by all: it is mounted into the broker's container, whose
    user is not the file's owner. ``folder`` itself is made private to its owner.
    """
    if not hosts:
        raise SecureInitError("the broker certificate needs at least one host name")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    now = datetime.now(UTC)
    valid = (now - timedelta(minutes=5), now + timedelta(days=days))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("mediawatch private CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_name)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.SubjectAlternativeName(_subject_alternative_names(hosts)), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file = folder / CA_FILE
    ca_file.write_bytes(ca_cert.public_bytes(pem))
    ca_file.chmod(0o644)
    keystore = folder / KEYSTORE_FILE
    keystore.write_bytes(
        broker_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + broker_cert.public_bytes(pem)
        + ca_cert.public_bytes(pem)
    )
    keystore.chmod(0o644)
    return BrokerTls(ca_file, keystore)


def write_credentials(folder: Path, username: str) -> Path:
    """The SCRAM user and a new random password as the services' MEDIAWATCH_* variables: the
    broker formats its storage with them and every client logs in with them."""
    path = folder / CREDENTIALS_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(
            f"MEDIAWATCH_KAFKA_SASL_USERNAME={username}\n"
            f"MEDIAWATCH_KAFKA_SASL_PASSWORD={secrets.token_urlsafe(32)}\n"
        )
    return path


def init_secure_dir(
    folder: Path,
    *,
    hosts: Sequence[str] = COMPOSE_BROKER_HOSTS,
    days: int = 825,
    username: str = DEFAULT_USERNAME,
    force: bool = False,
) -> list[Path]:
    """Write the CA, the broker keystore and the credentials to ``folder``; the paths.

    Existing material is kept unless ``force``: a broker whose storage was formatted with
    the old password would refuse the new one.
    """
    existing = [
        folder / name
        for name in (CA_FILE, KEYSTORE_FILE, CREDENTIALS_FILE)
        if (folder / name).exists()
    ]
    if existing and not force:
        raise SecureInitError(
            f"{folder} already holds {', '.join(p.name for p in existing)}; "
            "pass --force to replace them (the broker's SCRAM user keeps its old password)"
        )
    tls = issue_broker_tls(folder, hosts, days=days)
    return [tls.ca_file, tls.keystore_pem, write_credentials(folder, username)]
