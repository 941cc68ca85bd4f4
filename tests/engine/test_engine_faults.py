"""The engine set-up's faults: a stand-in that cannot be built names the failing step, and
a compose service that never becomes healthy fails the test with its last 50 log lines."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mediawatch.stack.engine import Engine, EngineError
from tests.support.engine_stack import ComposeStack
from tests.support.environment import REPOSITORY, unavailable

# Run alone, the second test carries the engine's set-up (see test_compose_stack.py).
pytestmark = [pytest.mark.engine, pytest.mark.timeout(2400)]


def test_a_debootstrap_without_its_mirror_names_the_step(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        unavailable("debootstrap and root are needed (`make compose-test` installs it)")
    # Port 9 of loopback: nothing listens there, so the mirror cannot be reached.
    engine = Engine(REPOSITORY, state_dir=tmp_path, mirror="http://127.0.0.1:9/debian")
    with pytest.raises(EngineError, match=r"^debootstrap failed \(exit \d+\): .+"):
        engine.base_rootfs()
    assert not list(tmp_path.glob("cache/*.tar")), "a failed debootstrap left a tarball"


def test_a_service_never_healthy_fails_with_its_last_50_log_lines(
    engine: Engine, tmp_path: Path
) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n"
        "  sick:\n"
        "    image: python:3.11-slim\n"
        "    network_mode: none\n"
        "    command: [python3, -u, -c,\n"
        "      'import time; [print(f\"sick line {n}\") for n in range(1, 81)]; time.sleep(600)']\n"
        "    healthcheck:\n"
        '      test: ["CMD", "false"]\n'
        "      interval: 1s\n"
        "      retries: 1\n"
    )
    stack = ComposeStack(engine, files=(compose,), project="mediawatch-engine-sick")
    try:
        stack.compose("up", "--detach")
        with pytest.raises(pytest.fail.Exception) as caught:
            stack.wait_healthy(15)
    finally:
        stack.down(volumes=True)
    message = str(caught.value)
    assert "--- sick: running unhealthy" in message, message
    assert "sick line 80" in message and "sick line 31" in message, message
    assert "sick line 30\n" not in message, "more than the last 50 lines"
