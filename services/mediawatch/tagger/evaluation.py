"""Scoring the actor stage against hand-labelled articles (``mediawatch eval actors``).

A gold file is JSON Lines, one article a line: its ``text`` (and optional ``title`` and
``language``), or a ``body_id`` and ``sha256`` naming a body of an FNC-1 style CSV given
separately; and its ``actors``, each with a ``name``, a ``type`` (person, organisation, state
or source), an optional ``id`` and the other surface forms the article uses (``aliases``).
``tests/tagger/fixtures/actors_gold/README.md`` gives the labelling rules.

Scoring is per article and per actor, not per mention: a predicted actor matches a gold one
when its id equals the gold id, or when its name or any of its mentions, normalised (case,
accents, a leading article, a possessive, punctuation), equals the gold name or an alias. A
match of the wrong type counts as a miss of the gold type and an extra of the predicted one.
Organisations and blocs are both ``organisation``; treaties are not scored; actors tagged with
``role: source`` are scored as ``source``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mediawatch.schemas import ActorTag

__all__ = [
    "ActorReport",
    "GoldActor",
    "GoldArticle",
    "GoldFileError",
    "load_gold",
    "score_actors",
]

GoldType = Literal["person", "organisation", "state", "source"]
TYPES: tuple[GoldType, ...] = ("person", "organisation", "state", "source")
ACTOR_TYPES: tuple[GoldType, ...] = ("person", "organisation", "state")


class GoldFileError(ValueError):
    """A gold file line is invalid; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class GoldActor:
    name: str
    type: GoldType
    id: str | None = None
    aliases: tuple[str, ...] = ()

    def keys(self) -> set[str]:
        out = {normalise_name(n) for n in (self.name, *self.aliases)}
        if self.id:
            out.add(self.id)
        out.discard("")
        return out


@dataclass(frozen=True)
class GoldArticle:
    key: str
    text: str
    title: str
    language: str | None
    split: str | None
    actors: tuple[GoldActor, ...]


def normalise_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = re.sub(r"['’]s\b", "", plain)
    plain = re.sub(r"[.'’]", "", plain)
    plain = re.sub(r"[^\w]+", " ", plain).strip()
    plain = re.sub(r"^(?:the|la|le|les|l) ", "", plain)
    return _HONORIFIC.sub("", plain)


_HONORIFIC = re.compile(
    r"^(?:mr|mrs|ms|dr|prof|professor|sir|dame|lord|lady|queen|king|prince|princess|pope|"
    r"president|sen|senator|gen|general|rep|gov|col|capt|lt|sgt|sheikh|m|mme) "
)


def json_lines(path: Path, error: type[ValueError]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(line number, "file:line", object) for every non-blank line of a JSON Lines file; a
    line that is not a JSON object raises ``error`` naming its place."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{where}: not JSON: {exc.msg}") from None
            if not isinstance(raw, dict):
                raise error(f"{where}: each line must be a JSON object")
            yield number, where, raw


def read_bodies(path: Path) -> dict[str, str]:
    """The FNC-1 bodies CSV as {Body ID: text}."""
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["Body ID"]: row["articleBody"] for row in csv.DictReader(handle)}


def labelled_body(
    raw: dict[str, Any],
    where: str,
    table: dict[str, str],
    bodies: Path,
    error: type[ValueError],
    *,
    hash_required: bool = False,
) -> str:
    """The body a gold line names by ``body_id``, refused unless it is the text that was
    labelled (its ``sha256``; a line without one passes unless ``hash_required``)."""
    text = table.get(str(raw["body_id"]))
    if text is None:
        raise error(f"{where}: body {raw['body_id']} is not in {bodies}")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if (raw.get("sha256") or hash_required) and raw.get("sha256") != digest:
        raise error(
            f"{where}: body {raw['body_id']} in {bodies} is not the labelled text (sha256 differs)"
        )
    return text


