"""Event contracts: versions, validation messages, CloudEvents headers, exported documents."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from mediawatch.runtime.codec import EventCodec
from mediawatch.schemas import (
    EVENT_TYPES,
    ArticleFetched,
    DeadLetter,
    EventDecodeError,
    UnsupportedSchemaVersion,
    cloudevent_headers,
    header_map,
)
from mediawatch.schemas.export import generated_files
from tests.support.articles import article
from tests.support.environment import REPOSITORY


def test_committed_schema_documents_match_the_models() -> None:
    stale = []
    for relative, content in generated_files().items():
        path = REPOSITORY / "schemas" / relative
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            stale.append(relative)
    assert not stale, f"run `mediawatch schemas export`: out of date: {stale}"


def test_json_schemas_accept_real_events_and_reject_wrong_ones() -> None:
    schema = json.loads((REPOSITORY / "schemas/json/ArticleFetched.json").read_text())
    good = json.loads(article("a1").to_json())
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(good | {"content_hash": "not-a-hash"}, schema)


def test_asyncapi_document_lists_every_topic_with_its_key() -> None:
    document = yaml.safe_load((REPOSITORY / "schemas/asyncapi.yaml").read_text())
    assert document["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == {
        "mediawatch.articles.fetched",
        "mediawatch.articles.tagged",
        "mediawatch.alerts",
        "mediawatch.deadletter",
        "mediawatch.fetcher.seen",
        "mediawatch.notifications.retry",
        "mediawatch.fetcher.sources",
    }
    assert {m for m in document["components"]["messages"]} == {t.event_name for t in EVENT_TYPES}


def test_unknown_major_version_is_rejected_and_minor_is_accepted() -> None:
    payload = json.loads(article("a2").to_json())
    with pytest.raises(UnsupportedSchemaVersion, match=r"'3\.1' is not supported"):
        ArticleFetched.from_json(json.dumps(payload | {"schema_version": "3.1"}))
    newer_minor = payload | {"schema_version": "1.7", "field_from_the_future": True}
    assert ArticleFetched.from_json(json.dumps(newer_minor)).article_id == "a2"


def test_validation_errors_name_the_field() -> None:
    payload = json.loads(article("a3").to_json())
    del payload["fetched_at"]
    payload["source"]["type"] = "carrier-pigeon"
    with pytest.raises(EventDecodeError) as caught:
        ArticleFetched.from_json(json.dumps(payload))
    message = str(caught.value)
    assert "ArticleFetched: fetched_at: Field required" in message
    assert "ArticleFetched: source.type: Input should be" in message


def test_codec_round_trips_and_refuses_other_types() -> None:
    codec = EventCodec(ArticleFetched)
    event = article("a4")
    assert codec.decode(codec.dumps(event)) == event
    with pytest.raises(TypeError):
        codec.dumps(DeadLetter)
    with pytest.raises(EventDecodeError, match="record has no value"):
        codec.decode(None)


def test_cloudevents_headers_follow_the_kafka_binding() -> None:
    event = article("a5")
    headers = header_map(cloudevent_headers(event, source="/mediawatch/fetcher"))
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_id"] == event.event_id()
    assert headers["ce_type"] == "io.mediawatch.ArticleFetched.v1"
    assert headers["ce_source"] == "/mediawatch/fetcher"
    assert headers["content-type"] == "application/json"


def test_dead_letter_keeps_raw_bytes_that_are_not_utf8() -> None:
    raw = b"\xff\x00\xfe"
    letter = DeadLetter.model_validate(
        {
            "origin_topic": "t",
            "partition": 0,
            "offset": 1,
            "key": None,
            "value": raw,
            "error_type": "X",
            "error_message": "y",
            "service": "s",
            "failed_at": "2026-01-01T00:00:00Z",
        }
    )
    assert DeadLetter.from_json(letter.to_json()).value == raw
