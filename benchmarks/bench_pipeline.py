"""The whole stack under a fixed offered load: fetcher push endpoint -> tagger -> alerter,
through a real broker, with real news text, on this machine.

Usage:
    .venv/bin/python benchmarks/bench_pipeline.py --bodies ../shared/data/news-bodies/bodies.csv
    .venv/bin/python benchmarks/bench_pipeline.py --bodies ... --rates 10,max --seconds 10
    .venv/bin/python benchmarks/bench_pipeline.py --bodies ... --bootstrap 127.0.0.1:9092

Without ``--bootstrap`` one broker is started with the project's LocalKafka (state in a
temporary directory, free ports). Each rate step gets its own topics, its own consumer
groups and fresh ``mediawatch fetcher|tagger|alerter run`` child processes, so CPU, peak RSS
and lag belong to that step alone. Articles are offered to ``POST /v1/articles`` at a fixed
rate for ``--seconds`` (``max``: as fast as the endpoint answers); every article is a body of
bodies.csv with the step and its index appended, so no article is an exact duplicate. One
each_match rule (``--query``) makes a known share of them alert; the alert count must equal
the number of matching articles accepted. Latencies come from event timestamps (one clock):
fetched->tagged = ``tagged_at - article.fetched_at``; fetched->alert = the alert record's
Kafka timestamp (CreateTime, stamped by the alerter's producer) minus ``articles[0].fetched_at``;
``Alert.fired_at`` (the alerter's clock when it emitted the alert) minus ``fetched_at`` is
printed too, as a cross-check of the broker's timestamp. Two reference rates are measured in
the same run: tagging the same articles in one process without Kafka, and a raw aiokafka relay
(consume, re-produce, no work) on the same broker, pipelined and one acknowledged send at a
time.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPOSITORY))  # the child-process harness is shared with the tests

from machine import describe_machine  # noqa: E402
from tests.support.workers import ServiceProcess  # noqa: E402

from mediawatch.runtime.auth import new_token  # noqa: E402

DEFAULT_QUERY = '"islamic state" OR isis'
RULE_ID = "bench-share"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: The ingest token of this run's fetchers (MEDIAWATCH_API_TOKENS), made afresh each run.
PUSH_TOKEN = new_token()[1]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def load_bodies(path: Path) -> list[str]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["articleBody"] for row in csv.DictReader(handle) if row["articleBody"].strip()]


def title_of(body: str, step: str, index: int) -> str:
    return f"{' '.join(body.split()[:12])[:200]} [{step}-{index}]"


def text_of(body: str, step: str, index: int) -> str:
    return f"{body}\n\nbench step {step} article {index}"


def matching_bodies(bodies: list[str], query: str) -> list[bool]:
    """Whether each body matches ``query`` the way the alerter will see it (normalised
    text with a step suffix, title from the first words); the suffix words are not query
    terms, so the answer does not depend on the step or the index."""
    from mediawatch.fetcher.identity import normalise_text
    from mediawatch.query import Document, compile_query

    compiled = compile_query(query)
    return [
        compiled.evaluate(
            Document(
                normalise_text(text_of(body, "x", 0)), title=title_of(body, "x", 0), language="en"
            )
        ).matched
        for body in bodies
    ]


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[rank]


def proc_cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (children not included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def proc_hwm_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def tagger_names(count: int) -> list[str]:
    """Process names of the tagger workers: tagger, tagger2, ..."""
    return ["tagger" if i == 0 else f"tagger{i + 1}" for i in range(count)]


# -- Kafka helpers -------------------------------------------------------------------------------


def kafka_settings(bootstrap: str, prefix: str) -> Any:
    from mediawatch.runtime.settings import KafkaSettings

    return KafkaSettings(kafka_bootstrap=bootstrap, **KafkaSettings.topics_under(prefix))


async def end_offsets(settings: Any, topics: Sequence[str]) -> dict[str, int]:
    """Sum of the high watermarks of each topic."""
    from aiokafka import TopicPartition

    from mediawatch.runtime.kafka import consumer, topic_partitions

    partitions = await topic_partitions(settings, topics)
    wanted = [TopicPartition(t, p) for t, ps in partitions.items() for p in ps]
    totals = dict.fromkeys(topics, 0)
    if not wanted:
        return totals
    client = consumer(settings, group_id=None)
    await client.start()
    try:
        for tp, offset in (await client.end_offsets(wanted)).items():
            totals[tp.topic] += offset
    finally:
        await client.stop()
    return totals


async def group_lag(settings: Any, group: str, topics: Sequence[str]) -> int:
    """Records of ``topics`` not yet committed by consumer group ``group``."""
    from aiokafka.admin import AIOKafkaAdminClient

    from mediawatch.runtime.kafka import client_options

    ends = await end_offsets(settings, topics)
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    done = dict.fromkeys(topics, 0)
    for tp, meta in committed.items():
        if tp.topic in done and meta.offset >= 0:
            done[tp.topic] += meta.offset
    return sum(ends[t] - done[t] for t in topics)


async def read_values(settings: Any, topic: str) -> list[tuple[bytes, int]]:
    """Every record value of ``topic`` up to its current end, with its Kafka timestamp (ms;
    CreateTime: stamped by the producing client, on this machine's clock)."""
    from aiokafka import TopicPartition

    from mediawatch.runtime.kafka import consumer, topic_partitions

    partitions = (await topic_partitions(settings, [topic]))[topic]
    client = consumer(settings, group_id=None, auto_offset_reset="earliest")
    await client.start()
    values: list[tuple[bytes, int]] = []
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        client.assign(tps)
        ends = await client.end_offsets(tps)
        await client.seek_to_beginning(*tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batches = await client.getmany(timeout_ms=1000, max_records=2000)
            for tp, records in batches.items():
                values.extend((r.value, r.timestamp) for r in records if r.value is not None)
                if await client.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await client.stop()
    return values


# -- one step ------------------------------------------------------------------------------------


@dataclass
class StepResult:
    label: str
    offered_rate: float | None
    seconds: float
    posted: int = 0
    accepted: int = 0
    failed_posts: int = 0
    expected_alerts: int = 0
    tagged: int = 0
    alerts: int = 0
    alerts_exact: bool = False
    tagged_in_window: int = 0
    accept_seconds: float = 0.0
    drain_s: float = 0.0
    drained: bool = False
    lag_end_offer: dict[str, int] = field(default_factory=dict)
    lag_end: dict[str, int] = field(default_factory=dict)
    tag_latency_ms: list[float] = field(default_factory=list)
    alert_latency_ms: list[float] = field(default_factory=list)
    fired_at_minus_fetched_ms: list[float] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)
    idle_cpu_share: dict[str, float] = field(default_factory=dict)
    evaluated: dict[str, int] = field(default_factory=dict)
    hwm_mib: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    load_after: str = ""


def batch_size_for(rate: float | None) -> int:
    if rate is None:
        return 20
    if rate <= 10:
        return 1
    if rate <= 50:
        return 5
    return 10


async def offer(
    port: int,
    bodies: list[str],
    step: str,
    rate: float | None,
    seconds: float,
    start_index: int,
    result: StepResult,
    concurrency: int,
) -> dict[str, int]:
    """POST articles at ``rate`` per second (None: as fast as answered) for ``seconds``;
    return accepted article id -> body index."""
    import httpx

    url = f"http://127.0.0.1:{port}/v1/articles"
    batch = batch_size_for(rate)
    accepted: dict[str, int] = {}
    counter = 0
    last_answer = 0.0

    def next_chunk() -> tuple[list[int], list[dict[str, Any]]]:
        nonlocal counter
        indices, payload = [], []
        for _ in range(batch):
            index = counter
            counter += 1
            body_index = (start_index + index) % len(bodies)
            body = bodies[body_index]
            indices.append(body_index)
            payload.append(
                {
                    "title": title_of(body, step, index),
                    "text": text_of(body, step, index),
                    "url": f"https://bench.mediawatch.invalid/{step}/{index}",
                    "language": "en",
                    "source": {"id": "push", "name": "Bench Wire", "country": "GB",
                               "outlet_type": "wire", "language": "en"},
                }
            )  # fmt: skip
        return indices, payload

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {PUSH_TOKEN}"}
    async with httpx.AsyncClient(timeout=120.0, limits=limits, headers=headers) as client:
        gate = asyncio.Semaphore(concurrency)
        started = time.monotonic()

        async def post(indices: list[int], payload: list[dict[str, Any]]) -> None:
            nonlocal last_answer
            result.posted += len(payload)
            try:
                answer = await client.post(url, json=payload)
            except httpx.HTTPError:
                result.failed_posts += 1
                return
            if answer.status_code != 202:
                result.failed_posts += 1
                return
            for body_index, item in zip(indices, answer.json()["articles"], strict=True):
                if item["status"] == "published":
                    accepted[item["article_id"]] = body_index
            last_answer = time.monotonic()

        if rate is None:

            async def worker() -> None:
                while time.monotonic() - started < seconds:
                    await post(*next_chunk())

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        else:
            total = int(rate * seconds)
            tasks = []
            for first in range(0, total, batch):
                delay = started + first / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await gate.acquire()
                task = asyncio.create_task(post(*next_chunk()))
                task.add_done_callback(lambda _: gate.release())
                tasks.append(task)
            await asyncio.gather(*tasks)
        result.accept_seconds = (last_answer or time.monotonic()) - started
    return accepted


async def run_step(
    args: argparse.Namespace,
    bootstrap: str,
    workdir: Path,
    bodies: list[str],
    matches: list[bool],
    label: str,
    start_index: int,
    broker_pid: int | None,
    run_id: str,
) -> tuple[StepResult, str]:
    import yaml

    rate = None if label == "max" else float(label)
    step = f"{run_id}-{label}"
    prefix = f"bench.{run_id}.{label}"
    settings = kafka_settings(bootstrap, prefix)
    stepdir = workdir / label
    stepdir.mkdir(parents=True)
    rules_file = stepdir / "rules.yaml"
    rules_file.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "rules": [
                    {
                        "id": RULE_ID,
                        "description": "benchmark share of the corpus",
                        "severity": "info",
                        "condition": {"query": args.query, "include_duplicates": True},
                        "mode": "each_match",
                        "cooldown": "0s",
                    }
                ],
            }
        )
    )
    sources_file = stepdir / "sources.yaml"
    sources_file.write_text("sources: []\n")
    common = settings.environment() | {
        "MEDIAWATCH_STATE_DIR": str(stepdir / "state"),
        "MEDIAWATCH_LOG_LEVEL": args.log_level,
        "MEDIAWATCH_API_TOKENS": f"ingest={PUSH_TOKEN}",
        "MEDIAWATCH_PUSH_REQUESTS_PER_MINUTE": str(10**9),  # the offered rate is the bench's
    }
    tagger_group = f"{prefix}.tagger"
    alerter_group = f"{prefix}.alerter"
    services = {
        "fetcher": ServiceProcess(
            ["fetcher", "run", "--sources", str(sources_file)],
            common,
            stepdir / "fetcher.log",
        ),
        **{
            name: ServiceProcess(
                ["tagger", "run"],
                common | {"MEDIAWATCH_APP_ID": tagger_group},
                stepdir / f"{name}.log",
            )
            for name in tagger_names(args.taggers)
        },
        "alerter": ServiceProcess(
            ["alerter", "run"],
            common
            | {
                "MEDIAWATCH_APP_ID": alerter_group,
                "MEDIAWATCH_RULES_FILE": str(rules_file),
                "MEDIAWATCH_DIGEST_TICK_S": "0",
            },
            stepdir / "alerter.log",
        ),
    }
    result = StepResult(label=label, offered_rate=rate, seconds=args.seconds)
    try:
        services["fetcher"].start()
        services["fetcher"].wait_ready(120.0)  # creates the topics before the faust workers start
        workers = [*tagger_names(args.taggers), "alerter"]
        for name in workers:
            services[name].start()
        for name in workers:
            services[name].wait_ready(120.0)
        pids = {name: service.pid for name, service in services.items()}
        if broker_pid is not None:
            pids["broker"] = broker_pid
        pids["driver"] = os.getpid()
        # Idle first: what each process spends with no traffic (heartbeats, fetch polls,
        # timers), so that the CPU per article can be told apart from the fixed cost.
        if args.idle_seconds > 0:
            idle_before = {name: proc_cpu_s(pid) for name, pid in pids.items()}
            await asyncio.sleep(args.idle_seconds)
            result.idle_cpu_share = {
                name: (proc_cpu_s(pid) - idle_before[name]) / args.idle_seconds
                for name, pid in pids.items()
            }
        cpu_before = {name: proc_cpu_s(pid) for name, pid in pids.items()}
        wall_started = time.monotonic()
        offer_started_epoch = time.time()
        accepted = await offer(
            services["fetcher"].http_port,
            bodies,
            step,
            rate,
            args.seconds,
            start_index,
            result,
            args.concurrency,
        )
        offer_ended_epoch = time.time()
        result.accepted = len(accepted)
        expected_ids = {a for a, body_index in accepted.items() if matches[body_index]}
        result.expected_alerts = len(expected_ids)
        matches_topic = f"{alerter_group}-rule-matches"
        result.lag_end_offer = {
            "tagger": await group_lag(settings, tagger_group, [settings.topic_articles_fetched]),
            "alerter": await group_lag(
                settings, alerter_group, [settings.topic_articles_tagged, matches_topic]
            ),
        }
        drain_started = time.monotonic()
        deadline = drain_started + args.drain_timeout
        while True:
            ends = await end_offsets(
                settings, [settings.topic_articles_tagged, settings.topic_alerts]
            )
            tagged_count, alert_count = (
                ends[settings.topic_articles_tagged],
                ends[settings.topic_alerts],
            )
            if tagged_count >= result.accepted and alert_count >= result.expected_alerts:
                result.drained = True
                break
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        result.drain_s = time.monotonic() - drain_started
        await asyncio.sleep(1.5)  # faust commits every second: let the last commit land
        result.lag_end = {
            "tagger": await group_lag(settings, tagger_group, [settings.topic_articles_fetched]),
            "alerter": await group_lag(
                settings, alerter_group, [settings.topic_articles_tagged, matches_topic]
            ),
        }
        result.wall_s = time.monotonic() - wall_started
        result.cpu_s = {name: proc_cpu_s(pid) - cpu_before[name] for name, pid in pids.items()}
        result.hwm_mib = {name: proc_hwm_mib(pid) for name, pid in pids.items()}
        result.load_after = load()
    finally:
        for service in services.values():
            service.stop()

    tagged_ids: set[str] = set()
    for value, _ in await read_values(settings, settings.topic_articles_tagged):
        event = json.loads(value)
        article = event["article"]
        if article["article_id"] not in accepted:
            continue
        tagged_ids.add(article["article_id"])
        fetched = datetime.fromisoformat(article["fetched_at"])
        tagged_at = datetime.fromisoformat(event["tagged_at"])
        result.tag_latency_ms.append((tagged_at - fetched).total_seconds() * 1000)
        if offer_started_epoch <= tagged_at.timestamp() <= offer_ended_epoch:
            result.tagged_in_window += 1
    result.tagged = len(tagged_ids)
    # What each process handled: the fetcher and the broker every accepted push, the taggers
    # (together) and the alerter every tagged article, less what the alerter had left.
    result.evaluated = {name: result.tagged for name in tagger_names(args.taggers)}
    result.evaluated["alerter"] = max(0, result.tagged - result.lag_end.get("alerter", 0))
    alert_ids: set[str] = set()
    for value, timestamp_ms in await read_values(settings, settings.topic_alerts):
        event = json.loads(value)
        fired = datetime.fromisoformat(event["fired_at"])
        for article in event["articles"]:
            alert_ids.add(article["article_id"])
            fetched = datetime.fromisoformat(article["fetched_at"])
            result.alert_latency_ms.append(timestamp_ms - fetched.timestamp() * 1000)
            result.fired_at_minus_fetched_ms.append((fired - fetched).total_seconds() * 1000)
    result.alerts = len(alert_ids)
    result.alerts_exact = alert_ids == expected_ids
    return result, settings.topic_articles_fetched


