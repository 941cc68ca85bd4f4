"""Where the tests run: the checkout, the shared data, CI or not, and the tools they need.

With ``CI=true`` a missing prerequisite (broker, Java, a Debian tool) is a failure, never a
skip: :func:`unavailable` is the one place that decides.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mediawatch.runtime.settings import KafkaSettings

REPOSITORY = Path(__file__).resolve().parents[2]
#: The FNC-1 bodies (../shared beside the checkout, or MEDIAWATCH_NEWS_BODIES); tests that
#: need them skip without them, and CI=true does not make that a failure: they are data.
NEWS_BODIES = Path(
    os.environ.get(
        "MEDIAWATCH_NEWS_BODIES",
        REPOSITORY.parent / "shared" / "data" / "news-bodies" / "bodies.csv",
    )
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip outside CI; in CI a missing prerequisite is a failure, never a skip."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def tool(name: str, package: str) -> str:
    """The path of a command from a Debian package, or :func:`unavailable`."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} not found (Debian package {package}; `make tools` installs it)")
        raise AssertionError("unreachable")
    return path


def settings_environment(settings: KafkaSettings) -> dict[str, str]:
    """The MEDIAWATCH_* variables that reproduce ``settings`` in a child process."""
    return settings.environment()
