"""The broker a benchmark starts when it is given no ``--bootstrap``: the project's own
LocalKafka on free ports, with state of its own and the checkout's jar cache (as the test
suite uses), so no benchmark downloads Kafka again."""

from __future__ import annotations

from pathlib import Path

from mediawatch.stack.broker import BrokerSettings, LocalKafka, free_port

REPOSITORY = Path(__file__).resolve().parents[1]


def start_local_broker(state_dir: Path) -> LocalKafka:
    """A started broker keeping its state in ``state_dir``; the caller stops it."""
    kafka = LocalKafka(
        BrokerSettings(
            state_dir=state_dir,
            port=free_port(),
            controller_port=free_port(),
            jar_cache=REPOSITORY / ".mediawatch" / "jars",
        )
    )
    kafka.start()
    return kafka