# -- references ----------------------------------------------------------------------------------


def fetched_articles(bodies: Sequence[str], step: str) -> list[Any]:
    """The bodies as the ArticleFetched events a fetcher would publish, with the step in
    their ids, titles and texts (so no two steps share an article)."""
    from datetime import UTC

    from mediawatch.fetcher.identity import content_hash, normalise_text
    from mediawatch.schemas import ArticleFetched, SourceInfo

    source = SourceInfo(id="bench", type="push", country="GB", outlet_type="wire", language="en")
    now = datetime.now(UTC)
    events = []
    for index, body in enumerate(bodies):
        text = normalise_text(text_of(body, step, index))
        events.append(
            ArticleFetched(
                article_id=f"{step}-{index}",
                source=source,
                title=title_of(body, step, index),
                fetched_at=now,
                text=text,
                content_hash=content_hash(text),
                language="en",
            )
        )
    return events


def reference_tagging(bodies_path: Path) -> dict[str, float]:
    """Tag every body (with a step suffix) in this process: no Kafka, no faust."""
    from mediawatch.tagger.pipeline import Tagger
    from mediawatch.tagger.settings import TaggerSettings

    tagger = Tagger.from_settings(TaggerSettings())
    events = fetched_articles(load_bodies(bodies_path), "ref")
    tagger.tag(events[0])
    started = time.perf_counter()
    for event in events:
        tagger.tag(event)
    elapsed = time.perf_counter() - started
    return {"articles": len(events), "seconds": elapsed, "rate": len(events) / elapsed}


