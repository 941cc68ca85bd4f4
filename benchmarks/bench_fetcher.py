"""Fetcher throughput: N generated article pages served on loopback (in a child process, so
the figures below are the fetcher's own), fetched through one feed listing them all,
extracted, deduplicated and published to a real Kafka broker.

    .venv/bin/python benchmarks/bench_fetcher.py --pages 1000
    .venv/bin/python benchmarks/bench_fetcher.py --pages 1000 --bootstrap 127.0.0.1:9092

Without ``--bootstrap`` a broker is started with the project's LocalKafka on free ports.
Prints articles/s (fetch + extract + dedupe + publish), extraction alone, peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe_machine

WORDS = [
    "government",
    "minister",
    "council",
    "harbour",
    "railway",
    "election",
    "budget",
    "parliament",
    "treaty",
    "summit",
    "farmers",
    "exports",
    "energy",
    "prices",
    "court",
    "ruling",
    "police",
    "report",
    "hospital",
    "school",
    "teachers",
    "storm",
    "river",
    "bridge",
    "museum",
    "festival",
    "army",
    "border",
    "talks",
    "agreement",
    "trade",
    "union",
    "strike",
    "inflation",
    "bank",
    "market",
    "company",
    "workers",
    "climate",
    "emissions",
    "coal",
    "wind",
    "solar",
    "grain",
]


def article_page(number: int) -> str:
    rng = random.Random(number)
    title = " ".join(rng.choice(WORDS) for _ in range(7)).capitalize()
    paragraphs = []
    for _ in range(rng.randint(6, 12)):
        sentences = []
        for _ in range(rng.randint(3, 6)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(9, 22))]
            sentences.append(" ".join(words).capitalize() + ".")
        paragraphs.append(" ".join(sentences))
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '</head><body><div class="cookie-banner">We use cookies. <button>Accept</button></div>'
        '<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport'
        f"</a></nav></header><main><article><h1>{title}</h1>{body}</article>"
        '<aside><h3>Most read</h3><a href="/x">Other story</a></aside></main>'
        "<footer>Copyright Bench Daily. All rights reserved.</footer></body></html>"
    )


def serve(pages: int, port_queue: multiprocessing.Queue[int]) -> None:
    from aiohttp import web

    async def main() -> None:
        app = web.Application()
        html = {n: article_page(n).encode() for n in range(pages)}

        async def feed(request: web.Request) -> web.Response:
            base = f"http://{request.host}"
            items = "".join(
                f"<item><title>Story {n}</title><link>{base}/a/{n}?utm_source=bench</link>"
                f"<description>story {n}</description></item>"
                for n in range(pages)
            )
            rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>b</title>{items}'
            return web.Response(text=rss + "</channel></rss>", content_type="application/rss+xml")

        async def article(request: web.Request) -> web.Response:
            body = html[int(request.match_info["n"])]
            return web.Response(body=body, content_type="text/html")

        async def robots(request: web.Request) -> web.Response:
            return web.Response(text="User-agent: *\nAllow: /\n")

        app.router.add_get("/feed.xml", feed)
        app.router.add_get("/a/{n}", article)
        app.router.add_get("/robots.txt", robots)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


async def bench(args: argparse.Namespace, bootstrap: str, port: int) -> None:
    import logging

    from mediawatch.fetcher.extract import extract_html
    from mediawatch.fetcher.service import Fetcher
    from mediawatch.fetcher.settings import FetcherSettings
    from mediawatch.fetcher.sources import Source

    logging.basicConfig(level=logging.WARNING)
    suffix = uuid.uuid4().hex[:8]
    settings = FetcherSettings(
        kafka_bootstrap=bootstrap,
        **FetcherSettings.topics_under(f"bench.{suffix}"),
        politeness_delay_s=0.0,
        per_host_concurrency=args.concurrency,
        entry_concurrency=args.concurrency,
        max_entries_per_pass=args.pages,
        min_text_chars=100,
        fetch_allow="127.0.0.0/8",  # the bench site is on loopback
    )  # type: ignore[call-arg]
    source = Source(id="bench", type="feed", url=f"http://127.0.0.1:{port}/feed.xml")
    fetcher = Fetcher(settings, [source])
    await fetcher.start()
    try:
        started = time.perf_counter()
        ok = await fetcher.run_source(source)
        elapsed = time.perf_counter() - started
        published = fetcher.health.sources["bench"].published
        started_again = time.perf_counter()
        await fetcher.run_source(source)  # everything known: feed 304 or all entries known
        second_pass = time.perf_counter() - started_again
    finally:
        await fetcher.stop()
    sample = [article_page(n) for n in range(min(200, args.pages))]
    t0 = time.perf_counter()
    for html in sample:
        extract_html(html, "http://bench/a")
    extract_rate = len(sample) / (time.perf_counter() - t0)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {describe_machine()}")
    print(f"pages: {args.pages}, concurrency per host: {args.concurrency}, pass ok: {ok}")
    print(f"published: {published} articles in {elapsed:.2f} s")
    print(f"throughput (fetch+extract+dedupe+publish): {published / elapsed:.1f} articles/s")
    print(f"extraction alone (trafilatura, 1 thread): {extract_rate:.1f} pages/s")
    print(f"second pass (nothing new): {second_pass * 1000:.0f} ms")
    print(f"fetcher peak RSS: {peak_mib:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    args = parser.parse_args()

    queue: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.pages, queue), daemon=True)
    server.start()
    port = queue.get(timeout=60)
    kafka = None
    try:
        bootstrap = args.bootstrap
        if bootstrap is None:
            from local_broker import start_local_broker

            kafka = start_local_broker(Path(tempfile.mkdtemp(prefix="bench-fetcher-")))
            bootstrap = kafka.bootstrap
        asyncio.run(bench(args, bootstrap, port))
    finally:
        if kafka is not None:
            kafka.stop()
        server.terminate()


if __name__ == "__main__":
    main()
