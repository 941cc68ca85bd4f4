"""Run child processes, restart those that crash with exponential backoff, and stop them all
cleanly: SIGTERM to each child's process group, SIGKILL after a timeout.

Each child runs in its own session so that a Ctrl-C in the terminal reaches only the
supervisor, which then decides the order of shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

Notify = Callable[[str], None]


@dataclass(frozen=True)
class ChildSpec:
    """What to run, with which environment, logging where."""

    name: str
    argv: Sequence[str]
    log_file: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None


@dataclass
class ChildState:
    spec: ChildSpec
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    last_exit: int | None = None
    started_at: float = 0.0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.running and self.process is not None else None


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
        stable_after_s: float = 60.0,
        stop_timeout_s: float = 15.0,
        notify: Notify | None = None,
    ) -> None:
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"child names must be unique: {names}")
        self.children = [ChildState(spec) for spec in specs]
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stable_after_s = stable_after_s
        self.stop_timeout_s = stop_timeout_s
        self.notify: Notify = notify or (lambda message: None)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def child(self, name: str) -> ChildState:
        for state in self.children:
            if state.spec.name == name:
                return state
        raise KeyError(name)

    async def start(self) -> None:
        for state in self.children:
            self._tasks.append(asyncio.create_task(self._keep_running(state), name=state.spec.name))

    async def _spawn(self, state: ChildState) -> asyncio.subprocess.Process:
        spec = state.spec
        spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        with spec.log_file.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"--- {stamp} mediawatch up: starting {' '.join(spec.argv)}\n".encode())
            log.flush()
            env = {**os.environ, **spec.env}
            process = await asyncio.create_subprocess_exec(
                *spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                cwd=spec.cwd,
                start_new_session=True,
            )
        state.process = process
        state.starts += 1
        state.started_at = time.monotonic()
        return process

    async def _keep_running(self, state: ChildState) -> None:
        delay = self.backoff_initial_s
        while not self._stopping.is_set():
            try:
                process = await self._spawn(state)
            except OSError as exc:
                self.notify(f"{state.spec.name}: cannot start: {exc}")
                code: int | None = None
            else:
                code = await process.wait()
            state.last_exit = code
            if self._stopping.is_set():
                return
            if state.started_at and time.monotonic() - state.started_at >= self.stable_after_s:
                delay = self.backoff_initial_s
            self.notify(
                f"{state.spec.name} exited with status {code}; restarting in {delay:.1f}s "
                f"(log: {state.spec.log_file})"
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            delay = min(delay * 2, self.backoff_max_s)

    @staticmethod
    def _signal(state: ChildState, signum: int) -> None:
        process = state.process
        if process is None or process.returncode is not None:
            return
        try:
            os.killpg(process.pid, signum)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

    async def stop(self) -> dict[str, str]:
        """Stop every child; returns how each one ended ("terminated", "killed", "exited")."""
        self._stopping.set()
        outcome: dict[str, str] = {}
        running = [state for state in self.children if state.running]
        for state in self.children:
            if not state.running:
                outcome[state.spec.name] = "exited"
        for state in running:
            self._signal(state, signal.SIGTERM)

        async def wait(state: ChildState) -> None:
            assert state.process is not None
            try:
                await asyncio.wait_for(state.process.wait(), timeout=self.stop_timeout_s)
                outcome[state.spec.name] = "terminated"
            except TimeoutError:
                self._signal(state, signal.SIGKILL)
                await state.process.wait()
                outcome[state.spec.name] = "killed"

        await asyncio.gather(*(wait(state) for state in running))
        for state in running:
            # Grandchildren left in the child's process group get the same treatment.
            self._signal_group_leftovers(state)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        return outcome

    @staticmethod
    def _signal_group_leftovers(state: ChildState) -> None:
        if state.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(state.process.pid, signal.SIGKILL)
