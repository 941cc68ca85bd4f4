"""Two fetcher processes share 20 loopback feeds through the Kafka group: each feed is polled
by one instance, never twice within an interval (counted at the server), and when one
instance is killed the other takes its feeds over without publishing any article twice,
neither its own nor those the killed one published."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from aiohttp import web
from aiokafka.errors import KafkaError

from mediawatch.fetcher.extract import Extracted
from mediawatch.fetcher.identity import canonical_url
from mediawatch.fetcher.publish import Candidate, build_event
from mediawatch.fetcher.service import Fetcher
from mediawatch.fetcher.sharding import partition_of
from mediawatch.fetcher.sources import load_sources
from mediawatch.runtime.kafka import ensure_topics, partitions_of, producer
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import ArticleFetched, ArticleSeen, SourcePolled
from mediawatch.schemas.topics import FETCHER_SOURCES
from tests.support.environment import settings_environment
from tests.support.fetcher import (
    LOOPBACK_ALLOWED_ENV,
    fetcher_settings,
    read_exactly,
    write_sources,
)
from tests.support.kafka_io import read_topic
from tests.support.site import page, rss
from tests.support.workers import ServiceProcess

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

FEEDS = 20
INTERVAL_S = 6.0
SESSION_TIMEOUT_S = 6


@dataclass
class Hit:
    feed: int
    agent: str
    at: float


@dataclass
class Feeds:
    """20 feeds on loopback, each with its own articles; every feed request is counted."""

    base: str = ""
    hits: list[Hit] = field(default_factory=list)
    #: (feed, story) -> the user agents that fetched the article's page
    page_agents: dict[tuple[int, int], list[str]] = field(default_factory=lambda: defaultdict(list))
    articles: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(FEEDS), 1))

    def of(self, feed: int, *, since: float = 0.0) -> list[Hit]:
        return [h for h in self.hits if h.feed == feed and h.at > since]


def _paragraphs(feed: int, number: int) -> list[str]:
    return [
        f"Feed {feed} reports story {number}: the {word} committee met on day {number} and "
        f"agreed on item {feed * 100 + number} after a long debate about the regional budget."
        for word in ("transport", "housing", "water")
    ]


@asynccontextmanager
async def serve_feeds() -> AsyncIterator[Feeds]:
    feeds = Feeds()

    async def feed(request: web.Request) -> web.Response:
        number = int(request.match_info["feed"])
        feeds.hits.append(Hit(number, request.headers.get("User-Agent", ""), time.monotonic()))
        items = [
            (f"Feed {number} story {n}", f"/article/{number}/{n}", _paragraphs(number, n)[0])
            for n in range(1, feeds.articles[number] + 1)
        ]
        return web.Response(text=rss(feeds.base, items), content_type="application/rss+xml")

    async def article(request: web.Request) -> web.Response:
        number, story = int(request.match_info["feed"]), int(request.match_info["n"])
        feeds.page_agents[number, story].append(request.headers.get("User-Agent", ""))
        html = page(f"Feed {number} story {story}", _paragraphs(number, story))
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/feed/{feed}.xml", feed)
    app.router.add_get("/article/{feed}/{n}", article)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    feeds.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        yield feeds
    finally:
        await runner.cleanup()


def set_stories(feeds: Feeds, stories: int) -> None:
    for feed in range(FEEDS):
        feeds.articles[feed] = stories


async def until(
    condition: Callable[[], bool],
    what: str,
    timeout_s: float = 120.0,
    *,
    logs: Sequence[ServiceProcess] = (),
) -> None:
    """Wait for ``condition``; on time-out fail naming ``what``, with the tails of ``logs``."""
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():  # noqa: ASYNC110 (the state is set by the HTTP handlers)
                await asyncio.sleep(0.2)
    except TimeoutError:
        tails = "".join(f"\n--- {' '.join(p.args)}:\n{p.log_tail(3000)}" for p in logs)
        raise AssertionError(f"not reached within {timeout_s}s: {what}{tails}") from None


@pytest.mark.timeout(420)
async def test_two_fetchers_share_feeds_and_one_takes_over_when_the_other_is_killed(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    async with serve_feeds() as feeds:
        sources = write_sources(
            tmp_path / "sources.yaml",
            [
                {"id": f"feed-{i:02d}", "type": "feed", "url": f"{feeds.base}/feed/{i}.xml",
                 "interval": INTERVAL_S}
                for i in range(FEEDS)
            ],
        )  # fmt: skip
        shared = (
            settings_environment(kafka_settings)
            | LOOPBACK_ALLOWED_ENV
            | {
                "MEDIAWATCH_SHARD_SOURCES": "true",
                "MEDIAWATCH_FETCHER_GROUP_ID": f"fetchers-{suffix}",
                "MEDIAWATCH_TOPIC_FETCHER_SOURCES": f"test.{suffix}.fetcher.sources",
                "MEDIAWATCH_KAFKA_SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S),
                "MEDIAWATCH_POLITENESS_DELAY_S": "0",
                "MEDIAWATCH_PER_HOST_CONCURRENCY": "8",
                "MEDIAWATCH_SHUTDOWN_GRACE_S": "10",
            }
        )

        def instance(name: str) -> ServiceProcess:
            env = shared | {
                "MEDIAWATCH_USER_AGENT": f"fetcher-{name}",
                "MEDIAWATCH_STATE_DIR": str(tmp_path / name),
            }
            args = ["fetcher", "run", "--sources", str(sources)]
            return ServiceProcess(args, env, tmp_path / f"{name}.log")

        first, second = instance("a"), instance("b")
        topic = kafka_settings.topic_articles_fetched
        try:
            # Alone, the first instance is given every partition and polls every feed.
            first.start()
            await until(
                lambda: all(feeds.of(i) for i in range(FEEDS)),
                "the first polls every feed",
                logs=[first],
            )
            second.start()
            await until(
                lambda: any(h.agent == "fetcher-b" for h in feeds.hits), "b polls", logs=[second]
            )
            joined = min(h.at for h in feeds.hits if h.agent == "fetcher-b")
            await until(
                lambda: all(len(feeds.of(i, since=joined)) >= 2 for i in range(FEEDS)),
                "every feed polled twice since the second instance joined",
                logs=[first, second],
            )
            owners = {i: {h.agent for h in feeds.of(i, since=joined)} for i in range(FEEDS)}
            assert all(len(agents) == 1 for agents in owners.values()), owners
            by_owner: dict[str, set[int]] = defaultdict(set)
            for feed, (agent,) in owners.items():
                by_owner[agent].add(feed)
            assert by_owner["fetcher-a"] and by_owner["fetcher-b"], by_owner

            # A new story in every feed: each instance publishes those of its own feeds.
            set_stories(feeds, 2)
            records = await read_topic(
                kafka_settings, topic, until=lambda r: len(r) >= 2 * FEEDS, timeout_s=120
            )
            assert {feeds.page_agents[i, 2][0] for i in by_owner["fetcher-b"]} == {"fetcher-b"}

            # Killed: its feeds move to the first instance, which publishes their new
            # stories and none of the old ones again, though the killed one published some.
            second.kill()
            killed = time.monotonic()
            set_stories(feeds, 3)
            await until(
                lambda: all(
                    any(h.agent == "fetcher-a" for h in feeds.of(i, since=killed))
                    for i in by_owner["fetcher-b"]
                ),
                "the first instance polls the killed one's feeds",
                logs=[first],
            )
            records = await read_topic(
                kafka_settings, topic, until=lambda r: len(r) >= 3 * FEEDS, timeout_s=120
            )
            records = await read_topic(
                kafka_settings, topic, until=lambda r: len(r) > 3 * FEEDS, timeout_s=3 * INTERVAL_S
            )  # a grace period that would let an article published twice show up
        finally:
            second.kill()
            status = await asyncio.to_thread(first.stop)
        assert status == 0, first.log_tail()

    published = [ArticleFetched.from_json(r.value or b"") for r in records]
    titles = sorted(e.title for e in published)
    assert titles == sorted(f"Feed {i} story {n}" for i in range(FEEDS) for n in (1, 2, 3))
    assert len({e.article_id for e in published}) == len(published) == 3 * FEEDS
    # Counted at the server: no feed was ever polled twice within an interval, neither
    # while the second instance joined nor when it was killed.
    for feed in range(FEEDS):
        times = [h.at for h in feeds.of(feed)]
        gaps = [later - earlier for earlier, later in pairwise(times)]
        assert min(gaps) > INTERVAL_S / 2, (feed, gaps)


async def test_an_article_left_without_its_seen_record_is_learnt_not_published_again(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    """What an instance killed between an article's acknowledgement and its seen record
    leaves behind: the article on the articles topic, no seen record, and the source's last
    pass start on the sources topic. The next owner must learn the article from the
    articles topic and neither fetch its page nor publish it again."""
    suffix = uuid.uuid4().hex[:8]
    settings = fetcher_settings(
        kafka_settings,
        tmp_path,
        shard_sources=True,
        fetcher_group_id=f"fetchers-{suffix}",
        topic_fetcher_sources=f"test.{suffix}.fetcher.sources",
        kafka_session_timeout_s=SESSION_TIMEOUT_S,
    )
    async with serve_feeds() as feeds:
        url = f"{feeds.base}/article/0/1"
        sources = write_sources(
            tmp_path / "sources.yaml",
            [{"id": "feed-00", "type": "feed", "url": f"{feeds.base}/feed/0.xml", "interval": 5}],
        )
        source = load_sources(sources)[0]
        extracted = Extracted(title="Feed 0 story 1", text="\n\n".join(_paragraphs(0, 1)))
        event, _ = build_event(
            Candidate.of(source.info(), extracted, url=url, canonical_url=canonical_url(url))
        )
        left = SourcePolled(
            source_id=source.id, polled_at=datetime.now(UTC) - timedelta(seconds=10), instance="x"
        )
        await ensure_topics(settings)
        await ensure_topics(settings, [FETCHER_SOURCES])
        client = producer(settings)
        await client.start()
        try:
            await client.send_and_wait(
                settings.topic_articles_fetched, event.to_json(), key=event.article_id.encode()
            )
            await client.send_and_wait(
                settings.topic_fetcher_sources,
                left.to_json(),
                key=source.id.encode(),
                partition=partition_of(source.id, FETCHER_SOURCES.partitions),
            )
        finally:
            await client.stop()

        fetcher = Fetcher(settings, [source])
        await fetcher.start()
        running = asyncio.create_task(fetcher.run_forever())
        try:
            await until(lambda: fetcher.health.sources[source.id].healthy is not None, "one pass")
        finally:
            fetcher.stopping.set()
            await running
            await fetcher.stop()
        assert fetcher.health.sources[source.id].healthy, fetcher.health.sources
        assert feeds.of(0), "the feed was polled"
        assert feeds.page_agents[0, 1] == [], "a known article's page is not fetched"
    records = await read_exactly(settings, settings.topic_articles_fetched, 1)
    assert [ArticleFetched.from_json(r.value or b"").article_id for r in records] == [
        event.article_id
    ]
    seen = await read_exactly(settings, settings.topic_fetcher_seen, 1)
    assert [ArticleSeen.from_json(r.value or b"").article_id for r in seen] == [event.article_id]


async def test_the_partition_count_waits_for_a_topic_created_meanwhile(
    kafka_settings: KafkaSettings,
) -> None:
    """The first instance of a group may read the sources topic's partitions while another
    is still creating it; hashing sources onto zero partitions once failed a CI run."""
    topic = kafka_settings.topic_fetcher_sources
    waiting = asyncio.create_task(partitions_of(kafka_settings, topic, timeout_s=30.0))
    await asyncio.sleep(1.0)
    assert not waiting.done(), "answered before the topic existed"
    await ensure_topics(kafka_settings, [FETCHER_SOURCES])
    assert await waiting == list(range(FETCHER_SOURCES.partitions))
    with pytest.raises(KafkaError, match=r"topic test\.never\.\w+ .* no partitions within 1s"):
        await partitions_of(kafka_settings, f"test.never.{uuid.uuid4().hex[:8]}", timeout_s=1.0)
