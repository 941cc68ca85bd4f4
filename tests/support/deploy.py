"""Helpers of the deployment tests: the compose file, the Compose JSON Schema from a registry
package, and external tools that must exist in CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import yaml

from tests.support.environment import REPOSITORY, unavailable

COMPOSE_FILE = REPOSITORY / "docker-compose.yml"
CACHE_DIR = Path(
    os.environ.get("MEDIAWATCH_TEST_CACHE", str(REPOSITORY / ".mediawatch" / "test-cache"))
)
#: The Compose specification's JSON Schema ships inside the docker-compose 1.x wheel.
SCHEMA_PACKAGE = "docker-compose==1.29.2"
SCHEMA_MEMBER = "compose/config/compose_spec.json"


def load_compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return data


def compose_schema() -> dict[str, Any]:
    """The schema, downloaded once with ``pip download`` into the test cache."""
    target = CACHE_DIR / "compose-spec"
    wheels = sorted(target.glob("docker_compose-*.whl"))
    if not wheels:
        target.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary", ":all:", "--dest", str(target), SCHEMA_PACKAGE],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        wheels = sorted(target.glob("docker_compose-*.whl"))
        if result.returncode != 0 or not wheels:
            unavailable(
                f"cannot download {SCHEMA_PACKAGE} for the Compose JSON Schema: "
                f"{result.stderr.strip()[-500:]}"
            )
    with zipfile.ZipFile(wheels[-1]) as wheel:
        schema: dict[str, Any] = json.loads(wheel.read(SCHEMA_MEMBER))
    return schema


def split_volume(spec: str) -> tuple[str, str]:
    """``host:container[:mode]`` -> (host, container)."""
    parts = spec.split(":")
    return parts[0], parts[1]
