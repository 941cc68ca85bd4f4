"""A private container engine for running the compose stack on this machine (dev tooling).

``python -m mediawatch.stack.engine up`` installs what is missing (Debian's ``docker.io``,
``debootstrap`` and ``iptables``; Compose v2 built from the Go module proxy, or Debian's
``docker-compose`` where that cannot be had), starts a ``containerd`` and a ``dockerd`` of
the project's own (socket, data root, bridge and address pools under ``.mediawatch/engine``)
and builds the stand-in base images that ``docker-compose.yml`` names but that cannot be
pulled here (``deploy/engine/images``). ``... down`` stops both daemons. No other daemon on
the machine is used or touched: the engine's containerd is its own, and so are its bridge
(``mwengine0``) and its networks (``10.213.0.0/16``).

The Python image stand-in, the Kafka image stand-in and the Prometheus and Alertmanager
stand-ins are built from a Debian bookworm root file system made with ``debootstrap`` once
and cached as a tarball, so later runs import it again in seconds. Every step that fails
raises :class:`EngineError` naming the step ("debootstrap failed: ...").

This needs root and a checkout (the Dockerfiles of the stand-ins live in ``deploy/engine``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mediawatch.stack.broker import builtin_pom, kafka_version_of

COMPOSE_MODULE = "github.com/docker/compose/v2/cmd"
COMPOSE_VERSION = "v2.29.7"
DEBIAN_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
BASE_IMAGE = "mediawatch-engine/bookworm:base"
#: Label of a stand-in image: the digest of the definition it was built from.
DIGEST_LABEL = "org.mediawatch.stand-in.digest"
BRIDGE = "mwengine0"
BRIDGE_ADDRESS = "10.213.0.1/24"
ADDRESS_POOL = "base=10.213.16.0/20,size=24"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
#: The stand-ins: image name in docker-compose.yml -> directory under deploy/engine/images.
STAND_INS = {
    "python:3.11-slim": "python",
    "apache/kafka:4.4.0": "kafka",
    "prom/prometheus:v3.5.0": "prometheus",
    "prom/alertmanager:v0.28.1": "alertmanager",
    "postgres:15-bookworm": "postgres",
}
#: Debian packages that provide the engine's commands.
ENGINE_PACKAGES = {
    "dockerd": "docker.io",
    "containerd": "docker.io",
    "docker": "docker.io",
    "debootstrap": "debootstrap",
    "iptables": "iptables",
}


class EngineError(RuntimeError):
    """A step of the engine set-up failed; the message names the step."""


def _run(
    step: str,
    command: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
) -> str:
    """Run ``command``; on failure raise :class:`EngineError` naming ``step``."""
    try:
        result = subprocess.run(
            [str(part) for part in command],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise EngineError(f"{step} failed: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise EngineError(f"{step} failed: no end after {timeout:.0f} s") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-4000:]
        raise EngineError(f"{step} failed (exit {result.returncode}): {output}")
    return result.stdout


def repository_root(start: Path | None = None) -> Path:
    """The checkout that holds ``deploy/engine`` (from ``start``, default the working dir)."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "deploy" / "engine" / "images").is_dir() and (
            candidate / "docker-compose.yml"
        ).is_file():
            return candidate
    raise EngineError(f"no mediawatch checkout (deploy/engine/images) at or above {here}")


@dataclass
class Timings:
    """Seconds per step of the last :meth:`Engine.up`, for reports."""

    steps: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.steps[name] = round(time.monotonic() - started, 1)


