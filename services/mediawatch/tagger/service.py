"""The tagger service: faust agents from ``articles.fetched`` to ``articles.tagged``.

Several workers with the same ``MEDIAWATCH_APP_ID`` form one consumer group and share the
partitions. Each tagged event is keyed by article id, so a replay after a crash overwrites
(same id, same content) instead of adding a different result.
"""

from __future__ import annotations

from collections.abc import Sequence

import faust
from prometheus_client import Counter, Histogram

from mediawatch.runtime.errors import policy_of
from mediawatch.runtime.settings import load_settings
from mediawatch.runtime.streaming import EventPipe, Output, make_app, raw_topic
from mediawatch.runtime.worker import run_worker
from mediawatch.schemas import ArticleFetched
from mediawatch.tagger.pipeline import Tagger
from mediawatch.tagger.settings import TaggerSettings

ARTICLES_TAGGED = Counter(
    "mediawatch_tagger_articles_total",
    "Articles tagged, by detected language.",
    ["language"],
)
ARTICLES_TRUNCATED = Counter(
    "mediawatch_tagger_truncated_total",
    "Articles longer than the size cap, tagged on their first characters only.",
)
TAGGING_SECONDS = Histogram(
    "mediawatch_tagger_duration_seconds",
    "Time to tag one article (themes, actors, stance).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
_KNOWN_LANGUAGES = frozenset({"en", "fr", "de", "es", "it", "ru", "uk", "zh"})


def run(settings: TaggerSettings | None = None) -> None:
    """Start one tagger worker and block until it is stopped."""
    settings = settings or load_settings(TaggerSettings)
    app = make_app(settings, settings.app_id)
    build_pipe(app, settings, Tagger.from_settings(settings))
    run_worker(app, settings)


def build_pipe(
    app: faust.App, settings: TaggerSettings, tagger: Tagger
) -> EventPipe[ArticleFetched]:
    """The tagging stream of ``app``: what the worker runs, and what tests run in memory."""
    tagged_topic = raw_topic(app, settings.topic_articles_tagged)

    async def tag(article: ArticleFetched) -> Sequence[Output]:
        with TAGGING_SECONDS.time():
            tagged = tagger.tag(article)
        language = tagged.language if tagged.language in _KNOWN_LANGUAGES else "other"
        ARTICLES_TAGGED.labels(language or "other").inc()
        if tagged.truncated:
            ARTICLES_TRUNCATED.inc()
        return [Output(tagged_topic, article.article_id, tagged)]

    return EventPipe(
        app,
        service=settings.service_name,
        source=raw_topic(app, settings.topic_articles_fetched),
        event_type=ArticleFetched,
        handler=tag,
        dead_letters=raw_topic(app, settings.topic_deadletter),
        name="tag-articles",
        concurrency=settings.concurrency,
        on_error=policy_of(settings.on_error),
    )
