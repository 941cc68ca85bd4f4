"""Inflection in Russian and French: lemmas for actor names, stems for theme query terms.

Russian names decline ("Путин", "Путина", "Путину", "Путиным"), so the actor resolver matches
Russian text on lemmas: each word is replaced by its dictionary form from pymorphy3 and its
OpenCorpora dictionary, and the catalogue's Russian aliases (written in the nominative) are
lemmatised the same way. French names hardly inflect; the resolver matches them as written.

Theme queries in a ``ru`` or ``fr`` variant are stemmed with the Snowball stemmers: every
plain word becomes its stem plus a wildcard ("безопасности" -> ``безопасн*``), so one variant
covers every case ending without spelling them out. Case-sensitive terms are left as written.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_right
from functools import lru_cache
from typing import Any

import snowballstemmer

from mediawatch.query._syntax import Node, Term
from mediawatch.query._text import fold

__all__ = [
    "LemmaText",
    "lemma",
    "lemma_variants",
    "lemmatise",
    "name_gender",
    "nominative",
    "russian_case",
    "stem_query",
]

_RU_WORD = re.compile(r"[0-9A-Za-zА-Яа-яЁё]+(?:[-‐][0-9A-Za-zА-Яа-яЁё]+)*")
_STEMMERS = {"ru": "russian", "fr": "french"}
_WRITTEN_WORD = re.compile(r"[^\W_]+(?:[*?][^\W_]*)*[*?]?")
_PROPER = frozenset({"Surn", "Name", "Patr", "Geox", "Orgn", "Abbr", "Trad"})


@lru_cache(maxsize=1)
def _analyser() -> Any:
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang="ru")


@lru_cache(maxsize=200_000)
def _parse(word: str) -> tuple[str, frozenset[str]]:
    parses = _analyser().parse(word)
    if not parses:
        return word.lower(), frozenset()
    best = parses[0]
    if word[:1].isupper():
        # A capitalised word is likelier a name: "Путина" is Putin's genitive, not "путина".
        best = next((p for p in parses if _PROPER & set(map(str, p.tag.grammemes))), best)
    grammemes = frozenset(str(g) for g in best.tag.grammemes)
    return str(best.normal_form).replace("ё", "е"), grammemes


@lru_cache(maxsize=20_000)
def lemma_variants(word: str) -> tuple[str, ...]:
    """Every lemma that an inflected form of ``word`` is read as.

    A text's "Шольца" may be read as a form of "Шольц" or as the nominative of a feminine
    "Шольца"; indexing an alias under the lemmas of all its forms finds it either way."""
    if not re.search("[А-Яа-яЁё]", word):
        return (word.lower(),)
    out = [lemma(word)]
    capitalised = word[:1].isupper()
    forms: list[str] = []
    for parse in _analyser().parse(word)[:3]:
        forms.extend(str(form.word) for form in parse.lexeme)
    if capitalised and len(word) > 3:
        # Surnames the dictionary does not know ("Токаев" read as a form of "токай"): the
        # case endings a text would put on them, as the text's own lemmas will read them.
        stem = word[:-1] if word[-1] in "аяйоеыьи" else word
        forms.extend(word + end for end in _NAME_ENDINGS)
        forms.extend(stem + end for end in _NAME_ENDINGS)
    for text in forms:
        if capitalised:
            text = text[:1].upper() + text[1:]
        variant = lemma(text)
        if variant not in out:
            out.append(variant)
        if len(out) >= 16:
            break
    return tuple(out)


_NAME_ENDINGS = ("а", "у", "ом", "ым", "ем", "е", "ы", "и", "ой", "ей", "ю", "ого", "ому", "им")


def lemma(word: str) -> str:
    """The dictionary form of a Russian word, in lower case, "ё" written "е"."""
    if not re.search("[А-Яа-яЁё]", word):
        return word.lower()
    return _parse(word)[0]


@lru_cache(maxsize=50_000)
def name_gender(word: str) -> str | None:
    """``"masc"`` or ``"femn"`` for a Russian given name ("Нина", "Ниной"), else None."""
    for parse in _analyser().parse(word):
        grammemes = set(map(str, parse.tag.grammemes))
        if "Name" in grammemes:
            return "femn" if "femn" in grammemes else "masc" if "masc" in grammemes else None
    return None


@lru_cache(maxsize=50_000)
def nominative(word: str, gender: str | None = None) -> str:
    """A Russian name in the nominative singular, of ``gender`` where given ("Лаптевой" with
    "femn" -> "Лаптева", "Смирновым" -> "Смирнов"); other words are returned as written."""
    if not re.fullmatch("[А-Яа-яЁё-]+", word):
        return word
    parses = [p for p in _analyser().parse(word) if _PROPER & set(map(str, p.tag.grammemes))]
    if gender is not None:
        parses = [p for p in parses if gender in set(map(str, p.tag.grammemes))] or parses
    best = parses[0] if parses else None
    if best is None:
        return word
    form = best.inflect({"nomn", "sing"}) or best.inflect({"nomn"})
    out = str(form.word) if form is not None else str(best.normal_form)
    return out[:1].upper() + out[1:] if word[:1].isupper() else out


def russian_case(word: str) -> frozenset[str]:
    """OpenCorpora grammemes of the likeliest reading of ``word`` ("nomn", "loct", "Surn", ...)."""
    return _parse(word)[1]


@dataclasses.dataclass(frozen=True)
class LemmaText:
    """Russian text as lemmas joined by single spaces, with a map back to the original."""

    joined: str
    starts: tuple[int, ...]  # original start of each word
    ends: tuple[int, ...]  # original end of each word
    offsets: tuple[int, ...]  # start of each word in ``joined``

    def word_at(self, joined_offset: int) -> int:
        return bisect_right(self.offsets, joined_offset) - 1


def lemmatise(text: str) -> LemmaText:
    """Lemmatise every word of ``text``; ``joined`` has a space before and after each lemma."""
    starts: list[int] = []
    ends: list[int] = []
    offsets: list[int] = []
    parts: list[str] = [" "]
    position = 1
    for match in _RU_WORD.finditer(text):
        word = lemma(match.group(0))
        starts.append(match.start())
        ends.append(match.end())
        offsets.append(position)
        parts.append(word)
        parts.append(" ")
        position += len(word) + 1
    return LemmaText("".join(parts), tuple(starts), tuple(ends), tuple(offsets))


@lru_cache(maxsize=8)
def _stemmer(language: str) -> Any:
    return snowballstemmer.stemmer(_STEMMERS[language])


def _stem_token(token: str, language: str) -> str:
    if len(token) < 4 or not token.isalpha():
        return token
    # A Russian term may be written in any case ("неделимой"): stem its dictionary form, so
    # that the stem is a prefix of every other form ("неделимая", "неделимость").
    base = lemma(token) if language == "ru" else token
    stem = str(_stemmer(language).stemWord(base))
    if not token.startswith(stem):
        stem = str(_stemmer(language).stemWord(token))
    if len(stem) < 3:
        return token
    return stem + "*"


def stem_query(node: Node, language: str) -> Node:
    """``node`` with each plain word of its terms replaced by stem + ``*`` (ru and fr only)."""
    if language not in _STEMMERS:
        return node
    if isinstance(node, Term):
        if node.cased is not None:
            return node
        # Stem the words as written (folding has already turned "й" into "и"), then fold
        # the stems the way the document's tokens are folded.
        written = _WRITTEN_WORD.findall(node.raw)
        if len(written) != len(node.tokens):
            written = list(node.tokens)
        tokens = tuple(
            token if "*" in token or "?" in token else fold(_stem_token(word, language))
            for token, word in zip(node.tokens, written, strict=True)
        )
        return dataclasses.replace(node, tokens=tokens)
    changes: dict[str, Any] = {}
    for fld in dataclasses.fields(node):
        value = getattr(node, fld.name)
        if isinstance(value, tuple) and value and all(_is_node(v) for v in value):
            changes[fld.name] = tuple(stem_query(v, language) for v in value)
        elif _is_node(value):
            changes[fld.name] = stem_query(value, language)
    return dataclasses.replace(node, **changes) if changes else node


def _is_node(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)
