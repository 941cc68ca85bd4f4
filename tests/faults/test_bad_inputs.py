"""A generated corpus of bad inputs (``tests/faults/badinputs.py``) through every entry point
of the running stack, with good articles interleaved: each bad input must be rejected with a
clear message or dead-lettered with the reason, no service may crash, and every good article
must come through (fetched, tagged, and alerted on by a rule that matches all of them).

The fetcher, tagger and alerter run as real processes against the session broker; the
fetcher reads a hostile loopback site, an inbox folder and its push endpoint; raw records go
straight onto the topics; catalogue and rule files go through ``themes check``/``rules
check``/``match``. The alerter's rule notifies the fetcher's own push endpoint: the "cycle"
a rule file could build (an alert fed back as an article) must be refused there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiohttp import web

from mediawatch.archiver.sqlite import SqliteArchive
from mediawatch.runtime.auth import Role, TokensFile
from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import (
    Alert,
    ArticleFetched,
    ArticleTagged,
    DeadLetter,
    NotificationFailed,
    cloudevent_headers,
)
from tests.support import badinputs as bad
from tests.support.alerter import at, tagged
from tests.support.articles import article
from tests.support.environment import settings_environment
from tests.support.fetcher import bearer
from tests.support.kafka_io import Record, produce, read_topic
from tests.support.workers import ServiceProcess

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

RULE_ID = "marker"
FETCHER_ENV = {
    "MEDIAWATCH_POLITENESS_DELAY_S": "0",
    "MEDIAWATCH_PER_HOST_CONCURRENCY": "16",
    "MEDIAWATCH_RETRY_ATTEMPTS": "1",
    "MEDIAWATCH_RETRY_BASE_DELAY_S": "0.05",
    "MEDIAWATCH_RETRY_MAX_DELAY_S": "0.2",
    "MEDIAWATCH_CONNECT_TIMEOUT_S": "2",
    "MEDIAWATCH_READ_TIMEOUT_S": "2",
    "MEDIAWATCH_TOTAL_TIMEOUT_S": "5",
    # The hostile site is on 127.0.0.1; a redirect or a link to 127.0.0.2 must be refused.
    "MEDIAWATCH_FETCH_ALLOW": "127.0.0.1/32",
}


def _tokens(path: Path) -> dict[str, str]:
    """The tokens of the run by name (admin reads /v1/sources; the push kinds present the
    others); "revoked" is revoked before anything is pushed, so presenting it is a replay."""
    tokens = TokensFile(path)
    made = {
        "admin": tokens.create(Role.ADMIN),
        "ingest": tokens.create(Role.INGEST),
        "viewer": tokens.create(Role.VIEWER),
        "revoked": tokens.create(Role.INGEST),
        "bound": tokens.create(Role.INGEST, (bad.BOUND_SOURCE,)),
    }
    tokens.revoke(made["revoked"][0].token_id)
    return {name: token for name, (_record, token) in made.items()}


@dataclass
class Outcome:
    kind: str
    channel: str
    outcome: str  # rejected | dead-lettered | published | silent | crashed | ...
    message: str
    ok: bool


def _judge(
    kind: str, channel: str, outcome: str, message: str, expect: str, allowed: frozenset[str]
) -> Outcome:
    ok = outcome in allowed
    if ok and outcome in {"rejected", "dead-lettered"}:
        ok = bool(message.strip()) and expect.lower() in message.lower()
    return Outcome(kind, channel, outcome, " ".join(message.split())[:160], ok)


@pytest.fixture
async def hostile_site() -> AsyncIterator[bad.Site]:
    site = bad.Site()
    runner = web.AppRunner(bad.build_site(site), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    site.base = f"http://127.0.0.1:{port}"
    yield site
    await runner.cleanup()


# --- the command-line checks ----------------------------------------------------------------


async def _cli(*args: str, timeout_s: float = 60.0) -> tuple[int | None, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mediawatch.cli.main",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=os.environ | {"COLUMNS": "400"},
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None, f"no answer within {timeout_s}s"
    return process.returncode, output.decode(errors="replace")


async def _checks(tmp_path: Path) -> list[Outcome]:
    folder = tmp_path / "checks"
    folder.mkdir()
    article_file = folder / "article.txt"
    article_file.write_text("A title\n\n" + "\n\n".join(bad.good_text(1)))
    archive = folder / "archive.sqlite3"
    store = SqliteArchive(archive)
    store.upsert_articles(
        [tagged(f"good-{n}", at(n), text=" ".join(bad.good_text(n))) for n in range(3)]
    )
    store.close()
    limit = asyncio.Semaphore(2)

    async def one(kind: bad.CheckKind) -> Outcome:
        async with limit:
            if kind.command == "match":
                code, output = await _cli("match", kind.content, str(article_file))
            elif kind.command == "search":
                code, output = await _cli(
                    "archive", "search", kind.content, "--archive", str(archive)
                )
            else:
                path = folder / f"{kind.kind}.yaml"
                path.write_text(kind.content)
                code, output = await _cli(kind.command, "check", str(path))
                if code not in (0, None) and str(path) not in output.replace("\n", ""):
                    output += " [message does not name the file]"
        if code is None:
            result = "hung"
        elif code == 0:
            result = "accepted"
        elif "Traceback" in output:
            result = f"crashed (exit {code})"
        else:
            result = "rejected"
        outcome = _judge(
            kind.kind,
            kind.command,
            result,
            f"exit {code}: {output}",
            kind.expect,
            frozenset({"rejected"}),
        )
        outcome.ok = outcome.ok and "does not name the file" not in output
        return outcome

    return list(await asyncio.gather(*(one(k) for k in bad.check_kinds())))


# --- the stack --------------------------------------------------------------------------------


def _env(settings: KafkaSettings, tmp_path: Path, name: str) -> dict[str, str]:
    return settings_environment(settings) | {
        "MEDIAWATCH_APP_ID": f"{name}-{uuid.uuid4().hex[:6]}",
        "MEDIAWATCH_STATE_DIR": str(tmp_path / f"state-{name}"),
        "MEDIAWATCH_LOG_LEVEL": "INFO",
        "MEDIAWATCH_LOG_FORMAT": "json",
    }


def _log_lines(worker: ServiceProcess) -> list[dict[str, Any]]:
    lines = []
    for line in worker.log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            lines.append(entry)
    return lines


async def _until(check: Any, timeout_s: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.5)
    except TimeoutError:
        raise AssertionError(f"not reached within {timeout_s}s: {what}") from None


async def _read_all(
    settings: KafkaSettings, topic: str, at_least: int, timeout_s: float
) -> list[Record]:
    return await read_topic(
        settings, topic, until=lambda r: len(r) >= at_least, timeout_s=timeout_s
    )


async def _push(
    client: httpx.AsyncClient, url: str, kind: bad.PushKind, tokens: dict[str, str]
) -> Outcome:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(kind.body), 256 * 1024):
            yield kind.body[start : start + 256 * 1024]

    content: Any = chunks() if kind.chunked else kind.body
    headers = {"Content-Type": "application/json"}
    if (authorization := bad.authorization(kind.credential, tokens)) is not None:
        headers["Authorization"] = authorization
    try:
        answer = await client.post(url, content=content, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(kind.kind, "push", "no answer", repr(exc), False)
    body = answer.text
    if answer.status_code == kind.status:
        result = "rejected"
    elif answer.status_code == 202:
        result = "published"
    else:
        result = f"HTTP {answer.status_code}"
    return _judge(
        kind.kind,
        "push",
        result,
        f"{answer.status_code} {body}",
        kind.expect,
        frozenset({"rejected"}),
    )


@pytest.mark.timeout(420)
async def test_bad_input_corpus_is_rejected_and_good_articles_come_through(
    kafka_settings: KafkaSettings, tmp_path: Path, hostile_site: bad.Site
) -> None:
    await ensure_topics(kafka_settings)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    sources_file = tmp_path / "sources.yaml"
    sources_file.write_text(yaml.safe_dump({"sources": bad.sources(hostile_site, str(inbox))}))

    tokens = _tokens(tmp_path / "tokens.json")
    admin, ingest = {"Authorization": f"Bearer {tokens['admin']}"}, tokens["ingest"]
    fetcher_env = (
        _env(kafka_settings, tmp_path, "fetcher")
        | FETCHER_ENV
        | {"MEDIAWATCH_API_TOKENS_FILE": str(tmp_path / "tokens.json")}
    )
    fetcher = ServiceProcess(
        ["fetcher", "run", "--sources", str(sources_file)], fetcher_env, tmp_path / "fetcher.log"
    )
    push_url = f"http://127.0.0.1:{fetcher.http_port}/v1/articles"
    rules_file = tmp_path / "rules.yaml"
    rule = {
        "id": RULE_ID,
        "condition": {"query": bad.MARKER, "include_duplicates": True},
        "notify": [
            {
                "name": "loop",
                "type": "webhook",
                "url": push_url,
                "headers": {"Authorization": f"Bearer {ingest}"},  # a token, as a partner's
            }
        ],
    }
    rules_file.write_text(yaml.safe_dump({"version": 1, "rules": [rule]}))
    alerter_env = _env(kafka_settings, tmp_path, "alerter") | {
        "MEDIAWATCH_RULES_FILE": str(rules_file),
        "MEDIAWATCH_KAFKA_SESSION_TIMEOUT_S": "6",
        "MEDIAWATCH_NOTIFY_ATTEMPTS": "1",
        "MEDIAWATCH_NOTIFY_RETRY_DELAY_S": "600",
        "MEDIAWATCH_NOTIFY_RETRY_MAX_DELAY_S": "600",
        "MEDIAWATCH_DIGEST_TICK_S": "0",
    }
    alerter = ServiceProcess(["alerter", "run"], alerter_env, tmp_path / "alerter.log")
    tagger = ServiceProcess(
        ["tagger", "run"], _env(kafka_settings, tmp_path, "tagger"), tmp_path / "tagger.log"
    )
    workers = {"fetcher": fetcher, "tagger": tagger, "alerter": alerter}
    outcomes: list[Outcome] = []
    try:
        for worker in workers.values():
            worker.start()
        checks = asyncio.create_task(_checks(tmp_path))
        await asyncio.gather(*(asyncio.to_thread(w.wait_ready, 120.0) for w in workers.values()))

        # -- inbox: bad files with good ones sorted between them ------------------------------
        files = bad.inbox_files()
        for item in files:
            (inbox / item.name).write_bytes(item.content)
        good_inbox = bad.inbox_good_files()
        for name, content in good_inbox:
            (inbox / name).write_bytes(content)

        # -- push: bad bodies with good articles between them --------------------------------
        good_push = [bad.push_good(i) for i in range(4)]
        async with httpx.AsyncClient(timeout=30.0) as client:
            for i, kind in enumerate(bad.push_kinds()):
                outcomes.append(await _push(client, push_url, kind, tokens))
                if i % 4 == 0 and good_push:
                    answer = await client.post(
                        push_url, json=good_push.pop(0), headers=bearer(ingest)
                    )
                    assert answer.status_code == 202, answer.text
            for item in good_push:
                answer = await client.post(push_url, json=item, headers=bearer(ingest))
                assert answer.status_code == 202, answer.text

        # -- raw records: bad ones keyed by their kind, good ones between them ----------------
        huge = article("huge-text", text=("lorem ipsum dolor " * 50_000)[:900_000])
        kinds = bad.record_kinds(huge.to_json())
        topics = {
            "fetched": kafka_settings.topic_articles_fetched,
            "tagged": kafka_settings.topic_articles_tagged,
            "alerts": kafka_settings.topic_alerts,
            "retry": kafka_settings.topic_notifications_retry,
        }
        good_fetched = [
            article(f"good-fetched-{i}", text="\n\n".join(bad.good_text(400 + i))) for i in range(4)
        ]
        good_tagged = [
            tagged(f"good-tagged-{i}", text=" ".join(bad.good_text(500 + i))) for i in range(4)
        ]
        for name, topic in topics.items():
            records: list[tuple[bytes | None, Any, Any]] = []
            goods: list[Any] = {"fetched": good_fetched, "tagged": good_tagged}.get(name, [])
            goods = list(goods)
            for kind in (k for k in kinds if k.topic == name):
                records.append((kind.kind.encode(), kind.value, None))
                if goods:
                    event = goods.pop(0)
                    records.append(
                        (
                            event.event_id().encode(),
                            event.to_json(),
                            cloudevent_headers(event, source="/tests"),
                        )
                    )
            records += [(e.event_id().encode(), e.to_json(), None) for e in goods]
            await produce(kafka_settings, topic, records)  # type: ignore[arg-type]

        # -- wait: every HTTP source tried, the inbox drained, the dead letters in ------------
        http_ids = [k.kind for k in bad.HTTP_KINDS] + ["good-feed0", "good-feed1", "mixed-feed"]

        async def sources_done() -> bool:
            answer = await asyncio.to_thread(
                httpx.get,
                f"http://127.0.0.1:{fetcher.http_port}/v1/sources",
                headers=admin,
                timeout=5.0,
            )
            health = answer.json()
            return all(health.get(i, {}).get("healthy") is not None for i in http_ids)

        await _until(sources_done, 120, "every HTTP source had its pass")

        async def inbox_drained() -> bool:
            return not any(p.is_file() for p in inbox.iterdir())

        with contextlib.suppress(AssertionError):  # reported per file below
            await _until(inbox_drained, 60, "the inbox is drained")
        sources = (
            await asyncio.to_thread(
                httpx.get,
                f"http://127.0.0.1:{fetcher.http_port}/v1/sources",
                headers=admin,
                timeout=5.0,
            )
        ).json()

        expected_letters = {k.kind for k in kinds if "dead-lettered" in k.allowed}
        letters_raw = await read_topic(
            kafka_settings,
            kafka_settings.topic_deadletter,
            timeout_s=90,
            until=lambda r: expected_letters <= {(x.key or b"").decode() for x in r},
        )

        # -- good articles: fetched, tagged, alerted -----------------------------------------
        good_titles = set(bad.http_good_titles())
        good_titles |= {bad.good_title("inbox", i) for i in range(len(good_inbox))}
        good_titles |= {bad.good_title("push", i) for i in range(4)}
        good_titles |= {a.title or "" for a in good_fetched}

        async def tagged_titles() -> set[str]:
            records = await read_topic(
                kafka_settings,
                kafka_settings.topic_articles_tagged,
                until=lambda r: False,
                timeout_s=3,
            )
            return {
                ArticleTagged.from_json(r.value or b"").article.title or ""
                for r in records
                if r.key not in {k.kind.encode() for k in kinds}
            }

        async def all_tagged() -> bool:
            return good_titles <= await tagged_titles()

        with contextlib.suppress(AssertionError):  # reported below with the missing titles
            await _until(all_tagged, 90, "every good article tagged")
        fetched = [
            ArticleFetched.from_json(r.value or b"")
            for r in await read_topic(
                kafka_settings,
                kafka_settings.topic_articles_fetched,
                until=lambda r: False,
                timeout_s=3,
            )
            if r.key not in {k.kind.encode() for k in kinds}
        ]
        tagged_all = [
            ArticleTagged.from_json(r.value or b"")
            for r in await read_topic(
                kafka_settings,
                kafka_settings.topic_articles_tagged,
                until=lambda r: False,
                timeout_s=3,
            )
            if r.key not in {k.kind.encode() for k in kinds}
        ]
        good_ids = {t.article.article_id for t in tagged_all if t.article.title in good_titles}
        good_ids |= {e.article.article_id for e in good_tagged}
        expected_alerts = {f"{RULE_ID}:{i}" for i in good_ids}

        alerts_raw = await read_topic(
            kafka_settings,
            kafka_settings.topic_alerts,
            timeout_s=60,
            until=lambda r: expected_alerts <= {_alert_id(x) for x in r},
        )
        parked = await read_topic(
            kafka_settings,
            kafka_settings.topic_notifications_retry,
            until=lambda r: any(x.key == b"marker" or b":" in (x.key or b"") for x in r),
            timeout_s=30,
        )
        check_outcomes = await checks

        # -- liveness ---------------------------------------------------------------------------
        alive = {}
        for name, worker in workers.items():
            running = worker.process is not None and worker.process.poll() is None
            try:
                answer = await asyncio.to_thread(
                    httpx.get, f"http://127.0.0.1:{worker.http_port}/healthz", timeout=5.0
                )
                healthy = answer.status_code == 200
            except httpx.HTTPError:
                healthy = False
            alive[name] = running and healthy
    finally:
        for worker in workers.values():
            worker.stop()

    # === judge every kind =====================================================================
    fetcher_log = _log_lines(fetcher)
    published_titles = {a.title for a in fetched}
    for kind in bad.HTTP_KINDS:
        state = sources.get(kind.kind, {})
        if state.get("healthy") is False:
            result, message = "rejected", state.get("last_error") or ""
        elif state.get("published"):
            result, message = "published", f"{state['published']} article(s)"
        else:
            result, message = "silent", f"healthy, nothing published: {state}"
        outcomes.append(_judge(kind.kind, "http", result, message, kind.expect, kind.allowed))
    entry_errors = [e.get("error", "") for e in fetcher_log if e.get("message") == "entry failed"]
    for entry in bad.ENTRY_KINDS:
        needle = entry.link or "no link"
        found = [m for m in entry_errors if needle in m]
        outcomes.append(
            _judge(
                entry.kind,
                "entry",
                "rejected" if found else "silent",
                found[0] if found else "",
                entry.expect,
                frozenset({"rejected"}),
            )
        )
    for item in files:
        error_file = inbox / "failed" / f"{item.name}.error"
        if error_file.exists():
            result, message = "rejected", error_file.read_text()
        elif (inbox / "done" / item.name).exists():
            result, message = "published", "moved to done/"
        elif (inbox / item.name).exists():
            result, message = "stuck in the inbox", _inbox_error(fetcher_log, item.name, sources)
        else:
            result, message = "silent", "vanished"
        outcomes.append(_judge(item.kind, "inbox", result, message, item.expect, item.allowed))

    letters = {(r.key or b"").decode(): DeadLetter.from_json(r.value or b"") for r in letters_raw}
    services = {"fetched": "tagger", "tagged": "alerter", "alerts": "alerter", "retry": "alerter"}
    tagged_keys = {t.article.article_id: t for t in tagged_all}
    for kind in kinds:
        letter = letters.get(kind.kind)
        if letter is not None:
            good_letter = (
                letter.service == services[kind.topic]
                and letter.origin_topic == topics[kind.topic]
                and letter.value == kind.value
            )
            result = "dead-lettered" if good_letter else "dead-lettered (wrong fields)"
            message = f"{letter.error_type}: {letter.error_message}"
        elif kind.kind == "fetched-huge-text" and "huge-text" in tagged_keys:
            t = tagged_keys["huge-text"]
            result = "published" if t.truncated else "published (not truncated)"
            message = f"tagged, truncated={t.truncated}, text_end={t.text_end}"
        else:
            result, message = "silent", "no dead letter"
        outcomes.append(_judge(kind.kind, kind.topic, result, message, kind.expect, kind.allowed))
    outcomes.extend(check_outcomes)

    # the cycle: the rule's webhook is the fetcher's push endpoint; the alert must not come
    # back in as an article, and the refusal must be visible as a parked notification
    bad_keys = {k.kind.encode() for k in kinds}
    parked_errors = [
        NotificationFailed.from_json(r.value or b"").last_error
        for r in parked
        if r.key not in bad_keys
    ]
    alert_titles = [t for t in published_titles if t and t.startswith(("Title of good-tagged",))]
    cycle_ok = not alert_titles and any("HTTP 422" in e for e in parked_errors)
    outcomes.append(
        Outcome(
            "rule-notification-loops-into-own-input",
            "rules",
            "rejected" if cycle_ok else "looped",
            parked_errors[0] if parked_errors else "no parked notification",
            cycle_ok,
        )
    )

    table = "\n".join(
        f"{'ok ' if o.ok else 'BAD'} {o.channel:<8} {o.kind:<38} {o.outcome:<14} {o.message}"
        for o in outcomes
    )
    print("\nkind -> outcome\n" + table)
    (tmp_path / "outcomes.txt").write_text(table)

    kinds_seen = {o.kind for o in outcomes}
    assert len(kinds_seen) == len(outcomes), "kinds must be distinct"
    assert len(kinds_seen) >= 50, len(kinds_seen)
    failures = [o for o in outcomes if not o.ok]
    problems = []
    if failures:
        problems.append(
            "bad inputs not handled as required:\n"
            + "\n".join(f"  {o.channel} {o.kind}: {o.outcome}: {o.message}" for o in failures)
        )
    if not all(alive.values()):
        problems.append(f"services not alive at the end: {alive}")
    missing_fetched = good_titles - published_titles
    missing_tagged = good_titles - {t.article.title for t in tagged_all}
    if missing_fetched or missing_tagged:
        problems.append(
            f"good articles lost: not fetched {sorted(missing_fetched)}, "
            f"not tagged {sorted(missing_tagged)}"
        )
    alert_ids = [_alert_id(r) for r in alerts_raw]
    if not expected_alerts <= set(alert_ids):
        problems.append(
            f"good articles without an alert: {sorted(expected_alerts - set(alert_ids))}"
        )
    if any("root:x:0:0" in a.text for a in fetched):
        problems.append("an external entity was resolved: /etc/passwd was published")
    assert not problems, "\n".join(problems) + "\n" + table


def _alert_id(record: Record) -> str:
    try:
        return Alert.from_json(record.value or b"").alert_id
    except Exception:
        return ""


def _inbox_error(log: list[dict[str, Any]], name: str, sources: dict[str, Any]) -> str:
    errors = [e.get("error", "") for e in log if name in str(e.get("path", ""))]
    return (errors[-1] if errors else "") or str(sources.get("inbox", {}).get("last_error"))


def test_a_rule_on_an_unknown_theme_id_is_rejected(tmp_path: Path) -> None:
    """``rules check`` reads the theme catalogue, so a misspelt theme id is refused instead
    of validating and then never matching anything."""
    path = tmp_path / "rules.yaml"
    path.write_text(bad.UNKNOWN_THEME_RULE)
    code, output = asyncio.run(_cli("rules", "check", str(path)))
    assert code == 1, output
    assert "unknown theme id 'no-such-theme-anywhere'" in output, output
