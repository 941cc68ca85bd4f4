"""Run mediawatch services as real child processes for tests, and stop them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from mediawatch.stack.broker import free_port


class ServiceProcess:
    """One ``mediawatch ...`` child (or, with ``script``, ``python script ...``; with
    ``executable``, an installed ``mediawatch`` command run in ``cwd`` with ``env`` alone)
    with its own HTTP port and log file."""

    def __init__(
        self,
        args: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        *,
        http_port: int = 0,
        script: Path | None = None,
        executable: Path | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.args = list(args)
        if executable is not None:
            self.command = [str(executable)]
        else:
            module = [str(script)] if script else ["-m", "mediawatch.cli.main"]
            self.command = [sys.executable, *module]
        self.http_port = http_port or free_port()
        inherited = {} if executable is not None else dict(os.environ)
        self.env = inherited | env | {"MEDIAWATCH_HTTP_PORT": str(self.http_port)}
        self.cwd = cwd
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*self.command, *self.args],
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.args} exited early; log:\n{self.log_tail()}")
            try:
                answer = httpx.get(f"http://127.0.0.1:{self.http_port}/readyz", timeout=1.0)
                if answer.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{self.args} not ready in {timeout_s}s; log:\n{self.log_tail()}")

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.http_port}/metrics", timeout=5.0).text

    def kill(self) -> None:
        """SIGKILL: the crash the at-least-once promises are about."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 30.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def log_tail(self, limit: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""


async def start_ready(*workers: ServiceProcess, timeout_s: float = 120.0) -> None:
    """Start the workers together, then wait until each answers /readyz."""
    for worker in workers:
        worker.start()
    for worker in workers:
        await asyncio.to_thread(worker.wait_ready, timeout_s)
