"""Sentence stance read by the contextual encoder: the default stance model.

:class:`ContextualStanceModel` scores each (sentence, mention) pair with the adapted MiniLM
of :mod:`mediawatch.tagger.encoder`, one pair per encoder run. Batching does not pay here:
the int8 encoder quantises its activations with one scale per run, so a pair's result would
depend on the pairs beside it, and on one core a batch of 8 runs only some 6% faster than
single pairs (319 against 301 pairs/s, sorted by length; 32 is slower again, docs/stance.md).
One pair per run keeps every result a function of its own sentence alone, so that a replayed
article is tagged exactly as before. The result of a pair is cached, since reprints and wire
copies repeat sentences word for word.

The model was trained on English news only. :attr:`languages` says so, and the tagger gives
``unknown`` for any other language instead of this model's guess.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

from mediawatch.tagger.encoder import EncodedPair, build_encoder
from mediawatch.tagger.stance import CLASSES, StancePrediction

__all__ = ["DEFAULT_ADAPTER_PATH", "ContextualStanceModel"]

DEFAULT_ADAPTER_PATH = Path(__file__).parent / "data" / "stance" / "adapter.npz"
#: Pairs whose predictions are remembered (a few hundred articles' worth).
CACHE_SIZE = 8192


class ContextualStanceModel:
    """Target-dependent stance of a sentence, from a fine-tuned transformer encoder."""

    #: Languages the model was trained on.
    languages: frozenset[str] = frozenset({"en"})

    def __init__(self, adapter_path: Path = DEFAULT_ADAPTER_PATH, *, threads: int = 1) -> None:
        self._encoder = build_encoder(adapter_path, threads=threads)
        classes = list(self._encoder.adapter.metadata.get("classes", []))
        if classes != [c.value for c in CLASSES]:
            raise ValueError(f"{adapter_path}: classes {classes}, expected {list(CLASSES)}")
        self.metadata = dict(self._encoder.adapter.metadata)
        self._cache: OrderedDict[tuple[str, int, int], StancePrediction] = OrderedDict()

    def predict(self, text: str, start: int, end: int) -> StancePrediction:
        """Stance of ``text`` (a sentence) towards the mention ``text[start:end]``."""
        return self.predict_many([(text, start, end)])[0]

    def predict_many(self, items: Iterable[tuple[str, int, int]]) -> list[StancePrediction]:
        """One prediction per (sentence, start, end), in the order given."""
        wanted = list(items)
        known: dict[tuple[str, int, int], StancePrediction] = {}
        for item in wanted:
            if item in known:
                continue
            cached = self._cache.get(item)
            known[item] = cached if cached is not None else self._score(item)
            self._cache[item] = known[item]
            self._cache.move_to_end(item)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return [known[item] for item in wanted]

    def _score(self, item: tuple[str, int, int]) -> StancePrediction:
        (row,) = self._encoder.probabilities([self._encoder.pairs.encode(*item)])
        probabilities = {str(c): float(p) for c, p in zip(CLASSES, row, strict=True)}
        best = max(range(len(CLASSES)), key=lambda k: float(row[k]))
        return StancePrediction(
            label=CLASSES[best],
            score=max(-1.0, min(1.0, float(row[2] - row[0]))),
            probabilities=probabilities,
        )

    def clear_cache(self) -> None:
        """Forget every cached prediction (a benchmark measures a cold cache this way)."""
        self._cache.clear()

    def encoder_inputs(self, items: Sequence[tuple[str, int, int]]) -> list[EncodedPair]:
        """The encoder input of ``items`` (for benchmarks that time the encoder alone)."""
        return [self._encoder.pairs.encode(t, s, e) for t, s, e in items]

    def run_encoder(self, encoded: Sequence[EncodedPair]) -> None:
        """The bare encoder over ``encoded``, one pair per run as :meth:`predict_many` runs
        it, results discarded (benchmarks)."""
        for pair in encoded:
            self._encoder.hidden_states([pair])
