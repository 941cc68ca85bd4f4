"""Browser sessions opened with an API token, for the web workspace.

A browser should not hold a bearer token in script-readable storage, so the login form takes
the token once and answers with a session cookie: ``HttpOnly`` (no script reads it),
``SameSite=Strict`` (no other site's page sends it) and ``Secure`` on HTTPS. The session
keeps only the token's SHA-256 and checks it against the token store on every request, so a
token revoked with ``mediawatch tokens revoke`` ends its sessions at once.

Requests that change something and arrive with the cookie must also carry the session's
CSRF token (header ``X-CSRF-Token`` or form field ``csrf_token``): SameSite already stops
cross-site requests in current browsers, the token stops them in the others.

Sessions live in the memory of the serving process: a restart logs everyone out, which is
the safe failure, and nothing secret is written to disk.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from mediawatch.runtime.auth import AuthError, Principal, TokenStore, token_digest

#: The session cookie's name.
SESSION_COOKIE = "mw_session"
#: Header and form field that carry the CSRF token of a change.
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
#: Methods that change something, and so need the CSRF token.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Session:
    session_id: str
    csrf_token: str
    token_digest: str
    expires_at: float


class SessionStore:
    """Open sessions by id; each lasts ``ttl_s`` from login (no sliding renewal, so a
    stolen cookie stops working on its own)."""

    def __init__(
        self,
        tokens: TokenStore,
        *,
        ttl_s: float = 8 * 3600.0,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tokens = tokens
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self.clock = clock
        self._sessions: dict[str, Session] = {}

    def open(self, token: str) -> tuple[Session, Principal]:
        """A new session for a valid token; :class:`AuthError` 401 for any other."""
        principal = self.tokens.authenticate(f"Bearer {token.strip()}")
        self._forget_expired()
        if len(self._sessions) >= self.max_sessions:  # the oldest make room
            for session_id in sorted(self._sessions, key=lambda s: self._sessions[s].expires_at)[
                : len(self._sessions) - self.max_sessions + 1
            ]:
                del self._sessions[session_id]
        session = Session(
            session_id=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            token_digest=token_digest(token.strip()),
            expires_at=self.clock() + self.ttl_s,
        )
        self._sessions[session.session_id] = session
        return session, principal

    def resume(self, session_id: str) -> tuple[Session, Principal]:
        """The session of a cookie and its principal now; :class:`AuthError` 401 when the
        session is unknown, expired, or its token was revoked."""
        session = self._sessions.get(session_id)
        if session is None:
            raise AuthError(401, "no such session (logged out, expired or the server restarted)")
        if session.expires_at <= self.clock():
            del self._sessions[session_id]
            raise AuthError(401, "the session expired: log in again")
        try:
            principal = self.tokens.principal_of_digest(session.token_digest)
        except AuthError:
            del self._sessions[session_id]
            raise
        return session, principal

    def close(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def _forget_expired(self) -> None:
        now = self.clock()
        for session_id in [s for s, v in self._sessions.items() if v.expires_at <= now]:
            del self._sessions[session_id]


def csrf_matches(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf_token, presented)
