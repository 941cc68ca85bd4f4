"""``POST /v1/articles``: one article (a JSON object) or a batch (a list), answered 202 with
the ids once Kafka acknowledged every one, 422 with field-level errors, 413 past the limit.

It needs an ``ingest`` token (or ``admin``). A push cannot lie about where it comes from: a
token bound to sources publishes only as those (403 otherwise); a configured source's
metadata (name, country, outlet type, language, genre) comes from the sources file and the
push may not set it (422); an unknown source id is refused or folded into the ``push``
source (``push_unknown_sources``), so the source label of the metrics stays bounded. Each
token has its own rate limit, answered 429 with ``Retry-After``.
"""

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
from mediawatch.fetcher.settings import FetcherSettings
from mediawatch.fetcher.sources import Source
from mediawatch.runtime.auth import PerTokenRateLimit, Principal, Role
from mediawatch.runtime.http import ServiceHttpServer, principal_of
from mediawatch.schemas import Genre, SourceInfo

log = logging.getLogger(__name__)


class PushSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
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


#: The one source of pushed articles that name no configured source.
PUSH_SOURCE_ID = "push"
#: Fields of a source the sources file says, for a configured source, and a push may not.
SOURCE_METADATA = ("name", "country", "outlet_type", "language", "genre")


class PushRefused(Exception):
    """One article of a push claims a source it may not; 403 or 422 with the place."""

    def __init__(self, status: int, loc: list[Any], message: str, kind: str) -> None:
        super().__init__(message)
        self.status, self.loc, self.message, self.kind = status, loc, message, kind


def push_source(
    claimed: PushSource,
    principal: Principal,
    configured: dict[str, Source],
    unknown_sources: str,
    loc: list[Any],
) -> SourceInfo:
    """The source an article is published as, or :class:`PushRefused`: the claimed id (by
    default the token's one bound source, else ``push``), checked against the token's
    binding and the sources file."""
    source_id = claimed.id
    if source_id is None:
        source_id = principal.sources[0] if len(principal.sources) == 1 else PUSH_SOURCE_ID
    if source_id not in configured and source_id != PUSH_SOURCE_ID:
        if unknown_sources == "refuse":
            raise PushRefused(
                422,
                [*loc, "source", "id"],
                f"unknown source id {source_id!r}: not in the sources file (configured: "
                f"{', '.join(sorted(configured)) or 'none'}); leave source.id out to publish "
                f"as {PUSH_SOURCE_ID!r}",
                "unknown_source",
            )
        source_id = PUSH_SOURCE_ID
    if not principal.may_publish_as(source_id):
        raise PushRefused(
            403,
            [*loc, "source", "id"],
            f"token {principal.token_id} may publish only as {', '.join(principal.sources)}, "
            f"not as {source_id!r}",
            "wrong_source",
        )
    known = configured.get(source_id)
    if known is None:
        return SourceInfo(
            id=source_id, type="push", **{name: getattr(claimed, name) for name in SOURCE_METADATA}
        )
    invented = [name for name in SOURCE_METADATA if getattr(claimed, name) is not None]
    if invented:
        raise PushRefused(
            422,
            [*loc, "source", invented[0]],
            f"source {source_id!r} is in the sources file, which says its "
            f"{', '.join(invented)}; a push may not set {'them' if len(invented) > 1 else 'it'}",
            "source_metadata",
        )
    return known.info().model_copy(update={"type": "push"})


def candidate_from_push(item: PushArticle, source: SourceInfo) -> Candidate:
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
    server: ServiceHttpServer,
    publisher: Publisher,
    settings: FetcherSettings,
    sources: list[Source],
) -> None:
    max_bytes, max_batch = settings.push_max_bytes, settings.push_max_batch
    configured = {source.id: source for source in sources}
    rate_limit = PerTokenRateLimit(settings.push_requests_per_minute)

    async def handle(request: web.Request) -> web.Response:
        principal = principal_of(request)
        wait_s = rate_limit.take(principal.token_id)
        if wait_s:
            metrics.REJECTED.labels(PUSH_SOURCE_ID, "rate_limited").inc()
            return web.json_response(
                {
                    "error": f"token {principal.token_id} made more than "
                    f"{settings.push_requests_per_minute} requests in a minute; retry in "
                    f"{wait_s} s"
                },
                status=429,
                headers={"Retry-After": str(wait_s)},
            )
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
        try:
            candidates = [
                candidate_from_push(
                    article,
                    push_source(
                        article.source,
                        principal,
                        configured,
                        settings.push_unknown_sources,
                        [] if single else [index],
                    ),
                )
                for index, article in enumerate(articles)
            ]
        except PushRefused as exc:
            metrics.REJECTED.labels(PUSH_SOURCE_ID, exc.kind).inc()
            error = {"loc": exc.loc, "msg": exc.message, "type": exc.kind}
            return web.json_response({"errors": [error]}, status=exc.status)
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

    server.add_route("POST", "/v1/articles", handle, role=Role.INGEST)
