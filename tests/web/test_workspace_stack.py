"""The web workspace through the real stack (issue 17): ``mediawatch up`` on the session's
broker runs the fetcher, tagger, alerter, archiver and API as ``make run`` does, with the
sample inbox; Debian's chromium, driven by Playwright, is the analyst.

The founding op-ed is pushed to the fetcher while the alert list is open: its alert arrives
over the live stream, its article shows the five indivisible-security spans and the actor
mentions, search finds it, and the rule editor reports a broken query and then previews the
op-ed. Screenshots at 1280 and 390 px go to the test's directory and are checked for content;
with ``MEDIAWATCH_SCREENSHOTS_DIR`` set (``make screenshots``) they are copied there too."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mediawatch.runtime.auth import Role, TokensFile
from mediawatch.runtime.settings import KafkaSettings
from tests.support.environment import REPOSITORY
from tests.support.stack import MEDIAWATCH, interrupt, push_example_of, service_logs, start_up
from tests.support.workspace import log_in

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OPED = Path(__file__).parents[1] / "tagger" / "fixtures" / "oped-indivisible.txt"
WORKSPACE = re.compile(r"workspace\s+(http://127\.0\.0\.1:\d+)/ ")
API_TOKEN = re.compile(r"API token\s+(mw_[0-9a-f]{8}_\S+) \(viewer")
WIDTHS = (1280, 390)


class Running:
    """What ``up`` printed: where the workspace and the push route are, and the tokens."""

    def __init__(self, printed: str, push_url: str, ingest_token: str, state: Path) -> None:
        workspace, viewer = WORKSPACE.search(printed), API_TOKEN.search(printed)
        assert workspace and viewer, f"up did not print its addresses:\n{printed}"
        self.push_url, self.ingest_token = push_url, ingest_token
        self.base = workspace.group(1)
        self.viewer = viewer.group(1)
        # An editor, as an administrator adds one with `mediawatch tokens create --role editor`;
        # the API reads the tokens file again when it changes.
        self.editor = TokensFile(state / "tokens.json").create(Role.EDITOR)[1]


async def until_ready(*urls: str, bound_s: float = 240) -> None:
    """Each service's /readyz answers 200 (a bound against hangs, not a measured time)."""
    async with httpx.AsyncClient(timeout=10) as client, asyncio.timeout(bound_s):
        for url in urls:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(url)).status_code == 200:
                        break
                await asyncio.sleep(0.5)


def has_content(png: Path) -> str | None:
    """Why the screenshot looks blank, or None: it must hold many colours, and pixels unlike
    the background (its bottom-right corner) over 300 px of height and 3% of its area."""
    from PIL import Image, ImageChops

    with Image.open(png) as shot:
        image = shot.convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20) or []
    if len(colours) < 50:
        return f"{png.name}: only {len(colours)} colours"
    background = Image.new("RGB", image.size, image.getpixel((image.width - 1, image.height - 1)))
    unlike = ImageChops.difference(image, background).convert("L").point(lambda v: 255 * (v > 0))
    box = unlike.getbbox()
    if box is None or box[3] - box[1] < 300:
        return f"{png.name}: content covers only {box} of {image.size}"
    share = (unlike.histogram()[255]) / (image.width * image.height)
    if share < 0.03:
        return f"{png.name}: only {share:.1%} of the pixels differ from the background"
    return None


