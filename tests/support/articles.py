"""Valid ArticleFetched events for tests, built from short texts written for the tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from mediawatch.schemas import ArticleFetched, SourceInfo


def article(
    article_id: str, text: str = "A short test article.", **fields: object
) -> ArticleFetched:
    values: dict[str, object] = {
        "article_id": article_id,
        "url": f"https://news.example.org/{article_id}",
        "canonical_url": f"https://news.example.org/{article_id}",
        "source": SourceInfo(id="test-source", type="push", country="GB", language="en"),
        "title": f"Title of {article_id}",
        "fetched_at": datetime.now(UTC),
        "language": "en",
        "text": text,
        "content_hash": hashlib.sha256(text.encode()).hexdigest(),
    }
    values.update(fields)
    return ArticleFetched.model_validate(values)
