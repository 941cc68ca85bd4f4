"""faust codecs that turn record bytes into validated mediawatch events and back.

faust's ``value_type`` does not understand pydantic models, so every event type gets a
registered :class:`EventCodec` instead (``mediawatch.ArticleFetched`` and so on). Decoding
checks the schema version and validates; encoding refuses anything that is not the event.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from faust.serializers import codecs
from pydantic import ValidationError

from mediawatch.schemas import EVENT_TYPES, Event, EventDecodeError, describe_validation_error

E = TypeVar("E", bound=Event)


class EventCodec(codecs.Codec, Generic[E]):
    """Bytes <-> one event type, validated both ways."""

    def __init__(self, event_type: type[E], children: Any = None, **kwargs: Any) -> None:
        super().__init__(children=children, event_type=event_type, **kwargs)
        self.event_type = event_type

    def _dumps(self, obj: Any) -> bytes:
        if isinstance(obj, self.event_type):
            return obj.to_json()
        if isinstance(obj, dict):
            try:
                return self.event_type.model_validate(obj).to_json()
            except ValidationError as exc:
                raise EventDecodeError(
                    describe_validation_error(self.event_type.event_name, exc)
                ) from exc
        raise TypeError(f"{self.event_type.event_name} codec cannot encode {type(obj).__name__}")

    def _loads(self, data: bytes) -> E:
        return self.event_type.from_json(data)

    def decode(self, data: bytes | None) -> E:
        """Typed decode; an empty record is an error, not an event."""
        if data is None:
            raise EventDecodeError(f"{self.event_type.event_name}: record has no value")
        result: E = self.loads(data)
        return result


def codec_name(event_type: type[Event]) -> str:
    return f"mediawatch.{event_type.event_name}"


def register_event_codecs() -> None:
    """Make ``value_serializer="mediawatch.<Event>"`` usable on faust topics."""
    for event_type in EVENT_TYPES:
        codecs.register(codec_name(event_type), EventCodec(event_type))
