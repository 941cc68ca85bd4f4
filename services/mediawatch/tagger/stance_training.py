"""Train and evaluate the target-dependent stance model (pure Python, reproducible).

    python -m mediawatch.tagger.stance_training \\
        --data /work/shared/data/newsmtsc/train.jsonl \\
        --out services/mediawatch/tagger/data/stance_model.json

Input: NewsMTSC-style JSONL, one sentence per line with ``sentence_normalized`` and
``targets`` (``from``/``to`` character offsets, ``polarity`` 2.0 negative, 4.0 neutral,
6.0 positive, or a ``label`` string critical/neutral/supportive).

Protocol:

1. A held-out split (``--holdout`` fraction, default 0.15) is chosen by a hash of the sentence
   text, so every target of a sentence - and any repeated sentence - lands on the same side.
   It is used once, at the very end, and never for any choice.
2. Hyper-parameters (L2 strength, number of epochs) are chosen by k-fold cross-validation on the
   training part only (folds also split by sentence hash).
3. The final model is trained on the whole training part with the chosen values, pruned and
   written as JSON; then macro-F1 and per-class F1 on the held-out part are printed, next to
   the VADER-compound-on-the-sentence baseline on the same sentences, and the inference speed.

The optimiser is AdaGrad on the multinomial logistic loss with an L2 penalty applied to the
features active in each example, with a fixed seed for the example order; the whole run is
deterministic.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediawatch.schemas.events import StanceLabel
from mediawatch.tagger.stance import (
    CLASSES,
    DEFAULT_CUES_PATH,
    CueLexicon,
    FeatureExtractor,
    StanceModel,
)

POLARITY_TO_LABEL = {
    2.0: StanceLabel.CRITICAL,
    4.0: StanceLabel.NEUTRAL,
    6.0: StanceLabel.SUPPORTIVE,
}
CLASS_INDEX = {c: i for i, c in enumerate(CLASSES)}


@dataclass(frozen=True)
class Example:
    sentence: str
    start: int
    end: int
    label: int  # index into CLASSES
    primary: bool = True  # False for a coreferent "further mention" used only for training


def _label_of(target: dict[str, Any]) -> StanceLabel | None:
    if "label" in target:
        return StanceLabel(str(target["label"]))
    polarity = target.get("polarity")
    if polarity is None:
        return None
    return POLARITY_TO_LABEL.get(float(polarity))


def load_examples(path: Path, further_mentions: bool = False) -> list[Example]:
    """Labelled targets; with ``further_mentions`` also each coreferent mention of a target."""
    examples: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            sentence = row.get("sentence_normalized") or row.get("sentence") or ""
            for target in row.get("targets", []):
                label = _label_of(target)
                if label is None:
                    continue
                examples.append(
                    Example(sentence, int(target["from"]), int(target["to"]), CLASS_INDEX[label])
                )
                for extra in target.get("further_mentions") or [] if further_mentions else []:
                    examples.append(
                        Example(
                            sentence,
                            int(extra["from"]),
                            int(extra["to"]),
                            CLASS_INDEX[label],
                            primary=False,
                        )
                    )
    return examples


def _bucket(sentence: str, salt: str, buckets: int) -> int:
    digest = hashlib.sha256((salt + "\x00" + sentence.strip()).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % buckets


def split_holdout(
    examples: Sequence[Example], fraction: float, salt: str
) -> tuple[list[Example], list[Example]]:
    train: list[Example] = []
    held: list[Example] = []
    for ex in examples:
        (held if _bucket(ex.sentence, salt, 10_000) < fraction * 10_000 else train).append(ex)
    return train, held


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def f1_scores(gold: Sequence[int], pred: Sequence[int]) -> tuple[float, list[float]]:
    """Macro-F1 and per-class F1 (in CLASSES order)."""
    per_class: list[float] = []
    for c in range(len(CLASSES)):
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == c and p != c)
        denom = 2 * tp + fp + fn
        per_class.append(2 * tp / denom if denom else 0.0)
    return sum(per_class) / len(per_class), per_class


def vader_baseline(examples: Sequence[Example]) -> list[int]:
    """VADER compound of the whole sentence, ±0.05 band (VADER's recommended thresholds)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    cache: dict[str, float] = {}
    out: list[int] = []
    for ex in examples:
        if ex.sentence not in cache:
            cache[ex.sentence] = float(analyzer.polarity_scores(ex.sentence)["compound"])
        compound = cache[ex.sentence]
        if compound >= 0.05:
            out.append(CLASS_INDEX[StanceLabel.SUPPORTIVE])
        elif compound <= -0.05:
            out.append(CLASS_INDEX[StanceLabel.CRITICAL])
        else:
            out.append(CLASS_INDEX[StanceLabel.NEUTRAL])
    return out


# --------------------------------------------------------------------------------------------
# Logistic regression (sparse, pure Python)
# --------------------------------------------------------------------------------------------

SparseRow = list[tuple[int, float]]


def build_vocab(rows: Sequence[dict[str, float]], min_count: int) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for row in rows:
        counts.update(row.keys())
    names = sorted(k for k, c in counts.items() if c >= min_count or k == "bias")
    return {name: i for i, name in enumerate(names)}


def vectorise(rows: Sequence[dict[str, float]], vocab: dict[str, int]) -> list[SparseRow]:
    return [[(vocab[k], v) for k, v in row.items() if k in vocab] for row in rows]


def train_lr(
    x: Sequence[SparseRow],
    y: Sequence[int],
    n_features: int,
    *,
    l2: float,
    epochs: int,
    lr: float,
    seed: int,
    checkpoints: Sequence[int] = (),
    average: bool = True,
) -> Iterator[tuple[int, list[float]]]:
    """AdaGrad on the multinomial logistic loss; yields (epoch, weights) at each checkpoint.

    Weights are a flat list, feature j's class c weight at ``3 * j + c``. With ``average`` the
    yielded weights are the average of the iterates over all updates so far (computed lazily:
    ``w - u / t`` where ``u`` accumulates ``t * update``), which is less noisy than the last.
    """
    k = len(CLASSES)
    w = [0.0] * (n_features * k)
    u = [0.0] * (n_features * k)
    g2 = [1e-6] * (n_features * k)
    t = 1
    rng = random.Random(seed)
    order = list(range(len(x)))
    wanted = set(checkpoints) | {epochs}
    sqrt = math.sqrt
    exp = math.exp
    for epoch in range(1, epochs + 1):
        rng.shuffle(order)
        for idx in order:
            row = x[idx]
            s0 = s1 = s2 = 0.0
            for j, v in row:
                b = 3 * j
                s0 += w[b] * v
                s1 += w[b + 1] * v
                s2 += w[b + 2] * v
            top = max(s0, s1, s2)
            e0, e1, e2 = exp(s0 - top), exp(s1 - top), exp(s2 - top)
            z = e0 + e1 + e2
            gold = y[idx]
            grads = (
                e0 / z - (1.0 if gold == 0 else 0.0),
                e1 / z - (1.0 if gold == 1 else 0.0),
                e2 / z - (1.0 if gold == 2 else 0.0),
            )
            for j, v in row:
                b = 3 * j
                for c in range(3):
                    i = b + c
                    g = grads[c] * v + l2 * w[i]
                    if g:
                        g2[i] += g * g
                        step = lr * g / sqrt(g2[i])
                        w[i] -= step
                        u[i] -= t * step
            t += 1
        if epoch in wanted:
            yield epoch, [wi - ui / t for wi, ui in zip(w, u, strict=True)] if average else list(w)


def predict_rows(x: Sequence[SparseRow], w: Sequence[float]) -> list[int]:
    out: list[int] = []
    for row in x:
        s = [0.0, 0.0, 0.0]
        for j, v in row:
            b = 3 * j
            s[0] += w[b] * v
            s[1] += w[b + 1] * v
            s[2] += w[b + 2] * v
        out.append(max(range(3), key=s.__getitem__))
    return out


def to_model(
    vocab: dict[str, int],
    w: Sequence[float],
    extractor: FeatureExtractor,
    prune: float,
    metadata: dict[str, Any],
) -> StanceModel:
    """Centre each feature's weights (softmax is shift-invariant), then drop tiny ones."""
    weights: dict[str, list[float]] = {}
    bias = [0.0, 0.0, 0.0]
    for name, j in vocab.items():
        col = w[3 * j : 3 * j + 3]
        mean = sum(col) / 3
        centred = [v - mean for v in col]
        if name == "bias":
            bias = centred
        elif max(abs(v) for v in centred) >= prune:
            weights[name] = centred
    return StanceModel(weights, bias, extractor, metadata)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="NewsMTSC-style JSONL")
    ap.add_argument("--out", type=Path, required=True, help="where to write the model JSON")
    ap.add_argument("--cues", type=Path, default=DEFAULT_CUES_PATH, help="cue lexicon YAML")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--holdout", type=float, default=0.15, help="held-out fraction (by sentence)")
    ap.add_argument("--folds", type=int, default=3, help="cross-validation folds for tuning")
    ap.add_argument(
        "--l2", type=float, nargs="+", default=[3e-4, 1e-3, 3e-3], help="L2 strengths to try"
    )
    ap.add_argument(
        "--epochs", type=int, nargs="+", default=[3, 5, 8, 12], help="epoch counts to try"
    )
    ap.add_argument("--lr", type=float, default=0.03, help="AdaGrad base learning rate")
    ap.add_argument(
        "--further-mentions",
        action="store_true",
        help="also train on coreferent mentions (never evaluated on them); off: CV showed no gain",
    )
    ap.add_argument("--min-count", type=int, default=2, help="drop rarer features")
    ap.add_argument("--prune", type=float, default=0.01, help="drop weights below this")
    return ap.parse_args(argv)