class Engine:
    """The project's private containerd + dockerd, and the stand-in images."""

    def __init__(
        self,
        repository: Path | None = None,
        state_dir: Path | None = None,
        mirror: str | None = None,
    ) -> None:
        self.repository = repository_root(repository)
        self.mirror = mirror or self._host_mirror()
        self.state = (state_dir or self.repository / ".mediawatch" / "engine").resolve()
        self.cache = self.state / "cache"
        self.run_dir = self.state / "run"
        self.socket = self.run_dir / "docker.sock"
        self.containerd_socket = self.run_dir / "containerd.sock"
        self.docker_config = self.state / "docker-config"
        self.timings = Timings()
        self.compose_kind = "none"

    # -- environment ---------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        """The environment for docker and compose clients talking to this engine."""
        env = dict(os.environ)
        env.update(
            DOCKER_HOST=f"unix://{self.socket}",
            DOCKER_CONFIG=str(self.docker_config),
            # The classic builder: BuildKit would fetch the Dockerfile frontend named by
            # "# syntax=" from a registry, and no registry can be reached here.
            DOCKER_BUILDKIT="0",
            COMPOSE_DOCKER_CLI_BUILD="0",
        )
        return env

    def compose_command(self) -> list[str]:
        """``docker compose`` (v2, the project's plugin) or Debian's ``docker-compose``."""
        if (self.docker_config / "cli-plugins" / "docker-compose").exists():
            return ["docker", "compose"]
        legacy = shutil.which("docker-compose")
        if legacy:
            return [legacy]
        raise EngineError("compose not found: run `python -m mediawatch.stack.engine up`")

    def docker(self, *args: str, step: str, timeout: float | None = None) -> str:
        return _run(step, ["docker", *args], env=self.environment(), timeout=timeout)

    # -- installation --------------------------------------------------------------------
    def install(self) -> None:
        missing = sorted({pkg for cmd, pkg in ENGINE_PACKAGES.items() if not shutil.which(cmd)})
        if missing:
            if os.geteuid() != 0:
                raise EngineError(f"installing {' '.join(missing)} failed: not root")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            _run("apt-get update", ["apt-get", "update", "-qq"], env=env)
            _run(
                f"apt-get install {' '.join(missing)}",
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                env=env,
            )
        self.install_compose()

    def install_compose(self) -> None:
        """Compose v2 as a CLI plugin of the engine's own DOCKER_CONFIG, built with Go."""
        plugin = self.docker_config / "cli-plugins" / "docker-compose"
        if plugin.exists():
            self.compose_kind = f"compose {COMPOSE_VERSION} (Go module proxy)"
            return
        go = shutil.which("go") or (
            "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
        )
        problem = "go not found"
        if go:
            self.cache.mkdir(parents=True, exist_ok=True)
            gobin = self.cache / "gobin"
            env = dict(os.environ, GOBIN=str(gobin), GOFLAGS="-mod=mod")
            try:
                _run(
                    f"go install {COMPOSE_MODULE}@{COMPOSE_VERSION}",
                    [go, "install", f"{COMPOSE_MODULE}@{COMPOSE_VERSION}"],
                    env=env,
                    cwd=self.cache,
                    timeout=1800,
                )
            except EngineError as exc:
                problem = str(exc)
            else:
                plugin.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(gobin / "cmd", plugin)
                self.compose_kind = f"compose {COMPOSE_VERSION} (Go module proxy)"
                return
        print(f"compose v2 could not be built ({problem}); using Debian's docker-compose")
        if not shutil.which("docker-compose"):
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            _run(
                "apt-get install docker-compose",
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker-compose"],
                env=env,
            )
        self.compose_kind = "docker-compose (Debian package, v1)"

    # -- daemons -------------------------------------------------------------------------
    def _pid(self, name: str) -> int | None:
        try:
            pid = int((self.run_dir / f"{name}.pid").read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def running(self) -> bool:
        if self._pid("dockerd") is None or not self.socket.exists():
            return False
        try:
            self.docker("version", "--format", "{{.Server.Version}}", step="docker version")
        except EngineError:
            return False
        return True

    def _bridge(self) -> None:
        probe = subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True, check=False)
        if probe.returncode == 0:
            return
        _run("creating the bridge", ["ip", "link", "add", BRIDGE, "type", "bridge"])
        _run("addressing the bridge", ["ip", "addr", "add", BRIDGE_ADDRESS, "dev", BRIDGE])
        _run("raising the bridge", ["ip", "link", "set", BRIDGE, "up"])

    def _spawn(self, name: str, command: list[str]) -> int:
        log = (self.state / "logs" / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        (self.run_dir / f"{name}.pid").write_text(str(process.pid))
        return process.pid

    def _wait(self, name: str, ready: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._pid(name) is None:
                raise EngineError(f"starting {name} failed: it exited; {self._log_tail(name)}")
            if ready.exists():
                return
            time.sleep(0.2)
        raise EngineError(f"starting {name} failed: not ready in {timeout:.0f} s")

    def _log_tail(self, name: str) -> str:
        path = self.state / "logs" / f"{name}.log"
        try:
            return "log: " + "".join(path.read_text(errors="replace").splitlines(True)[-20:])
        except OSError:
            return "no log"

    def start(self) -> None:
        if self.running():
            return
        if os.geteuid() != 0:
            raise EngineError("starting dockerd failed: it needs root")
        for directory in (self.run_dir, self.state / "logs", self.state / "data"):
            directory.mkdir(parents=True, exist_ok=True)
        self._bridge()
        if self._pid("containerd") is None:
            config = self.state / "containerd.toml"
            config.write_text(
                "version = 2\n"
                f'root = "{self.state / "containerd"}"\n'
                f'state = "{self.run_dir / "containerd-state"}"\n'
                'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                "[grpc]\n"
                f'  address = "{self.containerd_socket}"\n'
                "[ttrpc]\n"
                f'  address = "{self.containerd_socket}.ttrpc"\n'
                "[debug]\n"
                '  address = ""\n'
                "[metrics]\n"
                '  address = ""\n'
            )
            self.containerd_socket.unlink(missing_ok=True)
            self._spawn("containerd", ["containerd", "--config", str(config)])
            self._wait("containerd", self.containerd_socket, 30)
        self.socket.unlink(missing_ok=True)
        self._spawn(
            "dockerd",
            [
                "dockerd",
                "--host", f"unix://{self.socket}",
                "--containerd", str(self.containerd_socket),
                "--data-root", str(self.state / "data"),
                "--exec-root", str(self.run_dir / "exec"),
                "--pidfile", str(self.run_dir / "dockerd.real.pid"),
                "--storage-driver", "overlay2",
                "--bridge", BRIDGE,
                "--default-address-pool", ADDRESS_POOL,
                "--iptables=true",
                "--ip6tables=false",
            ],
        )  # fmt: skip
        self._wait("dockerd", self.socket, 60)
        deadline = time.monotonic() + 60
        while not self.running():
            if time.monotonic() > deadline or self._pid("dockerd") is None:
                raise EngineError(f"starting dockerd failed: {self._log_tail('dockerd')}")
            time.sleep(0.5)

    def stop(self, timeout: float = 30) -> None:
        for name in ("dockerd", "containerd"):
            pid = self._pid(name)
            if pid is None:
                continue
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self._pid(name) is not None and time.monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                time.sleep(0.2)
            if self._pid(name) is not None:
                os.kill(pid, signal.SIGKILL)
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)

    # -- images --------------------------------------------------------------------------
    @staticmethod
    def _host_mirror() -> str:
        """The Debian mirror the host's apt uses (first ``URIs:`` or ``deb`` line)."""
        sources = [
            Path("/etc/apt/sources.list"),
            *sorted(Path("/etc/apt/sources.list.d").glob("*")),
        ]
        for path in sources:
            if path.suffix not in {"", ".list", ".sources"} or not path.is_file():
                continue
            for line in path.read_text(errors="replace").splitlines():
                words = line.split()
                uris = len(words) >= 2 and words[0] == "URIs:" and "debian" in words[1]
                if uris and "security" not in words[1]:
                    return words[1]
                if len(words) >= 3 and words[0] == "deb" and "debian" in words[1]:
                    return words[1]
        return DEFAULT_MIRROR

    def base_rootfs(self) -> Path:
        """The debootstrap'd bookworm as a tarball, made once and cached."""
        tarball = self.cache / f"{DEBIAN_SUITE}-minbase.tar"
        if tarball.exists():
            return tarball
        self.cache.mkdir(parents=True, exist_ok=True)
        rootfs = self.cache / "rootfs.partial"
        shutil.rmtree(rootfs, ignore_errors=True)
        _run(
            "debootstrap",
            ["debootstrap", "--variant=minbase", DEBIAN_SUITE, rootfs, self.mirror],
            timeout=1800,
        )
        self._seed_rootfs(rootfs)
        partial = tarball.with_suffix(".tar.partial")
        with tarfile.open(partial, "w") as archive:
            for entry in sorted(rootfs.iterdir()):
                archive.add(entry, arcname=entry.name)
        partial.rename(tarball)
        shutil.rmtree(rootfs, ignore_errors=True)
        return tarball

    def _seed_rootfs(self, rootfs: Path) -> None:
        """What every stand-in needs to reach the registries the host reaches: the host's CA
        bundle, its pip configuration, its apt sources and apt settings."""
        for cached in (rootfs / "var" / "cache" / "apt" / "archives").glob("*.deb"):
            cached.unlink()
        shutil.rmtree(rootfs / "var" / "lib" / "apt" / "lists", ignore_errors=True)
        (rootfs / "var" / "lib" / "apt" / "lists" / "partial").mkdir(parents=True)
        copies = [HOST_CA_BUNDLE, Path("/etc/pip.conf")]
        sources = Path("/etc/apt/sources.list.d")
        copies += [p for p in sources.glob("*.sources") if p.is_file()]
        copies += [p for p in sources.glob("*.list") if p.is_file()]
        for conf in sorted(Path("/etc/apt/apt.conf.d").glob("*")):
            text = conf.read_text(errors="replace") if conf.is_file() else ""
            if "Acquire::" in text:  # proxies, validity checks: how the host reaches mirrors
                copies.append(conf)
        for source in copies:
            if not source.is_file():
                continue
            target = rootfs / source.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        if any(sources.glob("*.sources")):
            (rootfs / "etc" / "apt" / "sources.list").unlink(missing_ok=True)
        # apt in a container without its sandbox user's setup stays quiet and works.
        (rootfs / "etc" / "apt" / "apt.conf.d" / "99mediawatch-engine").write_text(
            'APT::Install-Recommends "false";\nAPT::Sandbox::User "root";\n'
        )

    def stand_in_digest(self, directory: str) -> str:
        """A digest of a stand-in's definition (its directory's files, and the Kafka version
        for Kafka): an image built from another definition is built again."""
        source = self.repository / "deploy" / "engine" / "images" / directory
        digest = hashlib.sha256(kafka_version_of(builtin_pom()).encode())
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            digest.update(path.relative_to(source).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
        return digest.hexdigest()[:16]

    def image_digest(self, name: str) -> str | None:
        """The stand-in digest label of image ``name``; None when there is no such image."""
        result = subprocess.run(
            ["docker", "image", "inspect", "--format",
             f'{{{{ index .Config.Labels "{DIGEST_LABEL}" }}}}', name],
            capture_output=True, text=True, env=self.environment(), check=False,
        )  # fmt: skip
        return result.stdout.strip() if result.returncode == 0 else None

    def image_exists(self, name: str) -> bool:
        result = subprocess.run(
            ["docker", "image", "inspect", name],
            capture_output=True,
            env=self.environment(),
            check=False,
        )
        return result.returncode == 0

    def kafka_libs(self) -> Path:
        """The jars of the project's pom plus kafka-tools, copied by Maven once."""
        pom = builtin_pom()
        version = kafka_version_of(pom)
        libs = self.cache / f"kafka-{version}-libs"
        if (libs / ".complete").exists():
            return libs
        libs.mkdir(parents=True, exist_ok=True)
        tools_pom = self.repository / "deploy" / "engine" / "images" / "kafka" / "tools-pom.xml"
        if kafka_version_of(tools_pom) != version:
            raise EngineError(f"Maven jars failed: {tools_pom} is not Kafka {version}")
        for which in (pom, tools_pom):
            _run(
                f"Maven jars ({which.name})",
                ["mvn", "--batch-mode", "--quiet", "--file", which,
                 "dependency:copy-dependencies", f"-DoutputDirectory={libs}",
                 "-DincludeScope=runtime"],
                timeout=1800,
            )  # fmt: skip
        (libs / ".complete").write_text(version)
        return libs

    def _context(self, directory: str) -> Path:
        """The build context of one stand-in: its directory, the host's CA bundle and, for
        Kafka, the jars."""
        source = self.repository / "deploy" / "engine" / "images" / directory
        context = self.state / "contexts" / directory
        shutil.rmtree(context, ignore_errors=True)
        shutil.copytree(source, context, symlinks=True)
        shutil.copy2(HOST_CA_BUNDLE, context / "host-ca-bundle.crt")
        if directory == "kafka":
            shutil.copytree(
                self.kafka_libs(), context / "libs", ignore=shutil.ignore_patterns(".*")
            )
        return context

    def build_images(self, rebuild: bool = False) -> None:
        if rebuild or not self.image_exists(BASE_IMAGE):
            tarball = self.base_rootfs()
            with self.timings.step("import base"):
                self.docker("import", str(tarball), BASE_IMAGE, step="docker import", timeout=600)
        for name, directory in STAND_INS.items():
            digest = self.stand_in_digest(directory)
            if not rebuild and self.image_digest(name) == digest:
                continue
            with self.timings.step(f"build {name}"):
                context = self._context(directory)
                self.docker(
                    "build", "--tag", name, "--label", f"{DIGEST_LABEL}={digest}", str(context),
                    step=f"building {name}", timeout=1800,
                )  # fmt: skip

    def up(self) -> None:
        """Install, start and build: the engine ready for ``docker compose up``."""
        with self.timings.step("install"):
            self.install()
        with self.timings.step("start"):
            self.start()
        with self.timings.step("base rootfs"):
            self.base_rootfs()
        with self.timings.step("stand-in images"):
            self.build_images()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mediawatch.stack.engine",
        description="The project's private container engine (see docs/deploy.md).",
    )
    parser.add_argument("action", choices=["up", "down", "status", "env", "images"])
    parser.add_argument("--rebuild", action="store_true", help="Build the stand-ins again.")
    args = parser.parse_args(argv)
    engine = Engine()
    try:
        if args.action == "up":
            engine.up()
            print(json.dumps({"socket": str(engine.socket), "timings": engine.timings.steps}))
        elif args.action == "images":
            engine.start()
            engine.build_images(rebuild=args.rebuild)
            print(json.dumps(engine.timings.steps))
        elif args.action == "down":
            engine.stop()
        elif args.action == "status":
            print("running" if engine.running() else "stopped")
            return 0 if engine.running() else 1
        else:
            env = engine.environment()
            for key in (
                "DOCKER_HOST",
                "DOCKER_CONFIG",
                "DOCKER_BUILDKIT",
                "COMPOSE_DOCKER_CLI_BUILD",
            ):
                print(f"export {key}={env[key]}")
    except EngineError as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
