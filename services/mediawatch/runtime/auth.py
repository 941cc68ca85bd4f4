"""API tokens and roles for every HTTP entry point of every service.

A token is ``mw_<id>_<secret>``: the id is public (it names the token in logs, errors, the
tokens file and ``mediawatch tokens revoke``), the secret is 256 random bits. Only the
SHA-256 of the whole token is stored. A plain hash is enough here, unlike for passwords:
the tokens are generated with :mod:`secrets` and carry 256 bits of entropy, so a stolen hash
cannot be reversed by guessing, and a slow key-derivation function (bcrypt, argon2) would
only add CPU time to every request. Presented tokens are hashed and compared with
:func:`hmac.compare_digest`, so the comparison takes the same time whatever matches.

Tokens come from the tokens file (``MEDIAWATCH_API_TOKENS_FILE``, by default
``<state dir>/tokens.json``, written by ``mediawatch tokens create``) and from
``MEDIAWATCH_API_TOKENS`` (for compose ``.env`` files and secret stores). The file is read
again whenever it changes, so a token revoked with ``mediawatch tokens revoke`` is refused
by a running service from its next request on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from mediawatch.runtime.settings import ServiceSettings


class Role(StrEnum):
    INGEST = "ingest"  # push articles, optionally only as some sources
    VIEWER = "viewer"  # read APIs: source health, metrics when protected
    EDITOR = "editor"  # change rules, run backtests (and read)
    ADMIN = "admin"  # everything


#: What each role may do: a route that needs role R admits every token whose role grants R.
GRANTS: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset(Role),
    Role.EDITOR: frozenset({Role.EDITOR, Role.VIEWER}),
    Role.VIEWER: frozenset({Role.VIEWER}),
    Role.INGEST: frozenset({Role.INGEST}),
}

TOKEN_PREFIX = "mw_"
#: Longest Authorization header read; anything longer is refused before it is parsed.
MAX_AUTHORIZATION_BYTES = 1024
#: Shortest secret accepted from MEDIAWATCH_API_TOKENS: a plain hash is only safe for a
#: token that cannot be guessed.
MIN_TOKEN_CHARS = 32
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9._~+/=-]+$")
_TOKEN_ID = re.compile(r"^mw_([0-9a-f]{8})_")
_SOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class TokenError(ValueError):
    """A tokens file or MEDIAWATCH_API_TOKENS cannot be used; the message says where."""


class AuthError(Exception):
    """A request is refused: 401 (no usable token) or 403 (a token without the role).
    The message names what is missing and never contains the presented token."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """(token id, token): 32 random bits of id, 256 random bits of secret."""
    token_id = secrets.token_hex(4)
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True)
class TokenRecord:
    """One token as stored: never the token itself, only its SHA-256."""

    token_id: str
    role: Role
    sha256: str
    sources: tuple[str, ...] = ()
    created_at: str | None = None
    revoked_at: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.token_id,
            "role": self.role.value,
            "sources": list(self.sources),
            "sha256": self.sha256,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class Principal:
    """Who made a request: the token's public id, its role and the sources it may push as
    (empty: any source)."""

    token_id: str
    role: Role
    sources: tuple[str, ...] = ()

    def has(self, role: Role) -> bool:
        return role in GRANTS[self.role]

    def may_publish_as(self, source_id: str) -> bool:
        return not self.sources or source_id in self.sources


def _record_from_json(raw: Any, where: str) -> TokenRecord:
    if not isinstance(raw, dict):
        raise TokenError(f"{where}: expected an object")
    try:
        role = Role(raw["role"])
        sources = tuple(raw.get("sources") or ())
        record = TokenRecord(
            token_id=str(raw["id"]),
            role=role,
            sha256=str(raw["sha256"]),
            sources=sources,
            created_at=raw.get("created_at"),
            revoked_at=raw.get("revoked_at"),
        )
    except KeyError as exc:
        raise TokenError(f"{where}: field {exc.args[0]!r} is missing") from None
    except ValueError:
        raise TokenError(f"{where}: role {raw.get('role')!r} is not one of {list(Role)}") from None
    if not re.fullmatch(r"[0-9a-f]{64}", record.sha256):
        raise TokenError(f"{where}: field 'sha256' is not a SHA-256 hex digest")
    return record


class TokensFile:
    """The JSON file of token records that ``mediawatch tokens`` writes (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[TokenRecord]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise TokenError(f"{self.path}: cannot read the tokens file: {exc}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TokenError(f"{self.path}: not valid JSON: {exc}") from None
        entries = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise TokenError(f"{self.path}: expected an object with a 'tokens' list")
        where = f"{self.path}: tokens"
        return [_record_from_json(raw, f"{where}[{i}]") for i, raw in enumerate(entries)]

    def write(self, records: list[TokenRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        text = json.dumps({"tokens": [r.as_json() for r in records]}, indent=2) + "\n"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(partial, self.path)

    def create(self, role: Role, sources: tuple[str, ...] = ()) -> tuple[TokenRecord, str]:
        """Add a new token; returns its record and the token, which is nowhere else."""
        bad = [s for s in sources if not _SOURCE_ID.match(s)]
        if bad:
            raise TokenError(f"not a source id: {', '.join(map(repr, bad))}")
        if sources and role is not Role.INGEST:
            raise TokenError(f"only ingest tokens are bound to sources (not {role.value})")
        records = self.read()
        known = {r.token_id for r in records}
        token_id, token = new_token()
        while token_id in known:
            token_id, token = new_token()
        record = TokenRecord(
            token_id, role, token_digest(token), sources, datetime.now(UTC).isoformat()
        )
        self.write([*records, record])
        return record, token

    def revoke(self, token_id: str) -> TokenRecord:
        """Mark the token revoked (the record stays, so a replay is told it was revoked)."""
        records = self.read()
        for index, record in enumerate(records):
            if record.token_id == token_id:
                if record.revoked_at is None:
                    record = replace(record, revoked_at=datetime.now(UTC).isoformat())
                    records[index] = record
                    self.write(records)
                return record
        raise TokenError(f"{self.path}: no token with id {token_id!r}")


def parse_env_tokens(value: SecretStr | None) -> list[TokenRecord]:
    """Records of ``MEDIAWATCH_API_TOKENS``: entries ``ROLE[:SOURCE,...]=TOKEN`` separated
    by whitespace or ``;``. Errors name the entry by position, never its token."""
    if value is None:
        return []
    records = []
    entries = [e for e in re.split(r"[\s;]+", value.get_secret_value()) if e]
    for index, entry in enumerate(entries):
        where = f"MEDIAWATCH_API_TOKENS entry {index + 1}"
        grant, equals, token = entry.partition("=")
        if not equals or not token:
            raise TokenError(f"{where}: expected ROLE[:SOURCE,...]=TOKEN")
        role_name, _, source_list = grant.partition(":")
        try:
            role = Role(role_name)
        except ValueError:
            raise TokenError(f"{where}: role {role_name!r} is not one of {list(Role)}") from None
        sources = tuple(s for s in source_list.split(",") if s)
        if len(token) < MIN_TOKEN_CHARS or not _TOKEN_CHARS.match(token):
            raise TokenError(
                f"{where}: the token must be at least {MIN_TOKEN_CHARS} characters of "
                "[A-Za-z0-9._~+/=-] (make one with `mediawatch tokens create`)"
            )
        named = _TOKEN_ID.match(token)
        token_id = f"env-{named.group(1)}" if named else f"env-{index + 1}"
        records.append(TokenRecord(token_id, role, token_digest(token), sources))
    return records


@dataclass
class TokenStore:
    """The tokens a service accepts: the environment's and the tokens file's, the file read
    again whenever its modification time or size changes."""

    file: TokensFile | None
    env_records: list[TokenRecord] = field(default_factory=list)
    _file_records: list[TokenRecord] = field(default_factory=list)
    _file_version: tuple[int, int] | None = None

    def _records(self) -> list[TokenRecord]:
        if self.file is not None:
            try:
                stat = self.file.path.stat()
                version: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
            except FileNotFoundError:
                version = None
            if version != self._file_version:
                self._file_records = self.file.read() if version is not None else []
                self._file_version = version
        return [*self.env_records, *self._file_records]

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization: Bearer`` header, or :class:`AuthError` 401."""
        if authorization is None:
            raise AuthError(
                401, "missing Authorization header: send 'Authorization: Bearer <token>'"
            )
        size = len(authorization.encode("utf-8", "replace"))
        if size > MAX_AUTHORIZATION_BYTES:
            raise AuthError(
                401,
                f"Authorization header of {size} bytes is longer than the "
                f"{MAX_AUTHORIZATION_BYTES} bytes accepted",
            )
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            shown = f" (got scheme {scheme[:20]!r})" if scheme.isalpha() else ""
            raise AuthError(
                401, f"malformed Authorization header: expected 'Bearer <token>'{shown}"
            )
        token = token.strip()
        if not token:
            raise AuthError(401, "malformed Authorization header: the bearer token is empty")
        if not _TOKEN_CHARS.match(token):
            raise AuthError(
                401, "malformed Authorization header: the token has characters no token has"
            )
        try:
            records = self._records()
        except TokenError as exc:
            raise AuthError(401, f"the tokens file cannot be read, so no token is: {exc}") from None
        if not records:
            raise AuthError(
                401,
                "no API tokens are configured on this service: create one with `mediawatch "
                "tokens create` or set MEDIAWATCH_API_TOKENS",
            )
        return self._principal_of(token_digest(token), records, "unknown bearer token")

    def principal_of_digest(self, digest: str) -> Principal:
        """The principal of a token known by its SHA-256 (a browser session's token), or
        :class:`AuthError` 401 once the token is revoked or gone from the file."""
        try:
            records = self._records()
        except TokenError as exc:
            raise AuthError(401, f"the tokens file cannot be read, so no token is: {exc}") from None
        return self._principal_of(digest, records, "the session's token is no longer known")

    @staticmethod
    def _principal_of(digest: str, records: list[TokenRecord], unknown: str) -> Principal:
        found: TokenRecord | None = None
        for record in records:  # every record compared, in constant time each
            if hmac.compare_digest(record.sha256, digest):
                found = record
        if found is None:
            raise AuthError(401, unknown)
        if found.revoked_at is not None:
            raise AuthError(401, f"token {found.token_id} was revoked at {found.revoked_at}")
        return Principal(found.token_id, found.role, found.sources)


def authorise(principal: Principal, required: Role) -> None:
    """:class:`AuthError` 403 unless the principal's role grants ``required``."""
    if not principal.has(required):
        raise AuthError(
            403,
            f"this endpoint needs a token with role {required.value!r}; token "
            f"{principal.token_id} has role {principal.role.value!r}",
        )


class PerTokenRateLimit:
    """A token bucket per token id: ``per_minute`` requests a minute, bursts of as many.
    :meth:`take` answers 0 when the request may go, else the seconds until it may."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # id -> (tokens, at)

    def take(self, token_id: str) -> int:
        now = self.clock()
        tokens, at = self._buckets.get(token_id, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.per_second)
        if tokens >= 1.0:
            self._buckets[token_id] = (tokens - 1.0, now)
            return 0
        self._buckets[token_id] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.per_second))


def token_store_of(settings: ServiceSettings) -> TokenStore:
    """The tokens a service with these settings accepts; :class:`TokenError` when
    MEDIAWATCH_API_TOKENS is malformed (at start, not at the first request)."""
    return TokenStore(TokensFile(settings.tokens_path), parse_env_tokens(settings.api_tokens))
