"""Target-dependent stance: how a sentence portrays one mention in it.

The model is a small multinomial logistic regression over sparse, hand-designed features of
the mention's context (see ``docs/stance.md``):

* words left and right of the mention, with their distance;
* VADER lexicon valences (read from the installed ``vaderSentiment`` package), summed over the
  sentence, the mention's clause and a distance-weighted window;
* a domain cue lexicon (``data/stance_cues.yaml``: "condemned", "praised", "aggression" ...);
* negation scope ("not", "never", "n't" ... flip the cues of the next few words);
* the mention's role: agent or patient of a hostile/friendly act ("X accused Y"), passive
  voice ("Y was condemned by X"), speaker of reported speech ("X said ..."), possessor of a
  trait ("NATO's reckless expansion"), inside a quotation.

Inference is pure Python: feature extraction plus a dictionary lookup per feature. The weights
are trained by :mod:`mediawatch.tagger.stance_training` and committed as JSON.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Protocol

import yaml

from mediawatch.query import sentence_spans
from mediawatch.schemas.events import StanceLabel

__all__ = [
    "CLASSES",
    "DEFAULT_CUES_PATH",
    "DEFAULT_MODEL_PATH",
    "FeatureExtractor",
    "SentenceStanceModel",
    "StanceModel",
    "StancePrediction",
    "article_tone",
    "softmax",
]

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_MODEL_PATH = DATA_DIR / "stance_model.json"
DEFAULT_CUES_PATH = DATA_DIR / "stance_cues.yaml"

#: Order of the weight columns in the model file.
CLASSES: tuple[StanceLabel, ...] = (
    StanceLabel.CRITICAL,
    StanceLabel.NEUTRAL,
    StanceLabel.SUPPORTIVE,
)

#: Mean sentence compounds within ±this band make a neutral article tone.
ARTICLE_TONE_BAND = 0.05

_NEGATION_SCOPE = 3  # words after a negator whose cues are flipped
_ROLE_WINDOW = 6  # max distance (in tokens) between a mention and the verb it is agent/patient of
_NEAR_WINDOW = 5
_FAR_WINDOW = 10
_BOUNDARY_PUNCT = frozenset({",", ";", ":", "(", ")", "—", "–", "?", "!", "."})
_QUOTES = frozenset({'"'})
_PRONOUNS = frozenset(
    {"he", "she", "it", "they", "him", "her", "them", "his", "its", "their", "we", "i", "you"}
)
_TOKEN_RE = re.compile(r"\w+(?:-\w+)*(?='s\b)|'s\b|\w+(?:['-]\w+)*|[^\w\s]")
# Same-length replacements only: offsets into the original text must stay valid.
_CHAR_MAP = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})


# --------------------------------------------------------------------------------------------
# Lexicons
# --------------------------------------------------------------------------------------------


def _inflections(base: str) -> set[str]:
    """Regular English inflections of a base form (over-generation is harmless here)."""
    forms = {base, base + "s", base + "es", base + "ed", base + "d", base + "ing"}
    if base.endswith("e"):
        forms.add(base[:-1] + "ing")
    if base.endswith("y") and len(base) > 2:
        forms.update({base[:-1] + "ies", base[:-1] + "ied"})
    if (
        len(base) > 2
        and base[-1] not in "aeiouwxy"
        and base[-2] in "aeiou"
        and base[-3] not in "aeiou"
    ):
        forms.update({base + base[-1] + "ed", base + base[-1] + "ing"})  # e.g. slam -> slammed
    return forms


@dataclass(frozen=True)
class CueLexicon:
    """The domain cue lexicon, expanded to surface forms."""

    categories: dict[str, str]  # surface form -> "neg_act" | "pos_act" | "neg_trait" | "pos_trait"
    speech: frozenset[str]
    negators: frozenset[str]
    contrast: frozenset[str]
    passive_aux: frozenset[str]

    @classmethod
    def load(cls, path: Path | None = None) -> CueLexicon:
        raw = yaml.safe_load((path or DEFAULT_CUES_PATH).read_text(encoding="utf-8")) or {}

        def words(key: str) -> list[str]:
            return [str(w).strip().lower() for w in raw.get(key) or [] if str(w).strip()]

        def expand(key: str) -> set[str]:
            out: set[str] = set()
            for w in words(key):
                out |= _inflections(w)
            return out

        categories: dict[str, str] = {}
        # Traits first so that acts win for words listed in both (e.g. "champion").
        for key, cat in (
            ("negative_traits", "neg_trait"),
            ("positive_traits", "pos_trait"),
            ("negative_acts", "neg_act"),
            ("positive_acts", "pos_act"),
        ):
            for form in expand(key):
                categories[form] = cat
        return cls(
            categories=categories,
            speech=frozenset(expand("speech")),
            negators=frozenset(words("negators")),
            contrast=frozenset(words("contrast")),
            passive_aux=frozenset(words("passive_aux")),
        )


@lru_cache(maxsize=1)
def vader_lexicon() -> dict[str, float]:
    """The VADER word valences (-4 .. 4) from the installed vaderSentiment package."""
    import vaderSentiment

    path = Path(vaderSentiment.__file__).parent / "vader_lexicon.txt"
    lexicon: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            try:
                lexicon[parts[0].strip().lower()] = float(parts[1])
            except ValueError:
                continue
    return lexicon


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------

_CUE_FLIP = {
    "neg_act": "pos_act",
    "pos_act": "neg_act",
    "neg_trait": "pos_trait",
    "pos_trait": "neg_trait",
}


@dataclass(frozen=True)
class _Parsed:
    """Per-sentence analysis shared by every mention in the sentence."""

    tokens: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    clause: tuple[int, ...]
    negated: tuple[bool, ...]
    in_quote: tuple[bool, ...]
    words: tuple[str, ...]  # word feature names: stemmed, NOT_-prefixed inside negation scope
    valence: tuple[float, ...]  # VADER valence after negation, 0.0 when not in the lexicon
    cue: tuple[str, ...]  # cue category after negation, "" when none


def _squash(x: float, scale: float = 3.0) -> float:
    return x / (abs(x) + scale)


def _stem(word: str) -> str:
    """A crude suffix stripper: enough to pool "criticized/criticizes/criticizing"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _bucket(distance: int) -> str:
    if distance <= 2:
        return str(distance)
    if distance <= _NEAR_WINDOW:
        return "n"
    return "f"


