"""The project's founding example, when the shared data folder is beside the checkout: the
op-ed must yield the indivisible-security theme with all its mentions, the cited people and
the main actors; read as the opinion piece it is, a critical stance toward the United States
and the analysts it quotes approvingly on the author's side. (Issue #12 also wants China,
Russia and indivisible security supportive and NATO critical; docs/stance.md says where the
article stance still fails, and this test will tighten as it improves.)"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mediawatch.cli.main import app
from mediawatch.fetcher.files import read_article
from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import ArticleTagged, StanceLabel, cloudevent_headers
from mediawatch.tagger.pipeline import Tagger
from mediawatch.tagger.settings import TaggerSettings
from tests.support.environment import settings_environment
from tests.support.kafka_io import produce, read_topic
from tests.support.tagging import tag_signature
from tests.support.workers import ServiceProcess

OPED = Path(__file__).resolve().parents[3] / "shared" / "data" / "oped-putin-state-visit.txt"


@pytest.mark.skipif(not OPED.exists(), reason=f"shared data not present at {OPED}")
def test_seed_oped_through_the_command_line() -> None:
    result = CliRunner().invoke(app, ["tag", "--json", "--genre", "opinion", str(OPED)])
    assert result.exit_code == 0, result.output
    tagged = ArticleTagged.from_json(result.stdout)
    theme = next(t for t in tagged.themes if t.theme_id == "indivisible-security")
    mentions = " | ".join(e.text.lower() for e in theme.evidence)
    for phrase in (
        "idea of indivisible security",
        "tenet of indivisible security",
        "indivisibility of security",
        "term of indivisible security",
        "security is indivisible",
    ):
        assert phrase.split(" of ")[-1] in mentions or phrase in mentions, phrase
    assert len(theme.evidence) >= 5
    ids = {a.actor_id for a in tagged.actors}
    expected = {
        "person:geoff-raby", "person:ray-mcgovern", "person:andrey-kortunov", "person:vattel",
        "person:vladimir-putin", "person:xi-jinping", "state:ru", "state:cn", "state:us",
        "org:nato", "org:eu", "state:ua", "org:brics", "org:sco",
    }  # fmt: skip
    assert expected <= ids, expected - ids
    assert tagged.article.genre == "opinion"
    stance = {s.target_id: s for s in tagged.stances}
    assert stance["state:us"].label == StanceLabel.CRITICAL
    assert stance["state:us"].evidence and stance["state:us"].reason.startswith("opinion")
    for analyst in ("person:ray-mcgovern", "person:andrey-kortunov"):
        assert stance[analyst].label == StanceLabel.SUPPORTIVE, stance[analyst]
        assert "speaker the author adopts" in stance[analyst].reason


@pytest.mark.kafka
@pytest.mark.skipif(not OPED.exists(), reason=f"shared data not present at {OPED}")
async def test_seed_oped_through_the_stream_has_the_same_tags(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings)
    worker = ServiceProcess(
        ["tagger", "run"],
        settings_environment(kafka_settings)
        | {
            "MEDIAWATCH_APP_ID": f"seed-{uuid.uuid4().hex[:6]}",
            "MEDIAWATCH_STATE_DIR": str(tmp_path),
        },
        tmp_path / "tagger.log",
    ).start()
    try:
        oped = read_article(OPED)
        await produce(
            kafka_settings,
            kafka_settings.topic_articles_fetched,
            [(oped.article_id.encode(), oped.to_json(), cloudevent_headers(oped, source="/t"))],
        )
        records = await read_topic(
            kafka_settings, kafka_settings.topic_articles_tagged, until=lambda r: len(r) >= 1
        )
    finally:
        worker.stop()
    assert records, worker.log_tail()
    streamed = ArticleTagged.from_json(records[0].value or b"")
    local = Tagger.from_settings(TaggerSettings()).tag(oped)
    assert tag_signature(streamed) == tag_signature(local)
