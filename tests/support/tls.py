"""A private CA and a broker certificate made for one test session with openssl, for the
SASL_SSL listener of the local broker (nothing of it is a file in the repository), and what
a client of that listener needs."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from mediawatch.runtime.settings import KafkaSettings
from tests.support.environment import tool


@dataclass(frozen=True)
class BrokerTls:
    ca_file: Path  # what clients trust
    keystore_pem: Path  # the broker's key and certificate chain


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        [tool("openssl", "openssl"), *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {result.stderr}")


def make_broker_tls(folder: Path, host: str = "127.0.0.1") -> BrokerTls:
    """A CA valid for two days, and a certificate it signs for ``host`` and localhost."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
             "-out", "ca.pem", "-days", "2", "-subj", "/CN=mediawatch test CA",
             cwd=folder)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key",
             "-out", "broker.csr", "-subj", "/CN=localhost", cwd=folder)  # fmt: skip
    (folder / "broker.ext").write_text(
        f"subjectAltName=IP:{host},DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "extendedKeyUsage=serverAuth\n"
    )
    _openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "broker.pem", "-days", "2", "-extfile", "broker.ext",
             cwd=folder)  # fmt: skip
    _openssl("pkcs8", "-topk8", "-nocrypt", "-in", "broker.key", "-out", "broker.pk8", cwd=folder)
    keystore = folder / "keystore.pem"
    keystore.write_text(
        "".join((folder / name).read_text() for name in ("broker.pk8", "broker.pem", "ca.pem"))
    )
    keystore.chmod(0o600)
    return BrokerTls(folder / "ca.pem", keystore)


@dataclass(frozen=True)
class SecureBroker:
    """A broker's SASL_SSL listener: ``settings`` reach it with the credentials (SCRAM-SHA-512,
    the CA file); ``password`` is the SCRAM user's."""

    settings: KafkaSettings
    password: str

    def environment(self) -> dict[str, str]:
        """The MEDIAWATCH_* variables of a service process that uses this listener."""
        settings = self.settings
        return settings.environment() | {
            "MEDIAWATCH_KAFKA_SECURITY_PROTOCOL": settings.kafka_security_protocol,
            "MEDIAWATCH_KAFKA_SASL_MECHANISM": str(settings.kafka_sasl_mechanism),
            "MEDIAWATCH_KAFKA_SASL_USERNAME": str(settings.kafka_sasl_username),
            "MEDIAWATCH_KAFKA_SASL_PASSWORD": self.password,
            "MEDIAWATCH_KAFKA_SSL_CAFILE": str(settings.kafka_ssl_cafile),
        }
