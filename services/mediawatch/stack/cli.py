"""Stack commands: ``mediawatch up``, ``mediawatch topics ensure``,
``mediawatch samples serve`` and ``mediawatch secure init``."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import typer
from rich.console import Console

console = Console()
errors = Console(stderr=True)

topics_app = typer.Typer(help="The topic catalogue on a Kafka cluster.", no_args_is_help=True)
samples_app = typer.Typer(help="The sample corpus (package data).", no_args_is_help=True)
secure_app = typer.Typer(
    help="Kafka over TLS with SCRAM for the secured compose override.", no_args_is_help=True
)


def up(
    no_broker: bool = typer.Option(
        False, "--no-broker", help="Use the Kafka at MEDIAWATCH_KAFKA_BOOTSTRAP instead."
    ),
    duration: float | None = typer.Option(
        None, "--duration", min=0.0, help="Stop by itself after this many seconds."
    ),
    state_dir: Path = typer.Option(
        Path(".mediawatch"), "--state-dir", help="Broker data, inbox, sources, logs."
    ),
    feed_port: int = typer.Option(
        8090, "--feed-port", min=0, max=65535, help="Port of the sample feed server (0: any)."
    ),
    no_feed: bool = typer.Option(False, "--no-feed", help="Do not serve the sample feeds."),
    port_offset: int = typer.Option(
        0, "--port-offset", min=0, help="Added to the services' HTTP ports (8081-8083)."
    ),
    stop_timeout: float = typer.Option(
        15.0, "--stop-timeout", min=0.0, help="Seconds between SIGTERM and SIGKILL."
    ),
) -> None:
    """Start Kafka, the sample feeds, the fetcher, tagger and alerter; Ctrl-C stops all."""
    from mediawatch.stack.up import UpOptions, run_up

    options = UpOptions(
        state_dir=state_dir,
        broker=not no_broker,
        duration_s=duration,
        feed=not no_feed,
        feed_port=feed_port,
        port_offset=port_offset,
        stop_timeout_s=stop_timeout,
    )
    code = asyncio.run(run_up(options, console))
    if code:
        raise typer.Exit(code)


@topics_app.command("ensure")
def topics_ensure(
    timeout: float = typer.Option(
        120.0, "--timeout", min=1.0, help="Wait this long for Kafka to answer."
    ),
) -> None:
    """Create every catalogue topic that is missing (MEDIAWATCH_* settings); idempotent."""
    from mediawatch.runtime.kafka import ensure_topics
    from mediawatch.runtime.settings import KafkaSettings, SettingsError, load_settings

    try:
        settings = load_settings(KafkaSettings)
    except SettingsError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    try:
        created = asyncio.run(ensure_topics(settings, timeout_s=timeout))
    except Exception as exc:
        errors.print(f"[red]topics ensure failed:[/red] {exc}")
        raise typer.Exit(1) from None
    if created:
        console.print(f"created: {', '.join(sorted(created))}")
    else:
        console.print(f"all topics exist on {settings.kafka_bootstrap}")


@samples_app.command("serve")
def samples_serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8090, "--port", min=0, max=65535),
    public_url: str | None = typer.Option(
        None, "--public-url", help="Base of the links in feeds, e.g. http://samples:8090."
    ),
    samples_dir: Path | None = typer.Option(
        None, "--samples-dir", help="Directory with manifest.yaml and articles/."
    ),
) -> None:
    """Serve the sample corpus as RSS feeds and HTML pages until Ctrl-C."""
    from mediawatch.stack.feed import SampleFeedServer
    from mediawatch.stack.samples import SAMPLES_DIR

    directory = samples_dir or SAMPLES_DIR

    async def serve() -> None:
        server = SampleFeedServer(
            host,
            port,
            manifest_file=directory / "manifest.yaml",
            articles_dir=directory / "articles",
            public_url=public_url,
        )
        await server.start()
        console.print(f"serving {server.base_url}/feed.xml (Ctrl-C stops)")
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # a container stop is as clean as a Ctrl-C
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        console.print("stopped")


@secure_app.command("init")
def secure_init(
    out: Path = typer.Option(
        Path(".mediawatch/secure"),
        "--out",
        help="Folder for the CA, the broker keystore and the credentials "
        "(compose reads MEDIAWATCH_SECURE_DIR, by default this one).",
    ),
    hosts: list[str] | None = typer.Option(
        None,
        "--host",
        help="A name or address the broker is reached by (repeat it); by default kafka, "
        "localhost and 127.0.0.1, as compose reaches it.",
    ),
    days: int = typer.Option(825, "--days", min=1, help="Validity of the certificates."),
    username: str = typer.Option("mediawatch", "--username", help="The SCRAM user."),
    force: bool = typer.Option(False, "--force", help="Replace material already there."),
) -> None:
    """Write a private CA, the broker's certificate and keystore, and a SCRAM user with a
    random password, for `docker compose -f docker-compose.yml -f
    deploy/secure/compose.secure.yaml up`."""
    from mediawatch.stack.secure import COMPOSE_BROKER_HOSTS, SecureInitError, init_secure_dir

    names = hosts or list(COMPOSE_BROKER_HOSTS)
    try:
        written = init_secure_dir(out, hosts=names, days=days, username=username, force=force)
    except (SecureInitError, OSError) as exc:
        errors.print(f"[red]secure init failed:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    for path in written:
        console.print(f"wrote {path}", soft_wrap=True)
    console.print(
        "next: docker compose -f docker-compose.yml -f deploy/secure/compose.secure.yaml "
        "up -d --build",
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.add_typer(topics_app, name="topics")
    app.add_typer(samples_app, name="samples")
    app.add_typer(secure_app, name="secure")
