"""The tagger's stages over one document object, in the manner of spaCy's ``Doc`` and its
pipeline components.

:class:`ArticleDoc` is built once per article: the text as tagged (truncated to the budget),
its language, its sentences and its tokenised form for the query matcher. Each stage reads it
and adds its own tags: themes, then actors, then stance (which reads both), then tone. None of
them splits sentences or detects the language again, and a new stage (another model of the
analysis issues) is one more object with a ``name`` and a ``__call__`` in ``Tagger.stages``,
without touching the others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mediawatch.query import Document, ThemeMatcher, sentence_of, sentence_spans
from mediawatch.schemas import ActorTag, ArticleFetched, Evidence, StanceTag, ThemeTag, Tone
from mediawatch.schemas.events import StanceLabel
from mediawatch.tagger.actors import ActorResolver
from mediawatch.tagger.argument import ScoredMention, article_stances
from mediawatch.tagger.language import resolve_language
from mediawatch.tagger.stance import SentenceStanceModel, article_tone

__all__ = ["ActorStage", "ArticleDoc", "Stage", "StanceStage", "ThemeStage", "ToneStage"]

#: A stance target: ("actor" or "theme", id).
Target = tuple[str, str]


@dataclass
class ArticleDoc:
    """One article as the stages read it, and the tags they have added so far."""

    article: ArticleFetched
    text: str
    truncated: bool
    language: str | None
    sentences: list[tuple[int, int]]
    query: Document
    themes: list[ThemeTag] = field(default_factory=list)
    actors: list[ActorTag] = field(default_factory=list)
    stances: list[StanceTag] = field(default_factory=list)
    tone: Tone | None = None

    @classmethod
    def of(cls, article: ArticleFetched, max_chars: int) -> ArticleDoc:
        truncated = len(article.text) > max_chars
        text = article.text[:max_chars] if truncated else article.text
        language = resolve_language(article.language, text, article.title)
        query = Document(
            text,
            title=article.title,
            language=language,
            source_id=article.source.id,
            country=article.source.country,
            outlet_type=article.source.outlet_type,
            genre=article.genre,
        )
        return cls(article, text, truncated, language, sentence_spans(text), query)

    def sentence_at(self, offset: int) -> tuple[int, int]:
        """(start, end) of the sentence of the text holding ``offset``."""
        return sentence_of(self.text, self.sentences, offset)


class Stage(Protocol):
    """One step of the tagging: reads the document and adds its tags to it."""

    name: str

    def __call__(self, doc: ArticleDoc) -> None: ...


class ThemeStage:
    """Every theme of the catalogue, matched in one automaton pass."""

    name = "themes"

    def __init__(self, matcher: ThemeMatcher) -> None:
        self.matcher = matcher

    def __call__(self, doc: ArticleDoc) -> None:
        doc.themes = self.matcher.match(doc.query)


class ActorStage:
    """Catalogue and open-world actors, each mention with its sentence."""

    name = "actors"

    def __init__(self, resolver: ActorResolver) -> None:
        self.resolver = resolver

    def __call__(self, doc: ArticleDoc) -> None:
        title = doc.article.title
        found = self.resolver.resolve(doc.text, title=title or None, language=doc.language)
        doc.actors = [self._with_sentences(actor, doc, title) for actor in found]

    @staticmethod
    def _with_sentences(actor: ActorTag, doc: ArticleDoc, title: str) -> ActorTag:
        mentions = []
        for mention in actor.mentions:
            if mention.field == "title":
                start, end, sentence = 0, len(title), title
            else:
                start, end = doc.sentence_at(mention.start)
                sentence = doc.text[start:end]
            mentions.append(
                mention.model_copy(
                    update={"sentence": sentence, "sentence_start": start, "sentence_end": end}
                )
            )
        return actor.model_copy(update={"mentions": mentions})


class StanceStage:
    """The author's stance toward each theme and actor found by the stages before it.

    The sentence model scores a budget of mentions (see :meth:`budget`); the article-level
    reading (:func:`article_stances`) then weighs them by voice and genre."""

    name = "stance"

    def __init__(
        self,
        model: SentenceStanceModel,
        *,
        max_mentions: int = 8,
        min_pairs: int = 12,
        pairs_per_1000_words: int = 40,
    ) -> None:
        self.model = model
        self.max_mentions = max_mentions
        self.min_pairs = min_pairs
        self.pairs_per_1000_words = pairs_per_1000_words

    def __call__(self, doc: ArticleDoc) -> None:
        targets: list[tuple[str, str, Sequence[Evidence]]] = [
            ("actor", actor.actor_id, actor.mentions) for actor in doc.actors
        ]
        targets += [("theme", theme.theme_id, theme.evidence) for theme in doc.themes]
        if doc.language not in self.model.languages:
            reason = f"no stance model reads language {doc.language or 'undetermined'!r}"
            doc.stances = [
                StanceTag(
                    target_kind="actor" if kind == "actor" else "theme",
                    target_id=target_id,
                    label=StanceLabel.UNKNOWN,
                    score=0.0,
                    reason=reason,
                )
                for kind, target_id, _ in targets
            ]
            return
        # Who gets the budget first: themes, catalogue actors, other actors, then outlets
        # cited as sources; the more mentions, the earlier.
        rank = {("theme", t.theme_id): 0 for t in doc.themes} | {
            ("actor", a.actor_id): 3 if a.role == "source" else 1 if a.in_catalogue else 2
            for a in doc.actors
        }
        chosen = self.budget(targets, rank, len(doc.text.split()))
        places: list[tuple[Target, Evidence, int, int]] = []
        for (kind, target_id, _), spans in zip(targets, chosen, strict=True):
            for span in spans:
                places.append(((kind, target_id), span, *doc.sentence_at(span.start)))
        predictions = self.model.predict_many(
            (doc.text[start:end], span.start - start, span.end - start)
            for _, span, start, end in places
        )
        mentions = [
            ScoredMention(target, span, doc.text[start:end], start, prediction)
            for (target, span, start, end), prediction in zip(places, predictions, strict=True)
        ]
        # Mentions the budget left out still show who the author adopts as a speaker.
        scored = {id(span) for picked in chosen for span in picked}
        for kind, target_id, every_span in targets:
            for span in every_span:
                if kind == "actor" and span.field == "text" and id(span) not in scored:
                    start, end = doc.sentence_at(span.start)
                    mentions.append(
                        ScoredMention((kind, target_id), span, doc.text[start:end], start, None)
                    )
        decided = article_stances(
            mentions, [(k, t) for k, t, _ in targets], genre=doc.article.genre
        )
        doc.stances = [
            StanceTag(
                target_kind="actor" if kind == "actor" else "theme",
                target_id=target_id,
                label=decided[(kind, target_id)].label,
                score=clamp(decided[(kind, target_id)].score),
                evidence=decided[(kind, target_id)].evidence,
                reason=decided[(kind, target_id)].reason,
            )
            for kind, target_id, _ in targets
        ]

    def budget(
        self,
        targets: Sequence[tuple[str, str, Sequence[Evidence]]],
        rank: dict[Target, int],
        words: int,
    ) -> list[list[Evidence]]:
        """The mentions scored per target: up to ``max_mentions`` each and a budget that
        grows with the article (``pairs_per_1000_words``, at least ``min_pairs``). It goes to
        the ranks in turn (themes, catalogue actors, other actors, cited outlets), and within
        a rank one mention per target per round, the most mentioned first: what rules and
        dashboards watch is read best."""
        available = [
            [s for s in spans if s.field == "text"][: self.max_mentions] for _, _, spans in targets
        ]
        tiers: dict[int, list[int]] = {}
        for i in sorted(range(len(targets)), key=lambda i: -len(available[i])):
            tiers.setdefault(rank.get((targets[i][0], targets[i][1]), 2), []).append(i)
        chosen: list[list[Evidence]] = [[] for _ in targets]
        left = max(self.min_pairs, math.ceil(words * self.pairs_per_1000_words / 1000))
        for tier in sorted(tiers):
            for depth in range(self.max_mentions):
                for i in tiers[tier]:
                    if left and depth < len(available[i]):
                        chosen[i].append(available[i][depth])
                        left -= 1
        return chosen


class ToneStage:
    """The overall tone of the text, over the document's own sentences."""

    name = "tone"

    def __call__(self, doc: ArticleDoc) -> None:
        label, score = article_tone(doc.text, doc.sentences)
        doc.tone = Tone(label=label, score=clamp(score))


def clamp(value: float) -> float:
    return max(-1.0, min(1.0, value))
