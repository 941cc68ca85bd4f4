"""The supervisor with dummy children: restarts with backoff, SIGTERM then SIGKILL."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from mediawatch.stack.supervisor import ChildSpec, Supervisor

SLEEPER = "import time\nwhile True: time.sleep(0.05)"
CRASHER = "import sys; print('crashing', flush=True); sys.exit(3)"
STUBBORN = (
    "import signal, time, pathlib, sys\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "pathlib.Path(sys.argv[1]).touch()\n"
    "while True: time.sleep(0.05)"
)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Poll a condition; the bound only turns a hang into a failure, it is not measured."""
    for _ in range(1200):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def spec(tmp_path: Path, name: str, code: str, *args: str) -> ChildSpec:
    return ChildSpec(name, [sys.executable, "-c", code, *args], tmp_path / f"{name}.log")


async def test_crashed_child_is_restarted_and_logged(tmp_path: Path) -> None:
    notices: list[str] = []
    supervisor = Supervisor(
        [spec(tmp_path, "sleeper", SLEEPER), spec(tmp_path, "crasher", CRASHER)],
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
        notify=notices.append,
    )
    await supervisor.start()
    crasher = supervisor.child("crasher")
    await until(lambda: crasher.starts >= 3, "three starts of the crashing child")
    assert crasher.last_exit == 3
    assert supervisor.child("sleeper").running
    outcome = await supervisor.stop()
    assert outcome["sleeper"] == "terminated"
    assert not supervisor.child("sleeper").running
    log = (tmp_path / "crasher.log").read_text()
    assert log.count("crashing") >= 3 and "mediawatch up: starting" in log
    assert any("exited with status 3; restarting" in notice for notice in notices)


async def test_a_child_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    supervisor = Supervisor([spec(tmp_path, "stubborn", STUBBORN, str(ready))], stop_timeout_s=0.5)
    await supervisor.start()
    await until(ready.exists, "the child installed its SIGTERM handler")
    outcome = await supervisor.stop()
    assert outcome == {"stubborn": "killed"}
    assert not supervisor.child("stubborn").running


async def test_stop_during_backoff_does_not_restart(tmp_path: Path) -> None:
    supervisor = Supervisor([spec(tmp_path, "crasher", CRASHER)], backoff_initial_s=60.0)
    await supervisor.start()
    crasher = supervisor.child("crasher")
    await until(lambda: crasher.last_exit == 3, "the first crash")
    assert await supervisor.stop() == {"crasher": "exited"}
    assert crasher.starts == 1
