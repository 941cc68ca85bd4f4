"""Russian and French articles through the real broker: the tagger worker detects the
language (even where the source declares English), resolves inflected and French names to
their canonical ids and finds the analysts outside the catalogue."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import ArticleTagged, cloudevent_headers
from tests.support.articles import article
from tests.support.environment import settings_environment
from tests.support.kafka_io import produce, read_topic
from tests.support.workers import ServiceProcess

pytestmark = [pytest.mark.kafka]

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED = {
    "state:ru",
    "state:us",
    "state:cn",
    "org:nato",
    "org:eu",
    "person:vladimir-putin",
    "person:sergey-lavrov",
    "person:xi-jinping",
}


def _fixture(name: str, article_id: str) -> object:
    title, _, body = (FIXTURES / name).read_text(encoding="utf-8").partition("\n")
    # The source declares English on purpose: the text's own language must win.
    return article(article_id, text=body, title=title, language="en")


async def test_russian_and_french_articles_carry_canonical_actors(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    env = settings_environment(kafka_settings) | {
        "MEDIAWATCH_APP_ID": f"tagger-{uuid.uuid4().hex[:6]}",
        "MEDIAWATCH_STATE_DIR": str(tmp_path / "state"),
    }
    worker = ServiceProcess(["tagger", "run"], env, tmp_path / "tagger.log").start()
    russian = _fixture("article-ru.txt", "ml-ru")
    french = _fixture("article-fr.txt", "ml-fr")
    try:
        await produce(
            kafka_settings,
            kafka_settings.topic_articles_fetched,
            [
                (a.article_id.encode(), a.to_json(), cloudevent_headers(a, source="/t"))  # type: ignore[attr-defined]
                for a in (russian, french)
            ],
        )
        records = await read_topic(
            kafka_settings,
            kafka_settings.topic_articles_tagged,
            until=lambda r: {x.key for x in r} >= {b"ml-ru", b"ml-fr"},
            timeout_s=120,
        )
    finally:
        worker.stop()
    tagged = {
        event.article_id: event
        for event in (ArticleTagged.from_json(r.value or b"") for r in records)
    }
    assert set(tagged) >= {"ml-ru", "ml-fr"}, worker.log_tail()
    for article_id, language, analyst in (
        ("ml-ru", "ru", "Виктор Соколовский"),
        ("ml-fr", "fr", "Lucien Vasseur"),
    ):
        event = tagged[article_id]
        assert event.language == language
        ids = {a.actor_id for a in event.actors}
        assert ids >= EXPECTED, (article_id, sorted(EXPECTED - ids))
        open_world = {a.name: a for a in event.actors if not a.in_catalogue}
        assert analyst in open_world, (article_id, sorted(open_world))
        assert open_world[analyst].type == "person"
        for actor in event.actors:
            for mention in actor.mentions:
                field = event.article.title if mention.field == "title" else event.text
                assert field[mention.start : mention.end] == mention.text
