"""One article in, one :class:`ArticleTagged` out: themes, actors, stance, tone, each a stage
of :mod:`mediawatch.tagger.stages` over one document built once.

The faust agent and the ``mediawatch tag`` command both call :meth:`Tagger.tag`, so what an
analyst sees at the prompt is exactly what the stream publishes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from mediawatch.query import ThemeMatcher
from mediawatch.schemas import ArticleFetched, ArticleRef, ArticleTagged, TaggerInfo
from mediawatch.tagger.actors import ActorResolver, load_actor_catalogue
from mediawatch.tagger.ner import RecogniserPool
from mediawatch.tagger.settings import TaggerSettings
from mediawatch.tagger.stages import (
    ActorStage,
    ArticleDoc,
    Stage,
    StanceStage,
    ThemeStage,
    ToneStage,
)
from mediawatch.tagger.stance import SentenceStanceModel, StanceModel


def tagger_version() -> str:
    try:
        return metadata.version("mediawatch")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class Tagger:
    """The compiled catalogues and the stance model, loaded once per process, as a list of
    stages (:mod:`stages`) run in order over one :class:`ArticleDoc` per article."""

    def __init__(
        self,
        themes: ThemeMatcher,
        actors: ActorResolver,
        stance: SentenceStanceModel,
        *,
        max_chars: int = 100_000,
        max_stance_mentions: int = 8,
        min_stance_pairs: int = 12,
        stance_pairs_per_1000_words: int = 40,
        catalogue_versions: dict[str, str] | None = None,
    ) -> None:
        self.max_chars = max_chars
        self.theme_stage = ThemeStage(themes)
        self.actor_stage = ActorStage(actors)
        self.stance_stage = StanceStage(
            stance,
            max_mentions=max_stance_mentions,
            min_pairs=min_stance_pairs,
            pairs_per_1000_words=stance_pairs_per_1000_words,
        )
        #: Run in order; a new stage goes in here (the stance stage reads themes and actors).
        self.stages: list[Stage] = [
            self.theme_stage,
            self.actor_stage,
            self.stance_stage,
            ToneStage(),
        ]
        self.version = tagger_version()
        self.catalogue_versions = catalogue_versions or {}

    @classmethod
    def from_files(
        cls,
        themes_file: Path,
        actors_file: Path | None = None,
        *,
        max_chars: int = 100_000,
        max_stance_mentions: int = 8,
        min_stance_pairs: int = 12,
        stance_pairs_per_1000_words: int = 40,
        open_world: bool = True,
        stance_model: str = "contextual",
        stance_threads: int = 1,
    ) -> Tagger:
        themes = ThemeMatcher.from_file(themes_file)
        catalogue = load_actor_catalogue(actors_file)
        return cls(
            themes,
            ActorResolver(catalogue, RecogniserPool() if open_world else None),
            load_stance_model(stance_model, threads=stance_threads),
            max_chars=max_chars,
            max_stance_mentions=max_stance_mentions,
            min_stance_pairs=min_stance_pairs,
            stance_pairs_per_1000_words=stance_pairs_per_1000_words,
            catalogue_versions={
                "themes": str(themes.version),
                "actors": str(getattr(catalogue, "version", "")),
            },
        )

    @classmethod
    def from_settings(cls, settings: TaggerSettings) -> Tagger:
        return cls.from_files(
            settings.themes_file,
            settings.actors_file,
            max_chars=settings.max_chars,
            max_stance_mentions=settings.max_stance_mentions,
            min_stance_pairs=settings.min_stance_pairs,
            stance_pairs_per_1000_words=settings.stance_pairs_per_1000_words,
            open_world=settings.open_world_actors,
            stance_model=settings.stance_model,
            stance_threads=settings.stance_threads,
        )

    def tag(self, article: ArticleFetched, *, now: datetime | None = None) -> ArticleTagged:
        started = time.perf_counter()
        doc = ArticleDoc.of(article, self.max_chars)
        timings: dict[str, float] = {"document": _ms(started)}
        for stage in self.stages:
            before = time.perf_counter()
            stage(doc)
            timings[stage.name] = _ms(before)
        timings["total"] = _ms(started)
        return ArticleTagged(
            article=ArticleRef(
                article_id=article.article_id,
                url=article.url,
                title=article.title,
                source=article.source,
                published_at=article.published_at,
                fetched_at=article.fetched_at,
                language=article.language,
                content_hash=article.content_hash,
                duplicate_of=article.duplicate_of,
                genre=article.genre,
                genre_from=article.genre_from,
            ),
            text_start=0,
            text_end=len(doc.text),
            text_length=len(article.text),
            truncated=doc.truncated,
            language=doc.language,
            text=doc.text,
            themes=doc.themes,
            actors=doc.actors,
            stances=doc.stances,
            tone=doc.tone,
            tagger=TaggerInfo(
                version=self.version,
                catalogue_versions=self.catalogue_versions,
                timings_ms=timings,
            ),
            tagged_at=now or datetime.now(UTC),
        )


def load_stance_model(name: str, *, threads: int = 1) -> SentenceStanceModel:
    """The sentence stance model named by the ``stance_model`` setting."""
    if name == "lexical":
        return StanceModel.load()
    if name == "contextual":
        from mediawatch.tagger.contextual import ContextualStanceModel

        return ContextualStanceModel(threads=threads)
    raise ValueError(f"unknown stance model {name!r}: expected 'contextual' or 'lexical'")


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
