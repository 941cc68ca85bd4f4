"""A minimal mediawatch stream service used by the foundation tests.

It reads ArticleFetched events through :class:`EventPipe`, appends " (relayed)" to the
title and writes them to the topic named by ``RELAY_OUTPUT_TOPIC``; a title of ``"boom"``
makes the handler raise so that the dead-letter path for handler failures is exercised
(or, with ``MEDIAWATCH_ON_ERROR``, the other error policies).
``RELAY_LATE_TOPIC`` names a second source that does not exist when the worker starts, as
faust's own internal topics may not yet be in the metadata that the first assignment uses.
Run as a script, it is a real faust worker process started through ``run_worker``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from mediawatch.runtime.errors import policy_of
from mediawatch.runtime.settings import ServiceSettings, load_settings
from mediawatch.runtime.streaming import EventPipe, Output, make_app, raw_topic
from mediawatch.runtime.worker import run_worker
from mediawatch.schemas import ArticleFetched

settings = load_settings(ServiceSettings, service_name="relay-test")
app = make_app(settings, os.environ["RELAY_APP_ID"])
source = raw_topic(app, settings.topic_articles_fetched)
output = raw_topic(app, os.environ["RELAY_OUTPUT_TOPIC"])
dead_letters = raw_topic(app, settings.topic_deadletter)


async def relay(article: ArticleFetched) -> Sequence[Output]:
    if article.title == "boom":
        raise RuntimeError("handler exploded on purpose")
    relayed = article.model_copy(update={"title": f"{article.title} (relayed)"})
    return [Output(output, article.article_id, relayed)]


EventPipe(
    app,
    service="relay-test",
    source=source,
    event_type=ArticleFetched,
    handler=relay,
    dead_letters=dead_letters,
    name="relay",
    on_error=policy_of(settings.on_error),
)

if late_topic := os.environ.get("RELAY_LATE_TOPIC"):
    EventPipe(
        app,
        service="relay-test",
        source=raw_topic(app, late_topic),
        event_type=ArticleFetched,
        handler=relay,
        dead_letters=dead_letters,
        name="relay-late",
    )

if __name__ == "__main__":
    run_worker(app, settings)
