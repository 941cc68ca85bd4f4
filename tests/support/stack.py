"""Helpers of the ``mediawatch up`` tests: starting ``up`` on the session broker, waiting for
tagged articles, and stopping it with SIGINT as a user would."""

from __future__ import annotations

import asyncio
import random
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from mediawatch.runtime.kafka import consumer, topic_partitions
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.stack.broker import port_answers
from tests.support.environment import settings_environment

#: The CLI, run by this interpreter.
MEDIAWATCH = [sys.executable, "-c", "from mediawatch.cli.main import main; main()"]
#: The push example `up` prints last among its addresses: the URL and the ingest token.
PUSH_EXAMPLE = re.compile(
    r"push an article: curl -X POST (\S+) -H 'Authorization: Bearer (mw_[0-9a-f]{8}_\S+)'"
)


async def push_example_of(process: asyncio.subprocess.Process) -> tuple[str, str, str]:
    """What `up` printed up to its push example, the example's URL and token."""
    assert process.stdout is not None
    printed = ""
    async with asyncio.timeout(180):
        while not (found := PUSH_EXAMPLE.search(printed)):
            line = await process.stdout.readline()
            assert line, f"up ended before printing the push example:\n{printed}"
            printed += line.decode()
    return printed, found.group(1), found.group(2)


def service_logs(state_dir: Path) -> str:
    """The end of each service's log under `up`'s state directory, for a failure's report."""
    logs = sorted((state_dir / "logs").glob("*.log"))
    return "".join(f"\n--- {p.name}\n{p.read_text()[-3000:]}" for p in logs)


def free_offset() -> int:
    for _ in range(100):
        offset = random.randrange(20000, 40000)
        if not any(port_answers("127.0.0.1", 8081 + offset + i) for i in range(3)):
            return offset
    raise AssertionError("no free port range")


async def records_on(settings: KafkaSettings, topic: str) -> int:
    from aiokafka import TopicPartition

    numbers = (await topic_partitions(settings, [topic]))[topic]
    if not numbers:
        return 0
    client = consumer(settings, group_id=None)
    await client.start()
    try:
        ends = await client.end_offsets([TopicPartition(topic, n) for n in numbers])
        return int(sum(ends.values()))
    finally:
        await client.stop()


async def start_up(
    command: Sequence[str],
    settings: KafkaSettings,
    state_dir: Path,
    *args: str,
    env: dict[str, str],
    cwd: Path,
) -> asyncio.subprocess.Process:
    """``mediawatch up`` (``command`` runs the CLI) against the session broker."""
    # Its own stack id: the faust services' groups, tables and internal topics are not
    # namespaced by the topic names, and an earlier test's tables would remember its articles.
    stack_id = f"test-{random.randrange(1 << 32):08x}"
    env = env | settings_environment(settings) | {"COLUMNS": "200"}
    env["MEDIAWATCH_APP_ID"] = stack_id
    env["MEDIAWATCH_TOPIC_NOTIFICATIONS_RETRY"] = f"{settings.topic_alerts}.retry"
    return await asyncio.create_subprocess_exec(
        *command, "up", "--no-broker", "--state-dir", str(state_dir),
        "--feed-port", "0", "--port-offset", str(free_offset()), "--stop-timeout", "30", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env, cwd=cwd,
    )  # fmt: skip


async def tagged_while_running(
    process: asyncio.subprocess.Process, settings: KafkaSettings, wanted: int, bound_s: float
) -> int:
    """Articles tagged since the call, polled until ``wanted`` of them, the process ends, or
    ``bound_s`` passes (a bound against hangs, not a measured time)."""
    before = await records_on(settings, settings.topic_articles_tagged)
    tagged = 0
    loop = asyncio.get_running_loop()
    until = loop.time() + bound_s
    while loop.time() < until and process.returncode is None:
        tagged = await records_on(settings, settings.topic_articles_tagged) - before
        if tagged >= wanted:
            break
        await asyncio.sleep(0.5)
    return tagged


async def interrupt(process: asyncio.subprocess.Process, timeout_s: float = 180) -> str:
    """SIGINT (if it still runs), then everything it printed."""
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    return (await asyncio.wait_for(process.communicate(), timeout=timeout_s))[0].decode()
