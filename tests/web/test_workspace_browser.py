"""The web workspace (issue 17) in a real browser: Debian's chromium driven by Playwright,
against the API service on loopback over a seeded archive, the real Kafka broker for the live
alert stream, and a fetcher's real health route.

Each test logs in through the form, as an analyst does, and reads what the page shows."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mediawatch.fetcher.files import read_article
from mediawatch.runtime.kafka import ensure_topics
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import Severity
from mediawatch.tagger.pipeline import Tagger
from mediawatch.tagger.settings import TaggerSettings
from tests.support.kafka_io import produce
from tests.support.workspace import (
    EDITOR,
    VIEWER,
    Seeded,
    alert_of,
    api_server,
    api_settings,
    axe_violations,
    fetcher_health_server,
    log_in,
    seed_archive,
    shipped_rules,
    with_axe,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
OPED = Path(__file__).parents[1] / "tagger" / "fixtures" / "oped-indivisible.txt"


class Site:
    def __init__(self, base: str, seeded: Seeded, rules: Path, kafka: KafkaSettings) -> None:
        self.base = base
        self.seeded = seeded
        self.rules = rules
        self.kafka = kafka


@pytest.fixture(scope="module")
async def site(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> AsyncIterator[Site]:
    tmp = tmp_path_factory.mktemp("workspace")
    kafka = KafkaSettings(
        kafka_bootstrap=kafka_bootstrap,
        **KafkaSettings.topics_under(f"test.{uuid.uuid4().hex[:8]}"),
    )
    await ensure_topics(kafka)
    tagger = Tagger.from_files(TaggerSettings().themes_file, TaggerSettings().actors_file)
    seeded = seed_archive(tmp / "archive.sqlite3", tagger.tag(read_article(OPED)))
    rules = shipped_rules(tmp)
    with fetcher_health_server() as fetcher:
        settings = api_settings(tmp, kafka, rules, fetcher.port)
        with api_server(settings) as api:
            yield Site(f"http://127.0.0.1:{api.port}", seeded, rules, kafka)


@pytest.fixture
async def page(browser: Any, site: Site) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies), failing the test on any CSP violation or
    script error the page reports."""
    context = await browser.new_context()
    tab = await context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.problems = problems
    yield tab
    await context.close()
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems


