"""A private CA and a broker certificate made for one test session (by the same code as
``mediawatch secure init``; nothing of it is a file in the repository), and what a client of
the local broker's SASL_SSL listener needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mediawatch.runtime.settings import KafkaSettings
from mediawatch.stack.secure import BrokerTls, issue_broker_tls


def make_broker_tls(folder: Path, host: str = "127.0.0.1") -> BrokerTls:
    """A CA valid for two days, and a certificate it signs for ``host`` and localhost."""
    return issue_broker_tls(folder, [host, "localhost"], days=2)


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
