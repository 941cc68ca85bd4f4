"""Tokens and roles of the HTTP entry points: the tokens file and MEDIAWATCH_API_TOKENS, the
`mediawatch tokens` commands, and a real ServiceHttpServer on loopback answering 401/403
with a JSON error that names what is missing and never the token."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr

from mediawatch.runtime.auth import (
    MAX_AUTHORIZATION_BYTES,
    PerTokenRateLimit,
    Role,
    TokenError,
    TokensFile,
    TokenStore,
    parse_env_tokens,
    token_digest,
)
from mediawatch.runtime.http import ServiceHttpServer, principal_of
from mediawatch.runtime.settings import ServiceSettings, SettingsError, load_settings

ENV_TOKEN = "mw_0badcafe_" + "e" * 43


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mediawatch.cli.main", "tokens", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_created_token_is_stored_as_its_hash_only(tmp_path: Path) -> None:
    tokens = TokensFile(tmp_path / "tokens.json")
    record, token = tokens.create(Role.INGEST, ("example-feed",))
    text = tokens.path.read_text()
    assert token not in text and token.split("_", 2)[2] not in text
    assert record.sha256 == token_digest(token) and record.sha256 in text
    assert token.startswith(f"mw_{record.token_id}_") and len(token) >= 50
    assert stat.S_IMODE(tokens.path.stat().st_mode) == 0o600
    assert tokens.read() == [record]


def test_binding_sources_is_for_ingest_tokens_and_valid_source_ids(tmp_path: Path) -> None:
    tokens = TokensFile(tmp_path / "tokens.json")
    with pytest.raises(TokenError, match="only ingest tokens are bound to sources"):
        tokens.create(Role.VIEWER, ("example-feed",))
    with pytest.raises(TokenError, match="not a source id: 'a b'"):
        tokens.create(Role.INGEST, ("a b",))


def test_a_broken_tokens_file_is_named_with_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"tokens": [{"id": "x", "role": "root", "sha256": "0" * 64}]}))
    with pytest.raises(TokenError, match=r"tokens\[0\]: role 'root' is not one of"):
        TokensFile(path).read()


def test_environment_tokens_are_parsed_and_errors_never_show_the_token() -> None:
    records = parse_env_tokens(
        SecretStr(f"ingest:example-feed,wire={ENV_TOKEN}; viewer={'v' * 40}")
    )
    assert [(r.token_id, r.role, r.sources) for r in records] == [
        ("env-0badcafe", Role.INGEST, ("example-feed", "wire")),
        ("env-2", Role.VIEWER, ()),
    ]
    short = "s3cr3t-but-short"
    with pytest.raises(TokenError, match="entry 1: the token must be at least 32") as error:
        parse_env_tokens(SecretStr(f"ingest={short}"))
    assert short not in str(error.value)
    with pytest.raises(TokenError, match="entry 2: role 'boss' is not one of"):
        parse_env_tokens(SecretStr(f"viewer={ENV_TOKEN} boss={ENV_TOKEN}"))


def test_a_bad_token_setting_names_the_variable_not_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEDIAWATCH_API_TOKENS", "ingest=tooshort-secret")
    with pytest.raises(SettingsError, match="MEDIAWATCH_API_TOKENS") as error:
        load_settings(ServiceSettings)
    assert "tooshort-secret" not in str(error.value)


def test_the_rate_limit_refills_with_time_and_says_how_long_to_wait() -> None:
    now = [0.0]
    limit = PerTokenRateLimit(2, clock=lambda: now[0])
    assert [limit.take("a"), limit.take("a")] == [0, 0]
    assert limit.take("a") == 30  # one request every 30 s at 2 a minute
    assert limit.take("b") == 0  # each token has its own bucket
    now[0] = 30.0
    assert limit.take("a") == 0


# -- a real server on loopback ----------------------------------------------------------------


class Served:
    def __init__(self, server: ServiceHttpServer, tokens: TokensFile) -> None:
        self.server, self.tokens = server, tokens
        self.url = f"http://127.0.0.1:{server.port}"

    def token(self, role: Role, *sources: str) -> str:
        return self.tokens.create(role, sources)[1]


async def _serve(tmp_path: Path, *, probes_require_token: bool) -> ServiceHttpServer:
    store = TokenStore(TokensFile(tmp_path / "tokens.json"), parse_env_tokens(None))
    server = ServiceHttpServer(
        "127.0.0.1",
        0,
        readiness=lambda: (True, "ready"),
        tokens=store,
        probes_require_token=probes_require_token,
    )

    async def whoami(request: web.Request) -> web.Response:
        principal = principal_of(request)
        return web.json_response({"id": principal.token_id, "role": principal.role.value})

    server.add_route("GET", "/read", whoami, role=Role.VIEWER)
    server.add_route("POST", "/ingest", whoami, role=Role.INGEST)
    server.app.router.add_get("/undeclared", whoami)  # behind the server's back
    await server.start()
    return server


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    server = await _serve(tmp_path, probes_require_token=False)
    yield Served(server, TokensFile(tmp_path / "tokens.json"))
    await server.stop()


async def _get(url: str, authorization: str | None = None, method: str = "GET") -> httpx.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with httpx.AsyncClient() as client:
        return await client.request(method, url, headers=headers)


async def test_no_tokens_configured_refuses_protected_routes_and_says_how_to_make_one(
    served: Served,
) -> None:
    answer = await _get(f"{served.url}/read", "Bearer " + ENV_TOKEN)
    assert answer.status_code == 401
    assert "no API tokens are configured" in answer.json()["error"]
    assert "mediawatch tokens create" in answer.json()["error"]


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (None, "missing Authorization header"),
        ("Basic bWVkaWF3YXRjaDpodW50ZXIy", "expected 'Bearer <token>' (got scheme 'Basic')"),
        ("Bearer", "the bearer token is empty"),
        ("Bearer two tokens", "the token has characters no token has"),
        ("Bearer <script>alert(1)</script>", "the token has characters no token has"),
        ("Bearer " + "A" * MAX_AUTHORIZATION_BYTES, "is longer than the 1024 bytes accepted"),
        ("Bearer mw_00000000_" + "x" * 43, "unknown bearer token"),
    ],
    ids=["missing", "basic", "no-token", "two-tokens", "garbled", "oversized", "unknown"],
)
async def test_missing_malformed_and_unknown_tokens_get_401_naming_the_problem(
    served: Served, authorization: str | None, expected: str
) -> None:
    served.token(Role.ADMIN)  # tokens exist; the presented one is not among them
    answer = await _get(f"{served.url}/read", authorization)
    assert answer.status_code == 401, answer.text
    assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
    error = answer.json()["error"]
    assert expected in error
    if authorization and " " in authorization.strip():
        assert authorization.split(" ", 1)[1].strip() not in error, "the token is echoed"


async def test_roles_grant_what_they_should_and_403_names_role_and_token(served: Served) -> None:
    viewer, editor = served.token(Role.VIEWER), served.token(Role.EDITOR)
    ingest, admin = served.token(Role.INGEST, "example-feed"), served.token(Role.ADMIN)
    tokens = {"viewer": viewer, "editor": editor, "ingest": ingest, "admin": admin}
    answers = {
        (name, path): (await _get(f"{served.url}{path}", f"Bearer {token}", method)).status_code
        for name, token in tokens.items()
        for method, path in (("GET", "/read"), ("POST", "/ingest"), ("GET", "/undeclared"))
    }  # fmt: skip
    assert answers == {
        ("viewer", "/read"): 200, ("viewer", "/ingest"): 403, ("viewer", "/undeclared"): 403,
        ("editor", "/read"): 200, ("editor", "/ingest"): 403, ("editor", "/undeclared"): 403,
        ("ingest", "/read"): 403, ("ingest", "/ingest"): 200, ("ingest", "/undeclared"): 403,
        ("admin", "/read"): 200, ("admin", "/ingest"): 200, ("admin", "/undeclared"): 200,
    }  # fmt: skip
    refused = await _get(f"{served.url}/ingest", f"Bearer {viewer}", "POST")
    viewer_id = viewer.split("_")[1]
    assert refused.json() == {
        "error": f"this endpoint needs a token with role 'ingest'; token {viewer_id} has role "
        "'viewer'"
    }
    undeclared = await _get(f"{served.url}/undeclared", f"Bearer {ingest}")
    assert "needs a token with role 'admin'" in undeclared.json()["error"]
    who = await _get(f"{served.url}/read", f"Bearer {admin}")
    assert who.json() == {"id": admin.split("_")[1], "role": "admin"}
    unknown = await _get(f"{served.url}/nowhere", f"Bearer {admin}")
    assert unknown.status_code == 404


async def test_probes_are_open_by_default(served: Served) -> None:
    for path in ("/metrics", "/healthz", "/readyz"):
        assert (await _get(f"{served.url}{path}")).status_code == 200, path


async def test_probes_need_a_viewer_token_when_the_setting_says_so(tmp_path: Path) -> None:
    server = await _serve(tmp_path, probes_require_token=True)
    viewer = TokensFile(tmp_path / "tokens.json").create(Role.VIEWER)[1]
    ingest = TokensFile(tmp_path / "tokens.json").create(Role.INGEST)[1]
    url = f"http://127.0.0.1:{server.port}"
    try:
        for path in ("/metrics", "/healthz", "/readyz"):
            assert (await _get(f"{url}{path}")).status_code == 401, path
            assert (await _get(f"{url}{path}", f"Bearer {ingest}")).status_code == 403, path
            assert (await _get(f"{url}{path}", f"Bearer {viewer}")).status_code == 200, path
    finally:
        await server.stop()


async def test_cli_created_token_works_and_its_replay_after_revoke_is_refused(
    served: Served,
) -> None:
    file = str(served.tokens.path)
    created = _cli("create", "--role", "ingest", "--source", "example-feed", "--file", file)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    token_id = token.split("_")[1]
    assert f"created ingest token {token_id} for example-feed" in created.stderr
    assert token not in served.tokens.path.read_text()
    assert (await _get(f"{served.url}/ingest", f"Bearer {token}", "POST")).status_code == 200

    listed = _cli("list", "--file", file)
    assert token_id in listed.stdout and token not in listed.stdout

    revoked = _cli("revoke", token_id, "--file", file)
    assert revoked.returncode == 0, revoked.stderr
    replay = await _get(f"{served.url}/ingest", f"Bearer {token}", "POST")  # the same server
    assert replay.status_code == 401
    assert replay.json()["error"].startswith(f"token {token_id} was revoked at ")
    assert token not in replay.text

    missing = _cli("revoke", "deadbeef", "--file", file)
    assert missing.returncode == 1 and "no token with id 'deadbeef'" in missing.stderr


def test_cli_refuses_an_unknown_role(tmp_path: Path) -> None:
    answer = _cli("create", "--role", "root", "--file", str(tmp_path / "tokens.json"))
    assert answer.returncode == 2 and "root" in answer.stderr
    assert not (tmp_path / "tokens.json").exists()