async def reference_relay(
    bootstrap: str, sources: list[str], serial: bool, limit: int
) -> dict[str, float]:
    """Consume ``sources`` from the beginning and re-produce every record unchanged to one
    output topic; ``serial``: wait for each send's acknowledgement before the next (what a
    faust agent that awaits each write does; no linger), else pipeline a fetched batch.
    Stops after ``limit`` records."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from mediawatch.runtime.kafka import client_options, consumer, producer
    from mediawatch.runtime.settings import KafkaSettings

    settings = KafkaSettings(kafka_bootstrap=bootstrap)  # type: ignore[call-arg]
    total = min(limit, sum((await end_offsets(settings, sources)).values()))
    output = f"bench.relay.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(output, num_partitions=6, replication_factor=1)])
    finally:
        await admin.close()
    source = consumer(
        settings,
        *sources,
        group_id=f"bench-relay-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        max_poll_records=500,
    )
    sink = producer(settings, linger_ms=0) if serial else producer(settings)
    await source.start()
    await sink.start()
    relayed = 0
    try:
        started = time.perf_counter()
        while relayed < total:
            batches = await source.getmany(timeout_ms=1000)
            records = [r for rs in batches.values() for r in rs][: total - relayed]
            if serial:
                for r in records:
                    await sink.send_and_wait(output, r.value, key=r.key, headers=list(r.headers))
            else:
                futures = [
                    await sink.send(output, r.value, key=r.key, headers=list(r.headers))
                    for r in records
                ]
                await asyncio.gather(*futures)
            relayed += len(records)
            if records:
                await source.commit()
        elapsed = time.perf_counter() - started
    finally:
        await source.stop()
        await sink.stop()
    return {"records": relayed, "seconds": elapsed, "rate": relayed / elapsed}


def run_child(arguments: list[str]) -> dict[str, Any]:
    """Run this script in a child process (its own interpreter, its own peak RSS)."""
    done = subprocess.run(
        [sys.executable, __file__, *arguments], capture_output=True, text=True, cwd=REPOSITORY
    )
    if done.returncode != 0:
        raise RuntimeError(f"{arguments[:2]} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- output --------------------------------------------------------------------------------------


def ms(value: float) -> str:
    return f"{value:,.0f}" if value == value else "-"


def print_step(result: StepResult) -> None:
    offered = "max" if result.offered_rate is None else f"{result.offered_rate:g}/s"
    accepted_rate = result.accepted / result.accept_seconds if result.accept_seconds else 0.0
    sustained = result.tagged_in_window / result.seconds
    print(
        f"\n== offered {offered}: {result.accepted} accepted in {result.accept_seconds:.1f} s "
        f"({accepted_rate:.1f}/s; {result.failed_posts} failed posts), batches of "
        f"{batch_size_for(result.offered_rate)}"
    )
    print(
        f"   sustained: {sustained:.1f} tagged/s during the {result.seconds:g} s window; "
        f"{result.tagged}/{result.accepted} tagged, {result.alerts}/{result.expected_alerts} "
        f"alerts ({'exact set' if result.alerts_exact else 'MISMATCH'}), drained "
        f"{'in' if result.drained else 'NOT within'} {result.drain_s:.1f} s after the window"
    )
    for name, values in (
        ("fetched->tagged", result.tag_latency_ms),
        ("fetched->alert", result.alert_latency_ms),
        ("fired_at-fetched", result.fired_at_minus_fetched_ms),
    ):
        print(
            f"   {name:16} p50 {ms(percentile(values, 0.5)):>7} ms  p95 "
            f"{ms(percentile(values, 0.95)):>7} ms  p99 {ms(percentile(values, 0.99)):>7} ms  "
            f"max {ms(max(values, default=float('nan'))):>7} ms  (n={len(values)})"
        )
    print(
        "   consumer lag (records): at the end of the window tagger "
        f"{result.lag_end_offer['tagger']}, alerter {result.lag_end_offer['alerter']}; "
        "after draining tagger "
        f"{result.lag_end['tagger']}, alerter {result.lag_end['alerter']}"
    )
    parts = []
    for name, cpu in result.cpu_s.items():
        parts.append(
            f"{name} {cpu:.1f} s ({100 * cpu / result.wall_s:.0f}%) {result.hwm_mib[name]:.0f} MiB"
        )
    print(f"   CPU over {result.wall_s:.1f} s (% of one core), peak RSS: " + "; ".join(parts))
    if result.idle_cpu_share:
        print(
            "   idle CPU before the step (% of one core): "
            + "; ".join(f"{n} {100 * v:.1f}%" for n, v in result.idle_cpu_share.items())
        )
    per_article = []
    for name, cpu in result.cpu_s.items():
        handled = result.evaluated.get(name, result.accepted)
        if name == "driver" or not handled:
            continue
        above_idle = cpu - result.idle_cpu_share.get(name, 0.0) * result.wall_s
        per_article.append(
            f"{name} {1000 * cpu / handled:.2f} ms ({1000 * above_idle / handled:.2f} above idle)"
        )
    print("   CPU per article handled: " + "; ".join(per_article))
    print(f"   load average after the step: {result.load_after}")


# -- main ----------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> None:
    print(f"machine: {describe_machine()}")
    print(f"load average at start: {load()}")
    print(f"corpus: {args.bodies}")
    bodies = load_bodies(args.bodies)
    matches = matching_bodies(bodies, args.query)
    share = sum(matches) / len(bodies)
    print(
        f"rule {RULE_ID!r} (each_match, include_duplicates): query {args.query!r} matches "
        f"{sum(matches)} of {len(bodies)} bodies ({100 * share:.1f}%)"
    )
    print(
        f"rates: {','.join(args.rates)}; {args.seconds:g} s per step; drain bound "
        f"{args.drain_timeout:g} s; {args.concurrency} requests in flight at most; "
        f"{args.taggers} tagger worker(s); service log level {args.log_level}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    kafka = None
    run_id = uuid.uuid4().hex[:6]
    try:
        bootstrap = args.bootstrap
        broker_pid = None
        if bootstrap is None:
            from local_broker import start_local_broker

            kafka = start_local_broker(workdir / "broker")
            bootstrap = kafka.bootstrap
            broker_pid = kafka.status().pid
            print(f"broker: LocalKafka {kafka.version} at {bootstrap} (pid {broker_pid})")
        else:
            print(f"broker: {bootstrap} (not started here; its CPU is not measured)")
        results = []
        fetched_topics = []
        start_index = 0
        for label in args.rates:
            result, topic = await run_step(
                args, bootstrap, workdir, bodies, matches, label, start_index, broker_pid, run_id
            )
            start_index += result.posted
            results.append(result)
            fetched_topics.append(topic)
            print_step(result)

        print(f"\n== references (same run, same cores; load average {load()})")
        tagging = run_child(["--mode", "tag", "--bodies", str(args.bodies)])
        print(
            f"   in-process tagging (Tagger.tag, one process, no Kafka): {tagging['rate']:.1f} "
            f"articles/s ({tagging['articles']} articles in {tagging['seconds']:.1f} s)"
        )
        relays = {}
        for kind in ("pipelined", "serial"):
            relays[kind] = run_child(
                ["--mode", f"relay-{kind}", "--bootstrap", bootstrap, "--topics",
                 ",".join(fetched_topics), "--bodies", str(args.bodies),
                 "--relay-records", str(args.relay_records)]
            )  # fmt: skip
            print(
                f"   raw aiokafka relay, {kind} (consume, re-produce, acks=all): "
                f"{relays[kind]['rate']:.1f} records/s ({relays[kind]['records']} ArticleFetched "
                f"records in {relays[kind]['seconds']:.1f} s)"
            )
        print(f"   load average after the references: {load()}")

        print("\n== summary")
        print(
            f"{'offered':>8} {'accepted/s':>10} {'tagged/s':>9} {'tag p50':>8} {'tag p95':>8} "
            f"{'tag p99':>8} {'alert p50':>9} {'alert p95':>9} {'alert p99':>9} {'lag end':>8} "
            f"{'tagger CPU':>10} {'alerter CPU':>11} {'fetcher CPU':>11} {'broker CPU':>10}"
        )
        for r in results:
            offered = "max" if r.offered_rate is None else f"{r.offered_rate:g}"
            cpu = {n: f"{100 * r.cpu_s.get(n, float('nan')) / r.wall_s:.0f}%" for n in r.cpu_s}
            taggers = [r.cpu_s[n] for n in tagger_names(args.taggers)]
            cpu["tagger"] = f"{100 * sum(taggers) / r.wall_s:.0f}%"
            print(
                f"{offered:>8} {r.accepted / r.accept_seconds:>10.1f} "
                f"{r.tagged_in_window / r.seconds:>9.1f} "
                f"{ms(percentile(r.tag_latency_ms, 0.5)):>8} "
                f"{ms(percentile(r.tag_latency_ms, 0.95)):>8} "
                f"{ms(percentile(r.tag_latency_ms, 0.99)):>8} "
                f"{ms(percentile(r.alert_latency_ms, 0.5)):>9} "
                f"{ms(percentile(r.alert_latency_ms, 0.95)):>9} "
                f"{ms(percentile(r.alert_latency_ms, 0.99)):>9} "
                f"{r.lag_end_offer['tagger'] + r.lag_end_offer['alerter']:>8} "
                f"{cpu.get('tagger', '-'):>10} {cpu.get('alerter', '-'):>11} "
                f"{cpu.get('fetcher', '-'):>11} {cpu.get('broker', '-'):>10}"
            )
        print(
            "(latencies in ms; lag end = tagger + alerter lag at the end of the window; "
            f"tagger CPU = the sum over {args.taggers} tagger worker(s))"
        )
        best = max(results, key=lambda r: r.tagged_in_window / r.seconds)
        best_rate = best.tagged_in_window / best.seconds
        print(
            f"best sustained pipeline rate: {best_rate:.1f} articles/s (offered {best.label}); "
            f"= {best_rate / tagging['rate']:.2f}x in-process tagging, "
            f"{best_rate / relays['pipelined']['rate']:.3f}x the pipelined raw relay, "
            f"{best_rate / relays['serial']['rate']:.2f}x the serial raw relay"
        )
        failures = [r.label for r in results if not (r.drained and r.alerts_exact)]
        if failures:
            print(f"NOT DRAINED OR ALERTS NOT EXACT at: {', '.join(failures)}")
        print(f"load average at the end: {load()}")
    finally:
        if kafka is not None:
            kafka.stop()
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=Path, required=True, help="bodies.csv (FNC-1 bodies)")
    parser.add_argument("--rates", default="10,50,200,max", help="offered articles/s, or max")
    parser.add_argument("--seconds", type=float, default=30.0, help="offering time per rate")
    parser.add_argument("--drain-timeout", type=float, default=90.0, help="bound of draining")
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument("--query", default=DEFAULT_QUERY, help="query of the alert rule")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at most")
    parser.add_argument("--log-level", default="INFO", help="MEDIAWATCH_LOG_LEVEL of services")
    parser.add_argument(
        "--taggers", type=int, default=1, help="tagger workers (one consumer group, 6 partitions)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    parser.add_argument(
        "--idle-seconds", type=float, default=10.0, help="idle CPU measured first, per step"
    )
    parser.add_argument(
        "--relay-records", type=int, default=5000, help="records relayed by each reference"
    )
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--topics", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode == "tag":
        print(json.dumps(reference_tagging(args.bodies)))
        return
    if args.mode in ("relay-pipelined", "relay-serial"):
        serial = args.mode == "relay-serial"
        topics = args.topics.split(",")
        result = asyncio.run(reference_relay(args.bootstrap, topics, serial, args.relay_records))
        print(json.dumps(result))
        return
    args.rates = [r.strip() for r in args.rates.split(",") if r.strip()]
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
