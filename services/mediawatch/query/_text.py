"""Text normalisation with an offset map, word tokens and sentence spans.

Matching runs over a *normalised* copy of the article text: casefolded, accents stripped
(NFKD, combining marks dropped), typographic quotes, dashes and spaces replaced by their ASCII
forms, soft hyphens and zero-width characters dropped. Every character of the normalised copy
remembers the offset of the original character it came from, so a match found in the copy is
reported with offsets into the original text, where ``text[start:end]`` is the matched text.

Sentences are found in the original text; ``sentence_spans`` and ``sentence_of`` are shared by
the theme matcher, the actor tagger and the stance scorer.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from array import array
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "TOKEN_RE",
    "NormalisedText",
    "fold",
    "normalise",
    "sentence_of",
    "sentence_spans",
    "token_spans",
    "tokenise",
]

#: A token is a maximal run of word characters (letters, digits, underscore) in any script.
TOKEN_RE = re.compile(r"\w+")

_PUNCTUATION = {
    # single quotes and apostrophes
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u02bc": "'",
    # double quotes and guillemets
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2039": '"',
    "\u203a": '"',
    # hyphens and dashes
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    # spaces
    "\u00a0": " ",
    "\u2007": " ",
    "\u202f": " ",
    "\u3000": " ",
    # characters that vanish
    "\u00ad": "",
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
}

_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


@lru_cache(maxsize=65536)
def _fold_char(ch: str, keep_case: bool) -> str:
    """Normalised form of one non-ASCII character (possibly empty or several characters)."""
    mapped = _PUNCTUATION.get(ch)
    if mapped is not None:
        return mapped
    decomposed = unicodedata.normalize("NFKD", ch)
    if not keep_case:
        decomposed = unicodedata.normalize("NFKD", decomposed.casefold())
    out = "".join(c for c in decomposed if not unicodedata.combining(c))
    # NFKD turns some characters into punctuation that has an ASCII form (e.g. a fullwidth
    # quote); map those too.
    return "".join(_PUNCTUATION.get(c, c) for c in out)


def fold(text: str, keep_case: bool = False) -> str:
    """The normalised form of ``text`` without the offset map (used for query terms)."""
    if text.isascii():
        return text if keep_case else text.lower()
    return "".join(
        _fold_char(c, keep_case) if not c.isascii() else (c if keep_case else c.lower())
        for c in text
    )


@dataclass(frozen=True, slots=True)
class NormalisedText:
    """A normalised copy of ``original`` and the map back to it.

    ``offsets`` is ``None`` when the map is the identity (the normalised copy has the same
    length and every character sits at its original offset, the common case); otherwise
    ``offsets[i]`` is the original offset of normalised character ``i`` and ``offsets[-1]`` is
    ``len(original)``.
    """

    original: str
    text: str
    offsets: array[int] | None

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the normalised span ``[start, end)`` to a span of the original text."""
        offsets = self.offsets
        if offsets is None:
            return start, end
        if end <= start:
            o = offsets[start]
            return o, o
        o_start = offsets[start]
        # Extend over characters that vanished after the span's last character (combining
        # accents of a decomposed letter) but never past the next kept character.
        o_end = max(offsets[end], offsets[end - 1] + 1)
        return o_start, o_end


def normalise(text: str) -> NormalisedText:
    """Casefold, strip accents and normalise punctuation, keeping an offset map."""
    if text.isascii():
        return NormalisedText(text, text.lower(), None)
    pieces: list[str] = []
    # (original offset, replacement) for every non-ASCII character
    replaced: list[tuple[int, str]] = []
    identity = True
    pos = 0
    for m in _NON_ASCII_RUN.finditer(text):
        start, end = m.span()
        if start > pos:
            pieces.append(text[pos:start].lower())
        for i in range(start, end):
            rep = _fold_char(text[i], False)
            pieces.append(rep)
            if len(rep) != 1:
                identity = False
                replaced.append((i, rep))
        pos = end
    if pos < len(text):
        pieces.append(text[pos:].lower())
    folded = "".join(pieces)
    if identity:
        return NormalisedText(text, folded, None)
    offsets: array[int] = array("q")
    pos = 0
    for i, rep in replaced:
        offsets.extend(range(pos, i))
        offsets.extend([i] * len(rep))
        pos = i + 1
    offsets.extend(range(pos, len(text)))
    offsets.append(len(text))
    return NormalisedText(text, folded, offsets)


