"""``mediawatch up``: the whole stack on one machine, on the sample corpus, in one command.

Order of start: the project's Kafka broker (unless ``--no-broker``), the topics, the sample
feed server, then the fetcher, tagger, alerter, archiver and API as supervised child
processes. One SIGINT
or SIGTERM (or the end of ``--duration``) stops them in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from mediawatch.runtime.auth import Role, TokensFile
from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import ENV_PREFIX, KafkaSettings, load_settings
from mediawatch.schemas import Alert
from mediawatch.stack.broker import BrokerError, BrokerSettings, LocalKafka
from mediawatch.stack.feed import SampleFeedServer
from mediawatch.stack.monitor import COUNTED_ROLES, PipelineMonitor, format_alert
from mediawatch.stack.samples import SAMPLES_DIR, load_manifest, write_sources_file
from mediawatch.stack.services import (
    SERVICES,
    default_http_port,
    mediawatch_command,
    settings_class,
)
from mediawatch.stack.supervisor import ChildSpec, Supervisor


class UpError(RuntimeError):
    """The stack could not be started; the message says what to do."""


@dataclass(frozen=True)
class UpOptions:
    state_dir: Path = Path(".mediawatch")
    broker: bool = True
    duration_s: float | None = None
    feed: bool = True
    feed_host: str = "127.0.0.1"
    feed_port: int = 8090
    port_offset: int = 0
    stop_timeout_s: float = 15.0
    live: bool = True


def child_environment(
    service: str, bootstrap: str, state_dir: Path, http_port: int
) -> dict[str, str]:
    """MEDIAWATCH_* variables of one child; what the user exported is kept unless it would
    make the services collide (ports, state directories)."""
    env = {
        f"{ENV_PREFIX}KAFKA_BOOTSTRAP": bootstrap,
        f"{ENV_PREFIX}HTTP_PORT": str(http_port),
        f"{ENV_PREFIX}STATE_DIR": str((state_dir / "services" / service).resolve()),
        f"{ENV_PREFIX}SERVICE_NAME": service,
        f"{ENV_PREFIX}LOG_FORMAT": os.environ.get(f"{ENV_PREFIX}LOG_FORMAT", "text"),
    }
    entry = next(e for e in SERVICES if e.name == service)
    cls = settings_class(entry)
    fields = cls.model_fields if cls is not None else {}
    # The sample desk's own actors (think tanks and analysts the samples cite); themes and
    # rules are the services' built-in defaults.
    defaults = {"actors_file": SAMPLES_DIR / "actors.yaml"}
    for name, path in defaults.items():
        variable = f"{ENV_PREFIX}{name.upper()}"
        if name in fields and variable not in os.environ and path.exists():
            env[variable] = str(path)
    # One tokens file for the services (the one `up` writes its token to); the sample
    # feed server is on loopback, which the fetcher refuses unless allowed.
    local = {
        "api_tokens_file": str(tokens_file(state_dir).resolve()),
        "fetch_allow": LOCAL_FETCH_ALLOW,
        # The archiver writes the archive the API reads: one file for both.
        "archive_path": str(archive_file(state_dir).resolve()),
        # One rules file that the workspace's editor writes and the alerter reloads.
        "rules_file": str(rules_file(state_dir).resolve()),
    }
    for name, value in local.items():
        variable = f"{ENV_PREFIX}{name.upper()}"
        if name in fields and variable not in os.environ:
            env[variable] = value
    # An exported MEDIAWATCH_APP_ID names the stack: each stream service gets its own id
    # under it, so that two stacks on one broker share no consumer group, table changelog
    # or internal topic (and the tagger and the alerter never share one).
    stack_id = os.environ.get(f"{ENV_PREFIX}APP_ID")
    if stack_id and "app_id" in fields:
        env[f"{ENV_PREFIX}APP_ID"] = f"{stack_id}-{service}"
    return env


#: What `mediawatch up` lets the fetcher connect to beside public addresses: loopback,
#: where the sample feed server listens.
LOCAL_FETCH_ALLOW = "127.0.0.0/8"


def push_example(port: int, token: str) -> str:
    """The curl command that pushes one article to the fetcher with ``token``."""
    return (
        f"curl -X POST http://127.0.0.1:{port}/v1/articles "
        f"-H 'Authorization: Bearer {token}' "
        """-d '{"title": "...", "text": "..."}'"""
    )


def archive_file(state_dir: Path) -> Path:
    return state_dir / "archive.sqlite3"


def rules_file(state_dir: Path) -> Path:
    """The stack's rules file: a copy of the built-in rules on the first start, so that the
    workspace edits the stack's rules and never the installed package's."""
    return state_dir / "rules.yaml"


def seed_rules_file(state_dir: Path) -> None:
    target = rules_file(state_dir)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        built_in = resources.files("mediawatch.alerter") / "data" / "rules.yaml"
        target.write_bytes(built_in.read_bytes())


def search_example(port: int, token: str) -> str:
    """The curl command that searches the archive through the API with ``token``."""
    return (
        f"curl -G http://127.0.0.1:{port}/v1/articles -H 'Authorization: Bearer {token}' "
        """--data-urlencode 'q="indivisible security"'"""
    )


def tokens_file(state_dir: Path) -> Path:
    """The tokens file of the stack: MEDIAWATCH_API_TOKENS_FILE, else in the state dir."""
    exported = os.environ.get(f"{ENV_PREFIX}API_TOKENS_FILE")
    return Path(exported) if exported else state_dir / "tokens.json"


def child_specs(
    options: UpOptions, bootstrap: str, sources_file: Path, viewer_token: str | None = None
) -> tuple[list[ChildSpec], dict[str, int]]:
    logs = options.state_dir / "logs"
    base = mediawatch_command()
    specs, ports = [], {}
    for entry in SERVICES:
        port = default_http_port(entry) + options.port_offset
        ports[entry.name] = port
        argv = [*base, *entry.command]
        if entry.name == "fetcher":
            argv += ["--sources", str(sources_file.resolve())]
        env = child_environment(entry.name, bootstrap, options.state_dir, port)
        if entry.name == "api" and "fetcher" in ports:  # the workspace's sources view
            wired = {"FETCHER_URLS": f"http://127.0.0.1:{ports['fetcher']}",
                     "FETCHER_TOKEN": viewer_token}  # fmt: skip
            for name, value in wired.items():
                if value is not None and f"{ENV_PREFIX}{name}" not in os.environ:
                    env[f"{ENV_PREFIX}{name}"] = value
        specs.append(ChildSpec(entry.name, argv, logs / f"{entry.name}.log", env))
    return specs, ports


class Stack:
    def __init__(self, options: UpOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self.kafka: LocalKafka | None = None
        self.kafka_was_running = False
        self.feed: SampleFeedServer | None = None
        self.supervisor: Supervisor | None = None
        self.monitor: PipelineMonitor | None = None
        self.ports: dict[str, int] = {}
        self.stop_event = asyncio.Event()
        self.push_token: tuple[str, str] | None = None  # (id, token) of this run's token
        self.api_token: tuple[str, str] | None = None  # (id, token): viewer, for the API

    # -- start ---------------------------------------------------------------------------

    async def _start_broker(self) -> str:
        if not self.options.broker:
            return load_settings(KafkaSettings).kafka_bootstrap
        self.kafka = LocalKafka(BrokerSettings(state_dir=self.options.state_dir))
        self.kafka_was_running = self.kafka.status().running
        with self.console.status(f"starting Kafka {self.kafka.version} ..."):
            status = await asyncio.to_thread(self.kafka.start)
        verb = "already running" if self.kafka_was_running else "started"
        self.console.print(f"Kafka {status.version} {verb} at [bold]{status.bootstrap}[/bold]")
        return status.bootstrap

    async def start(self) -> None:
        options = self.options
        state = options.state_dir
        state.mkdir(parents=True, exist_ok=True)
        try:
            bootstrap = await self._start_broker()
        except BrokerError as exc:
            raise UpError(f"the Kafka broker could not start: {exc}") from exc
        settings = load_settings(KafkaSettings, kafka_bootstrap=bootstrap)
        with self.console.status("ensuring topics ..."):
            created = await ensure_topics(settings)
        if created:
            self.console.print(f"created topics: {', '.join(sorted(created))}")

        from mediawatch.stack.samples import fill_inbox

        inbox = state / "inbox"
        copied = fill_inbox(inbox)
        if copied:
            self.console.print(f"inbox {inbox} filled with {len(copied)} sample articles")
        feed_url = None
        if options.feed:
            self.feed = SampleFeedServer(options.feed_host, options.feed_port)
            try:
                await self.feed.start()
            except OSError as exc:
                raise UpError(
                    f"the sample feed server cannot listen on {options.feed_host}:"
                    f"{options.feed_port}: {exc}; choose another port with --feed-port"
                ) from exc
            feed_url = self.feed.base_url
        sources_file = write_sources_file(
            state / "sources.yaml", load_manifest(), inbox.resolve(), feed_url
        )
        record, token = TokensFile(tokens_file(state)).create(Role.INGEST)
        self.push_token = (record.token_id, token)
        record, token = TokensFile(tokens_file(state)).create(Role.VIEWER)
        self.api_token = (record.token_id, token)
        seed_rules_file(state)
        specs, self.ports = child_specs(options, bootstrap, sources_file, token)
        self.supervisor = Supervisor(
            specs, stop_timeout_s=options.stop_timeout_s, notify=self._notice
        )
        await self.supervisor.start()
        self.monitor = PipelineMonitor(settings, on_alert=self._alert)
        await self.monitor.start()
        self._where(bootstrap, sources_file, feed_url)

    def _notice(self, message: str) -> None:
        self.console.print(f"[yellow]{message}[/yellow]")

    def _alert(self, alert: Alert) -> None:
        colour = {"critical": "red", "high": "red", "warning": "yellow"}.get(
            str(alert.severity), "cyan"
        )
        self.console.print(f"[{colour}]{escape(format_alert(alert))}[/{colour}]")

    def _where(self, bootstrap: str, sources_file: Path, feed_url: str | None) -> None:
        table = Table(title="mediawatch is up", show_header=False, box=None)
        table.add_row("Kafka", bootstrap)
        for name, port in self.ports.items():
            table.add_row(f"{name} metrics", f"http://127.0.0.1:{port}/metrics")
        if feed_url:
            table.add_row("sample feeds", f"{feed_url}/feed.xml")
        table.add_row("sources file", str(sources_file))
        table.add_row("inbox", f"{self.options.state_dir / 'inbox'} (drop .txt files here)")
        table.add_row("logs", str(self.options.state_dir / "logs"))
        table.add_row(
            "alerts",
            f"{ENV_PREFIX}KAFKA_BOOTSTRAP={bootstrap} mediawatch alerts tail",
        )
        if self.push_token is not None:
            token_id, token = self.push_token
            table.add_row("push token", f"{token} (ingest, id {token_id}; revoked at stop)")
        if self.api_token is not None:
            token_id, token = self.api_token
            table.add_row(
                "workspace", f"http://127.0.0.1:{self.ports['api']}/ (log in with the API token)"
            )
            table.add_row("API", f"http://127.0.0.1:{self.ports['api']}/v1/openapi.json")
            table.add_row("API token", f"{token} (viewer, id {token_id}; revoked at stop)")
        self.console.print(table)
        if self.api_token is not None:
            self.console.print(
                "search the archive: " + search_example(self.ports["api"], self.api_token[1]),
                markup=False,
                soft_wrap=True,  # one line, to copy
            )
        if self.push_token is not None:
            self.console.print(
                "push an article: " + push_example(self.ports["fetcher"], self.push_token[1]),
                markup=False,
                soft_wrap=True,
            )
        self.console.print("Press Ctrl-C to stop.")

    # -- progress ------------------------------------------------------------------------

    def render(self) -> Group:
        services = Table(box=None)
        for column in ("service", "pid", "restarts", "state"):
            services.add_column(column)
        if self.supervisor is not None:
            for child in self.supervisor.children:
                services.add_row(
                    child.spec.name,
                    str(child.pid or "-"),
                    str(child.restarts),
                    "[green]running[/green]" if child.running else "[red]down[/red]",
                )
        counts = Table(box=None)
        counts.add_column("pipeline")
        counts.add_column("since start", justify="right")
        counts.add_column("on topic", justify="right")
        state = self.monitor.counts if self.monitor else None
        for role, label in COUNTED_ROLES.items():
            run = state.run.get(role) if state else None
            total = state.total.get(role) if state else None
            counts.add_row(
                label, "-" if run is None else str(run), "-" if total is None else str(total)
            )
        if state and state.error and not state.connected:
            counts.caption = f"Kafka: {state.error}"
        return Group(services, counts)

    # -- stop ----------------------------------------------------------------------------

    async def stop(self) -> None:
        self.console.print("stopping ...")
        for what, held in (("push token", self.push_token), ("API token", self.api_token)):
            if held is not None:
                TokensFile(tokens_file(self.options.state_dir)).revoke(held[0])
                self.console.print(f"  {what} {held[0]}: revoked")
        if self.monitor is not None:
            await self.monitor.stop()
        if self.supervisor is not None:
            outcome = await self.supervisor.stop()
            for name, how in outcome.items():
                self.console.print(f"  {name}: {how}")
        if self.feed is not None:
            await self.feed.stop()
            self.console.print("  sample feed server: stopped")
        if self.kafka is not None:
            if self.kafka_was_running:
                self.console.print("  Kafka: left running (it was running before `up`)")
            else:
                stopped = await asyncio.to_thread(self.kafka.stop)
                self.console.print(f"  Kafka: {'stopped' if stopped else 'was not running'}")
        self.console.print("mediawatch stopped.")


async def run_up(options: UpOptions, console: Console | None = None) -> int:
    console = console or Console()
    stack = Stack(options, console)
    loop = asyncio.get_running_loop()
    received: list[str] = []

    def on_signal(signum: signal.Signals) -> None:
        received.append(signum.name)
        stack.stop_event.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    started = time.monotonic()
    try:
        try:
            await stack.start()
        except UpError as exc:
            console.print(f"[red]mediawatch up failed:[/red] {exc}")
            return 1
        deadline = None if options.duration_s is None else started + options.duration_s
        live = Live(stack.render(), console=console, refresh_per_second=2, transient=True)
        with live if options.live and console.is_terminal else contextlib.nullcontext():
            while not stack.stop_event.is_set():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                wait = 0.5 if remaining is None else min(0.5, remaining)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stack.stop_event.wait(), timeout=wait)
                if options.live and console.is_terminal:
                    live.update(stack.render())
        reason = f"received {received[0]}" if received else "duration reached"
        console.print(f"{reason}; ", end="")
        console.print(stack.render())
        return 0
    finally:
        await stack.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
