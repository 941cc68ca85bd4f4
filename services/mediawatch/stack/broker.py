"""A real single-node Apache Kafka (KRaft, broker + controller) run by the project itself.

Kafka's jars come from Maven Central through the pom that ships as package data
(``mediawatch/stack/data/kafka/pom.xml``) and are cached in the
state directory; the storage is formatted on first start. ``mediawatch broker start``, the
test suite and ``mediawatch up`` all go through :class:`LocalKafka`, so the broker the tests
prove is the broker users run.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mediawatch.runtime.settings import ENV_PREFIX

READY_LINE = "Kafka Server started"
_MAVEN_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


class BrokerError(RuntimeError):
    """The local broker could not be set up, started or stopped; the message says what to do."""


def builtin_pom() -> Path:
    """The pom naming the Kafka version and its logging backend, shipped with the package so
    that ``mediawatch up`` works from an installed wheel, not only in a checkout."""
    return Path(str(resources.files("mediawatch.stack") / "data" / "kafka" / "pom.xml"))


class BrokerSettings(BaseSettings):
    """Where and how the local broker runs (``MEDIAWATCH_BROKER_*``)."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}BROKER_", frozen=True)

    state_dir: Path = Field(
        default=Path(".mediawatch"), description="Jars, data and logs go under <state_dir>/kafka."
    )
    host: str = Field(default="127.0.0.1", description="Address the broker listens on.")
    port: int = Field(default=9092, ge=1, le=65535, description="Client (PLAINTEXT) port.")
    controller_port: int = Field(default=9093, ge=1, le=65535, description="KRaft controller port.")
    heap: str = Field(default="512m", pattern=r"^\d+[mg]$", description="JVM heap (-Xmx).")
    pom: Path = Field(
        default_factory=builtin_pom,
        description="Maven pom that names the Kafka version and its logging backend.",
    )
    start_timeout_s: float = Field(default=90.0, gt=0, description="Wait this long for start.")
    jar_cache: Path | None = Field(
        default=None,
        description="Where Kafka's jars are kept; default <state_dir>/kafka/<version>/lib. "
        "Several state directories (e.g. test runs) can share one cache.",
    )
    sasl_ssl_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of a SASL_SSL listener (TLS, SCRAM-SHA-512) beside the PLAINTEXT "
        "one; needs _SSL_KEYSTORE_PEM and _SCRAM_PASSWORD. Unset: PLAINTEXT only.",
    )
    ssl_keystore_pem: Path | None = Field(
        default=None,
        description="PEM file of the SASL_SSL listener: the broker's private key (PKCS#8, "
        "unencrypted) followed by its certificate chain.",
    )
    scram_username: str = Field(
        default="mediawatch", description="SCRAM-SHA-512 user the storage is formatted with."
    )
    scram_password: SecretStr | None = Field(
        default=None,
        description="Password of the SCRAM user; set when the storage is first formatted "
        "(it is stored hashed by Kafka); never logged.",
    )

    @model_validator(mode="after")
    def _secure_listener_is_complete(self) -> Self:
        if self.sasl_ssl_port is not None:
            missing = [
                f"{ENV_PREFIX}BROKER_{name.upper()}"
                for name in ("ssl_keystore_pem", "scram_password")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"{ENV_PREFIX}BROKER_SASL_SSL_PORT needs {', '.join(missing)}")
        return self


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    version: str
    bootstrap: str
    log_file: Path


