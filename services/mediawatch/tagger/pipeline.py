"""One article in, one :class:`ArticleTagged` out: themes, actors, stance, tone.

The faust agent and the ``mediawatch tag`` command both call :meth:`Tagger.tag`, so what an
analyst sees at the prompt is exactly what the stream publishes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from mediawatch.query import Document, ThemeMatcher, sentence_of, sentence_spans
from mediawatch.schemas import (
    ActorTag,
    ArticleFetched,
    ArticleRef,
    ArticleTagged,
    Evidence,
    StanceTag,
    TaggerInfo,
    Tone,
)
from mediawatch.schemas.events import StanceLabel
from mediawatch.tagger.actors import ActorResolver, load_actor_catalogue
from mediawatch.tagger.argument import ScoredMention, article_stances
from mediawatch.tagger.language import resolve_language
from mediawatch.tagger.ner import RecogniserPool
from mediawatch.tagger.settings import TaggerSettings
from mediawatch.tagger.stance import (
    SentenceStanceModel,
    StanceModel,
    article_tone,
)


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
        stance: SentenceStanceModel,
        *,
        max_chars: int = 100_000,
        max_stance_mentions: int = 8,
        min_stance_pairs: int = 12,
        stance_pairs_per_1000_words: int = 40,
        catalogue_versions: dict[str, str] | None = None,
    ) -> None:
        self.themes = themes
        self.actors = actors
        self.stance = stance
        self.max_chars = max_chars
        self.max_stance_mentions = max_stance_mentions
        self.min_stance_pairs = min_stance_pairs
        self.stance_pairs_per_1000_words = stance_pairs_per_1000_words
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
            genre=article.genre,
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
        targets: list[tuple[str, str, Sequence[Evidence]]] = [
            ("actor", actor.actor_id, actor.mentions) for actor in actors
        ]
        targets += [("theme", theme.theme_id, theme.evidence) for theme in themes]
        # Who gets the stance budget first: themes, catalogue actors, other actors, then
        # outlets cited as sources; the more mentions, the earlier.
        rank = {("theme", t.theme_id): 0 for t in themes} | {
            ("actor", a.actor_id): 3 if a.role == "source" else 1 if a.in_catalogue else 2
            for a in actors
        }
        stances = self._stances(targets, rank, tagged_text, sentences, language, article.genre)
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
                genre=article.genre,
                genre_from=article.genre_from,
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

    def _stances(
        self,
        targets: Sequence[tuple[str, str, Sequence[Evidence]]],
        rank: dict[tuple[str, str], int],
        text: str,
        sentences: list[tuple[int, int]],
        language: str | None,
        genre: str | None,
    ) -> list[StanceTag]:
        """One stance per target; every scored mention of the article goes to the model in
        one call, so that it can batch them."""
        if language not in self.stance.languages:
            reason = f"no stance model reads language {language or 'undetermined'!r}"
            return [
                StanceTag(
                    target_kind="actor" if kind == "actor" else "theme",
                    target_id=target_id,
                    label=StanceLabel.UNKNOWN,
                    score=0.0,
                    reason=reason,
                )
                for kind, target_id, _ in targets
            ]
        chosen = self._budget(targets, rank, len(text.split()))
        places = []
        for (kind, target_id, _), spans in zip(targets, chosen, strict=True):
            for span in spans:
                start, end = sentence_of(text, sentences, span.start)
                places.append(((kind, target_id), span, start, end))
        predictions = self.stance.predict_many(
            (text[start:end], span.start - start, span.end - start)
            for _, span, start, end in places
        )
        mentions = [
            ScoredMention(target, span, text[start:end], start, prediction)
            for (target, span, start, end), prediction in zip(places, predictions, strict=True)
        ]
        # Mentions the budget left out still show who the author adopts as a speaker.
        scored = {id(span) for picked in chosen for span in picked}
        for kind, target_id, every_span in targets:
            for span in every_span:
                if kind == "actor" and span.field == "text" and id(span) not in scored:
                    start, end = sentence_of(text, sentences, span.start)
                    mentions.append(
                        ScoredMention((kind, target_id), span, text[start:end], start, None)
                    )
        decided = article_stances(mentions, [(k, t) for k, t, _ in targets], genre=genre)
        return [
            StanceTag(
                target_kind="actor" if kind == "actor" else "theme",
                target_id=target_id,
                label=decided[(kind, target_id)].label,
                score=_clamp(decided[(kind, target_id)].score),
                evidence=decided[(kind, target_id)].evidence,
                reason=decided[(kind, target_id)].reason,
            )
            for kind, target_id, _ in targets
        ]

    def _budget(
        self,
        targets: Sequence[tuple[str, str, Sequence[Evidence]]],
        rank: dict[tuple[str, str], int],
        words: int,
    ) -> list[list[Evidence]]:
        """The mentions scored per target: up to ``max_stance_mentions`` each and a budget
        that grows with the article (``stance_pairs_per_1000_words``, at least
        ``min_stance_pairs``). It goes to the ranks in turn (themes, catalogue actors, other
        actors, cited outlets), and within a rank one mention per target per round, the
        most mentioned first: what rules and dashboards watch is read best."""
        available = [
            [s for s in spans if s.field == "text"][: self.max_stance_mentions]
            for _, _, spans in targets
        ]
        tiers: dict[int, list[int]] = {}
        for i in sorted(range(len(targets)), key=lambda i: -len(available[i])):
            tiers.setdefault(rank.get(targets[i][:2], 2), []).append(i)
        chosen: list[list[Evidence]] = [[] for _ in targets]
        left = max(
            self.min_stance_pairs, math.ceil(words * self.stance_pairs_per_1000_words / 1000)
        )
        for tier in sorted(tiers):
            for depth in range(self.max_stance_mentions):
                for i in tiers[tier]:
                    if left and depth < len(available[i]):
                        chosen[i].append(available[i][depth])
                        left -= 1
        return chosen


def load_stance_model(name: str, *, threads: int = 1) -> SentenceStanceModel:
    """The sentence stance model named by the ``stance_model`` setting."""
    if name == "lexical":
        return StanceModel.load()
    if name == "contextual":
        from mediawatch.tagger.contextual import ContextualStanceModel

        return ContextualStanceModel(threads=threads)
    raise ValueError(f"unknown stance model {name!r}: expected 'contextual' or 'lexical'")


def _clamp(value: float) -> float:
    return max(-1.0, min(1.0, value))
