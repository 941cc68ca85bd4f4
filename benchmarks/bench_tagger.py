"""Tagging throughput on real news text, one process, one core.

Usage:
    python benchmarks/bench_tagger.py --bodies ../shared/data/news-bodies/bodies.csv

Prints words/s, articles/s and peak RSS for four configurations, each measured in its own
child process so that peak memory belongs to that configuration alone:
  themes-starter   the starter theme catalogue only
  themes-1000      the starter catalogue plus 1,000 generated queries
  actors           actor resolution only
  full             the whole Tagger.tag (themes, actors, stance, tone)
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

MODES = ("themes-starter", "themes-1000", "actors", "full")
REPOSITORY = Path(__file__).resolve().parents[1]


def load_bodies(path: Path) -> list[str]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["articleBody"] for row in csv.DictReader(handle) if row["articleBody"].strip()]


def generated_catalogue(vocabulary: list[str], count: int, seed: int = 7) -> str:
    """A theme catalogue of ``count`` queries built from words of the corpus, mixing phrases,
    AND, OR, NEAR and wildcards the way analysts write them."""
    rng = random.Random(seed)
    themes = []
    for number in range(count):
        a, b, c, d = rng.sample(vocabulary, 4)
        shape = number % 4
        if shape == 0:
            query = f'"{a} {b}" AND ({c} OR {d})'
        elif shape == 1:
            query = f"{a} NEAR/5 ({b} OR {c})"
        elif shape == 2:
            query = f"({a[:4]}* OR {b}) AND NOT {c}"
        else:
            query = f'"{a} {b}" OR "{c} {d}"'
        themes.append({"id": f"generated-{number:04d}", "label": f"G{number}", "query": query})
    return json.dumps({"version": "bench", "themes": themes})


def run_mode(mode: str, bodies_path: Path, workdir: Path) -> dict[str, float]:
    from mediawatch.schemas import ArticleFetched, SourceInfo
    from mediawatch.tagger.actors import ActorResolver, load_actor_catalogue
    from mediawatch.tagger.matcher import Document, ThemeMatcher
    from mediawatch.tagger.pipeline import Tagger
    from mediawatch.tagger.settings import TaggerSettings
    from mediawatch.tagger.themes import load_theme_catalogue

    bodies = load_bodies(bodies_path)
    settings = TaggerSettings()
    words = sum(len(body.split()) for body in bodies)
    setup_started = time.perf_counter()
    if mode == "themes-starter":
        matcher = ThemeMatcher.from_file(settings.themes_file)

        def work(body: str) -> object:
            return matcher.match(Document(body, language="en"))

    elif mode == "themes-1000":
        starter = load_theme_catalogue(settings.themes_file)
        vocabulary = sorted({w.lower() for b in bodies[:200] for w in b.split() if w.isalpha()})
        vocabulary = [w for w in vocabulary if len(w) >= 5]
        extra_path = workdir / "generated-themes.yaml"
        extra = json.loads(generated_catalogue(vocabulary, 1000))
        extra["themes"] = [t.model_dump() for t in starter.themes] + extra["themes"]
        extra_path.write_text(json.dumps(extra))
        matcher = ThemeMatcher.from_file(extra_path)

        def work(body: str) -> object:
            return matcher.match(Document(body, language="en"))

    elif mode == "actors":
        resolver = ActorResolver(load_actor_catalogue(settings.actors_file))

        def work(body: str) -> object:
            return resolver.resolve(body)

    else:
        tagger = Tagger.from_settings(settings)
        source = SourceInfo(id="bench", type="push")

        def work(body: str) -> object:
            return tagger.tag(
                ArticleFetched(
                    article_id="bench",
                    source=source,
                    fetched_at="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
                    text=body,
                    content_hash="0" * 64,
                    language="en",
                )
            )

    setup_s = time.perf_counter() - setup_started
    work(bodies[0])  # warm caches the way a long-running worker has them
    started = time.perf_counter()
    for body in bodies:
        work(body)
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
    print(f"{'mode':16} {'words/s':>10} {'articles/s':>11} {'peak RSS':>9} {'setup':>7}")
    results = {}
    for mode in MODES:
        output = subprocess.run(
            ["taskset", "-c", "0", sys.executable, __file__, "--bodies", str(args.bodies),
             "--mode", mode],
            capture_output=True, text=True, check=True, cwd=REPOSITORY,
        ).stdout  # fmt: skip
        result = json.loads(output.strip().splitlines()[-1])
        results[mode] = result
        print(
            f"{mode:16} {result['words_per_s']:>10,.0f} {result['articles_per_s']:>11,.1f} "
            f"{result['peak_rss_mb']:>7.0f}MB {result['setup_s']:>6.2f}s"
        )
    ratio = results["themes-1000"]["seconds"] / results["themes-starter"]["seconds"]
    print(f"1,000 extra queries cost {ratio:.2f}x the starter catalogue's time")
    print(f"({results['full']['articles']:.0f} articles, {results['full']['words']:,.0f} words)")


if __name__ == "__main__":
    main()
