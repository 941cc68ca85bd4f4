"""The alerter alone, fed tagged real news at fixed arrival rates: CPU per article.

Usage:
    .venv/bin/python benchmarks/bench_alerter.py --bodies ../shared/data/news-bodies/bodies.csv
    .venv/bin/python benchmarks/bench_alerter.py --bodies ... --rates 50,200 --seconds 30

The whole pipeline cannot offer the alerter more than the tagger's rate (about 11 articles/s
per worker since the contextual stance model), and at such rates a service's CPU per article
is mostly its fixed cost. This script measures the alerter the way the architecture issue's
baseline was taken, at 200 articles/s: ``--articles`` bodies are tagged once in this process,
then each step starts a broker-backed ``mediawatch alerter run`` child on fresh topics, offers
the tagged articles (each with a new id) to ``articles.tagged`` at the step's rate for
``--seconds``, waits until its consumer group has read them all, and prints the child's CPU
per article, with its idle CPU measured first. Two rule files per rate: one each_match rule
whose query matches part of the corpus (``--query``), and the same rule with a query that
matches nothing, which leaves the cost of reading, decoding and matching alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPOSITORY))

from bench_pipeline import (  # noqa: E402
    DEFAULT_QUERY,
    fetched_articles,
    group_lag,
    kafka_settings,
    load,
    load_bodies,
    proc_cpu_s,
)
from local_broker import start_local_broker  # noqa: E402
from machine import describe_machine  # noqa: E402
from tests.support.workers import ServiceProcess  # noqa: E402

NO_MATCH_QUERY = '"no article of the corpus says this"'


def tagged_articles(bodies_path: Path, count: int) -> list[dict[str, Any]]:
    """The first ``count`` bodies tagged by the default tagger, as ArticleTagged JSON."""
    from mediawatch.tagger.pipeline import Tagger
    from mediawatch.tagger.settings import TaggerSettings

    tagger = Tagger.from_settings(TaggerSettings())
    fetched = fetched_articles(load_bodies(bodies_path)[:count], "alerter")
    return [json.loads(tagger.tag(event).to_json()) for event in fetched]


async def offer(settings: Any, articles: list[dict[str, Any]], rate: float, seconds: float) -> int:
    """Produce ``rate * seconds`` tagged articles at ``rate`` per second, each a new id."""
    from mediawatch.runtime.kafka import producer

    client = producer(settings)
    await client.start()
    total = int(rate * seconds)
    started = time.monotonic()
    try:
        for index in range(total):
            record = dict(articles[index % len(articles)])
            record["article"] = record["article"] | {"article_id": f"bench-{index}"}
            await client.send(
                settings.topic_articles_tagged,
                json.dumps(record).encode(),
                key=f"bench-{index}".encode(),
            )
            delay = started + (index + 1) / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await client.flush()
    finally:
        await client.stop()
    return total


async def step(
    args: argparse.Namespace,
    bootstrap: str,
    workdir: Path,
    articles: list[dict[str, Any]],
    rate: float,
    query: str,
) -> dict[str, float]:
    import yaml

    from mediawatch.runtime.kafka import ensure_topics

    run = uuid.uuid4().hex[:6]
    settings = kafka_settings(bootstrap, f"bench-alerter.{run}")
    stepdir = workdir / run
    stepdir.mkdir()
    rules = stepdir / "rules.yaml"
    rule = {"id": "bench", "condition": {"query": query, "include_duplicates": True},
            "mode": "each_match", "cooldown": "0s"}  # fmt: skip
    rules.write_text(yaml.safe_dump({"version": 1, "rules": [rule]}))
    await ensure_topics(settings)
    group = f"bench-alerter.{run}.alerter"
    alerter = ServiceProcess(
        ["alerter", "run"],
        settings.environment()
        | {
            "MEDIAWATCH_APP_ID": group,
            "MEDIAWATCH_RULES_FILE": str(rules),
            "MEDIAWATCH_STATE_DIR": str(stepdir / "state"),
            "MEDIAWATCH_DIGEST_TICK_S": "0",
            "MEDIAWATCH_LOG_LEVEL": "INFO",
        },
        stepdir / "alerter.log",
    )
    try:
        alerter.start()
        alerter.wait_ready(180.0)
        idle_before = proc_cpu_s(alerter.pid)
        await asyncio.sleep(args.idle_seconds)
        idle_share = (proc_cpu_s(alerter.pid) - idle_before) / args.idle_seconds
        before = proc_cpu_s(alerter.pid)
        wall_started = time.monotonic()
        offered = await offer(settings, articles, rate, args.seconds)
        deadline = time.monotonic() + args.drain_timeout
        lag = await group_lag(settings, group, [settings.topic_articles_tagged])
        while lag > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            lag = await group_lag(settings, group, [settings.topic_articles_tagged])
        wall = time.monotonic() - wall_started
        cpu = proc_cpu_s(alerter.pid) - before
    finally:
        alerter.stop()
    handled = offered - lag
    return {
        "offered": offered,
        "handled": handled,
        "wall_s": wall,
        "cpu_s": cpu,
        "idle_share": idle_share,
        "ms_per_article": 1000 * cpu / handled if handled else float("nan"),
        "ms_above_idle": 1000 * (cpu - idle_share * wall) / handled if handled else float("nan"),
    }


async def bench(args: argparse.Namespace) -> None:
    print(f"machine: {describe_machine()}")
    print(f"load average at start: {load()}")
    started = time.perf_counter()
    articles = tagged_articles(args.bodies, args.articles)
    print(
        f"tagged {len(articles)} bodies of {args.bodies} in {time.perf_counter() - started:.1f} s"
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-alerter-"))
    kafka = None
    try:
        bootstrap = args.bootstrap
        if bootstrap is None:
            kafka = start_local_broker(workdir / "broker")
            bootstrap = kafka.bootstrap
        print(
            f"\n{'rate/s':>7} {'rule query':>24} {'handled':>8} {'CPU s':>6} {'idle':>6} "
            f"{'ms/article':>10} {'above idle':>10}"
        )
        for rate in args.rates:
            for label, query in (("matches part", args.query), ("matches nothing", NO_MATCH_QUERY)):
                result = await step(args, bootstrap, workdir, articles, rate, query)
                print(
                    f"{rate:>7g} {label:>24} {result['handled']:>8.0f} {result['cpu_s']:>6.1f} "
                    f"{100 * result['idle_share']:>5.1f}% {result['ms_per_article']:>10.2f} "
                    f"{result['ms_above_idle']:>10.2f}"
                )
        print(f"load average at the end: {load()}")
    finally:
        if kafka is not None:
            kafka.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=Path, required=True, help="bodies.csv (FNC-1 bodies)")
    parser.add_argument("--articles", type=int, default=150, help="bodies tagged and cycled")
    parser.add_argument("--rates", default="200", help="arrival rates, articles/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="offering time per step")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU measured first")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="bound of draining")
    parser.add_argument("--query", default=DEFAULT_QUERY, help="query of the matching rule")
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
