"""The envelope every mediawatch event shares: a schema version that readers check.

Minor versions only add optional fields, so a reader accepts any minor of the major it
knows and ignores fields it does not know. A new major version means a breaking change and
is rejected with :class:`UnsupportedSchemaVersion` instead of being half-understood.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

_VERSION_PATTERN = re.compile(r"^(\d+)\.(\d+)$")


class UnsupportedSchemaVersion(ValueError):
    """A payload declares a schema major version this reader does not understand."""

    def __init__(self, event_type: str, found: str, supported_major: int) -> None:
        super().__init__(
            f"{event_type}: schema_version {found!r} is not supported by this reader "
            f"(it reads {supported_major}.x); upgrade mediawatch or re-publish the event "
            f"with a {supported_major}.x producer"
        )
        self.event_type = event_type
        self.found = found
        self.supported_major = supported_major


class EventDecodeError(ValueError):
    """A payload could not be read as the expected event; the message says where and why."""


class Event(BaseModel):
    """Base of every payload published on a mediawatch topic."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    #: Name used in CloudEvents ``ce_type`` and in the JSON Schema file name.
    event_name: ClassVar[str]
    #: The major.minor version this code writes. Readers accept the same major only.
    current_version: ClassVar[str] = "1.0"

    schema_version: str = Field(
        default="1.0",
        pattern=r"^\d+\.\d+$",
        description="major.minor version of this event's schema; readers reject unknown majors",
    )

    @classmethod
    def supported_major(cls) -> int:
        return int(cls.current_version.split(".", 1)[0])

    @classmethod
    def check_version(cls, raw: dict[str, Any]) -> None:
        """Raise :class:`UnsupportedSchemaVersion` unless the payload's major is ours."""
        found = raw.get("schema_version", cls.current_version)
        match = _VERSION_PATTERN.match(str(found))
        if match is None or int(match.group(1)) != cls.supported_major():
            raise UnsupportedSchemaVersion(cls.event_name, str(found), cls.supported_major())

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        """Decode and validate one payload, checking its schema version first."""
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EventDecodeError(f"{cls.event_name}: payload is not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise EventDecodeError(
                f"{cls.event_name}: payload must be a JSON object, got {type(raw).__name__}"
            )
        cls.check_version(raw)
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise EventDecodeError(describe_validation_error(cls.event_name, exc)) from exc

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode()

    def event_id(self) -> str:
        """Deterministic id of this event, used as the CloudEvents ``ce_id``."""
        raise NotImplementedError


def describe_validation_error(where: str, exc: ValidationError) -> str:
    """Render a pydantic error as ``where: field.path: message`` lines, one per problem."""
    lines = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(root)"
        lines.append(f"{where}: {location}: {error['msg']}")
    return "; ".join(lines)
