"""The stream runtime refuses a faust version its ordering guard was not proven on."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from mediawatch.runtime.compat import (
    TESTED_FAUST_VERSIONS,
    UntestedFaustError,
    require_tested_faust,
    untested_faust_problem,
)


def test_the_installed_faust_is_a_tested_one() -> None:
    assert metadata.version("faust-streaming") in TESTED_FAUST_VERSIONS
    require_tested_faust()


@pytest.mark.parametrize("version", ["0.15.4", "0.16.0", "0.15.2rc1"])
def test_an_untested_version_is_refused_with_what_to_do(version: str) -> None:
    problem = untested_faust_problem(version)
    assert problem is not None
    assert f"faust-streaming {version} is installed" in problem
    assert "ordering.py" in problem and "kill tests" in problem


def test_the_refusal_is_an_error_of_its_own() -> None:
    assert issubclass(UntestedFaustError, RuntimeError)
    assert untested_faust_problem(max(TESTED_FAUST_VERSIONS)) is None


@pytest.mark.parametrize("service", ["tagger", "alerter"])
def test_a_stream_service_refuses_to_start_on_an_untested_faust(
    tmp_path: Path, service: str
) -> None:
    """A distribution record of faust-streaming 0.16.0 placed first on the path is what
    ``importlib.metadata`` reports, as after ``pip install -U faust-streaming``."""
    record = tmp_path / "faust_streaming-0.16.0.dist-info"
    record.mkdir()
    (record / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: faust-streaming\nVersion: 0.16.0\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "MEDIAWATCH_STATE_DIR": str(tmp_path)}
    env["MEDIAWATCH_KAFKA_BOOTSTRAP"] = "127.0.0.1:9"  # never reached: it stops before
    run = subprocess.run(
        [sys.executable, "-m", "mediawatch.cli.main", service, "run"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr[-2000:]
    assert "faust-streaming 0.16.0 is installed" in run.stderr
    assert "Traceback" not in run.stderr
