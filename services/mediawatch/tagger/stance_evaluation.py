"""Scoring a sentence stance model on labelled sentences (``mediawatch eval stance``).

The input is NewsMTSC's JSON Lines format, so that a desk can label its own material the same
way and measure on it: one sentence per line, ``sentence_normalized`` (or ``sentence``) and
``targets``, each target with ``from``/``to`` character offsets and ``polarity`` (2.0
negative, 4.0 neutral, 6.0 positive) or a ``label`` (critical, neutral, supportive).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediawatch.schemas import ArticleTagged
from mediawatch.schemas.events import StanceLabel
from mediawatch.tagger.evaluation import json_lines, labelled_body, read_bodies
from mediawatch.tagger.stance import CLASSES, SentenceStanceModel
from mediawatch.tagger.stance_training import POLARITY_TO_LABEL, f1_scores

__all__ = [
    "ArticleAgreement",
    "LabelledTarget",
    "StanceDataError",
    "StanceReport",
    "evaluate_stance",
    "read_targets",
    "score_article_stances",
]


class StanceDataError(ValueError):
    """A line of a labelled file that cannot be read, with its place."""


@dataclass(frozen=True)
class LabelledTarget:
    sentence: str
    start: int
    end: int
    label: StanceLabel


def _label(target: dict[str, Any], where: str) -> StanceLabel:
    if "label" in target:
        try:
            return StanceLabel(str(target["label"]))
        except ValueError:
            raise StanceDataError(f"{where}: label {target['label']!r} is not one of "
                                  "critical, neutral, supportive") from None  # fmt: skip
    try:
        return POLARITY_TO_LABEL[float(target["polarity"])]
    except (KeyError, TypeError, ValueError):
        raise StanceDataError(
            f"{where}: polarity {target.get('polarity')!r} is not 2.0, 4.0 or 6.0 and there is "
            "no label"
        ) from None


def read_targets(path: Path) -> list[LabelledTarget]:
    """Every labelled target of ``path``; a malformed line raises with its line number."""
    targets: list[LabelledTarget] = []
    for _, where, row in json_lines(path, StanceDataError):
        sentence = row.get("sentence_normalized") or row.get("sentence")
        if not isinstance(sentence, str) or not sentence:
            raise StanceDataError(f"{where}: no sentence_normalized or sentence")
        if not isinstance(row.get("targets"), list):
            raise StanceDataError(f"{where}: no targets list")
        for index, target in enumerate(row["targets"]):
            place = f"{where} target {index}"
            try:
                start, end = int(target["from"]), int(target["to"])
            except (KeyError, TypeError, ValueError):
                raise StanceDataError(f"{place}: from/to must be offsets") from None
            if not 0 <= start < end <= len(sentence):
                raise StanceDataError(
                    f"{place}: span {start}..{end} outside the sentence "
                    f"({len(sentence)} characters)"
                )
            targets.append(LabelledTarget(sentence, start, end, _label(target, place)))
    if not targets:
        raise StanceDataError(f"{path}: no labelled targets")
    return targets


@dataclass(frozen=True)
class StanceReport:
    targets: int
    macro_f1: float
    per_class_f1: dict[str, float]
    accuracy: float
    targets_per_second: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "targets": self.targets,
            "macro_f1": round(self.macro_f1, 4),
            "per_class_f1": {k: round(v, 4) for k, v in self.per_class_f1.items()},
            "accuracy": round(self.accuracy, 4),
            "targets_per_second": round(self.targets_per_second, 1),
        }

    def format(self, title: str) -> str:
        per_class = "  ".join(f"{k} {100 * v:.1f}" for k, v in self.per_class_f1.items())
        return (
            f"{title}: {self.targets} targets\n"
            f"  macro-F1 {100 * self.macro_f1:.1f}   accuracy {100 * self.accuracy:.1f}\n"
            f"  per class: {per_class}\n"
            f"  {self.targets_per_second:.0f} targets/s"
        )


def evaluate_stance(
    model: SentenceStanceModel, data: Path | Sequence[LabelledTarget]
) -> StanceReport:
    """The model's scores on ``data`` (a file, or targets already read)."""
    targets = read_targets(data) if isinstance(data, Path) else list(data)
    started = time.perf_counter()
    predictions = model.predict_many((t.sentence, t.start, t.end) for t in targets)
    elapsed = time.perf_counter() - started
    index = {c: i for i, c in enumerate(CLASSES)}
    gold = [index[t.label] for t in targets]
    predicted = [index[p.label] for p in predictions]
    macro, per_class = f1_scores(gold, predicted)
    return StanceReport(
        targets=len(targets),
        macro_f1=macro,
        per_class_f1={c.value: f for c, f in zip(CLASSES, per_class, strict=True)},
        accuracy=sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(targets),
        targets_per_second=len(targets) / elapsed if elapsed > 0 else float("inf"),
    )


@dataclass(frozen=True)
class ArticleAgreement:
    """Article-level stance against hand labels: agreement and the confusion counts."""

    targets: int
    agreed: int
    #: (gold label, tagger label) -> count; "absent" where the tagger has no such target.
    confusion: dict[tuple[str, str], int]
    misses: list[str]

    @property
    def agreement(self) -> float:
        return self.agreed / self.targets if self.targets else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "targets": self.targets,
            "agreement": round(self.agreement, 4),
            "confusion": {f"{g}->{p}": n for (g, p), n in sorted(self.confusion.items())},
        }


def score_article_stances(
    gold: Path, bodies: Path, tag: Callable[[str, str | None], ArticleTagged], split: str | None
) -> ArticleAgreement:
    """Tag every labelled FNC-1 body of ``gold`` (``tag(text, genre)``) and compare the
    article stance toward each labelled target. A body whose SHA-256 differs from the gold
    line's is an error: the labels were made on other text."""
    table = read_bodies(bodies)
    confusion: dict[tuple[str, str], int] = {}
    misses: list[str] = []
    agreed = total = 0
    for _, where, row in json_lines(gold, StanceDataError):
        if split is not None and row.get("split") != split:
            continue
        body = labelled_body(row, where, table, bodies, StanceDataError, hash_required=True)
        if not row["stances"]:
            continue
        found = {s.target_id: s.label.value for s in tag(body, None).stances}
        for wanted in row["stances"]:
            got = found.get(wanted["target"], "absent")
            confusion[(wanted["label"], got)] = confusion.get((wanted["label"], got), 0) + 1
            total += 1
            if got == wanted["label"]:
                agreed += 1
            else:
                label = wanted["label"]
                misses.append(f"{row['body_id']} {wanted['target']}: {got}, labelled {label}")
    return ArticleAgreement(total, agreed, confusion, misses)