def load_gold(path: Path, bodies: Path | None = None) -> list[GoldArticle]:
    """Read a gold file; lines naming a ``body_id`` take their text from ``bodies``."""
    table: dict[str, str] | None = None
    articles: list[GoldArticle] = []
    for number, where, raw in json_lines(path, GoldFileError):
        text = raw.get("text")
        key = str(raw.get("id") or raw.get("body_id") or number)
        if text is None:
            if "body_id" not in raw:
                raise GoldFileError(f"{where}: needs 'text' or 'body_id'")
            if bodies is None:
                raise GoldFileError(f"{where}: names body {raw['body_id']}; pass --bodies CSV")
            if table is None:
                table = read_bodies(bodies)
            text = labelled_body(raw, where, table, bodies, GoldFileError)
        actors = []
        for j, item in enumerate(raw.get("actors") or [], 1):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise GoldFileError(f"{where}: actor {j} needs a 'name'")
            kind = item.get("type")
            if kind not in TYPES:
                raise GoldFileError(f"{where}: actor {j} ({item['name']}): type {kind!r}")
            aliases = item.get("aliases") or []
            actors.append(
                GoldActor(item["name"], kind, item.get("id"), tuple(str(a) for a in aliases))
            )
        articles.append(
            GoldArticle(
                key=key,
                text=str(text),
                title=str(raw.get("title") or ""),
                language=raw.get("language"),
                split=raw.get("split"),
                actors=tuple(actors),
            )
        )
    return articles


@dataclass
class _Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class ActorReport:
    """Counts per type, and every miss and extra as (article, type, name)."""

    articles: int = 0
    counts: dict[str, _Counts] = field(default_factory=lambda: {t: _Counts() for t in TYPES})
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    extras: list[tuple[str, str, str]] = field(default_factory=list)

    def total(self, types: Sequence[str] = ACTOR_TYPES) -> _Counts:
        out = _Counts()
        for t in types:
            out.tp += self.counts[t].tp
            out.fp += self.counts[t].fp
            out.fn += self.counts[t].fn
        return out

    def as_dict(self) -> dict[str, object]:
        def row(c: _Counts) -> dict[str, float | int]:
            return {
                "precision": round(c.precision, 4),
                "recall": round(c.recall, 4),
                "f1": round(c.f1, 4),
                "tp": c.tp,
                "fp": c.fp,
                "fn": c.fn,
            }

        return {
            "articles": self.articles,
            "actors": row(self.total()),
            "types": {t: row(c) for t, c in self.counts.items()},
            "misses": [list(m) for m in self.misses],
            "extras": [list(e) for e in self.extras],
        }


def _predicted_type(tag: ActorTag) -> str | None:
    if tag.role == "source":
        return "source"
    if tag.type == "treaty":
        return None
    return "organisation" if tag.type == "bloc" else tag.type


def _predicted_keys(tag: ActorTag) -> set[str]:
    out = {tag.actor_id, normalise_name(tag.name)}
    out |= {normalise_name(m.text) for m in tag.mentions}
    out.discard("")
    return out


def score_actors(
    articles: Iterable[GoldArticle],
    resolve: Callable[[GoldArticle], list[ActorTag]],
) -> ActorReport:
    """Run ``resolve`` on every article and compare with its gold actors."""
    report = ActorReport()
    for article in articles:
        report.articles += 1
        predicted = [(t, _predicted_type(t)) for t in resolve(article)]
        predicted = [(t, kind) for t, kind in predicted if kind is not None]
        used: set[int] = set()
        for gold in article.actors:
            keys = gold.keys()
            match = next(
                (
                    i
                    for i, (tag, _) in enumerate(predicted)
                    if i not in used and keys & _predicted_keys(tag)
                ),
                None,
            )
            if match is None:
                report.counts[gold.type].fn += 1
                report.misses.append((article.key, gold.type, gold.name))
                continue
            used.add(match)
            kind = predicted[match][1]
            if kind == gold.type:
                report.counts[gold.type].tp += 1
            else:
                report.counts[gold.type].fn += 1
                report.counts[str(kind)].fp += 1
                report.misses.append((article.key, gold.type, f"{gold.name} (as {kind})"))
                report.extras.append((article.key, str(kind), f"{predicted[match][0].name}"))
        for i, (tag, kind) in enumerate(predicted):
            if i in used:
                continue
            report.counts[str(kind)].fp += 1
            report.extras.append((article.key, str(kind), tag.name))
    return report


def format_report(report: ActorReport, title: str) -> str:
    lines = [title, f"articles: {report.articles}", ""]
    lines.append(f"{'type':<14}{'precision':>10}{'recall':>8}{'F1':>7}{'tp':>6}{'fp':>5}{'fn':>5}")
    rows = [("actors", report.total()), *((t, report.counts[t]) for t in TYPES)]
    for name, c in rows:
        lines.append(
            f"{name:<14}{c.precision:>10.3f}{c.recall:>8.3f}{c.f1:>7.3f}{c.tp:>6}{c.fp:>5}{c.fn:>5}"
        )
    lines.append("  (actors = person + organisation + state; sources are outlets only cited)")
    return "\n".join(lines)