class FeatureExtractor:
    """Turns (sentence, mention offsets) into a sparse feature dict."""

    #: Options stored with a model so that inference extracts what training extracted.
    DEFAULT_OPTIONS: ClassVar[dict[str, bool]] = {
        "stem": True,  # stem the words of bag-of-words and window features
        "clause_bow": False,  # separate bag of words of the mention's clause
        "vader": True,  # VADER compound of the sentence and of the mention's clause
        "window_valence": True,  # VADER valences by side and distance
        "clause_scoped": True,  # window valences stay in the mention's clause
    }

    def __init__(
        self,
        cues: CueLexicon | None = None,
        lexicon: dict[str, float] | None = None,
        options: dict[str, bool] | None = None,
    ):
        self.cues = cues or CueLexicon.load()
        self.lexicon = lexicon if lexicon is not None else vader_lexicon()
        self.options = {**self.DEFAULT_OPTIONS, **(options or {})}
        self._stem = self.options["stem"]
        self._clause_bow = self.options["clause_bow"]
        self._use_vader = self.options["vader"]
        self._window_valence = self.options["window_valence"]
        self._clause_scoped = self.options["clause_scoped"]
        self._parse = lru_cache(maxsize=512)(self._parse_uncached)
        self._compound = lru_cache(maxsize=2048)(self._compound_uncached)

    @staticmethod
    def _compound_uncached(text: str) -> float:
        return float(_vader().polarity_scores(text)["compound"])

    def _parse_uncached(self, text: str) -> _Parsed:
        cues = self.cues
        lex = self.lexicon
        tokens: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        for m in _TOKEN_RE.finditer(text.translate(_CHAR_MAP)):
            tokens.append(m.group().lower())
            starts.append(m.start())
            ends.append(m.end())
        n = len(tokens)
        clause = [0] * n
        negated = [False] * n
        in_quote = [False] * n
        valence = [0.0] * n
        cue = [""] * n
        words = [_stem(t) for t in tokens] if self._stem else list(tokens)
        current = 0
        last_negator = -100
        last_negator_clause = -1
        quoted = False
        for i, tok in enumerate(tokens):
            if tok in _BOUNDARY_PUNCT or tok in cues.contrast:
                current += 1
            clause[i] = current
            if tok in _QUOTES:
                quoted = not quoted
            in_quote[i] = quoted
            neg = last_negator_clause == current and i - last_negator <= _NEGATION_SCOPE
            negated[i] = neg
            if neg:
                words[i] = "NOT_" + words[i]
            if tok in cues.negators or tok.endswith("n't"):
                last_negator = i
                last_negator_clause = current
                continue
            v = lex.get(tok, 0.0)
            c = cues.categories.get(tok, "")
            if neg:
                v = -0.74 * v  # VADER's own negation scalar
                c = _CUE_FLIP.get(c, c)
            valence[i] = v
            cue[i] = c
        return _Parsed(
            tuple(tokens),
            tuple(starts),
            tuple(ends),
            tuple(clause),
            tuple(negated),
            tuple(in_quote),
            tuple(words),
            tuple(valence),
            tuple(cue),
        )

    def extract(self, text: str, start: int, end: int) -> dict[str, float]:
        """Features of the mention ``text[start:end]`` in ``text``."""
        p = self._parse(text)
        toks = p.tokens
        n = len(toks)
        start = max(0, min(start, len(text)))
        end = max(start, min(end, len(text)))
        # Mention tokens: those overlapping [start, end); an empty span sits before token ti.
        ti = 0
        while ti < n and p.ends[ti] <= start:
            ti += 1
        tj = ti
        while tj < n and p.starts[tj] < end:
            tj += 1
        f: dict[str, float] = {"bias": 1.0}
        if n == 0:
            return f
        anchor = min(ti, n - 1)
        tclause = p.clause[anchor]
        cues = self.cues

        # Mention shape.
        mention = toks[ti:tj]
        if len(mention) == 1 and mention[0] in _PRONOUNS:
            f["tgt:pronoun"] = 1.0
        if ti == 0 or (ti == 1 and toks[0] in _QUOTES):
            f["tgt:first"] = 1.0
        if p.in_quote[anchor] and ti > 0 and p.in_quote[ti - 1]:
            f["tgt:in_quote"] = 1.0
        if any(t in _QUOTES for t in toks):
            f["sent:has_quote"] = 1.0
        if tj < n and toks[tj] == "'s":
            f["tgt:possessive"] = 1.0

        pos_s = neg_s = pos_c = neg_c = pos_n = neg_n = 0.0
        scoped = self._clause_scoped
        for i in range(n):
            if ti <= i < tj:
                continue
            tok = toks[i]
            same = p.clause[i] == tclause
            left = i < ti
            d = ti - i if left else i - tj + 1
            side = "L" if left else "R"
            word = p.words[i]
            # Bag of words of the sentence and of the mention's clause.
            f["w:" + word] = 1.0
            if same and self._clause_bow:
                f["c:" + word] = 1.0
            if d <= _FAR_WINDOW:
                f[side + _bucket(d) + ":" + word] = 1.0
            # Lexicon valences.
            v = p.valence[i]
            if v:
                near = same or not scoped
                if self._window_valence and d <= _FAR_WINDOW and near:
                    key = side + _bucket(d) + (":V+" if v > 0 else ":V-")
                    f[key] = f.get(key, 0.0) + abs(v) / 4.0
                closeness = max(0.0, 1.0 - (d - 1) / _FAR_WINDOW) if near else 0.0
                # With clause scoping the "_s" sums cover the other clauses only.
                outer = not (scoped and same)
                if v > 0:
                    pos_s += v if outer else 0.0
                    pos_c += v if same else 0.0
                    pos_n += v * closeness
                else:
                    neg_s -= v if outer else 0.0
                    neg_c -= v if same else 0.0
                    neg_n -= v * closeness
            # Domain cues and the mention's role towards them.
            c = p.cue[i]
            if c:
                f["cue:" + c] = f.get("cue:" + c, 0.0) + 1.0
                if same:
                    f["cue_c:" + c] = 1.0
                    if d <= _NEAR_WINDOW:
                        f["cue_" + side + _bucket(d) + ":" + c] = 1.0
                    if d <= _ROLE_WINDOW and c.endswith("_act"):
                        self._role(f, p, i, ti, tj, c, left)
                    if c.endswith("_trait") and not left and tj < n and toks[tj] == "'s" and d <= 4:
                        f["role:possessor_of:" + c] = 1.0
                else:
                    f["cue_o:" + c] = 1.0
            if tok in cues.speech and not left and d <= 3:
                f["role:speaker"] = 1.0
        if ti >= 2 and toks[ti - 2] == "according" and toks[ti - 1] == "to":
            f["role:speaker"] = 1.0
        for name, value in (
            ("lex:pos_s", pos_s),
            ("lex:neg_s", neg_s),
            ("lex:pos_c", pos_c),
            ("lex:neg_c", neg_c),
            ("lex:pos_n", pos_n),
            ("lex:neg_n", neg_n),
        ):
            if value:
                f[name] = _squash(value)
        bal = pos_c - neg_c
        if bal:
            f["lex:bal_c"] = _squash(bal)
        if f.get("role:speaker"):
            for key in ("lex:pos_s", "lex:neg_s"):
                if key in f:
                    f["speaker*" + key] = f[key]
        for key in [k for k in f if k.startswith("cue:")]:
            f[key] = _squash(f[key], 1.0)
        if self._use_vader:
            first = last = anchor
            while first > 0 and p.clause[first - 1] == tclause:
                first -= 1
            while last + 1 < n and p.clause[last + 1] == tclause:
                last += 1
            cstart, cend = p.starts[first], p.ends[last]
            compound = self._compound(text[cstart:cend])
            if compound:
                f["vader_c:pos" if compound > 0 else "vader_c:neg"] = abs(compound)
            # The rest of the sentence (scoped) or all of it.
            rest = (text[:cstart] + " " + text[cend:]).strip() if scoped else text
            compound = self._compound(rest) if rest else 0.0
            if compound:
                f["vader:pos" if compound > 0 else "vader:neg"] = abs(compound)
        return f

    def _role(
        self, f: dict[str, float], p: _Parsed, i: int, ti: int, tj: int, c: str, left: bool
    ) -> None:
        """Agent/patient features for an act verb at token i in the mention's clause."""
        toks = p.tokens
        passive = toks[i].endswith(("ed", "en")) and any(
            toks[k] in self.cues.passive_aux for k in range(max(0, i - 2), i)
        )
        if left:
            # Verb before the mention: "condemned NATO", passive "was condemned by NATO".
            by = "by" in toks[i + 1 : ti]
            role = "agent" if passive and by else "patient"
        else:
            # Verb after the mention: "NATO condemned ...", passive "NATO was condemned".
            role = "patient" if passive else "agent"
        f["role:" + role + "_of:" + c] = 1.0
        if role == "agent" and not left and i + 1 < len(toks):
            # "X accused Y of ...": the act has an object, X is its agent.
            f["role:agent_of:" + c + ":obj"] = 1.0


def softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StancePrediction:
    """Stance towards one mention. ``score`` = P(supportive) - P(critical), in [-1, 1]."""

    label: StanceLabel
    score: float
    probabilities: dict[str, float]
    explain: list[tuple[str, float]] = field(default_factory=list)


class SentenceStanceModel(Protocol):
    """What the tagger needs of a sentence stance model."""

    #: Languages the model was trained on; other languages get ``unknown``.
    languages: frozenset[str]

    def predict_many(self, items: Iterable[tuple[str, int, int]]) -> list[StancePrediction]:
        """Stance of each (sentence, start, end) towards the mention sentence[start:end]."""
        ...


class StanceModel:
    """Multinomial logistic regression over :class:`FeatureExtractor` features."""

    languages: frozenset[str] = frozenset({"en"})

    def __init__(
        self,
        weights: dict[str, list[float]],
        bias: Sequence[float],
        extractor: FeatureExtractor | None = None,
        metadata: dict[str, Any] | None = None,
        explain_top: int = 8,
    ) -> None:
        if len(bias) != len(CLASSES):
            raise ValueError(f"bias must have {len(CLASSES)} values")
        self.weights = weights
        self.bias = list(bias)
        self.extractor = extractor or FeatureExtractor()
        self.metadata = metadata or {}
        self.explain_top = explain_top

    @classmethod
    def load(cls, path: Path | None = None, cues_path: Path | None = None) -> StanceModel:
        """Load weights (default: the committed ``data/stance_model.json``)."""
        raw = json.loads((path or DEFAULT_MODEL_PATH).read_text(encoding="utf-8"))
        classes = [str(c) for c in raw["classes"]]
        if classes != [str(c) for c in CLASSES]:
            raise ValueError(f"unexpected class order in stance model: {classes}")
        weights = {str(k): [float(x) for x in v] for k, v in raw["weights"].items()}
        options = {str(k): bool(v) for k, v in (raw.get("feature_options") or {}).items()}
        extractor = FeatureExtractor(CueLexicon.load(cues_path), options=options)
        meta = {k: v for k, v in raw.items() if k not in ("weights", "bias", "classes")}
        return cls(weights, [float(b) for b in raw["bias"]], extractor, meta)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.metadata,
            "classes": [str(c) for c in CLASSES],
            "bias": [round(b, 5) for b in self.bias],
            "weights": {k: [round(x, 5) for x in v] for k, v in sorted(self.weights.items())},
        }

    def predict_features(self, feats: dict[str, float], explain: bool = True) -> StancePrediction:
        s0, s1, s2 = self.bias
        weights = self.weights
        contributions: list[tuple[str, float]] = []
        for name, x in feats.items():
            w = weights.get(name)
            if w is None:
                continue
            s0 += w[0] * x
            s1 += w[1] * x
            s2 += w[2] * x
            if explain and name != "bias":
                contributions.append((name, x * (w[2] - w[0])))
        probs = softmax((s0, s1, s2))
        best = max(range(3), key=probs.__getitem__)
        top: list[tuple[str, float]] = []
        if explain:
            contributions.sort(key=lambda kv: abs(kv[1]), reverse=True)
            top = [(k, round(v, 4)) for k, v in contributions[: self.explain_top]]
        score = max(-1.0, min(1.0, probs[2] - probs[0]))
        return StancePrediction(
            label=CLASSES[best],
            score=score,
            probabilities={str(c): p for c, p in zip(CLASSES, probs, strict=True)},
            explain=top,
        )

    def predict(self, text: str, start: int, end: int, explain: bool = True) -> StancePrediction:
        """Stance of ``text`` (a sentence or window) towards the mention ``text[start:end]``.

        ``explain`` lists the features that moved the score most, as (feature, contribution)
        pairs; a positive contribution pushes towards supportive, a negative one towards
        critical.
        """
        return self.predict_features(self.extractor.extract(text, start, end), explain)

    def predict_many(
        self, items: Iterable[tuple[str, int, int]], explain: bool = False
    ) -> list[StancePrediction]:
        return [self.predict(t, s, e, explain) for t, s, e in items]


# --------------------------------------------------------------------------------------------
# Article tone
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def article_tone(
    text: str, sentence_bounds: list[tuple[int, int]] | None = None
) -> tuple[StanceLabel, float]:
    """Overall tone: VADER compound averaged over the sentences, band ±0.05 is neutral.
    ``sentence_bounds`` are the text's sentences where the caller has them already."""
    bounds = sentence_spans(text) if sentence_bounds is None else sentence_bounds
    sentences = [text[start:end] for start, end in bounds]
    if not sentences:
        return StanceLabel.NEUTRAL, 0.0
    analyzer = _vader()
    score = sum(analyzer.polarity_scores(s)["compound"] for s in sentences) / len(sentences)
    score = max(-1.0, min(1.0, score))
    if score > ARTICLE_TONE_BAND:
        return StanceLabel.SUPPORTIVE, score
    if score < -ARTICLE_TONE_BAND:
        return StanceLabel.CRITICAL, score
    return StanceLabel.NEUTRAL, score
