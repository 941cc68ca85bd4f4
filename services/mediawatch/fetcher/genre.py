"""An article's genre (news, opinion, analysis) from what its publisher says about it.

Publishers label opinion pieces in several places, and we read them in order of how much
they can be trusted: the page's own schema.org type (``OpinionNewsArticle``,
``AnalysisNewsArticle``, ``ReportageNewsArticle``), its section (``article:section``) or a
feed entry's categories, the URL path (``/opinion/``, ``/commentisfree/``, ``/analysis/``),
and last what the sources file says of the whole source. Nothing is guessed from the text
here: the tagger weighs the text itself, and an unset genre says that nobody labelled it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from mediawatch.schemas.events import Genre

__all__ = ["Labelled", "genre_of_json_ld", "genre_of_labels", "genre_of_url"]

#: (genre, what it was read from)
Labelled = tuple[Genre, str]

_SCHEMA_TYPES: dict[str, Genre] = {
    "opinionnewsarticle": "opinion",
    "analysisnewsarticle": "analysis",
    "backgroundnewsarticle": "analysis",
    "reportagenewsarticle": "news",
}

#: Section, category and path words, in English, French and Russian.
_WORDS: dict[str, Genre] = {
    **dict.fromkeys(
        [
            "opinion", "opinions", "op-ed", "op-eds", "oped", "opeds", "comment", "comments",
            "commentisfree", "commentary", "editorial", "editorials", "column", "columns",
            "columnists", "letters", "views", "viewpoint", "viewpoints", "perspective",
            "perspectives", "idees", "idées", "tribune", "tribunes", "éditorial", "editorial",
            "chroniques", "мнения", "мнение", "колонки", "колонка",
        ],
        "opinion",
    ),
    **dict.fromkeys(
        [
            "analysis", "analyses", "analyse", "explainer", "explainers", "explained",
            "insight", "insights", "in-depth", "décryptage", "decryptage", "аналитика",
        ],
        "analysis",
    ),
    **dict.fromkeys(["news", "reportage", "actualités", "actualites", "новости"], "news"),
}  # fmt: skip

_SPLIT = re.compile(r"[\s/|,;:]+")


def genre_of_labels(labels: Iterable[str], what: str) -> Labelled | None:
    """The genre named by a section or category label ("Opinion", "Comment is free")."""
    for label in labels:
        words = [w for w in _SPLIT.split(label.strip().lower()) if w]
        for word in words:
            genre = _WORDS.get(word)
            if genre is not None:
                return genre, f"{what} {label.strip()!r}"
        joined = "".join(words)
        if joined in _WORDS:
            return _WORDS[joined], f"{what} {label.strip()!r}"
    return None


def genre_of_url(url: str | None) -> Labelled | None:
    """The genre named by a segment of the URL's path (``/opinion/2026/...``)."""
    if not url:
        return None
    path = unquote(urlsplit(url).path).lower()
    for segment in path.split("/")[:-1] if not path.endswith("/") else path.split("/"):
        genre = _WORDS.get(segment)
        if genre is not None:
            return genre, f"URL path /{segment}/"
    return None


def _types(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        kind = node.get("@type")
        for value in kind if isinstance(kind, list) else [kind]:
            if isinstance(value, str):
                yield value
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if key in node:
                yield from _types(node[key])
    elif isinstance(node, list):
        for item in node:
            yield from _types(item)


def genre_of_json_ld(blocks: Iterable[str]) -> Labelled | None:
    """The genre of the page's schema.org type, from its ``application/ld+json`` blocks."""
    for block in blocks:
        try:
            document = json.loads(block)
        except ValueError:
            continue  # a broken block says nothing; the other signals still count
        for kind in _types(document):
            genre = _SCHEMA_TYPES.get(kind.rsplit("/", 1)[-1].lower())
            if genre is not None:
                return genre, f"schema.org {kind.rsplit('/', 1)[-1]}"
    return None
