"""``mediawatch up`` end to end against the session's real broker: the fetcher reads the
sample inbox and feeds, the tagger tags, and one SIGINT (or --duration) stops everything."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from pathlib import Path

import httpx
import pytest

from mediawatch.runtime.auth import TokensFile
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.stack.up import child_environment
from tests.support.environment import REPOSITORY
from tests.support.stack import (
    MEDIAWATCH,
    interrupt,
    push_example_of,
    service_logs,
    start_up,
    tagged_while_running,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SEARCH_EXAMPLE = re.compile(
    r"search the archive: curl -G (\S+) -H 'Authorization: Bearer (mw_[0-9a-f]{8}_\S+)'"
)


async def up(settings: KafkaSettings, tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    state = tmp_path / "state"
    return await start_up(MEDIAWATCH, settings, state, *args, env=dict(os.environ), cwd=REPOSITORY)


async def test_up_tags_the_samples_and_stops_on_sigint(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    process = await up(kafka_settings, tmp_path)
    printed, url, token = await push_example_of(process)
    async with httpx.AsyncClient(timeout=30.0) as client:
        ready = url.replace("/v1/articles", "/readyz")
        try:
            # The example is printed as the services start; a bound against hangs.
            async with asyncio.timeout(240):
                while True:
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get(ready)).status_code == 200:
                            break
                    await asyncio.sleep(0.5)
        except TimeoutError:
            output = printed + await interrupt(process)
            fetcher_log = tmp_path / "state" / "logs" / "fetcher.log"
            log = fetcher_log.read_text()[-4000:] if fetcher_log.exists() else "(no log)"
            raise AssertionError(f"the fetcher never got ready:\n{output}\n{log}") from None
        pushed = await client.post(
            url,
            json={"title": "Pushed during up", "text": "A short text pushed with the token."},
            headers={"Authorization": f"Bearer {token}"},
        )
        anonymous = await client.post(url, json={"title": "t", "text": "x"})
    tagged = await tagged_while_running(process, kafka_settings, 5, bound_s=100)
    search = SEARCH_EXAMPLE.search(printed)
    search_url, viewer = search.groups() if search else ("", "")
    found: list[str] = []
    async with httpx.AsyncClient(timeout=30.0) as client:
        with contextlib.suppress(TimeoutError):
            if not search:  # checked after the stack is stopped
                raise TimeoutError
            async with asyncio.timeout(90):  # the archiver catches up with the tagger
                while not found:
                    with contextlib.suppress(httpx.TransportError):
                        answer = await client.get(
                            search_url,
                            params={"q": '"indivisible security"'},
                            headers={"Authorization": f"Bearer {viewer}"},
                        )
                        if answer.status_code == 200:
                            found = [
                                h["article"]["article"]["title"] for h in answer.json()["articles"]
                            ]
                    await asyncio.sleep(1)
    still_running = process.returncode is None
    output = printed + await interrupt(process)
    logs = tmp_path / "state" / "logs"
    detail = output + service_logs(tmp_path / "state")
    assert still_running, detail
    assert tagged >= 5, detail
    assert process.returncode == 0, detail
    assert "received SIGINT" in output
    assert search, f"up printed no search example:\n{printed}"
    assert found, f"the API found no archived article on indivisible security\n{detail}"
    for service in ("fetcher", "tagger", "alerter", "archiver", "api"):
        assert f"{service}: terminated" in output or f"{service}: killed" in output, detail
        assert (logs / f"{service}.log").exists()
    assert "mediawatch stopped." in output
    # The token `up` printed pushes; without it the push is refused; at stop it is revoked.
    assert pushed.status_code == 202, f"{pushed.text}\n{detail}"
    assert anonymous.status_code == 401
    token_id = token.split("_")[1]
    assert f"push token {token_id}: revoked" in output
    assert f"API token {viewer.split('_')[1]}: revoked" in output
    records = TokensFile(tmp_path / "state" / "tokens.json").read()
    assert {r.token_id for r in records} == {token_id, viewer.split("_")[1]}
    assert all(r.revoked_at is not None for r in records)
    # The sample inbox was read: files moved to done/ after Kafka took them, none refused.
    inbox = tmp_path / "state" / "inbox"
    assert list((inbox / "done").glob("*.txt")), detail
    assert not list((inbox / "failed").glob("*")), detail
    sources = (tmp_path / "state" / "sources.yaml").read_text()
    assert "sample-inbox" in sources and "/feeds/" in sources


async def test_up_stops_by_itself_after_duration(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    process = await up(kafka_settings, tmp_path, "--duration", "1", "--no-feed")
    output = (await asyncio.wait_for(process.communicate(), timeout=240))[0].decode()
    assert process.returncode == 0, output
    assert "duration reached" in output
    assert "mediawatch stopped." in output
    assert "metrics" in output and "mediawatch alerts tail" in output


def test_an_exported_app_id_names_each_stream_service_under_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two stacks on one broker: MEDIAWATCH_APP_ID=desk-a gives desk-a-tagger and
    desk-a-alerter (never one id for both); without it the services keep their defaults."""
    monkeypatch.delenv("MEDIAWATCH_APP_ID", raising=False)
    ids = {s: child_environment(s, "127.0.0.1:9092", tmp_path, 8080).get("MEDIAWATCH_APP_ID")
           for s in ("tagger", "alerter", "fetcher")}  # fmt: skip
    assert ids == {"tagger": None, "alerter": None, "fetcher": None}
    monkeypatch.setenv("MEDIAWATCH_APP_ID", "desk-a")
    ids = {s: child_environment(s, "127.0.0.1:9092", tmp_path, 8080).get("MEDIAWATCH_APP_ID")
           for s in ("tagger", "alerter", "fetcher")}  # fmt: skip
    assert ids == {"tagger": "desk-a-tagger", "alerter": "desk-a-alerter", "fetcher": None}
