"""One article in, one :class:`ArticleTagged` out: themes, actors, stance, tone.

The faust agent and the ``mediawatch tag`` command both call :meth:`Tagger.tag`, so what an
analyst sees at the prompt is exactly what the stream publishes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from mediawatch.schemas import (
    ActorTag,
    ArticleFetched,
    ArticleRef,
    ArticleTagged,
    Evidence,
    StanceTag,
    TaggerInfo,
    ThemeTag,
    Tone,
)
from mediawatch.tagger.actors import ActorResolver, load_actor_catalogue
from mediawatch.tagger.language import resolve_language
from mediawatch.tagger.matcher import Document, ThemeMatcher
from mediawatch.tagger.ner import RecogniserPool
from mediawatch.tagger.settings import TaggerSettings
from mediawatch.tagger.stance import StanceModel, StancePrediction, aggregate, article_tone
from mediawatch.tagger.text import sentence_of, sentence_spans


def tagger_version() -> str:
    try:
        return metadata.version("mediawatch")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class Tagger:
    """The compiled catalogues and the stance model, loaded once per process."""

    def __init__(
        self,
        themes: ThemeMatcher,
        actors: ActorResolver,
        stance: StanceModel,
        *,
        max_chars: int = 100_000,
        max_stance_mentions: int = 8,
        catalogue_versions: dict[str, str] | None = None,
    ) -> None:
        self.themes = themes
        self.actors = actors
        self.stance = stance
        self.max_chars = max_chars
        self.max_stance_mentions = max_stance_mentions
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
        open_world: bool = True,
    ) -> Tagger:
        themes = ThemeMatcher.from_file(themes_file)
        catalogue = load_actor_catalogue(actors_file)
        return cls(
            themes,
            ActorResolver(catalogue, RecogniserPool() if open_world else None),
            StanceModel.load(),
            max_chars=max_chars,
            max_stance_mentions=max_stance_mentions,
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
            open_world=settings.open_world_actors,
        )

    def tag(self, article: ArticleFetched, *, now: datetime | None = None) -> ArticleTagged:
        started = time.perf_counter()
        text = article.text
        truncated = len(text) > self.max_chars
        tagged_text = text[: self.max_chars] if truncated else text
        language = resolve_language(article.language, tagged_text, article.title)
        document = Document(
            tagged_text,
            title=article.title,
            language=language,
            source_id=article.source.id,
            country=article.source.country,
            outlet_type=article.source.outlet_type,
        )
        sentences = sentence_spans(tagged_text)

        themes = self.themes.match(document)
        after_themes = time.perf_counter()
        actors = [
            self._with_sentences(actor, tagged_text, sentences, article.title)
            for actor in self.actors.resolve(
                tagged_text, title=article.title or None, language=language
            )
        ]
        after_actors = time.perf_counter()
        stances = [self._actor_stance(actor, tagged_text, sentences) for actor in actors]
        stances += [self._theme_stance(theme, tagged_text, sentences) for theme in themes]
        tone_label, tone_score = article_tone(tagged_text)
        finished = time.perf_counter()

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
            ),
            text_start=0,
            text_end=len(tagged_text),
            text_length=len(text),
            truncated=truncated,
            language=language,
            text=tagged_text,
            themes=themes,
            actors=actors,
            stances=stances,
            tone=Tone(label=tone_label, score=_clamp(tone_score)),
            tagger=TaggerInfo(
                version=self.version,
                catalogue_versions=self.catalogue_versions,
                timings_ms={
                    "themes": round((after_themes - started) * 1000, 3),
                    "actors": round((after_actors - after_themes) * 1000, 3),
                    "stance": round((finished - after_actors) * 1000, 3),
                    "total": round((finished - started) * 1000, 3),
                },
            ),
            tagged_at=now or datetime.now(UTC),
        )

    @staticmethod
    def _with_sentences(
        actor: ActorTag, text: str, sentences: list[tuple[int, int]], title: str
    ) -> ActorTag:
        mentions = []
        for mention in actor.mentions:
            if mention.field == "title":
                mentions.append(
                    mention.model_copy(
                        update={"sentence": title, "sentence_start": 0, "sentence_end": len(title)}
                    )
                )
                continue
            start, end = sentence_of(text, sentences, mention.start)
            mentions.append(
                mention.model_copy(
                    update={
                        "sentence": text[start:end],
                        "sentence_start": start,
                        "sentence_end": end,
                    }
                )
            )
        return actor.model_copy(update={"mentions": mentions})

    def _score_mentions(
        self, spans: Sequence[Evidence], text: str, sentences: list[tuple[int, int]]
    ) -> list[tuple[StancePrediction, Evidence]]:
        scored = []
        for span in [s for s in spans if s.field == "text"][: self.max_stance_mentions]:
            start, end = sentence_of(text, sentences, span.start)
            prediction = self.stance.predict(text[start:end], span.start - start, span.end - start)
            scored.append((prediction, span))
        return scored

    def _stance_tag(
        self,
        kind: str,
        target_id: str,
        spans: Sequence[Evidence],
        text: str,
        sentences: list[tuple[int, int]],
    ) -> StanceTag:
        scored = self._score_mentions(spans, text, sentences)
        label, score = aggregate([prediction for prediction, _ in scored])
        # The evidence is the mentions that pull hardest in the direction of the verdict.
        strongest = sorted(scored, key=lambda pair: -abs(pair[0].score))[:3]
        evidence = [
            span.model_copy(update=_sentence_fields(text, sentences, span)) for _, span in strongest
        ]
        return StanceTag(
            target_kind="actor" if kind == "actor" else "theme",
            target_id=target_id,
            label=label,
            score=_clamp(score),
            evidence=evidence,
        )

    def _actor_stance(
        self, actor: ActorTag, text: str, sentences: list[tuple[int, int]]
    ) -> StanceTag:
        return self._stance_tag("actor", actor.actor_id, actor.mentions, text, sentences)

    def _theme_stance(
        self, theme: ThemeTag, text: str, sentences: list[tuple[int, int]]
    ) -> StanceTag:
        return self._stance_tag("theme", theme.theme_id, theme.evidence, text, sentences)


def _sentence_fields(
    text: str, sentences: list[tuple[int, int]], span: Evidence
) -> dict[str, object]:
    if span.sentence:
        return {}
    start, end = sentence_of(text, sentences, span.start)
    return {"sentence": text[start:end], "sentence_start": start, "sentence_end": end}


def _clamp(value: float) -> float:
    return max(-1.0, min(1.0, value))