async def test_login_sets_a_strict_httponly_session_cookie_and_a_bad_token_is_refused(
    page: Any, site: Site
) -> None:
    await page.goto(f"{site.base}/alerts")
    await page.fill("#token", "mw_00000000_not-a-real-token-at-all-no")
    await page.click("#login")
    assert "unknown bearer token" in await page.inner_text("#login-error")
    await log_in(page, site.base, VIEWER, "/alerts")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["mw_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert "mw_session" not in await page.evaluate("document.cookie"), "no script reads it"
    assert "viewer" in await page.inner_text("#who")
    await page.click("text=Log out")
    await page.goto(f"{site.base}/alerts")
    assert "/login" in page.url


async def test_live_alerts_arrive_over_the_stream_filtered_with_evidence_and_links(
    page: Any, site: Site
) -> None:
    await log_in(page, site.base, VIEWER, "/alerts?severity=critical")
    listed = page.locator("#alert-list > li.alert")
    assert await listed.count() == 2, "the two critical alerts of the archive"
    await page.wait_for_selector("#live-status.connected", timeout=30_000)
    oped = site.seeded.oped
    wanted = alert_of("live-rule", oped, Severity.CRITICAL, 0)
    unwanted = alert_of("quiet-rule", oped, Severity.INFO, 0)
    records = [(a.alert_id.encode(), a.to_json(), None) for a in (unwanted, wanted)]
    await produce(site.kafka, site.kafka.topic_alerts, records)
    fresh = page.locator('li.alert[data-alert-id="live-rule:' + oped.article_id + '"]')
    await fresh.wait_for(timeout=30_000)
    assert await page.locator('li.alert[data-rule="quiet-rule"]').count() == 0, "filtered out"
    assert await listed.first.get_attribute("data-rule") == "live-rule", "newest on top"
    evidence = await fresh.locator(".evidence").first.inner_text()
    assert "indivisible" in evidence.lower()
    await fresh.locator("a.article-link").click()
    await page.wait_for_url(f"**/articles/{oped.article_id}")
    assert (await page.inner_text("#meta-genre")).startswith("opinion")


async def test_a_live_alert_carries_the_editors_triage_forms_and_its_mute_is_stored(
    page: Any, site: Site
) -> None:
    """A live alert is the page's own list item (one template): for an editor it has the
    acknowledge and mute forms, with a working CSRF token."""
    await log_in(page, site.base, EDITOR, "/alerts?severity=critical")
    await page.wait_for_selector("#live-status.connected", timeout=30_000)
    arriving = alert_of("live-mute-rule", site.seeded.oped, Severity.CRITICAL, 0)
    await produce(site.kafka, site.kafka.topic_alerts,
                  [(arriving.alert_id.encode(), arriving.to_json(), None)])  # fmt: skip
    fresh = page.locator(f'li.alert.fresh[data-alert-id="{arriving.alert_id}"]')
    await fresh.wait_for(timeout=30_000)
    assert await fresh.locator("button.ack").count() == 1
    assert "Mute live-mute-rule for" in (
        await fresh.locator("form.mute select").get_attribute("aria-label") or ""
    )
    await fresh.locator("button.mute-rule").click()
    await page.wait_for_url("**/alerts?severity=critical")
    await page.reload()
    assert await page.locator('li.mute[data-rule="live-mute-rule"]').count() == 1, "stored"
    await page.locator('li.mute[data-rule="live-mute-rule"] button.unmute').click()
    await page.wait_for_load_state()


async def test_filters_by_theme_actor_country_and_genre(page: Any, site: Site) -> None:
    await log_in(page, site.base, VIEWER, "/alerts")
    total = await page.locator("#alert-list > li.alert").count()
    assert total == 3
    oped_alert = f"indivisible-security:{site.seeded.oped.article_id}"
    nato = {  # the op-ed, tagged by the real tagger, may carry both as well
        a.alert_id
        for a in site.seeded.alerts
        if any("nato-expansion" in x.themes and "org:nato" in x.actors for x in a.articles)
    }
    assert {"nato-expansion-spike:nato-0", "nato-expansion-spike:nato-1"} <= nato
    for query, expected in (
        ("country=FR", {"nato-expansion-spike:nato-0"}),
        ("genre=opinion", {oped_alert}),
        ("theme=nato-expansion&actor=org:nato", nato),
        ("rule=indivisible-security", {oped_alert}),
    ):
        await page.goto(f"{site.base}/alerts?{query}")
        shown = {
            await page.locator("#alert-list > li.alert").nth(n).get_attribute("data-alert-id")
            for n in range(await page.locator("#alert-list > li.alert").count())
        }
        assert shown == expected, query


async def test_an_editor_acknowledges_and_mutes_and_both_are_stored(page: Any, site: Site) -> None:
    await log_in(page, site.base, EDITOR, "/alerts")
    target = page.locator('li.alert[data-alert-id="nato-expansion-spike:nato-1"]')
    await target.locator("button.ack").click()
    await page.wait_for_load_state()
    target = page.locator('li.alert[data-alert-id="nato-expansion-spike:nato-1"]')
    assert "acknowledged by env-" in await target.locator(".ack-note").inner_text()
    await target.locator("form.mute select").select_option(str(60))
    await target.locator("button.mute-rule").click()
    await page.wait_for_load_state()
    await page.reload()  # stored, not only shown
    assert await page.locator('li.mute[data-rule="nato-expansion-spike"]').count() == 1
    assert "muted" in (await target.get_attribute("class") or "")
    assert "acknowledged" in (await target.get_attribute("class") or "")
    await page.locator('li.mute[data-rule="nato-expansion-spike"] button.unmute').click()
    await page.wait_for_load_state()
    assert await page.locator('li.mute[data-rule="nato-expansion-spike"]').count() == 0


async def test_a_viewer_cannot_change_anything(page: Any, site: Site) -> None:
    await log_in(page, site.base, VIEWER, "/alerts")
    assert await page.locator("button.ack").count() == 0
    await page.goto(f"{site.base}/rules/indivisible-security/edit")
    assert "role 'editor'" in await page.inner_text("#error-message")


async def test_the_article_view_marks_every_tag_at_its_span(page: Any, site: Site) -> None:
    oped = site.seeded.oped
    await log_in(page, site.base, VIEWER, f"/articles/{oped.article_id}")
    text = await page.inner_text("#article-text")
    assert text == oped.text, "the tagged text, unchanged by the markup"
    for kind, spans in (
        ("theme", [e for t in oped.themes for e in t.evidence if e.field == "text"]),
        ("actor", [m for a in oped.actors if a.role == "actor" for m in a.mentions
                   if m.field == "text"]),
        ("stance-critical", [e for s in oped.stances if s.label.value == "critical"
                             for e in s.evidence if e.field == "text"]),
        ("stance-supportive", [e for s in oped.stances if s.label.value == "supportive"
                               for e in s.evidence if e.field == "text"]),
    ):  # fmt: skip
        marked = page.locator(f"#article-text mark.hl-{kind}")
        if not spans:
            continue
        assert await marked.count() >= 1, kind
        covered = "".join(await marked.all_inner_texts())
        for span in spans:
            assert span.text in text
            assert span.text.split()[0] in covered, (kind, span.text)
    legend = await page.inner_text("#legend")
    for word in ("supportive", "critical", "neutral"):
        assert word in legend
    colours = await page.evaluate(
        """() => ['supportive', 'critical', 'neutral'].map(k => getComputedStyle(
            document.querySelector('#legend .hl-stance-' + k)).backgroundColor)"""
    )
    assert len(set(colours)) == 3, f"three distinct colours: {colours}"
    for label in ("Source", "Country", "Genre", "Language", "Published", "Fetched"):
        assert label in await page.inner_text("#metadata")


async def test_near_duplicates_and_reprints_link_both_ways(page: Any, site: Site) -> None:
    await log_in(page, site.base, VIEWER, "/articles/nato-0")
    assert "reprint-0" in await page.inner_html("#reprints")
    await page.goto(f"{site.base}/articles/reprint-0")
    assert "Title of nato-0" in await page.inner_text("#reprint-of")


async def test_search_checks_the_query_as_you_type_then_pages_and_exports(
    page: Any, site: Site
) -> None:
    await log_in(page, site.base, VIEWER, "/search")
    await page.type("#q", "nato AND (", delay=20)
    await page.wait_for_selector("#query-check.invalid", timeout=10_000)
    assert await page.get_attribute("#query-check", "data-position") == "10"
    await page.fill("#q", "")
    await page.type("#q", '"indivisible security"', delay=10)
    await page.wait_for_selector("#query-check.valid", timeout=10_000)
    await page.fill('input[name="limit"]', "3")
    await page.click("#search")
    await page.wait_for_selector("#results")
    first = await page.locator("#results li.result").all_inner_texts()
    assert len(first) == 3
    assert await page.locator("#results mark.hl-match").count() >= 3, "snippets marked"
    await page.click("#next-page")
    await page.wait_for_selector("#results")
    second = await page.locator("#results li.result").all_inner_texts()
    assert second and not set(first) & set(second), "the next page holds other articles"
    async with page.expect_download() as download_info:
        await page.click("#export-csv")
    download = await download_info.value
    exported = Path(await download.path()).read_text(encoding="utf-8")  # noqa: ASYNC240
    rows = list(csv.reader(io.StringIO(exported, newline="")))
    assert rows[0][0] == "article_id"
    matching = [a for a in site.seeded.articles if "indivisible security" in a.text.lower()]
    assert len(rows) - 1 == len(matching), "every match, past the page shown"


async def test_the_rule_editor_validates_previews_a_backtest_and_saves(
    page: Any, site: Site
) -> None:
    await log_in(page, site.base, EDITOR, "/rules")
    assert "nato-expansion-spike" in await page.inner_text("#rules")
    row = page.locator('tr[data-rule="nato-expansion-spike"]')
    assert "matched" in await row.locator(".last-alerts").inner_text(), "its last alerts"
    await page.goto(f"{site.base}/rules/new")
    await page.fill("#rule-yaml", "id: broken\nmode: {type: threshold}\ncondition: {themes: [x]}\n")
    await page.click("#preview")
    assert "count" in await page.inner_text("#problems"), "the missing field is named"
    rule = (
        "id: nato-each\ndescription: Every NATO expansion story\nseverity: info\n"
        "condition:\n  themes: [nato-expansion]\nmode: each_match\n"
    )
    await page.fill("#rule-yaml", rule)
    await page.fill("#days", "7")
    await page.click("#preview")
    fired = int(await page.inner_text("#fired"))
    stories = [a for a in site.seeded.articles
               if any(t.theme_id == "nato-expansion" for t in a.themes)
               and a.article.duplicate_of is None]  # fmt: skip
    assert fired == len(stories) >= 7, "each NATO expansion story of the week, reprints left out"
    assert await page.locator("#preview-result a.article-link").count() >= 5
    assert "nato-each" not in site.rules.read_text(), "a preview writes nothing"
    await page.click("#save")
    await page.wait_for_url("**/rules?saved=nato-each")
    saved = yaml.safe_load(site.rules.read_text())
    assert "nato-each" in {r["id"] for r in saved["rules"]}
    assert "# mediawatch watch rules." in site.rules.read_text(), "comments kept"


async def test_trends_and_the_actor_page_draw_their_charts(page: Any, site: Site) -> None:
    await log_in(page, site.base, VIEWER, "/trends")
    await page.check('input[name="theme"][value="nato-expansion"]')
    await page.select_option('select[name="group"]', "country")
    await page.click("text=Show")
    chart = page.locator('section.trend[data-theme="nato-expansion"] .chart')
    await chart.locator("canvas").wait_for(timeout=10_000)
    stories = [a for a in site.seeded.articles
               if any(t.theme_id == "nato-expansion" for t in a.themes)
               and a.article.duplicate_of is None]  # fmt: skip
    countries: dict[str | None, int] = {}
    for story in stories:
        country = story.article.source.country
        countries[country] = countries.get(country, 0) + 1
    drawn = await chart.get_attribute("data-drawn")
    assert drawn == str(len(countries)) == "3", "one line per country: FR, GB, none"
    totals = await page.locator(
        'section.trend[data-theme="nato-expansion"] td.total'
    ).all_inner_texts()
    assert sorted(int(t) for t in totals) == sorted(countries.values())
    await page.goto(f"{site.base}/actors/org:nato")
    await page.locator(".chart canvas").wait_for(timeout=10_000)
    days = {a.article.fetched_at.date() for a in site.seeded.articles
            if any(x.actor_id == "org:nato" for x in a.actors)}  # fmt: skip
    assert await page.locator("#actor-days tbody tr").count() == len(days) >= 6
    assert "state:ru" in await page.inner_text("#co-occurring")


async def test_sources_show_health_from_the_fetcher_and_articles_per_day(
    page: Any, site: Site
) -> None:
    await log_in(page, site.base, VIEWER, "/sources")
    broken = page.locator('tr[data-source="broken-feed"]')
    assert "failing" in await broken.locator(".health").inner_text()
    assert "HTTP 503" in await broken.locator(".last-error").inner_text()
    good = page.locator('tr[data-source="good-feed"]')
    assert "healthy" in await good.locator(".health").inner_text()
    archived = await page.locator('tr[data-source="test-source"] .articles').inner_text()
    assert int(archived) >= 6


async def test_every_page_passes_axe_with_labelled_controls(browser: Any, site: Site) -> None:
    """axe-core's WCAG 2.x A/AA and best-practice rules (labels, names, contrast, landmarks,
    target sizes) on every page of the workspace, anonymous and logged in as an editor."""
    context = await browser.new_context()
    await with_axe(context)
    page = await context.new_page()
    try:
        await page.goto(f"{site.base}/login")
        problems = {"/login": await axe_violations(page)}
        await page.fill("#token", EDITOR)
        await page.click("#login")
        await page.wait_for_load_state()
        oped = site.seeded.oped.article_id
        for path in ("/alerts", f"/articles/{oped}", "/search?q=nato", "/search?q=nato+AND+(",
                     "/rules", "/rules/indivisible-security/edit", "/rules/new",
                     "/trends?theme=nato-expansion&group=country", "/actors/org:nato",
                     "/sources", "/articles/no-such-article"):  # fmt: skip
            await page.goto(f"{site.base}{path}")
            await page.wait_for_load_state("networkidle")
            problems[path] = await axe_violations(page)
        await page.goto(f"{site.base}/rules/indivisible-security/edit")
        await page.click("#preview")  # the preview and its alerts
        await page.wait_for_selector("#preview-result")
        problems["the backtest preview"] = await axe_violations(page)
        await page.goto(f"{site.base}/alerts?rule=indivisible-security")
        await page.locator("li.alert button.ack").click()  # triaged alerts keep contrast
        await page.wait_for_load_state()
        await page.locator("li.alert button.mute-rule").click()
        await page.wait_for_load_state()
        assert await page.locator("li.alert.acknowledged.muted").count() == 1
        problems["triaged alerts"] = await axe_violations(page)
        await page.locator('li.mute[data-rule="indivisible-security"] button.unmute').click()
        await page.wait_for_load_state()
    finally:
        await context.close()
    assert not {where: found for where, found in problems.items() if found}, problems


async def test_keyboard_alone_logs_in_skips_to_content_and_filters(page: Any, site: Site) -> None:
    """Tab order reaches each control with a visible focus ring; Enter submits; the skip link
    jumps over the navigation."""

    async def tab_to(selector: str, most: int = 40) -> list[str]:
        passed = []
        for _ in range(most):
            await page.keyboard.press("Tab")
            focused = await page.evaluate(
                """(wanted) => { const el = document.activeElement;
                     const style = getComputedStyle(el);
                     return {hit: el.matches(wanted), ring: el.matches(':focus-visible')
                               && style.outlineStyle !== 'none' && style.outlineWidth !== '0px',
                             what: el.tagName + (el.id ? '#' + el.id : '')
                               + (el.name ? '[' + el.name + ']' : '')}; }""",
                selector,
            )
            assert focused["ring"], f"no visible focus on {focused['what']}"
            passed.append(focused["what"])
            if focused["hit"]:
                return passed
        raise AssertionError(f"{selector} not reached by Tab; passed {passed}")

    await page.goto(f"{site.base}/alerts")
    await tab_to("#token")
    await page.keyboard.type(VIEWER)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{site.base}/alerts")
    await tab_to("a.skip", most=1)
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
    passed = await tab_to('#alert-filters input[name="rule"]')
    assert not any(p.startswith("A") for p in passed), f"the skip link skipped the nav: {passed}"
    await page.keyboard.type("indivisible-security")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/alerts?rule=indivisible-security*")
    assert await page.locator("#alert-list > li.alert").count() == 1
    await tab_to("#alert-list a.article-link")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/articles/{site.seeded.oped.article_id}")
