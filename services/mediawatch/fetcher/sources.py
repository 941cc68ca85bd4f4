"""The sources file: a YAML list of feeds, pages, sitemaps and inbox folders.

Errors name the file, the source id (or its position) and the field, e.g.
``sources.yaml: source 'bbc-world' (sources[2]), field 'interval': expected ...``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mediawatch.schemas import Genre, SourceInfo

SourceType = Literal["feed", "page", "sitemap", "inbox"]

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class SourcesError(ValueError):
    """The sources file cannot be used; the message says where and why."""


def parse_interval(value: object) -> float:
    """``30s``, ``5m``, ``1h``, ``1d`` or a bare number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _INTERVAL.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    else:
        raise ValueError(f"expected a duration such as 30s, 5m or 1h, got {value!r}")
    if seconds <= 0:
        raise ValueError("the interval must be positive")
    return seconds


class Source(BaseModel):
    """One source as written in the sources file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    type: SourceType
    url: str | None = None
    path: Path | None = None
    interval: float = 900.0
    name: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    outlet_type: str | None = None
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    genre: Genre | None = None
    enabled: bool = True

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: object) -> float:
        return parse_interval(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _location(self) -> Source:
        if self.type == "inbox":
            if self.path is None:
                raise ValueError("an inbox source needs 'path' (the folder to watch)")
        elif self.url is None:
            raise ValueError(f"a {self.type} source needs 'url'")
        return self

    def info(self) -> SourceInfo:
        return SourceInfo(
            id=self.id,
            type=self.type,
            name=self.name,
            country=self.country,
            outlet_type=self.outlet_type,
            language=self.language,
            genre=self.genre,
        )


def _describe(file: Path, index: int, raw: Any, exc: ValidationError) -> str:
    source_id = raw.get("id") if isinstance(raw, dict) else None
    who = f"source {source_id!r} (sources[{index}])" if source_id else f"sources[{index}]"
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(source)"
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{file}: {who}, field {field!r}: {message}")
    return "\n".join(problems)


def parse_sources(data: Any, file: Path, *, base_dir: Path | None = None) -> list[Source]:
    """Validate already-loaded YAML; relative inbox paths are taken relative to the file."""
    if isinstance(data, dict):
        data = data.get("sources")
    if not isinstance(data, list):
        raise SourcesError(f"{file}: expected a list of sources (or a mapping with 'sources:')")
    sources: list[Source] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, raw in enumerate(data):
        try:
            source = Source.model_validate(raw)
        except ValidationError as exc:
            problems.append(_describe(file, index, raw, exc))
            continue
        if source.id in seen:
            problems.append(f"{file}: source {source.id!r} (sources[{index}]), field 'id': "
                            "duplicate source id")  # fmt: skip
            continue
        seen.add(source.id)
        if source.path is not None and not source.path.is_absolute() and base_dir is not None:
            source = source.model_copy(update={"path": base_dir / source.path})
        sources.append(source)
    if problems:
        raise SourcesError("\n".join(problems))
    return sources


def load_sources(file: Path) -> list[Source]:
    """Read and validate the sources file; disabled sources are left out."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourcesError(f"{file}: cannot read the sources file: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourcesError(f"{file}: not valid YAML: {exc}") from exc
    return [s for s in parse_sources(data, file, base_dir=file.parent) if s.enabled]
