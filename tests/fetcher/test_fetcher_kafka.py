"""The fetcher against a loopback news site and the real Kafka broker of the test session."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx
import pytest

from mediawatch.fetcher.service import Fetcher
from mediawatch.fetcher.sources import Source, load_sources
from mediawatch.runtime.auth import Role
from mediawatch.runtime.http import ServiceHttpServer
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import ArticleFetched, ArticleSeen, header_map
from tests.support.environment import REPOSITORY, settings_environment
from tests.support.fetcher import (
    FAST,
    bearer,
    fetcher_settings,
    new_token_in,
    read_exactly,
    write_sources,
)
from tests.support.kafka_io import Record
from tests.support.site import (
    ARTICLES,
    CYRILLIC,
    OPED_PARAGRAPHS,
    OPED_TITLE,
    OPINION_SLUG,
    serve_site,
)

pytestmark = [pytest.mark.kafka]

MEDIAWATCH = REPOSITORY / ".venv" / "bin" / "mediawatch"
JUNK = ("cookies", "Subscribe", "Copyright", "Celebrity", "Privacy", "Most read", "Home")


def events(records: list[Record]) -> list[ArticleFetched]:
    return [ArticleFetched.from_json(r.value or b"") for r in records]


async def run_cli(sources: Path, settings: KafkaSettings, tmp_path: Path) -> tuple[int, str]:
    env = (
        os.environ
        | settings_environment(settings)
        | {f"MEDIAWATCH_{k.upper()}": str(v) for k, v in FAST.items()}
        | {"MEDIAWATCH_STATE_DIR": str(tmp_path / "state")}
    )
    process = await asyncio.create_subprocess_exec(
        str(MEDIAWATCH), "fetcher", "run", "--once", "--sources", str(sources),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_cli_once_publishes_feed_articles_once_and_isolates_bad_sources(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    async with serve_site() as site:
        good = {"id": "loopback-feed", "type": "feed", "url": f"{site.base}/feed.xml",
                "country": "GB", "outlet_type": "newspaper", "language": "en"}  # fmt: skip
        bad = [
            {"id": "broken-feed", "type": "feed", "url": f"{site.base}/broken.xml"},
            {"id": "malformed-feed", "type": "feed", "url": f"{site.base}/malformed.xml"},
            {"id": "loop-page", "type": "page", "url": f"{site.base}/loop/a"},
            {"id": "slow-page", "type": "page", "url": f"{site.base}/slow"},
        ]
        status, output = await run_cli(
            write_sources(tmp_path / "all.yaml", [good, *bad]), kafka_settings, tmp_path
        )
        assert status == 1, output
        for source in bad:
            assert f'"source_id": "{source["id"]}"' in output
        assert "redirect loop" in output and "HTTP 500" in output and "malformed feed" in output

        topic = kafka_settings.topic_articles_fetched
        first = await read_exactly(kafka_settings, topic, 3)
        published = events(first)
        assert len(published) == 3
        by_title = {e.title: e for e in published}
        for title, paragraphs in ARTICLES.values():
            event = by_title[title]
            assert event.text == "\n\n".join(paragraphs)
            assert not any(junk in event.text for junk in JUNK)
            assert event.extraction is not None and event.extraction.method == "trafilatura"
            assert event.source.id == "loopback-feed" and event.source.country == "GB"
            assert event.canonical_url is not None and "utm_" not in event.canonical_url
            assert event.byline == "Ann Writer" and event.published_at is not None
        # The genre: the page's own schema.org type, else the /news/ segment of its URL.
        opinion = by_title[ARTICLES[OPINION_SLUG][0]]
        assert (opinion.genre, opinion.genre_from) == ("opinion", "schema.org OpinionNewsArticle")
        for event in published:
            if event is not opinion:
                assert (event.genre, event.genre_from) == ("news", "URL path /news/")
        record = first[0]
        assert record.key == published[0].article_id.encode()
        headers = header_map(record.headers)
        assert headers["ce_type"] == "io.mediawatch.ArticleFetched.v1"
        assert headers["ce_source"] == "/mediawatch/fetcher"

        # A restart (a new process) learns from the seen topic and publishes nothing again.
        status, output = await run_cli(
            write_sources(tmp_path / "good.yaml", [good]), kafka_settings, tmp_path
        )
        assert status == 0, output
        assert len(await read_exactly(kafka_settings, topic, 3)) == 3
        seen = await read_exactly(kafka_settings, kafka_settings.topic_fetcher_seen, 3)
        assert {ArticleSeen.from_json(r.value or b"").article_id for r in seen} == set(
            by_title[t].article_id for t, _ in ARTICLES.values()
        )


async def test_pages_sitemaps_encodings_near_duplicates_and_inbox(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "river.txt").write_text(OPED_TITLE + "\n" + "\n".join(OPED_PARAGRAPHS) + "\n")
    (inbox / "note.md").write_text("# A markdown note\n\nFirst *paragraph* here.\n\nSecond one.\n")
    (inbox / "item.json").write_text(
        json.dumps({"title": "From JSON", "text": "A pushed-by-file text.", "language": "en"})
    )
    (inbox / "bad.json").write_text(json.dumps({"title": "No text field"}))
    (inbox / "empty.txt").write_text("   \n")
    (inbox / "scan.pdf").write_bytes(b"%PDF-1.4")
    old = 1_000_000_000
    for path in inbox.iterdir():
        os.utime(path, (old, old))
    async with serve_site() as site:
        sources = [
            {"id": "wire-a", "type": "page", "url": f"{site.base}/syndicated/a"},
            {"id": "wire-b", "type": "page", "url": f"{site.base}/syndicated/b"},
            {"id": "ru-page", "type": "page", "url": f"{site.base}/cyrillic", "language": "ru"},
            {"id": "news-sitemap", "type": "sitemap", "url": f"{site.base}/sitemap.xml"},
            {"id": "private", "type": "page", "url": f"{site.base}/private/page"},
            {"id": "drop", "type": "inbox", "path": str(inbox)},
        ]
        file = write_sources(tmp_path / "sources.yaml", sources)
        settings = fetcher_settings(kafka_settings, tmp_path)
        fetcher = Fetcher(settings, load_sources(file))
        await fetcher.start()
        try:
            failures = await fetcher.run_once()
        finally:
            await fetcher.stop()
        assert set(failures) == {"private"} and "robots.txt" in failures["private"]

        expected = 2 + 1 + 3 + 3  # wire copies, cyrillic, sitemap articles, inbox files
        published = events(
            await read_exactly(kafka_settings, settings.topic_articles_fetched, expected)
        )
        assert len(published) == expected
        by_source: dict[str, list[ArticleFetched]] = {}
        for event in published:
            by_source.setdefault(event.source.id, []).append(event)

        (a,), (b,) = by_source["wire-a"], by_source["wire-b"]
        original, copy = (a, b) if b.duplicate_of else (b, a)
        assert copy.duplicate_of == original.article_id and original.duplicate_of is None

        (ru,) = by_source["ru-page"]
        assert ru.title == CYRILLIC[0] and ru.text == "\n\n".join(CYRILLIC[1])
        assert ru.language == "ru"

        assert {e.title for e in by_source["news-sitemap"]} == {t for t, _ in ARTICLES.values()}

        inboxed = {e.title: e for e in by_source["drop"]}
        river = inboxed[OPED_TITLE]
        assert river.text.split("\n\n") == OPED_PARAGRAPHS
        assert river.extraction is not None and river.extraction.method == "plain-text"
        assert river.url is None and river.article_id.startswith("c")
        assert inboxed["A markdown note"].text == "First paragraph here.\n\nSecond one."
        assert "From JSON" in inboxed
        assert sorted(p.name for p in (inbox / "done").iterdir()) == [
            "item.json", "note.md", "river.txt"
        ]  # fmt: skip
        failed = {p.name: p for p in (inbox / "failed").iterdir()}
        assert set(failed) == {
            "bad.json", "bad.json.error", "empty.txt", "empty.txt.error", "scan.pdf",
            "scan.pdf.error",
        }  # fmt: skip
        assert "text: Field required" in failed["bad.json.error"].read_text()
        assert "empty" in failed["empty.txt.error"].read_text()
        assert "unsupported file type '.pdf'" in failed["scan.pdf.error"].read_text()

        # Same content again, in a new instance: the page texts did not change, the inbox
        # copy of the op-ed is an exact duplicate; nothing new reaches the topic.
        (inbox / "river-again.txt").write_text(
            OPED_TITLE + "\n\n" + "\n\n".join(OPED_PARAGRAPHS) + "\n"
        )
        os.utime(inbox / "river-again.txt", (old, old))
        again = Fetcher(settings, load_sources(file))
        await again.start()
        try:
            await again.run_once()
        finally:
            await again.stop()
        assert len(
            await read_exactly(kafka_settings, settings.topic_articles_fetched, expected)
        ) == (expected)
        assert (inbox / "done" / "river-again.txt").exists()


async def test_push_endpoint_and_instances_share_seen_state(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    settings = fetcher_settings(kafka_settings, tmp_path, push_max_bytes=4096, http_port=0)
    partner = Source(
        id="partner", type="inbox", path=tmp_path / "unused", name="Partner", country="DE",
        outlet_type="blog",
    )  # fmt: skip
    first, second = Fetcher(settings, [partner]), Fetcher(settings, [partner])
    server = ServiceHttpServer.for_service(settings, readiness=first.ready)
    first.add_routes(server)
    token = new_token_in(settings.tokens_path)
    await server.start()
    await first.start()
    await second.start()
    url = f"http://127.0.0.1:{server.port}"
    article = {
        "title": "Pushed op-ed",
        "text": OPED_PARAGRAPHS[0],
        "url": "https://example.org/op-ed?utm_campaign=x",
        "byline": "A. Uthor",
        "language": "en",
        "source": {"id": "partner"},
    }
    try:
        async with httpx.AsyncClient(base_url=url, headers=bearer(token)) as client:
            assert (await client.get("/readyz")).status_code == 200
            one = await client.post("/v1/articles", json=article)
            batch = await client.post(
                "/v1/articles",
                json=[{"title": "B1", "text": OPED_PARAGRAPHS[1]}, {"title": "B2", "text": "x y"}],
            )
            again = await client.post("/v1/articles", json=article)
            invalid = await client.post(
                "/v1/articles", json=[{"title": "ok", "text": "fine"}, {"text": 3, "url": "ftp:x"}]
            )
            single_invalid = await client.post("/v1/articles", json={"title": "t", "colour": 1})
            not_json = await client.post("/v1/articles", content=b"{nope")
            too_big = await client.post("/v1/articles", json={"title": "t", "text": "x" * 5000})
            metrics = (await client.get("/metrics")).text
        assert one.status_code == 202, one.text
        (first_id,) = [a["article_id"] for a in one.json()["articles"]]
        assert batch.status_code == 202 and batch.json()["accepted"] == 2
        assert again.status_code == 202
        assert again.json()["articles"][0] == {
            "article_id": first_id, "status": "duplicate", "duplicate_of": first_id
        }  # fmt: skip
        assert invalid.status_code == 422
        locs = {tuple(e["loc"]) for e in invalid.json()["errors"]}
        assert {(1, "title"), (1, "text"), (1, "url")} <= locs
        assert single_invalid.status_code == 422
        assert {tuple(e["loc"]) for e in single_invalid.json()["errors"]} == {
            ("text",), ("colour",)
        }  # fmt: skip
        assert not_json.status_code == 422 and "not valid JSON" in not_json.text
        assert too_big.status_code == 413
        assert 'mediawatch_fetcher_articles_published_total{source="partner"}' in metrics
        assert "mediawatch_fetcher_duplicates_total" in metrics

        # The second instance learns the first one's articles through the seen topic.
        async with asyncio.timeout(30):
            while not second.index.knows_id(first_id):  # noqa: ASYNC110 (state set by a consumer)
                await asyncio.sleep(0.1)
        from mediawatch.fetcher.push import PushArticle, candidate_from_push

        outcome = await second.publisher.publish(
            candidate_from_push(PushArticle.model_validate(article), partner.info())
        )
        assert outcome.status == "duplicate"
    finally:
        await server.stop()
        await first.stop()
        await second.stop()

    published = events(await read_exactly(settings, settings.topic_articles_fetched, 3))
    assert len(published) == 3
    pushed = next(e for e in published if e.article_id == first_id)
    assert pushed.canonical_url == "https://example.org/op-ed"
    assert pushed.source.type == "push" and pushed.source.country == "DE"


async def test_continuous_run_serves_push_and_stops_cleanly_on_sigterm(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    from mediawatch.stack.broker import free_port

    port = free_port()
    inbox = tmp_path / "inbox"
    sources = write_sources(
        tmp_path / "sources.yaml", [{"id": "drop", "type": "inbox", "path": str(inbox)}]
    )
    env = (
        os.environ
        | settings_environment(kafka_settings)
        | {"MEDIAWATCH_HTTP_PORT": str(port), "MEDIAWATCH_STATE_DIR": str(tmp_path / "state")}
    )
    token = new_token_in(tmp_path / "state" / "tokens.json")
    viewer = new_token_in(tmp_path / "state" / "tokens.json", Role.VIEWER)
    process = await asyncio.create_subprocess_exec(
        str(MEDIAWATCH), "fetcher", "run", "--sources", str(sources),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=bearer(token)
        ) as client:
            async with asyncio.timeout(90):
                while True:
                    try:
                        if (await client.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.2)
            answer = await client.post(
                "/v1/articles", json={"title": "Live", "text": OPED_PARAGRAPHS[2]}
            )
            health = (await client.get("/v1/sources", headers=bearer(viewer))).json()
        assert answer.status_code == 202, answer.text
        assert set(health) == {"drop"}
    finally:
        process.terminate()  # SIGTERM
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output.decode()
    (record,) = await read_exactly(kafka_settings, kafka_settings.topic_articles_fetched, 1)
    assert ArticleFetched.from_json(record.value or b"").title == "Live"
