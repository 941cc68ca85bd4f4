"""``POST /v1/articles``: one article (a JSON object) or a batch (a list), answered 202 with
the ids once Kafka acknowledged every one, 422 with field-level errors, 413 past the limit."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from aiohttp import web
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from mediawatch.fetcher import metrics
from mediawatch.fetcher.extract import Extracted
from mediawatch.fetcher.identity import canonical_url, normalise_text
from mediawatch.fetcher.publish import Candidate, Publisher, RejectedArticle
from mediawatch.schemas import Genre, SourceInfo

log = logging.getLogger(__name__)


class PushSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default="push", min_length=1, max_length=100)
    name: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    outlet_type: str | None = None
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    genre: Genre | None = None


class PushArticle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=1000)
    text: str = Field(min_length=1)
    url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    published_at: datetime | None = None
    byline: str | None = None
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    genre: Genre | None = None
    source: PushSource = Field(default_factory=PushSource)


_BATCH = TypeAdapter(list[PushArticle])


def _errors(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    return [
        {"loc": [*prefix, *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]


def _unprocessable(errors: list[dict[str, Any]]) -> web.Response:
    metrics.REJECTED.labels("push", "invalid_request").inc()
    return web.json_response({"errors": errors}, status=422)


def candidate_from_push(item: PushArticle) -> Candidate:
    source = SourceInfo(
        id=item.source.id,
        type="push",
        name=item.source.name,
        country=item.source.country,
        outlet_type=item.source.outlet_type,
        language=item.source.language,
        genre=item.source.genre,
    )
    extracted = Extracted(
        title=item.title,
        text=item.text,
        byline=item.byline,
        published_at=item.published_at,
        language=item.language,
        method="json",
        genre=item.genre,
        genre_from="push field" if item.genre else None,
    )
    return Candidate.of(
        source, extracted, url=item.url, canonical_url=canonical_url(item.url) if item.url else None
    )


def add_push_route(
    app: web.Application, publisher: Publisher, *, max_bytes: int, max_batch: int
) -> None:
    async def handle(request: web.Request) -> web.Response:
        declared = request.content_length
        if declared is not None and declared > max_bytes:
            return web.json_response(
                {"error": f"body of {declared} bytes exceeds the limit of {max_bytes} bytes"},
                status=413,
            )
        body = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            body.extend(chunk)
            if len(body) > max_bytes:
                return web.json_response(
                    {"error": f"body exceeds the limit of {max_bytes} bytes"}, status=413
                )
        try:
            data = json.loads(bytes(body))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _unprocessable([{"loc": [], "msg": f"not valid JSON: {exc}", "type": "json"}])
        except RecursionError:
            return _unprocessable(
                [{"loc": [], "msg": "not valid JSON: nested too deeply", "type": "json"}]
            )
        single = isinstance(data, dict)
        if not single and not isinstance(data, list):
            return _unprocessable(
                [{"loc": [], "msg": "expected an article object or a list", "type": "type"}]
            )
        items = [data] if single else data
        if not items:
            return _unprocessable([{"loc": [], "msg": "empty batch", "type": "empty"}])
        if len(items) > max_batch:
            return _unprocessable(
                [{"loc": [], "msg": f"more than {max_batch} articles", "type": "too_many"}]
            )
        try:
            articles = _BATCH.validate_python(items)
        except ValidationError as exc:
            errors = _errors(exc)
            if single:
                errors = [e | {"loc": e["loc"][1:]} for e in errors]
            return _unprocessable(errors)
        candidates = [candidate_from_push(a) for a in articles]
        blank = [i for i, c in enumerate(candidates) if not normalise_text(c.text)]
        if blank:
            return _unprocessable(
                [
                    {"loc": ["text"] if single else [i, "text"], "msg": "text is blank",
                     "type": "value_error"}
                    for i in blank
                ]
            )  # fmt: skip
        results: list[dict[str, str | None]] = []
        for candidate in candidates:
            try:
                outcome = await publisher.publish(candidate)
            except RejectedArticle as exc:
                return _unprocessable([{"loc": [], "msg": str(exc), "type": "value_error"}])
            except KafkaError as exc:
                log.error("push: Kafka did not acknowledge", extra={"error": str(exc)})
                return web.json_response(
                    {"error": f"not stored, retry later: {exc}", "accepted_before_error": results},
                    status=503,
                )
            results.append(
                {
                    "article_id": outcome.article_id,
                    "status": outcome.status,
                    "duplicate_of": outcome.duplicate_of,
                }
            )
        return web.json_response({"accepted": len(results), "articles": results}, status=202)

    app.router.add_post("/v1/articles", handle)
