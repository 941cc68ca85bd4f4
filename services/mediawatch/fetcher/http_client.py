"""A good-citizen HTTP client: named user agent, conditional GET, per-host concurrency and
politeness delay, timeouts, a cap on decoded body size, bounded redirects, retries with
exponential backoff and jitter (Retry-After honoured, capped), robots.txt for pages.

Retrying is tenacity's and robots.txt matching protego's (RFC 9309, wildcards included);
docs/fetcher.md says why each library and what is still ours."""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx
from charset_normalizer import from_bytes
from protego import Protego
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from mediawatch.fetcher.guard import (
    AddressPolicy,
    AddressRefused,
    Resolver,
    guarded_transport,
    resolve_with_system,
)
from mediawatch.fetcher.settings import FetcherSettings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Robots rules standing in for a robots.txt that could not be read (unreachable or 5xx):
#: everything is disallowed for a short while, as RFC 9309 section 2.3.1.4 asks.
_DISALLOW_ALL = "User-agent: *\nDisallow: /\n"
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)


class FetchError(Exception):
    """A fetch failed; ``kind`` is the metrics outcome (timeout, too_large, http_error, ...)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        url: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{message} ({url})")
        self.message = message
        self.kind = kind
        self.url = url
        self.status = status
        self.retry_after = retry_after


@dataclass
class FetchResult:
    url: str
    final_url: str
    status: int
    headers: httpx.Headers
    body: bytes = b""
    elapsed_s: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def text(self) -> str:
        return decode_body(self.body, self.headers.get("content-type"))


def _valid_codec(name: str) -> str | None:
    import codecs

    try:
        codec: str = codecs.lookup(name.strip().strip("\"'")).name
        return codec
    except LookupError:
        return None


def declared_encoding(body: bytes, content_type: str | None) -> str | None:
    """Charset from the Content-Type header, else a BOM, the XML declaration or meta charset."""
    if content_type:
        match = re.search(r"charset\s*=\s*([^;\s]+)", content_type, re.I)
        if match and (codec := _valid_codec(match.group(1))):
            return codec
    if body.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    head = body[:4096]
    for pattern in (_XML_ENCODING, _META_CHARSET):
        found = pattern.search(head)
        if found and (codec := _valid_codec(found.group(1).decode("ascii", "replace"))):
            return codec
    return None


def decode_body(body: bytes, content_type: str | None = None) -> str:
    """Bytes to text: header charset, then BOM/XML declaration/meta charset, then detection."""
    codec = declared_encoding(body, content_type)
    if codec is not None:
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(body).best()
    if best is not None:
        return str(best)
    return body.decode("utf-8", errors="replace")


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, moment.timestamp() - current)


@dataclass
class _HostGate:
    semaphore: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0


@dataclass
class _Validators:
    etag: str | None
    last_modified: str | None


@dataclass
class _Robots:
    rules: Protego | None  # None: everything allowed
    expires: float


def _retryable(exc: BaseException) -> bool:
    """Timeouts, refused connections, 429 and 5xx are worth another try; the rest is not."""
    if not isinstance(exc, FetchError):
        return False
    return exc.kind in {"timeout", "connection"} or exc.status in RETRY_STATUSES


def timeout_error(url: str, deadline: str) -> FetchError:
    """The error of a server that does not answer in time, whichever deadline fired first
    (httpx's connect/read/write/pool timeouts or our overall one): one kind and one wording,
    so that logs, metrics and the fault suite see the same thing either way."""
    return FetchError("timeout", f"timeout: the request took too long ({deadline})", url=url)


class PoliteClient:
    """One per fetcher process; shared by every source so per-host limits hold globally."""

    def __init__(
        self,
        settings: FetcherSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = resolve_with_system,
    ) -> None:
        """``transport`` replaces the network (tests of the client's logic); otherwise
        every connection goes through the address guard, resolving with ``resolver``
        (default: the system's)."""
        self.settings = settings
        timeout = httpx.Timeout(
            connect=settings.connect_timeout_s,
            read=settings.read_timeout_s,
            write=settings.read_timeout_s,
            pool=settings.total_timeout_s,
        )
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        if transport is None:
            policy = AddressPolicy.from_setting(settings.fetch_allow)
            transport = guarded_transport(policy, limits=limits, resolver=resolver)
        self._client = httpx.AsyncClient(
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
        )
        self._gates: dict[str, _HostGate] = {}
        self._validators: dict[str, _Validators] = {}
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- politeness -------------------------------------------------------------------------
    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = _HostGate(asyncio.Semaphore(self.settings.per_host_concurrency))
            self._gates[host] = gate
        return gate

    async def _wait_turn(self, gate: _HostGate) -> None:
        async with gate.lock:
            now = time.monotonic()
            wait = gate.next_start - now
            gate.next_start = max(now, gate.next_start) + self.settings.politeness_delay_s
        if wait > 0:
            await asyncio.sleep(wait)

    # -- robots.txt -------------------------------------------------------------------------
    async def allowed(self, url: str) -> bool:
        """Whether robots.txt of the URL's host lets our user agent fetch it (cached)."""
        if not self.settings.respect_robots:
            return True
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            entry = self._robots.get(origin)
            if entry is None or entry.expires < time.monotonic():
                entry = await self._load_robots(origin)
                self._robots[origin] = entry
        if entry.rules is None:
            return True
        return bool(entry.rules.can_fetch(url, self.settings.user_agent))

    async def _load_robots(self, origin: str) -> _Robots:
        expires = time.monotonic() + self.settings.robots_cache_s
        try:
            result = await self.get(f"{origin}/robots.txt", conditional=False, retries=1)
        except FetchError as exc:
            if exc.kind == "refused_address":
                raise  # the host itself is refused: say so, not that robots.txt disallows
            if exc.status is not None and 400 <= exc.status < 500:
                return _Robots(None, expires)  # no robots.txt: everything allowed
            # Unreachable or 5xx: assume disallowed for a short while, as crawlers do.
            rules = Protego.parse(_DISALLOW_ALL)
            return _Robots(rules, time.monotonic() + min(300.0, self.settings.robots_cache_s))
        return _Robots(Protego.parse(result.text()), expires)

    # -- fetching ---------------------------------------------------------------------------
    async def get(
        self,
        url: str,
        *,
        conditional: bool = True,
        retries: int | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """GET ``url`` following redirects; 304 comes back as a result with ``not_modified``.

        Raises :class:`FetchError` for everything else that is not a 2xx answer. When the
        tries failed in different ways (a 500, then no answer), the error is the last one's,
        and its message also names the earlier ones: the user sees everything that went wrong.
        """
        attempts = 1 + (self.settings.retry_attempts if retries is None else retries)
        started = time.monotonic()
        earlier: list[str] = []

        def remember(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome is not None else None
            if isinstance(failure, FetchError):
                earlier.append(failure.message)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=self._backoff,
            retry=retry_if_exception(_retryable),
            before_sleep=remember,
            reraise=True,  # the caller sees our FetchError, not tenacity's RetryError
        )
        try:
            async for attempt in retrying:
                with attempt:
                    result = await self._follow(url, conditional=conditional, accept=accept)
        except FetchError as last:
            others = [message for message in dict.fromkeys(earlier) if message != last.message]
            if not others:
                raise
            raise FetchError(
                last.kind,
                f"{last.message}; earlier tries: {', '.join(others)}",
                url=last.url,
                status=last.status,
                retry_after=last.retry_after,
            ) from None
        result.elapsed_s = time.monotonic() - started
        return result

    def _backoff(self, state: RetryCallState) -> float:
        """Retry-After when the server sent one, else exponential backoff with full jitter;
        both capped by ``retry_max_delay_s``."""
        cap = self.settings.retry_max_delay_s
        failure = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failure, FetchError) and failure.retry_after is not None:
            return min(cap, failure.retry_after) + random.uniform(0, 0.1)
        exponential = wait_random_exponential(multiplier=self.settings.retry_base_delay_s, max=cap)
        return exponential(state)

    async def _follow(self, url: str, *, conditional: bool, accept: str | None) -> FetchResult:
        visited: list[str] = []
        current = url
        while True:
            if current in visited:
                raise FetchError("redirect_loop", f"redirect loop via {visited}", url=url)
            if len(visited) > self.settings.max_redirects:
                raise FetchError(
                    "too_many_redirects",
                    f"more than {self.settings.max_redirects} redirects",
                    url=url,
                )
            visited.append(current)
            result, location = await self._once(current, conditional=conditional, accept=accept)
            if location is None:
                result.url = url
                return result
            current = urljoin(current, location)
            if urlsplit(current).scheme not in {"http", "https"}:
                raise FetchError("error", f"redirect to unsupported URL {current}", url=url)

    async def _once(
        self, url: str, *, conditional: bool, accept: str | None
    ) -> tuple[FetchResult, str | None]:
        host = urlsplit(url).netloc.lower()
        gate = self._gate(host)
        headers: dict[str, str] = {}
        if accept:
            headers["Accept"] = accept
        validators = self._validators.get(url) if conditional else None
        if validators is not None:
            if validators.etag:
                headers["If-None-Match"] = validators.etag
            if validators.last_modified:
                headers["If-Modified-Since"] = validators.last_modified
        cap = self.settings.max_response_bytes
        async with gate.semaphore:
            await self._wait_turn(gate)
            try:
                async with asyncio.timeout(self.settings.total_timeout_s):
                    async with self._client.stream("GET", url, headers=headers) as response:
                        status = response.status_code
                        if status in {301, 302, 303, 307, 308}:
                            location = response.headers.get("location")
                            if not location:
                                raise FetchError(
                                    "http_error", f"HTTP {status} without Location", url=url
                                )
                            return FetchResult(url, url, status, response.headers), location
                        if status == 304:
                            return FetchResult(url, url, 304, response.headers), None
                        if status >= 400 or status < 200:
                            raise FetchError(
                                "http_error",
                                f"HTTP {status}",
                                url=url,
                                status=status,
                                retry_after=retry_after_seconds(
                                    response.headers.get("retry-after")
                                ),
                            )
                        declared = response.headers.get("content-length")
                        if declared and declared.isdigit() and int(declared) > cap:
                            raise FetchError(
                                "too_large", f"Content-Length {declared} exceeds {cap} bytes",
                                url=url,
                            )  # fmt: skip
                        chunks: list[bytes] = []
                        size = 0
                        # aiter_bytes yields *decoded* bytes, so a gzip bomb is cut off too.
                        async for chunk in response.aiter_bytes():
                            size += len(chunk)
                            if size > cap:
                                raise FetchError(
                                    "too_large", f"body exceeds {cap} bytes (cut off)", url=url
                                )
                            chunks.append(chunk)
                        result = FetchResult(url, url, status, response.headers, b"".join(chunks))
            except TimeoutError:
                deadline = f"over the {self.settings.total_timeout_s:g}s overall deadline"
                raise timeout_error(url, deadline) from None
            except httpx.TimeoutException as exc:
                raise timeout_error(url, type(exc).__name__) from None
            except AddressRefused as exc:
                raise FetchError("refused_address", str(exc), url=url) from None
            except httpx.DecodingError as exc:
                raise FetchError("error", f"undecodable body: {exc}", url=url) from None
            except (httpx.TransportError, OSError) as exc:
                message = f"connection failed: {type(exc).__name__} {exc}".strip()
                raise FetchError("connection", message, url=url) from None
        etag = result.headers.get("etag")
        last_modified = result.headers.get("last-modified")
        if conditional and (etag or last_modified):  # only for URLs polled again and again
            self._validators[url] = _Validators(etag, last_modified)
        return result, None

    def forget_validators(self, url: str) -> None:
        """Drop the ETag/Last-Modified of ``url`` (after a page failed to be processed)."""
        self._validators.pop(url, None)
