"""ArticleTagged events for the alerter tests, built directly with chosen tags and times."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from mediawatch.schemas import (
    ActorTag,
    ArticleRef,
    ArticleTagged,
    Evidence,
    SourceInfo,
    StanceTag,
    TaggerInfo,
    ThemeTag,
)

T0 = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def tagged(
    article_id: str,
    fetched_at: datetime = T0,
    *,
    themes: tuple[str, ...] = (),
    actors: tuple[str, ...] = (),
    stances: dict[str, float] | None = None,
    text: str = "A short article about nothing in particular.",
    duplicate_of: str | None = None,
    country: str = "GB",
    outlet_type: str = "newspaper",
    language: str = "en",
) -> ArticleTagged:
    span = Evidence(start=0, end=7, text=text[:7], sentence=text, sentence_start=0,
                    sentence_end=len(text))  # fmt: skip
    return ArticleTagged(
        article=ArticleRef(
            article_id=article_id,
            url=f"https://news.example.org/{article_id}",
            title=f"Title of {article_id}",
            source=SourceInfo(
                id="test-source",
                type="feed",
                name="Test Source",
                country=country,
                outlet_type=outlet_type,
                language=language,
            ),
            fetched_at=fetched_at,
            language=language,
            content_hash=hashlib.sha256(article_id.encode()).hexdigest(),
            duplicate_of=duplicate_of,
        ),
        text_end=len(text),
        text_length=len(text),
        language=language,
        text=text,
        themes=[ThemeTag(theme_id=t, label=t, evidence=[span]) for t in themes],
        actors=[ActorTag(actor_id=a, name=a, type="organisation", mentions=[span]) for a in actors],
        stances=[
            StanceTag(
                target_kind="actor",
                target_id=target,
                score=score,
                evidence=[span],
                label="critical" if score < -0.2 else "supportive" if score > 0.2 else "neutral",
            )
            for target, score in (stances or {}).items()
        ],
        tagger=TaggerInfo(version="test"),
        tagged_at=fetched_at,
    )
