"""A push cannot lie about its source: tokens bound to sources, metadata from the sources
file, unknown source ids refused or folded into ``push``, a rate limit per token. The
fetcher's real HTTP server on loopback; refusals come before Kafka is asked, and the
accepted pushes go through the session broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from mediawatch.fetcher.service import Fetcher
from mediawatch.fetcher.settings import FetcherSettings
from mediawatch.fetcher.sources import Source
from mediawatch.runtime.auth import Role
from mediawatch.runtime.http import ServiceHttpServer
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import ArticleFetched
from tests.support.fetcher import bearer, fetcher_settings, new_token_in, read_exactly
from tests.support.site import OPED_PARAGRAPHS

WIRE = Source(
    id="example-feed", type="feed", url="https://feeds.example.org/wire.xml", name="Example Wire",
    country="GB", outlet_type="agency", language="en",
)  # fmt: skip
OTHER = Source(id="other-feed", type="feed", url="https://feeds.example.org/other.xml")


@asynccontextmanager
async def fetcher_server(settings: FetcherSettings, *, start: bool) -> AsyncIterator[str]:
    """The fetcher's HTTP server (push, sources) with WIRE and OTHER configured; Kafka is
    connected only with ``start``."""
    fetcher = Fetcher(settings, [WIRE, OTHER])
    server = ServiceHttpServer.for_service(settings, readiness=fetcher.ready)
    fetcher.add_routes(server)
    await server.start()
    try:
        if start:
            await fetcher.start()
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.stop()
        await fetcher.stop()


def offline_settings(tmp_path: Path, **extra: Any) -> FetcherSettings:
    return FetcherSettings(http_port=0, state_dir=tmp_path / "state", **extra)


def article(**source: str) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Wire story", "text": OPED_PARAGRAPHS[0]}
    return body | ({"source": source} if source else {})


async def _post(url: str, token: str | None, body: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"{url}/v1/articles", json=body, headers=bearer(token) if token else {}
        )


async def test_a_bound_token_may_not_publish_as_another_source(tmp_path: Path) -> None:
    settings = offline_settings(tmp_path)
    token = new_token_in(settings.tokens_path, Role.INGEST, "example-feed")
    token_id = token.split("_")[1]
    async with fetcher_server(settings, start=False) as url:
        other = await _post(url, token, article(id="other-feed"))
        two = new_token_in(settings.tokens_path, Role.INGEST, "example-feed", "other-feed")
        unnamed = await _post(url, two, [article(id="example-feed"), article()])
    assert other.status_code == 403
    assert other.json() == {
        "errors": [
            {
                "loc": ["source", "id"],
                "msg": f"token {token_id} may publish only as example-feed, not as 'other-feed'",
                "type": "wrong_source",
            }
        ]
    }
    assert token not in other.text
    # Bound to two sources, an article naming none would be 'push', which the token is not.
    assert unnamed.status_code == 403
    (error,) = unnamed.json()["errors"]
    assert error["loc"] == [1, "source", "id"] and error["msg"].endswith("not as 'push'")


@pytest.mark.parametrize(
    ("claimed", "field"),
    [
        ({"country": "RU"}, "country"),
        ({"outlet_type": "government"}, "outlet_type"),
        ({"name": "Totally Independent", "language": "en"}, "name"),
    ],
)
async def test_a_push_may_not_invent_metadata_of_a_configured_source(
    tmp_path: Path, claimed: dict[str, str], field: str
) -> None:
    settings = offline_settings(tmp_path)
    token = new_token_in(settings.tokens_path, Role.INGEST)
    async with fetcher_server(settings, start=False) as url:
        answer = await _post(url, token, article(id="example-feed", **claimed))
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    assert error["loc"] == ["source", field] and error["type"] == "source_metadata"
    assert error["msg"].startswith("source 'example-feed' is in the sources file, which says its")
    assert ", ".join(claimed) in error["msg"]


async def test_unknown_source_ids_are_refused_by_default(tmp_path: Path) -> None:
    settings = offline_settings(tmp_path)
    token = new_token_in(settings.tokens_path, Role.INGEST)
    async with fetcher_server(settings, start=False) as url:
        answer = await _post(url, token, article(id="made-up-outlet", country="FR"))
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    assert error["msg"] == (
        "unknown source id 'made-up-outlet': not in the sources file (configured: "
        "example-feed, other-feed); leave source.id out to publish as 'push'"
    )


async def test_roles_and_missing_tokens_on_the_push_endpoint(tmp_path: Path) -> None:
    settings = offline_settings(tmp_path)
    viewer = new_token_in(settings.tokens_path, Role.VIEWER)
    async with fetcher_server(settings, start=False) as url:
        anonymous = await _post(url, None, article())
        wrong_role = await _post(url, viewer, article())
        async with httpx.AsyncClient() as client:
            health = await client.get(f"{url}/v1/sources", headers=bearer(viewer))
            health_anonymous = await client.get(f"{url}/v1/sources")
    assert anonymous.status_code == 401 and "missing Authorization header" in anonymous.text
    assert wrong_role.status_code == 403 and "needs a token with role 'ingest'" in wrong_role.text
    assert health.status_code == 200 and set(health.json()) == {"example-feed", "other-feed"}
    assert health_anonymous.status_code == 401


async def test_each_token_has_its_rate_limit_answered_429_with_retry_after(
    tmp_path: Path,
) -> None:
    settings = offline_settings(tmp_path, push_requests_per_minute=2)
    busy = new_token_in(settings.tokens_path, Role.INGEST)
    calm = new_token_in(settings.tokens_path, Role.INGEST)
    not_json = b"{nope"  # rejected after the limit is counted: no Kafka needed
    async with fetcher_server(settings, start=False) as url, httpx.AsyncClient() as client:
        answers = [
            await client.post(f"{url}/v1/articles", content=not_json, headers=bearer(busy))
            for _ in range(3)
        ]
        other = await client.post(f"{url}/v1/articles", content=not_json, headers=bearer(calm))
    assert [a.status_code for a in answers] == [422, 422, 429]
    assert answers[2].headers["Retry-After"] == "30"
    busy_id = busy.split("_")[1]
    assert answers[2].json() == {
        "error": f"token {busy_id} made more than 2 requests in a minute; retry in 30 s"
    }
    assert other.status_code == 422


async def test_bound_and_folded_pushes_carry_the_metadata_they_may(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    """Through the broker: a token bound to example-feed publishes as it with the sources
    file's metadata; with fold, an unknown id is published as 'push' with what it said."""
    settings = fetcher_settings(kafka_settings, tmp_path, http_port=0, push_unknown_sources="fold")
    bound = new_token_in(settings.tokens_path, Role.INGEST, "example-feed")
    unbound = new_token_in(settings.tokens_path, Role.INGEST)
    async with fetcher_server(settings, start=True) as url:
        wire = await _post(url, bound, {"title": "Wire", "text": OPED_PARAGRAPHS[1]})
        folded = await _post(
            url,
            unbound,
            {"title": "Folded", "text": OPED_PARAGRAPHS[2],
             "source": {"id": "made-up-outlet", "country": "FR"}},
        )  # fmt: skip
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{url}/metrics")).text
    assert wire.status_code == 202, wire.text
    assert folded.status_code == 202, folded.text
    records = await read_exactly(settings, settings.topic_articles_fetched, 2)
    sources = {
        event.title: event.source
        for event in (ArticleFetched.from_json(r.value or b"") for r in records)
    }
    assert sources["Wire"].model_dump() == WIRE.info().model_dump() | {"type": "push"}
    assert (sources["Folded"].id, sources["Folded"].country) == ("push", "FR")
    assert 'source="made-up-outlet"' not in metrics