def kafka_version_of(pom: Path) -> str:
    """The ``kafka.version`` property of the pom."""
    try:
        root = ElementTree.parse(pom).getroot()
    except (OSError, ElementTree.ParseError) as exc:
        raise BrokerError(f"cannot read the Kafka pom {pom}: {exc}") from exc
    node = root.find("m:properties/m:kafka.version", _MAVEN_NS)
    if node is None or not (node.text or "").strip():
        raise BrokerError(f"{pom} has no <kafka.version> property")
    return (node.text or "").strip()


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class LocalKafka:
    """Set up, start, stop and inspect one local Kafka broker."""

    def __init__(self, settings: BrokerSettings | None = None) -> None:
        self.settings = settings or BrokerSettings()
        self.version = kafka_version_of(self.settings.pom)
        self.home = self.settings.state_dir.resolve() / "kafka"
        cache = self.settings.jar_cache
        self.lib_dir = cache.resolve() / self.version if cache else self.home / self.version / "lib"
        self.data_dir = self.home / "data"
        self.log_file = self.home / "broker.log"
        self.pid_file = self.home / "broker.pid"
        self.info_file = self.home / "broker.json"

    @property
    def bootstrap(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    # -- prerequisites -------------------------------------------------------------------

    @staticmethod
    def check_java() -> str:
        java = shutil.which("java")
        if java is None:
            raise BrokerError(
                "Java 17 or newer is needed to run Kafka and was not found on PATH; install "
                "it (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)"
            )
        output = subprocess.run(
            [java, "-version"], capture_output=True, text=True, check=False
        ).stderr
        match = re.search(r'version "(\d+)(?:\.(\d+))?', output)
        major = int(match.group(1)) if match else 0
        if major == 1 and match and match.group(2):
            major = int(match.group(2))
        if major < 17:
            raise BrokerError(f"Kafka 4 needs Java 17 or newer; {java} is: {output.strip()}")
        return java

    @staticmethod
    def check_maven() -> str:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError(
                "Maven 3.8 or newer is needed to download Kafka's jars and was not found on "
                "PATH; install it (Debian/Ubuntu: apt-get install maven)"
            )
        return mvn

    def ensure_jars(self) -> Path:
        """Copy Kafka and its dependencies into ``lib_dir`` once; later calls reuse them.

        Several brokers may share one jar cache (parallel test workers, two ``mediawatch up``
        runs), so the download holds an exclusive lock on the cache: the first one fetches,
        the others wait and find the cache complete.
        """
        marker = self.lib_dir / ".complete"
        if marker.exists():
            return self.lib_dir
        self.lib_dir.mkdir(parents=True, exist_ok=True)
        with (self.lib_dir.parent / f".{self.lib_dir.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not marker.exists():
                self._download_jars(marker)
        return self.lib_dir

    def _download_jars(self, marker: Path) -> None:
        mvn = self.check_maven()
        command = [
            mvn,
            "--batch-mode",
            "--quiet",
            "--file",
            str(self.settings.pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={self.lib_dir}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(self.lib_dir.glob("kafka_2.13-*.jar")):
            raise BrokerError(
                f"Maven could not fetch Kafka {self.version} (exit {result.returncode}):\n"
                f"{(result.stdout + result.stderr)[-3000:]}"
            )
        marker.write_text(self.version)

    # -- configuration -------------------------------------------------------------------

    def _server_properties(self) -> Path:
        s = self.settings
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{s.host}:{s.controller_port}",
            "listeners": f"PLAINTEXT://{s.host}:{s.port},CONTROLLER://{s.host}:{s.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{s.host}:{s.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        if s.sasl_ssl_port is not None:
            secure = f"SASL_SSL://{s.host}:{s.sasl_ssl_port}"
            lines["listeners"] += f",{secure}"
            lines["advertised.listeners"] += f",{secure}"
            lines["listener.security.protocol.map"] += ",SASL_SSL:SASL_SSL"
            lines |= {
                "sasl.enabled.mechanisms": "SCRAM-SHA-512",
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                ),
                "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
                "listener.name.sasl_ssl.ssl.keystore.location": str(s.ssl_keystore_pem),
            }
        path = self.home / "server.properties"
        path.write_text("".join(f"{key}={value}\n" for key, value in lines.items()))
        return path

    def _log4j_config(self) -> Path:
        path = self.home / "log4j2.yaml"
        path.write_text(
            "Configuration:\n"
            "  Appenders:\n"
            "    Console:\n"
            "      name: STDOUT\n"
            "      PatternLayout:\n"
            '        pattern: "[%d] %p %m (%c)%n"\n'
            "  Loggers:\n"
            "    Logger:\n"
            "      - name: org.apache.kafka\n"
            "        level: WARN\n"
            "      - name: kafka\n"
            "        level: WARN\n"
            "      - name: kafka.server.KafkaRaftServer\n"
            "        level: INFO\n"
            "    Root:\n"
            "      level: INFO\n"
            "      AppenderRef:\n"
            "        - ref: STDOUT\n"
        )
        return path

    def _format_storage(self, java: str, properties: Path) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = "-"
        while cluster_id.startswith("-"):  # StorageTool would read a leading "-" as an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        scram: list[str] = []
        password = self.settings.scram_password
        if self.settings.sasl_ssl_port is not None and password is not None:
            # The SCRAM user exists from the start (KRaft: the storage tool writes it).
            user = f"name={self.settings.scram_username},password={password.get_secret_value()}"
            scram = ["--add-scram", f"SCRAM-SHA-512=[{user}]"]
        result = subprocess.run(
            [java, "-cp", f"{self.lib_dir}/*", "kafka.tools.StorageTool", "format",
             "-t", cluster_id, "-c", str(properties), *scram],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            output = result.stdout + result.stderr
            if password is not None:
                output = output.replace(password.get_secret_value(), "********")
            raise BrokerError(f"formatting Kafka storage failed:\n{output}")

    # -- lifecycle -----------------------------------------------------------------------

    def _recorded_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def status(self) -> BrokerStatus:
        pid = self._recorded_pid()
        bootstrap = self.bootstrap
        version = self.version
        if self.info_file.exists():
            info = json.loads(self.info_file.read_text())
            bootstrap, version = info["bootstrap"], info["version"]
        host, port = bootstrap.rsplit(":", 1)
        return BrokerStatus(
            running=pid is not None and port_answers(host, int(port)),
            pid=pid,
            version=version,
            bootstrap=bootstrap,
            log_file=self.log_file,
        )

    def start(self) -> BrokerStatus:
        """Start the broker in the background and return once it accepts connections."""
        if self._recorded_pid() is not None:
            current = self.status()
            if current.running:
                return current
        s = self.settings
        java = self.check_java()
        for port in (s.port, s.controller_port, *([s.sasl_ssl_port] if s.sasl_ssl_port else [])):
            if port_answers(s.host, port):
                raise BrokerError(
                    f"port {s.host}:{port} is already in use by another program; stop it or "
                    f"choose other ports with {ENV_PREFIX}BROKER_PORT / "
                    f"{ENV_PREFIX}BROKER_CONTROLLER_PORT"
                )
        self.home.mkdir(parents=True, exist_ok=True)
        self.ensure_jars()
        properties = self._server_properties()
        self._format_storage(java, properties)
        log4j = self._log4j_config()
        command = [
            java, f"-Xmx{s.heap}", f"-Xms{s.heap}", "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp", f"{self.lib_dir}/*", "kafka.Kafka", str(properties),
        ]  # fmt: skip
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        self.pid_file.write_text(str(process.pid))
        self.info_file.write_text(
            json.dumps({"bootstrap": self.bootstrap, "version": self.version})
        )
        deadline = time.monotonic() + s.start_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BrokerError(
                    f"Kafka exited with status {process.returncode} during start-up; last log "
                    f"lines:\n{self._log_tail(log_offset)}"
                )
            if READY_LINE in self._log_tail(log_offset, limit=None) and port_answers(
                s.host, s.port
            ):
                return self.status()
            time.sleep(0.2)
        self.stop()
        raise BrokerError(
            f"Kafka did not become ready within {s.start_timeout_s:.0f}s; log tail:\n"
            f"{self._log_tail(log_offset)}"
        )

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after ``timeout_s``)."""
        pid = self._recorded_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _pid_alive(pid):
            _reap(pid)
            time.sleep(0.1)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _log_tail(self, offset: int, limit: int | None = 4000) -> str:
        try:
            with self.log_file.open("rb") as log:
                log.seek(offset)
                text = log.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return text if limit is None else text[-limit:]


def _reap(pid: int) -> None:
    """Collect the exit status of our own child so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