def keep(shots: list[Path], into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        shutil.copy(shot, into / shot.name)


async def shoot(page: Any, into: Path, name: str) -> list[Path]:
    """Full-page screenshots at each width; the viewport is put back to the first."""
    shots = []
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        path = into / f"workspace-{name}-{width}.png"
        await page.screenshot(path=str(path), full_page=True)
        shots.append(path)
    await page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    return shots


async def spans_of(page: Any, label: str) -> list[str]:
    """The tagged spans whose marks carry ``label``: neighbouring marks (one span cut into
    pieces where other spans overlap it) are joined into one."""
    found: list[str] = await page.evaluate(
        """(label) => {
          const spans = [];
          for (const field of document.querySelectorAll('#headline, #article-text')) {
            let current = null;
            for (const node of field.childNodes) {
              const hit = node.nodeName === 'MARK'
                && node.title.split('; ').includes(label);
              if (hit && current !== null) { current += node.textContent; continue; }
              if (current !== null) { spans.push(current); current = null; }
              if (hit) current = node.textContent;
            }
            if (current !== null) spans.push(current);
          }
          return spans;
        }""",
        label,
    )
    return found


async def test_the_founding_op_ed_through_the_stack_in_the_browser(
    kafka_settings: KafkaSettings, tmp_path: Path, browser: Any
) -> None:
    state = tmp_path / "state"
    process = await start_up(MEDIAWATCH, kafka_settings, state, "--no-feed",
                             env=dict(os.environ), cwd=REPOSITORY)  # fmt: skip
    shots: list[Path] = []
    context = None
    try:
        stack = Running(*await push_example_of(process), state)
        await until_ready(f"{stack.base}/readyz", stack.push_url.replace("/v1/articles", "/readyz"))
        context = await browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
        page = await context.new_page()
        await log_in(page, stack.base, stack.viewer, "/alerts")

        alerts = page.locator("#alert-list > li.alert")
        await page.wait_for_selector("#live-status.connected", timeout=60_000)

        title, _, text = OPED.read_text(encoding="utf-8").partition("\n")
        pushed_at = time.monotonic()
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(
                stack.push_url,
                json={
                    "title": title,
                    "text": text.strip(),
                    "url": "https://op-ed.test/indivisible",
                },
                headers={"Authorization": f"Bearer {stack.ingest_token}"},
            )
        assert answer.status_code == 202, answer.text
        article_id = answer.json()["articles"][0]["article_id"]
        live = page.locator(f'li.alert[data-alert-id="indivisible-security:{article_id}"]')
        await live.wait_for(timeout=240_000)
        print(f"\nop-ed pushed -> alert in the live list: {time.monotonic() - pushed_at:.2f} s")
        # `make run`'s promise: the sample inbox's alerts are listed too (a bound against
        # hangs: under a loaded suite the samples may still be in the tagger).
        async with asyncio.timeout(240):
            while await alerts.count() < 2:
                await asyncio.sleep(2)
                await page.reload()
        shots += await shoot(page, tmp_path, "alerts")

        await live.locator("a.article-link").first.click()
        await page.wait_for_url(f"**/articles/{article_id}")
        theme = await spans_of(page, "theme Indivisible security")
        assert len(theme) == 5, f"five indivisible-security spans, title and text: {theme}"
        assert all("indivisib" in s.lower() for s in theme), theme
        async with httpx.AsyncClient(timeout=30) as client:
            auth = {"Authorization": f"Bearer {stack.viewer}"}
            stored = await client.get(f"{stack.base}/v1/articles/{article_id}", headers=auth)
        actors = [a for a in stored.json()["actors"] if a["role"] == "actor"]
        assert len(actors) >= 8, "Putin, Xi, NATO, Russia, China, the US, ..."
        for actor in actors:
            marked = await spans_of(page, f"actor {actor['name']}")
            wanted = [m["text"] for m in actor["mentions"]]
            assert sorted(marked) == sorted(wanted), (actor["actor_id"], marked, wanted)
        shots += await shoot(page, tmp_path, "article")

        await page.goto(f"{stack.base}/search")
        await page.fill("#q", '"indivisible security" NEAR/10 NATO')
        await page.type("#q", " ", delay=10)  # the check runs as the analyst types
        await page.wait_for_selector("#query-check.valid", timeout=10_000)
        await page.click("#search")
        await page.wait_for_selector("#results")
        found = page.locator(f'#results a[href="/articles/{article_id}"]')
        assert await found.count() >= 1, await page.inner_text("#results")
        shots += await shoot(page, tmp_path, "search")

        await page.click("text=Log out")
        await log_in(page, stack.base, stack.editor, "/rules/indivisible-security/edit")
        rule = await page.input_value("#rule-yaml")
        query = re.search(r"^\s*query: (.+)$", rule, re.M)
        assert query, rule
        await page.fill(
            "#rule-yaml", rule.replace(query.group(1), """'"indivisible security" AND ('""")
        )
        await page.click("#preview")
        problem = await page.inner_text("#problems")
        assert "query" in problem and "position" in problem, problem
        assert await page.locator("#preview-result").count() == 0, "no preview of a broken rule"
        await page.fill("#rule-yaml", rule)
        await page.click("#preview")
        preview = page.locator(f'#preview-result a[href="/articles/{article_id}"]')
        assert await preview.count() == 1, await page.inner_text("main")
        shots += await shoot(page, tmp_path, "rule")
    except BaseException:
        print(await interrupt(process) + service_logs(state))
        raise
    finally:
        if context is not None:
            await context.close()
    output = await interrupt(process)
    assert process.returncode == 0, output
    blank = [why for shot in shots if (why := has_content(shot))]
    assert not blank, blank
    if into := os.environ.get("MEDIAWATCH_SCREENSHOTS_DIR"):  # make screenshots
        keep(shots, Path(into))
