"""The HTTP server every service runs: ``/metrics``, ``/healthz``, ``/readyz``, plus routes
a service adds (the fetcher's push endpoint).

Readiness is a callback so that each service decides what "ready" means (connected to
Kafka, partitions assigned); liveness only says the event loop still answers.

Every route says which role it needs (:meth:`ServiceHttpServer.add_route`); a route added to
``app.router`` behind the server's back needs ``admin``, so a forgotten declaration locks a
door instead of opening one. The probes are open unless ``http_probes_require_token``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from mediawatch.runtime.auth import (
    AuthError,
    Principal,
    Role,
    TokenStore,
    authorise,
    token_store_of,
)
from mediawatch.runtime.sessions import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    UNSAFE_METHODS,
    Session,
    SessionStore,
    csrf_matches,
)
from mediawatch.runtime.settings import ServiceSettings

ReadinessCheck = Callable[[], tuple[bool, str]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: What a route answers instead of the JSON error when a request is refused (a web page
#: sends the browser to its login form).
Refusal = Callable[[web.Request, AuthError], Awaitable[web.StreamResponse]]
#: Where the access middleware leaves the :class:`Principal` of an authenticated request.
PRINCIPAL = web.RequestKey("mediawatch.principal", Principal)
#: The browser session of a request authenticated by its session cookie.
SESSION = web.RequestKey("mediawatch.session", Session)
#: The role of a route nobody declared: the strictest.
UNDECLARED_ROUTE_ROLE = Role.ADMIN


def principal_of(request: web.Request) -> Principal:
    """The authenticated caller of a route that needs a role."""
    return request[PRINCIPAL]


def auth_error_response(error: AuthError) -> web.Response:
    headers = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="mediawatch", error="invalid_token"'
    return web.json_response({"error": error.message}, status=error.status, headers=headers)


class ServiceHttpServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        readiness: ReadinessCheck,
        tokens: TokenStore,
        probes_require_token: bool = False,
        registry: CollectorRegistry = REGISTRY,
        client_max_size: int = 1024**2,
        max_line_size: int = 8190,
    ) -> None:
        self.host = host
        self.port = port
        #: Longest request line (method, path and query string) the server reads; a longer
        #: one is refused by aiohttp's parser before any route sees it.
        self.max_line_size = max_line_size
        self.readiness = readiness
        self.registry = registry
        self.tokens = tokens
        self.app = web.Application(client_max_size=client_max_size, middlewares=[self._access])
        self._required: dict[web.AbstractResource, Role | None] = {}
        self._refusals: dict[web.AbstractResource, Refusal] = {}
        #: Browser sessions, where the service serves pages (:meth:`accept_sessions`).
        self.sessions: SessionStore | None = None
        probes = Role.VIEWER if probes_require_token else None
        self.add_route("GET", "/metrics", self._metrics, role=probes)
        self.add_route("GET", "/healthz", self._healthz, role=probes)
        self.add_route("GET", "/readyz", self._readyz, role=probes)
        self._runner: web.AppRunner | None = None

    @classmethod
    def for_service(
        cls,
        settings: ServiceSettings,
        *,
        readiness: ReadinessCheck,
        client_max_size: int = 1024**2,
        max_line_size: int = 8190,
    ) -> ServiceHttpServer:
        """The server of a service: its address, its tokens, its probe setting."""
        return cls(
            settings.http_host,
            settings.http_port,
            readiness=readiness,
            tokens=token_store_of(settings),
            probes_require_token=settings.http_probes_require_token,
            client_max_size=client_max_size,
            max_line_size=max_line_size,
        )

    def add_route(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        role: Role | None,
        on_refusal: Refusal | None = None,
    ) -> None:
        """Serve ``handler`` at ``path`` to tokens whose role grants ``role`` (None: open);
        ``on_refusal`` answers a refused request instead of the JSON error."""
        route = self.app.router.add_route(method, path, handler)
        self._required[route.resource] = role  # type: ignore[index]
        if on_refusal is not None:
            self._refusals[route.resource] = on_refusal  # type: ignore[index]

    def accept_sessions(self, sessions: SessionStore) -> None:
        """Also admit requests by a session cookie of ``sessions`` (changes need its CSRF
        token); a request with an Authorization header is judged by that header alone."""
        self.sessions = sessions

    async def _authenticate(self, request: web.Request) -> Principal:
        authorization = request.headers.get("Authorization")
        cookie = request.cookies.get(SESSION_COOKIE)
        if authorization is not None or self.sessions is None or cookie is None:
            return self.tokens.authenticate(authorization)
        session, principal = self.sessions.resume(cookie)
        if request.method in UNSAFE_METHODS:
            presented = request.headers.get(CSRF_HEADER)
            if presented is None and request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                form = await request.post()  # cached: the handler reads it again
                field = form.get(CSRF_FIELD)
                presented = field if isinstance(field, str) else None
            if not csrf_matches(session, presented):
                raise AuthError(
                    403,
                    f"a change made with a session cookie needs the session's CSRF token "
                    f"(header {CSRF_HEADER} or form field {CSRF_FIELD}); it was "
                    + ("missing" if presented is None else "wrong"),
                )
        request[SESSION] = session
        return principal

    @web.middleware
    async def _access(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        match = request.match_info
        if match.http_exception is not None:  # 404, 405: nothing behind it to protect
            return await handler(request)
        resource = match.route.resource
        required = (
            UNDECLARED_ROUTE_ROLE
            if resource is None
            else self._required.get(resource, UNDECLARED_ROUTE_ROLE)
        )
        if required is not None:
            try:
                principal = await self._authenticate(request)
                authorise(principal, required)
            except AuthError as exc:
                refusal = self._refusals.get(resource) if resource is not None else None
                if refusal is not None:
                    return await refusal(request, exc)
                return auth_error_response(exc)
            request[PRINCIPAL] = principal
        return await handler(request)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        ready, reason = self.readiness()
        return web.json_response({"ready": ready, "reason": reason}, status=200 if ready else 503)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, max_line_size=self.max_line_size)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0 and site._server is not None:  # report the port chosen by the OS
            sockets = getattr(site._server, "sockets", None) or []
            if sockets:
                self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
