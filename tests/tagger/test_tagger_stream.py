"""The tagger through the real broker: same tags as the command line, dead letters for bad
records, and two workers in one group sharing the partitions."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from mediawatch.fetcher.files import read_article
from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import ArticleTagged, DeadLetter, cloudevent_headers
from mediawatch.tagger.pipeline import Tagger
from mediawatch.tagger.settings import TaggerSettings
from tests.support.articles import article
from tests.support.environment import settings_environment
from tests.support.kafka_io import produce, read_topic
from tests.support.tagging import tag_signature
from tests.support.workers import ServiceProcess

pytestmark = [pytest.mark.kafka]

FIXTURE = Path(__file__).parent / "fixtures" / "oped-indivisible.txt"


def _worker(settings: KafkaSettings, tmp_path: Path, app_id: str, name: str) -> ServiceProcess:
    env = settings_environment(settings) | {
        "MEDIAWATCH_APP_ID": app_id,
        "MEDIAWATCH_STATE_DIR": str(tmp_path / name),
        "MEDIAWATCH_LOG_LEVEL": "INFO",
    }
    return ServiceProcess(["tagger", "run"], env, tmp_path / f"{name}.log")


async def test_stream_tags_like_the_command_line_and_dead_letters_bad_records(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    worker = _worker(kafka_settings, tmp_path, f"tagger-{uuid.uuid4().hex[:6]}", "w1").start()
    try:
        oped = read_article(FIXTURE)
        records = [
            (b"bad", b'{"schema_version": "1.0", "article_id": 7}', None),
            (oped.article_id.encode(), oped.to_json(), cloudevent_headers(oped, source="/t")),
        ]
        await produce(kafka_settings, kafka_settings.topic_articles_fetched, records)
        tagged_records = await read_topic(
            kafka_settings, kafka_settings.topic_articles_tagged, until=lambda r: len(r) >= 1
        )
        letters = await read_topic(
            kafka_settings, kafka_settings.topic_deadletter, until=lambda r: len(r) >= 1
        )
    finally:
        worker.stop()
    assert len(tagged_records) == 1, worker.log_tail()
    streamed = ArticleTagged.from_json(tagged_records[0].value or b"")
    assert tagged_records[0].key == oped.article_id.encode()
    local = Tagger.from_settings(TaggerSettings()).tag(oped)
    assert tag_signature(streamed) == tag_signature(local)
    assert "indivisible-security" in {t.theme_id for t in streamed.themes}

    letter = DeadLetter.from_json(letters[0].value or b"")
    assert letter.service == "tagger"
    assert "article_id" in letter.error_message


async def test_two_workers_share_the_partitions(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    app_id = f"tagger-{uuid.uuid4().hex[:6]}"
    first = _worker(kafka_settings, tmp_path, app_id, "w1").start()
    second = _worker(kafka_settings, tmp_path, app_id, "w2").start()
    try:
        first.wait_ready()
        second.wait_ready()
        articles = [
            article(f"shared-{n:03d}", text=f"NATO expansion story number {n}.") for n in range(60)
        ]
        await produce(
            kafka_settings,
            kafka_settings.topic_articles_fetched,
            [(a.article_id.encode(), a.to_json(), None) for a in articles],
        )
        tagged = await read_topic(
            kafka_settings,
            kafka_settings.topic_articles_tagged,
            until=lambda r: len({x.key for x in r}) >= 60,
            timeout_s=120,
        )
        counts = [_processed(worker.metrics()) for worker in (first, second)]
    finally:
        first.stop()
        second.stop()
    assert {r.key for r in tagged} == {a.article_id.encode() for a in articles}
    assert all(count > 0 for count in counts), counts
    assert sum(counts) >= 60


def _processed(metrics: str) -> float:
    match = re.search(
        r'^mediawatch_records_processed_total\{service="tagger",topic="[^"]+"\} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    return float(match.group(1)) if match else 0.0
