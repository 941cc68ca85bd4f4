"""Shared pieces of the fault tests: workers with short session timeouts, bounded waits,
reading whole topics, and the accounting over output topics.

Every wait here is a bound, never a measurement: a test fails only when something that must
happen does not happen within a generous limit.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mediawatch.fetcher.identity import content_hash, normalise_text
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import ArticleFetched, ArticleTagged, DeadLetter
from tests.support.environment import settings_environment
from tests.support.fetcher import LOOPBACK_ALLOWED_ENV
from tests.support.kafka_io import Record, read_all
from tests.support.workers import ServiceProcess

#: The broker's smallest allowed session timeout: a SIGKILLed worker's partitions move soon.
SESSION_TIMEOUT_S = "6"
ARTICLES = 2000


def tagger_worker(
    settings: KafkaSettings, tmp_path: Path, app_id: str, name: str, **env: str
) -> ServiceProcess:
    variables = (
        settings_environment(settings)
        | {
            "MEDIAWATCH_APP_ID": app_id,
            "MEDIAWATCH_STATE_DIR": str(tmp_path / name),
            "MEDIAWATCH_KAFKA_SESSION_TIMEOUT_S": SESSION_TIMEOUT_S,
            "MEDIAWATCH_LOG_LEVEL": "INFO",
            "MEDIAWATCH_LOG_FORMAT": "text",
        }
        | env
    )
    return ServiceProcess(["tagger", "run"], variables, tmp_path / f"{name}.log")


def fetcher_worker(
    settings: KafkaSettings, tmp_path: Path, sources: Path, name: str, **env: str
) -> ServiceProcess:
    variables = (
        settings_environment(settings)
        | {
            "MEDIAWATCH_STATE_DIR": str(tmp_path / "fetcher-state"),
            "MEDIAWATCH_LOG_LEVEL": "WARNING",
            "MEDIAWATCH_LOG_FORMAT": "text",
        }
        | LOOPBACK_ALLOWED_ENV
        | env
    )
    return ServiceProcess(
        ["fetcher", "run", "--sources", str(sources)], variables, tmp_path / f"{name}.log"
    )


def write_inbox_sources(path: Path, inbox: Path) -> Path:
    source = {"id": "drop", "type": "inbox", "path": str(inbox), "interval": "1s",
              "country": "GB", "language": "en"}  # fmt: skip
    path.write_text(json.dumps({"sources": [source]}))  # JSON is YAML
    return path


def metric(worker: ServiceProcess, pattern: str) -> float | None:
    """The sum of the samples whose line matches ``pattern`` (a regex of the name and labels),
    or None while the worker does not answer."""
    try:
        text = worker.metrics()
    except httpx.HTTPError:
        return None
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if not line.startswith("#") and re.match(pattern, line.rsplit(" ", 1)[0])
    ]
    return sum(values) if values else 0.0


def processed(worker: ServiceProcess, service: str) -> float | None:
    return metric(worker, rf'mediawatch_records_processed_total\{{service="{service}",')


async def eventually(
    check: Callable[[], bool | Awaitable[bool]],
    what: str,
    *,
    timeout_s: float = 120.0,
    workers: Iterable[ServiceProcess] = (),
    interval_s: float = 0.2,
) -> None:
    """Wait until ``check()`` holds; fail with ``what`` and the workers' logs if it never does."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                result = check()
                if isinstance(result, Awaitable):
                    result = await result
                if result:
                    return
                await asyncio.sleep(interval_s)
    except TimeoutError:
        logs = "\n".join(f"--- {w.log_path.name}:\n{w.log_tail(4000)}" for w in workers)
        raise AssertionError(f"not reached within {timeout_s}s: {what}\n{logs}") from None


async def count_keys(settings: KafkaSettings, topic: str) -> int:
    return len({r.key for r in await read_all(settings, topic)})


def tag_signature(tagged: ArticleTagged) -> tuple[object, ...]:
    """What a tagger decides about an article: themes, actors and stances with their spans."""
    return (
        tagged.article.article_id,
        tagged.article.content_hash,
        [(t.theme_id, [(e.start, e.end) for e in t.evidence]) for t in tagged.themes],
        [(a.actor_id, [(m.start, m.end) for m in a.mentions]) for a in tagged.actors],
        [(s.target_id, s.label, round(s.score, 6)) for s in tagged.stances],
    )


@dataclass
class TaggedAccount:
    """The tagged topic summed up per article id."""

    by_id: dict[str, list[ArticleTagged]] = field(default_factory=dict)
    records: int = 0

    @classmethod
    def of(cls, records: list[Record]) -> TaggedAccount:
        account = cls(records=len(records))
        for record in records:
            event = ArticleTagged.from_json(record.value or b"")
            assert record.key == event.article.article_id.encode(), "keyed by article id"
            account.by_id.setdefault(event.article.article_id, []).append(event)
        return account

    @property
    def duplicates(self) -> int:
        return self.records - len(self.by_id)

    def inconsistent(self) -> list[str]:
        """Ids whose repeated tagged events disagree about themes, actors or stances."""
        return [
            article_id
            for article_id, events in self.by_id.items()
            if len({repr(tag_signature(e)) for e in events}) > 1
        ]