def _log(msg: str) -> None:
    print(msg, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    t0 = time.perf_counter()
    examples = load_examples(args.data, args.further_mentions)
    if not examples:
        print(f"no labelled targets in {args.data}", file=sys.stderr)
        return 1
    salt = f"mediawatch-stance-{args.seed}"
    train, held = split_holdout(examples, args.holdout, salt + "-holdout")
    held = [e for e in held if e.primary]
    _log(f"targets: {len(examples)}  train: {len(train)}  held-out: {len(held)}")
    _log(f"train classes: {_class_counts(train)}  held-out classes: {_class_counts(held)}")

    extractor = FeatureExtractor(CueLexicon.load(args.cues))
    train_feats = [extractor.extract(e.sentence, e.start, e.end) for e in train]
    train_y = [e.label for e in train]
    epochs_grid = sorted(set(args.epochs))
    max_epochs = epochs_grid[-1]

    # --- Cross-validation on the training part only -----------------------------------------
    folds = [_bucket(e.sentence, salt + "-cv", args.folds) for e in train]
    results: dict[tuple[float, int], list[float]] = {}
    for l2 in args.l2:
        for fold in range(args.folds):
            tr = [i for i, f in enumerate(folds) if f != fold]
            va = [i for i, f in enumerate(folds) if f == fold and train[i].primary]
            if not tr or not va:
                continue
            vocab = build_vocab([train_feats[i] for i in tr], args.min_count)
            x_tr = vectorise([train_feats[i] for i in tr], vocab)
            x_va = vectorise([train_feats[i] for i in va], vocab)
            y_tr = [train_y[i] for i in tr]
            y_va = [train_y[i] for i in va]
            for epoch, w in train_lr(
                x_tr,
                y_tr,
                len(vocab),
                l2=l2,
                epochs=max_epochs,
                lr=args.lr,
                seed=args.seed,
                checkpoints=epochs_grid,
            ):
                macro, _ = f1_scores(y_va, predict_rows(x_va, w))
                results.setdefault((l2, epoch), []).append(macro)
    if results:
        for (l2, epoch), scores in sorted(results.items()):
            _log(f"cv l2={l2:g} epochs={epoch}: macro-F1 {100 * sum(scores) / len(scores):.2f}")
        best_l2, best_epochs = max(
            results, key=lambda k: (sum(results[k]) / len(results[k]), -k[1], k[0])
        )
        cv_best = sum(results[(best_l2, best_epochs)]) / len(results[(best_l2, best_epochs)])
    else:  # too little data for folds
        best_l2, best_epochs, cv_best = args.l2[0], max_epochs, float("nan")
    _log(f"chosen by cv: l2={best_l2:g} epochs={best_epochs} (cv macro-F1 {100 * cv_best:.2f})")

    # --- Final model on the whole training part ---------------------------------------------
    vocab = build_vocab(train_feats, args.min_count)
    x_all = vectorise(train_feats, vocab)
    final_w: list[float] = []
    for _, w in train_lr(
        x_all,
        train_y,
        len(vocab),
        l2=best_l2,
        epochs=best_epochs,
        lr=args.lr,
        seed=args.seed,
    ):
        final_w = w
    metadata: dict[str, Any] = {
        "format": "mediawatch-stance-lr/1",
        "trained_on": args.data.name,
        "feature_options": extractor.options,
        "seed": args.seed,
        "hyperparameters": {
            "l2": best_l2,
            "epochs": best_epochs,
            "lr": args.lr,
            "min_count": args.min_count,
            "prune": args.prune,
            "cv_folds": args.folds,
            "cv_macro_f1": round(cv_best, 4) if cv_best == cv_best else None,
        },
        "sizes": {"train_targets": len(train), "heldout_targets": len(held)},
    }
    model = to_model(vocab, final_w, extractor, args.prune, metadata)
    _log(f"features: {len(vocab)} in vocabulary, {len(model.weights)} kept after pruning")

    # --- Held-out evaluation (once) ---------------------------------------------------------
    if held:
        gold = [e.label for e in held]
        pred = [
            CLASS_INDEX[model.predict(e.sentence, e.start, e.end, explain=False).label]
            for e in held
        ]
        macro, per_class = f1_scores(gold, pred)
        accuracy = sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / len(gold)
        v_macro, v_per_class = f1_scores(gold, vader_baseline(held))
        model.metadata["heldout"] = {
            "macro_f1": round(macro, 4),
            "accuracy": round(accuracy, 4),
            "per_class_f1": {str(c): round(f, 4) for c, f in zip(CLASSES, per_class, strict=True)},
            "vader_baseline_macro_f1": round(v_macro, 4),
        }
        _log(f"held-out macro-F1: {100 * macro:.2f}  (accuracy {100 * accuracy:.2f})")
        for c, f in zip(CLASSES, per_class, strict=True):
            _log(f"  {c:<11} F1 {100 * f:.2f}")
        _log(f"VADER-on-sentence baseline, same held-out: macro-F1 {100 * v_macro:.2f}")
        for c, f in zip(CLASSES, v_per_class, strict=True):
            _log(f"  {c:<11} F1 {100 * f:.2f}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(model.to_json(), separators=(",", ":"), ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    _log(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")

    # --- Inference speed with the written model ---------------------------------------------
    loaded = StanceModel.load(args.out, args.cues)
    bench = held or train
    t = time.perf_counter()
    for e in bench:
        loaded.predict(e.sentence, e.start, e.end, explain=True)
    elapsed = time.perf_counter() - t
    _log(
        f"inference: {len(bench) / elapsed:,.0f} targets/s "
        f"({len(bench)} targets, explain=True, one core)"
    )
    _log(f"total time: {time.perf_counter() - t0:.1f}s")
    return 0


def _class_counts(examples: Sequence[Example]) -> str:
    counts = Counter(CLASSES[e.label] for e in examples)
    return ", ".join(f"{c}={counts.get(c, 0)}" for c in CLASSES)


if __name__ == "__main__":
    raise SystemExit(main())