def tokenise(normalised: str) -> list[str]:
    """The word tokens of a normalised text (runs of word characters)."""
    return TOKEN_RE.findall(normalised)


def token_spans(normalised: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every token of ``normalised``, parallel to ``tokenise``."""
    return list(map(re.Match.span, TOKEN_RE.finditer(normalised)))


# --- sentences ---------------------------------------------------------------------------

#: Abbreviations (lowercase, without the final dot) after which a period does not end a sentence.
_ABBREVIATIONS_TEXT = """
    mr mrs ms mx dr prof sr jr st mt ft gen lt col maj capt cmdr adm sgt cpl pvt gov sen rep
    pres amb rev hon fr msgr supt insp det jan feb mar apr jun jul aug sep sept oct nov dec
    mon tue tues wed thu thur thurs fri sat sun no nos vol vols pp p fig figs art arts sec
    ch para cf vs v etc al approx est dept univ inc ltd co corp bros assn intl natl govt
    e.g i.e u.s u.k u.n a.m p.m ca c
"""
ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())

# A run of sentence-final punctuation, closing quotes or brackets, then whitespace.
_BOUNDARY = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019\u00bb)\]]*(?=\s)")
_WORD_BEFORE = re.compile(r"([\w.\-']+)$")
_OPENERS = "\"'\u201c\u2018\u00ab([\u201e"


def _is_boundary(text: str, m: re.Match[str]) -> bool:
    punct = m.group()
    nxt = m.end()
    n = len(text)
    while nxt < n and text[nxt] in " \t\r\f\v\u00a0":
        nxt += 1
    if nxt >= n or text[nxt] == "\n":
        return True
    ch = text[nxt]
    if not (ch.isupper() or ch.isdigit() or ch in _OPENERS):
        return False
    if punct[0] != ".":
        return True
    # A period: not a boundary after an abbreviation, an initial or a dotted acronym.
    w = _WORD_BEFORE.search(text, max(0, m.start() - 40), m.start())
    if w is None:
        return True
    word = w.group(1).lstrip("-'")
    if not word:
        return True
    lower = word.lower()
    if lower in ABBREVIATIONS:
        return False
    if len(word) == 1 and word.isalpha() and word.isupper():
        return False  # an initial: "George W. Bush"
    # a dotted acronym ("U.S.", "e.g.", "N.A.T.O.") does not end a sentence either
    return not ("." in word and all(len(part) <= 2 for part in word.split(".") if part))


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every sentence of ``text``, in order, whitespace trimmed.

    A newline always ends a sentence (paragraphs are separated by newlines); inside a line a
    sentence ends at ``.``, ``!``, ``?`` or ``…`` (with any closing quotes or brackets) followed
    by whitespace and an uppercase letter, a digit or an opening quote, except after common
    abbreviations ("Mr.", "Gen.", "e.g."), initials ("W.") and dotted acronyms ("U.S.").
    """
    spans: list[tuple[int, int]] = []
    line_start = 0
    n = len(text)
    while line_start <= n:
        nl = text.find("\n", line_start)
        line_end = n if nl < 0 else nl
        start = line_start
        for m in _BOUNDARY.finditer(text, line_start, line_end):
            if m.end() < line_end and _is_boundary(text, m):
                span = _trimmed(text, start, m.end())
                if span is not None:
                    spans.append(span)
                start = m.end()
        span = _trimmed(text, start, line_end)
        if span is not None:
            spans.append(span)
        if nl < 0:
            break
        line_start = nl + 1
    return spans


def sentence_of(text: str, spans: list[tuple[int, int]], offset: int) -> tuple[int, int]:
    """The sentence span (from ``spans``) containing ``offset``.

    An offset in the whitespace between two sentences belongs to the preceding one; with no
    sentences at all the whole text is returned.
    """
    if not spans:
        return 0, len(text)
    i = bisect.bisect_right(spans, (offset, len(text) + 1)) - 1
    if i < 0:
        return spans[0]
    return spans[i]
