"""The services as ``mediawatch up`` and the deployment files know them: their settings
classes and the command that runs each one."""

from __future__ import annotations

import importlib
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from mediawatch.runtime.settings import ServiceSettings


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    settings_module: str
    settings_class: str
    command: tuple[str, ...]


SERVICES: tuple[ServiceEntry, ...] = (
    ServiceEntry("fetcher", "mediawatch.fetcher.settings", "FetcherSettings", ("fetcher", "run")),
    ServiceEntry("tagger", "mediawatch.tagger.settings", "TaggerSettings", ("tagger", "run")),
    ServiceEntry("alerter", "mediawatch.alerter.settings", "AlerterSettings", ("alerter", "run")),
    ServiceEntry(
        "archiver", "mediawatch.archiver.settings", "ArchiverSettings", ("archiver", "run")
    ),
    ServiceEntry("api", "mediawatch.api.settings", "ApiSettings", ("api", "run")),
)


def settings_class(entry: ServiceEntry) -> type[ServiceSettings] | None:
    """The service's settings class, or None while that service is not installed."""
    try:
        module = importlib.import_module(entry.settings_module)
    except ImportError:
        return None
    found = getattr(module, entry.settings_class, None)
    if isinstance(found, type) and issubclass(found, ServiceSettings):
        return found
    return None


def settings_classes() -> dict[str, type[ServiceSettings]]:
    classes = {}
    for entry in SERVICES:
        found = settings_class(entry)
        if found is not None:
            classes[entry.name] = found
    return classes


def default_http_port(entry: ServiceEntry) -> int:
    found = settings_class(entry)
    cls: type[ServiceSettings] = found or ServiceSettings
    default = cls.model_fields["http_port"].default
    return int(default)


def mediawatch_command() -> list[str]:
    """How to run this installation's ``mediawatch`` command in a child process."""
    script = Path(sys.executable).with_name("mediawatch")
    if script.exists():
        return [str(script)]
    found = shutil.which("mediawatch")
    if found:
        return [found]
    return [sys.executable, "-c", "from mediawatch.cli.main import main; main()"]