def dead_letters(records: list[Record]) -> list[DeadLetter]:
    return [DeadLetter.from_json(r.value or b"") for r in records]


def account_dead_letters(
    records: list[Record], rejected: dict[bytes, str], service: str
) -> dict[bytes, DeadLetter]:
    """Every rejected input (by its value) has a dead letter of ``service`` whose message
    contains the expected reason; nothing else was dead-lettered."""
    letters = dead_letters(records)
    by_value: dict[bytes, DeadLetter] = {}
    for letter in letters:
        assert letter.service == service, letter
        assert letter.value is not None, letter
        by_value.setdefault(letter.value, letter)
    assert set(by_value) == set(rejected), (
        f"dead letters {sorted(by_value)} != rejected inputs {sorted(rejected)}"
    )
    for value, reason in rejected.items():
        assert reason in by_value[value].error_message, (reason, by_value[value].error_message)
    return by_value


def summary(name: str, **numbers: Any) -> None:
    """One line in the captured output that says what the accounting found."""
    print(f"[{name}] " + " ".join(f"{k}={v}" for k, v in numbers.items()))


#: Texts of the generated inbox and stream articles ({i}: the article's number).
TEXTS = (
    "Report {i}: NATO expansion worries Moscow.",
    "Report {i}: BRICS leaders discussed the Global South in Kazan.",
    "Report {i}: Putin criticised NATO enlargement and the sanctions of the European Union.",
    "Report {i}: Lavrov invoked indivisible security.",
    "Report {i}: a quiet day in the markets.",
)


# -- inbox files ----------------------------------------------------------------------------

OLD = 1_000_000_000  # an mtime long past, so no file waits for the settle time


def fill_inbox(inbox: Path, count: int) -> tuple[dict[str, str], dict[str, str]]:
    """``count`` good .txt files (name -> title) and some bad ones (name -> reason), sorted
    among the good ones so that the fetcher meets them along the way."""
    inbox.mkdir(parents=True)
    good: dict[str, str] = {}
    bad: dict[str, str] = {}
    for i in range(count):
        name = f"story-{i:04d}.txt"
        title = f"Inbox story {i:04d}"
        (inbox / name).write_text(f"{title}\n{TEXTS[i % len(TEXTS)].format(i=i)}\n")
        good[name] = title
        if i % 250 == 100:
            bad[f"story-{i:04d}-bad.json"] = "text: Field required"
            (inbox / f"story-{i:04d}-bad.json").write_text(json.dumps({"title": "No text"}))
            bad[f"story-{i:04d}-empty.txt"] = "empty"
            (inbox / f"story-{i:04d}-empty.txt").write_text("  \n")
    for path in inbox.iterdir():
        os.utime(path, (OLD, OLD))
    return good, bad


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def expected_text(name: str) -> str:
    i = int(name.split("-")[1].split(".")[0])
    return TEXTS[i % len(TEXTS)].format(i=i)


def account_inbox(inbox: Path, good: dict[str, str], bad: dict[str, str]) -> list[str]:
    """Every file in ``done/`` or ``failed/`` exactly once, nothing left behind, every
    rejected file with its reason beside it. Returns the names in ``done/``."""
    assert files_in(inbox) == [], "files left in the inbox"
    done = files_in(inbox / "done")
    failed = files_in(inbox / "failed")
    errors = [n for n in failed if n.endswith(".error")]
    rejected = [n for n in failed if not n.endswith(".error")]
    assert sorted(done) == sorted(good), (
        f"done/ differs: extra {sorted(set(done) - set(good))[:5]}, "
        f"missing {sorted(set(good) - set(done))[:5]}"
    )
    assert sorted(rejected) == sorted(bad)
    assert sorted(errors) == sorted(f"{n}.error" for n in bad)
    for name, reason in bad.items():
        assert reason in (inbox / "failed" / f"{name}.error").read_text(), name
    return done


def account_fetched(
    events: list[ArticleFetched], done: list[str], good: dict[str, str]
) -> dict[str, ArticleFetched]:
    """Every file in ``done/`` is on the topic (by title and content hash); a repeated
    article (a replay after a crash) is the same article. Returns the events by title."""
    by_title: dict[str, ArticleFetched] = {}
    for event in events:
        first = by_title.setdefault(event.title, event)
        assert (first.article_id, first.content_hash, first.text) == (
            event.article_id, event.content_hash, event.text
        ), event.title  # fmt: skip
    for name in done:
        event = by_title.get(good[name])
        assert event is not None, f"{name} is in done/ but not on the topic"
        assert event.content_hash == content_hash(normalise_text(expected_text(name))), name
    assert set(by_title) == set(good.values())
    return by_title
