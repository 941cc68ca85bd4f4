"""Marked-up text for the workspace: an article's text cut into segments, each carrying the
kinds of every tag span that covers it (theme match, actor mention, stance evidence).

Spans overlap freely (an actor mention inside a critical sentence inside a theme match), so
the text is cut at every span boundary and each piece gets the union of its spans' classes;
the template then renders one ``<mark>`` per piece, escaped, with no markup in the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from mediawatch.schemas import ArticleTagged, Evidence


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str  # a CSS class: theme, actor, source, stance-supportive, ...
    label: str  # what the span stands for, shown on hover


@dataclass(frozen=True)
class Segment:
    text: str
    kinds: tuple[str, ...]  # empty: plain text
    labels: tuple[str, ...]


def segments(text: str, spans: list[Span], *, offset: int = 0) -> list[Segment]:
    """``text`` (which starts at ``offset`` of the article) cut at every boundary of the
    spans that fall inside it; spans outside it, or past its end, are clipped or dropped."""
    inside = []
    for span in spans:
        start, end = max(span.start - offset, 0), min(span.end - offset, len(text))
        if start < end:
            inside.append(Span(start, end, span.kind, span.label))
    cuts = sorted({0, len(text), *(s.start for s in inside), *(s.end for s in inside)})
    pieces = []
    for left, right in pairwise(cuts):
        covering = [s for s in inside if s.start <= left and s.end >= right]
        kinds = tuple(sorted({s.kind for s in covering}))
        labels = tuple(dict.fromkeys(s.label for s in covering))
        pieces.append(Segment(text[left:right], kinds, labels))
    return pieces


def _spans(evidence: list[Evidence], kind: str, label: str, field: str) -> list[Span]:
    return [Span(e.start, e.end, kind, label) for e in evidence if e.field == field]


def article_spans(tagged: ArticleTagged, field: str = "text") -> list[Span]:
    """Every tag span of the article in one field (``text`` or ``title``)."""
    spans: list[Span] = []
    for theme in tagged.themes:
        spans += _spans(theme.evidence, "theme", f"theme {theme.label}", field)
    for actor in tagged.actors:
        kind = "source" if actor.role == "source" else "actor"
        spans += _spans(actor.mentions, kind, f"{kind} {actor.name}", field)
    for stance in tagged.stances:
        label = f"{stance.label.value} toward {stance.target_id} ({stance.score:+.2f})"
        spans += _spans(stance.evidence, f"stance-{stance.label.value}", label, field)
    return spans


def snippet(evidence: Evidence) -> list[Segment]:
    """The sentence of a piece of evidence with the evidence marked (a search result)."""
    if evidence.sentence and evidence.sentence_start is not None:
        span = Span(evidence.start, evidence.end, "match", "match")
        return segments(evidence.sentence, [span], offset=evidence.sentence_start)
    return [Segment(evidence.text, ("match",), ("match",))]
