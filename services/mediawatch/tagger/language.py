"""A small, dependency-free language guess for articles that arrive without one.

The fetcher usually knows the language (from the page or the source); this only has to tell
apart the languages our theme catalogue has variants for, so it looks at the script and at
the most frequent function words, which is cheap and good enough on article-length text.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]+")

_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "the",
            "of",
            "and",
            "to",
            "in",
            "is",
            "that",
            "for",
            "it",
            "with",
            "as",
            "on",
            "was",
            "by",
            "are",
            "this",
            "be",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "de",
            "des",
            "du",
            "et",
            "est",
            "une",
            "un",
            "pour",
            "dans",
            "que",
            "qui",
            "sur",
            "pas",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "die",
            "das",
            "und",
            "ist",
            "nicht",
            "ein",
            "eine",
            "zu",
            "den",
            "von",
            "mit",
            "sich",
            "des",
            "auf",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "la",
            "los",
            "las",
            "de",
            "del",
            "y",
            "que",
            "en",
            "un",
            "una",
            "es",
            "por",
            "con",
            "para",
            "no",
        ]
    ),
    "it": frozenset(
        [
            "il",
            "lo",
            "la",
            "gli",
            "le",
            "di",
            "che",
            "e",
            "un",
            "una",
            "per",
            "non",
            "con",
            "del",
            "della",
            "sono",
        ]
    ),
    "ru": frozenset(
        [
            "и",
            "в",
            "не",
            "на",
            "что",
            "с",
            "по",
            "как",
            "это",
            "из",
            "к",
            "у",
            "за",
            "о",
            "от",
            "для",
        ]
    ),
    "uk": frozenset(
        [
            "і",
            "в",
            "не",
            "на",
            "що",
            "з",
            "по",
            "як",
            "це",
            "із",
            "до",
            "у",
            "за",
            "про",
            "від",
            "для",
        ]
    ),
}


def detect_language(text: str, sample_chars: int = 4000) -> str | None:
    """ISO 639-1 code of the most likely language, or None when there is too little text."""
    sample = text[:sample_chars].casefold()
    words = _WORD.findall(sample)
    if len(words) < 5:
        return None
    if any("\u4e00" <= ch <= "\u9fff" for ch in sample[:500]):
        return "zh"
    scores = {
        language: sum(1 for word in words if word in vocabulary)
        for language, vocabulary in _FUNCTION_WORDS.items()
    }
    best = max(scores, key=lambda language: scores[language])
    return best if scores[best] > 0 else None
