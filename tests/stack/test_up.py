"""``mediawatch up`` end to end against the session's real broker: the fetcher reads the
sample inbox and feeds, the tagger tags, and one SIGINT (or --duration) stops everything."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from mediawatch.runtime.settings import KafkaSettings
from tests.support.environment import REPOSITORY
from tests.support.stack import interrupt, start_up, tagged_while_running

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

MEDIAWATCH = [sys.executable, "-c", "from mediawatch.cli.main import main; main()"]


async def up(settings: KafkaSettings, tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    state = tmp_path / "state"
    return await start_up(MEDIAWATCH, settings, state, *args, env=dict(os.environ), cwd=REPOSITORY)


async def test_up_tags_the_samples_and_stops_on_sigint(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    process = await up(kafka_settings, tmp_path)
    tagged = await tagged_while_running(process, kafka_settings, 5, bound_s=100)
    still_running = process.returncode is None
    output = await interrupt(process)
    logs = tmp_path / "state" / "logs"
    detail = output + "".join(
        f"\n--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log"))
    )
    assert still_running, detail
    assert tagged >= 5, detail
    assert process.returncode == 0, detail
    assert "received SIGINT" in output
    for service in ("fetcher", "tagger", "alerter"):
        assert f"{service}: terminated" in output or f"{service}: killed" in output, detail
        assert (logs / f"{service}.log").exists()
    assert "mediawatch stopped." in output
    # The sample inbox was read: files moved to done/ after Kafka took them, none refused.
    inbox = tmp_path / "state" / "inbox"
    assert list((inbox / "done").glob("*.txt")), detail
    assert not list((inbox / "failed").glob("*")), detail
    sources = (tmp_path / "state" / "sources.yaml").read_text()
    assert "sample-inbox" in sources and "/feeds/" in sources


async def test_up_stops_by_itself_after_duration(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    process = await up(kafka_settings, tmp_path, "--duration", "1", "--no-feed")
    output = (await asyncio.wait_for(process.communicate(), timeout=240))[0].decode()
    assert process.returncode == 0, output
    assert "duration reached" in output
    assert "mediawatch stopped." in output
    assert "metrics" in output and "mediawatch alerts tail" in output
