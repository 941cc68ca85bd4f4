"""Describe the machine a benchmark ran on, so every printed figure carries its context."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def describe_machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({model}){memory}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
