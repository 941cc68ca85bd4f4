"""The workspace's security over real HTTP on loopback (issue 17): the session cookie's
flags, CSRF on every change, the viewer and editor roles, the Content-Security-Policy, and a
revoked token ending its sessions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from mediawatch.api.settings import ApiSettings
from mediawatch.runtime.auth import Role, TokensFile
from mediawatch.runtime.settings import KafkaSettings
from mediawatch.schemas import Severity
from tests.support.alerter import tagged
from tests.support.workspace import (
    EDITOR,
    VIEWER,
    alert_of,
    api_server,
    seed_archive,
    shipped_rules,
)


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    seed_archive(tmp_path / "archive.sqlite3", tagged("oped", text="Indivisible security."))
    settings = ApiSettings(
        **KafkaSettings().model_dump(),
        http_port=0,
        state_dir=tmp_path,
        archive_path=tmp_path / "archive.sqlite3",
        rules_file=shipped_rules(tmp_path),
        api_tokens=SecretStr(f"viewer={VIEWER} editor={EDITOR}"),
    )
    with api_server(settings) as served:
        yield f"http://127.0.0.1:{served.port}"


def logged_in(base: str, token: str) -> tuple[httpx.Client, str]:
    """A client holding a session cookie, and the session's CSRF token."""
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/login")
    nonce = re.search(r'name="login_nonce" value="([^"]+)"', form.text)
    assert nonce is not None
    answer = client.post("/login", data={"login_nonce": nonce.group(1), "token": token,
                                         "next": "/rules"})  # fmt: skip
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    page = client.get("/alerts")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert csrf is not None and csrf.group(1)
    return client, csrf.group(1)


def test_every_page_and_api_answer_carries_a_strict_csp(base: str) -> None:
    client, _ = logged_in(base, VIEWER)
    for path in ("/login", "/alerts", "/search?q=nato", "/rules", "/trends", "/sources",
                 "/v1/rules", "/static/workspace.js", "/articles/missing"):  # fmt: skip
        response = client.get(path)
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, path
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
        assert "frame-ancestors 'none'" in policy, path
        if response.headers.get("content-type", "").startswith("text/html"):
            assert "<script>" not in response.text and " style=" not in response.text, path
            assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), path


def test_a_change_without_the_csrf_token_is_refused(base: str) -> None:
    client, csrf = logged_in(base, EDITOR)
    target = "/alerts/nato-expansion-spike:nato-1/ack"
    missing = client.post(target, data={"back": "/alerts"})
    assert missing.status_code == 403 and "CSRF" in missing.text
    wrong = client.post(target, data={"back": "/alerts", "csrf_token": "x" * 43})
    assert wrong.status_code == 403 and "wrong" in wrong.text
    api_missing = client.post("/v1/rules/nato-expansion-spike/mute", json={"minutes": 5})
    assert api_missing.status_code == 403
    done = client.post(target, data={"back": "/alerts", "csrf_token": csrf})
    assert done.status_code == 303
    api_done = client.post("/v1/rules/nato-expansion-spike/mute", json={"minutes": 5},
                           headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert api_done.status_code == 200 and api_done.json()["rule_id"] == "nato-expansion-spike"


def test_the_login_form_itself_needs_its_nonce(base: str) -> None:
    client = httpx.Client(base_url=base, timeout=30)
    forged = client.post("/login", data={"token": EDITOR, "login_nonce": "guess"})
    assert forged.status_code == 403
    assert "mw_session" not in forged.headers.get("set-cookie", "")


def test_roles_are_enforced_for_pages_and_changes(base: str) -> None:
    anonymous = httpx.Client(base_url=base, timeout=30)
    sent = anonymous.get("/rules")
    assert sent.status_code == 303 and sent.headers["location"].startswith("/login?next=")
    assert anonymous.get("/v1/alerts").status_code == 401
    viewer, csrf = logged_in(base, VIEWER)
    assert viewer.get("/rules").status_code == 200
    assert viewer.get("/rules/indivisible-security/edit").status_code == 403
    refused = viewer.post("/alerts/nato-expansion-spike:nato-1/ack",
                          data={"csrf_token": csrf, "back": "/alerts"})  # fmt: skip
    assert refused.status_code == 403 and "editor" in refused.text
    editor, _ = logged_in(base, EDITOR)
    assert editor.get("/rules/indivisible-security/edit").status_code == 200


def test_a_login_cannot_redirect_elsewhere(base: str) -> None:
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/login")
    nonce = re.search(r'name="login_nonce" value="([^"]+)"', form.text)
    assert nonce is not None
    answer = client.post("/login", data={"login_nonce": nonce.group(1), "token": VIEWER,
                                         "next": "//evil.example/"})  # fmt: skip
    assert answer.headers["location"] == "/"


def test_a_revoked_token_ends_its_sessions(tmp_path: Path) -> None:
    seed_archive(tmp_path / "archive.sqlite3", tagged("oped"))
    tokens = TokensFile(tmp_path / "tokens.json")
    record, token = tokens.create(Role.VIEWER)
    settings = ApiSettings(
        **KafkaSettings().model_dump(), http_port=0, state_dir=tmp_path,
        archive_path=tmp_path / "archive.sqlite3", rules_file=shipped_rules(tmp_path),
        api_tokens_file=tokens.path,
    )  # fmt: skip
    with api_server(settings) as served:
        client, _ = logged_in(f"http://127.0.0.1:{served.port}", token)
        assert client.get("/alerts").status_code == 200
        tokens.revoke(record.token_id)
        assert client.get("/alerts").status_code == 303, "back to the login form"


def test_alert_filters_of_the_api_take_country_and_genre(base: str) -> None:
    headers = {"Authorization": f"Bearer {VIEWER}"}
    answer = httpx.get(f"{base}/v1/alerts", params={"country": "FR"}, headers=headers)
    assert [a["alert_id"] for a in answer.json()["alerts"]] == ["nato-expansion-spike:nato-0"]
    bad = httpx.get(f"{base}/v1/alerts", params={"genre": "poetry"}, headers=headers)
    assert bad.status_code == 400 and "genre" in bad.text
    client, _ = logged_in(base, VIEWER)
    page = client.get("/alerts", params={"genre": "poetry"})
    assert page.status_code == 400 and "genre" in page.text
    assert alert_of("x", tagged("y"), Severity.INFO, 0).articles[0].genre is None
