"""Tagging throughput on real news text, one process, one core.

Usage:
    python benchmarks/bench_tagger.py --bodies ../shared/data/news-bodies/bodies.csv

Prints words/s, articles/s and peak RSS for four configurations, each measured in its own
child process so that peak memory belongs to that configuration alone:
  themes-starter   the starter theme catalogue only
  themes-1000      the starter catalogue plus 1,000 generated selective queries: each needs
                   a word found in at most 3 articles, so they match about as rarely as real
                   monitoring queries do (the starter themes: ~2 articles per theme here)
  themes-1000-broad  the same shapes built from common words, matching most articles: the
                   cost then follows the number of matches, not the number of queries
  actors-catalogue actor resolution against the catalogue only (no named-entity recogniser)
  actors           the default actor stage: catalogue, open-world names from spaCy's English
                   recogniser, short forms, typos and sources
  full             the whole default Tagger.tag (language, themes, actors, stance, tone)
  stance           the sentence stance model alone, on the (sentence, mention) pairs that
                   the full tagging scores, with a cold cache; beside it the bare encoder
                   (onnxruntime on the same pairs, already tokenised), so that the overhead
                   around the encoder shows as a ratio
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe_machine

MODES = (
    "themes-starter",
    "themes-1000",
    "themes-1000-broad",
    "actors-catalogue",
    "actors",
    "full",
    "stance",
)
REPOSITORY = Path(__file__).resolve().parents[1]


def load_bodies(path: Path) -> list[str]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["articleBody"] for row in csv.DictReader(handle) if row["articleBody"].strip()]


def generated_catalogue(anchors: list[str], others: list[str], count: int, seed: int = 7) -> str:
    """A theme catalogue of ``count`` queries in the shapes analysts write (phrases, AND, OR,
    NEAR, wildcards); every query needs one of ``anchors``, which sets its selectivity."""
    rng = random.Random(seed)
    themes = []
    for number in range(count):
        anchor = rng.choice(anchors)
        b, c, d = rng.sample(others, 3)
        shape = number % 4
        if shape == 0:
            query = f'"{anchor} {b}" OR ({anchor} AND ({c} OR {d}))'
        elif shape == 1:
            query = f"{anchor} NEAR/5 ({b} OR {c})"
        elif shape == 2:
            query = f"{anchor} AND ({b[:4]}* OR {c}) AND NOT {d}"
        else:
            query = f"({anchor} OR {anchor}s) AND ({b} OR {c} OR {d})"
        themes.append({"id": f"generated-{number:04d}", "label": f"G{number}", "query": query})
    return json.dumps({"version": "bench", "themes": themes})


def vocabulary_by_frequency(bodies: list[str]) -> tuple[list[str], list[str]]:
    """Alphabetic words of 5+ letters found in at most 3 articles, and in at least 5%."""
    document_frequency: dict[str, int] = {}
    for body in bodies:
        for word in {w.lower() for w in body.split() if w.isalpha() and len(w) >= 5}:
            document_frequency[word] = document_frequency.get(word, 0) + 1
    rare = sorted(w for w, n in document_frequency.items() if n <= 3)
    common = sorted(w for w, n in document_frequency.items() if n >= len(bodies) * 0.05)
    return rare, common


class _RecordingStance:
    """A sentence stance model that remembers the pairs the tagger asks it about."""

    languages = frozenset({"en"})

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.items: list[tuple[str, int, int]] = []

    def predict_many(self, items: object) -> list[object]:
        wanted = list(items)  # type: ignore[call-overload]
        self.items.extend(wanted)
        return self.inner.predict_many(wanted)  # type: ignore[attr-defined,no-any-return]


def _article(body: str) -> object:
    from mediawatch.schemas import ArticleFetched, SourceInfo

    return ArticleFetched(
        article_id="bench",
        source=SourceInfo(id="bench", type="push"),
        fetched_at="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
        text=body,
        content_hash="0" * 64,
        language="en",
    )


def run_stance(bodies: list[str]) -> dict[str, float]:
    """Pairs from the full tagging (lexical model, untimed), then the contextual model and
    the bare encoder on them."""
    from mediawatch.tagger.contextual import ContextualStanceModel
    from mediawatch.tagger.pipeline import Tagger
    from mediawatch.tagger.settings import TaggerSettings
    from mediawatch.tagger.stance import StanceModel

    settings = TaggerSettings()
    tagger = Tagger.from_files(settings.themes_file, settings.actors_file, stance_model="lexical")
    recorder = _RecordingStance(StanceModel.load())
    tagger.stance_stage.model = recorder  # type: ignore[assignment]
    for body in bodies:
        tagger.tag(_article(body))  # type: ignore[arg-type]
    items = recorder.items
    model = ContextualStanceModel()
    model.predict_many(items[:200])  # onnxruntime's first runs of each length allocate
    model.clear_cache()
    started = time.perf_counter()
    model.predict_many(items)
    model_s = time.perf_counter() - started
    encoded = model.encoder_inputs(list(dict.fromkeys(items)))
    started = time.perf_counter()
    model.run_encoder(sorted(encoded, key=lambda pair: len(pair.input_ids)))
    encoder_s = time.perf_counter() - started
    distinct = len(encoded)
    return {
        "pairs": len(items),
        "distinct_pairs": distinct,
        "targets_per_s": len(items) / model_s,
        "encoder_pairs_per_s": distinct / encoder_s,
        "overhead_ratio": (distinct / model_s) / (distinct / encoder_s),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_mode(mode: str, bodies_path: Path, workdir: Path) -> dict[str, float]:
    from mediawatch.query import Document, ThemeMatcher, load_theme_catalogue
    from mediawatch.tagger.actors import ActorResolver, load_actor_catalogue
    from mediawatch.tagger.ner import RecogniserPool
    from mediawatch.tagger.pipeline import Tagger
    from mediawatch.tagger.settings import TaggerSettings

    bodies = load_bodies(bodies_path)
    if mode == "stance":
        return run_stance(bodies)
    settings = TaggerSettings()
    words = sum(len(body.split()) for body in bodies)
    setup_started = time.perf_counter()
    if mode == "themes-starter":
        matcher = ThemeMatcher.from_file(settings.themes_file)

        def work(body: str) -> object:
            return matcher.match(Document(body, language="en"))

    elif mode.startswith("themes-1000"):
        starter = load_theme_catalogue(settings.themes_file)
        rare, common = vocabulary_by_frequency(bodies)
        anchors = common if mode.endswith("broad") else rare
        extra_path = workdir / f"generated-{mode}.yaml"
        extra = json.loads(generated_catalogue(anchors, common, 1000))
        extra["themes"] = [t.model_dump() for t in starter.themes] + extra["themes"]
        extra_path.write_text(json.dumps(extra))
        matcher = ThemeMatcher.from_file(extra_path)

        def work(body: str) -> object:
            return matcher.match(Document(body, language="en"))

    elif mode.startswith("actors"):
        pool = None if mode == "actors-catalogue" else RecogniserPool()
        resolver = ActorResolver(load_actor_catalogue(settings.actors_file), pool)

        def work(body: str) -> object:
            return resolver.resolve(body, language="en")

    else:
        tagger = Tagger.from_settings(settings)

        def work(body: str) -> object:
            return tagger.tag(_article(body))  # type: ignore[arg-type]

    setup_s = time.perf_counter() - setup_started
    work(bodies[0])  # warm caches the way a long-running worker has them
    started = time.perf_counter()
    matches = 0
    for body in bodies:
        result = work(body)
        matches += len(result) if isinstance(result, list) else 0
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "articles": len(bodies),
        "words": words,
        "seconds": elapsed,
        "words_per_s": words / elapsed,
        "articles_per_s": len(bodies) / elapsed,
        "peak_rss_mb": peak_mb,
        "setup_s": setup_s,
        "tags": matches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=Path, required=True, help="bodies.csv (FNC-1 bodies)")
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.bodies, args.workdir)))
        return
    print(f"machine: {describe_machine()}")
    print(f"corpus: {args.bodies}")
    print(
        f"{'mode':18} {'words/s':>10} {'articles/s':>11} {'peak RSS':>9} {'setup':>7} {'tags':>7}"
    )
    results = {}
    for mode in MODES[:-1]:
        output = subprocess.run(
            ["taskset", "-c", "0", sys.executable, __file__, "--bodies", str(args.bodies),
             "--mode", mode],
            capture_output=True, text=True, check=True, cwd=REPOSITORY,
        ).stdout  # fmt: skip
        result = json.loads(output.strip().splitlines()[-1])
        results[mode] = result
        print(
            f"{mode:18} {result['words_per_s']:>10,.0f} {result['articles_per_s']:>11,.1f} "
            f"{result['peak_rss_mb']:>7.0f}MB {result['setup_s']:>6.2f}s {result['tags']:>7.0f}"
        )
    for mode in ("themes-1000", "themes-1000-broad"):
        ratio = results[mode]["seconds"] / results["themes-starter"]["seconds"]
        print(f"{mode}: {ratio:.2f}x the starter catalogue's time")
    print(f"({results['full']['articles']:.0f} articles, {results['full']['words']:,.0f} words)")
    full = results["full"]["articles_per_s"]
    print(
        f"full default tagging: {full:.1f} articles/s on one core "
        f"({full * 86_400 / 1e6:.2f} million articles a day per core; floor 20/s)"
    )
    output = subprocess.run(
        ["taskset", "-c", "0", sys.executable, __file__, "--bodies", str(args.bodies),
         "--mode", "stance"],
        capture_output=True, text=True, check=True, cwd=REPOSITORY,
    ).stdout  # fmt: skip
    stance = json.loads(output.strip().splitlines()[-1])
    print(
        f"stance (contextual): {stance['targets_per_s']:,.0f} targets/s over "
        f"{stance['pairs']:,.0f} pairs ({stance['distinct_pairs']:,.0f} distinct); bare "
        f"encoder {stance['encoder_pairs_per_s']:,.0f} pairs/s; overhead ratio "
        f"{stance['overhead_ratio']:.2f} (goal >= 0.8); peak RSS {stance['peak_rss_mb']:.0f}MB"
    )


if __name__ == "__main__":
    main()
