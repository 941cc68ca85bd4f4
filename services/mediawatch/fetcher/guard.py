"""The fetcher stays in its lane: no connection to loopback, link-local, private, multicast,
reserved or otherwise non-public addresses unless the allow-list (``MEDIAWATCH_FETCH_ALLOW``)
names them, so that a hostile feed cannot make the fetcher read internal services (SSRF).

The check sits in the httpcore network backend, where a connection is opened: the host name
is resolved there, every address is checked, and the connection goes to a checked address
(the IP itself, so nothing resolves the name a second time). A name that resolves to a
public address for a check and to an internal one for the connection (DNS rebinding) is
therefore covered, and so is every redirect hop, since each hop opens its own connection
(or reuses one that was checked when it was opened). TLS still verifies the host name: httpcore
starts TLS on the stream with the origin's name, not the IP.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: (host, port) -> the addresses the name resolves to, as strings.
Resolver = Callable[[str, int], Awaitable[list[str]]]


class AddressRefused(Exception):
    """The fetcher will not connect to this host: every address it resolves to is refused."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(
            f"refused to connect to {host} at {address} ({reason} address); allow it with "
            "MEDIAWATCH_FETCH_ALLOW if this deployment must fetch from it"
        )
        self.host, self.address, self.reason = host, address, reason


def address_class(address: IPAddress) -> str | None:
    """Why an address is not public (loopback, link-local, private, multicast, reserved,
    unspecified, non-global), or None for a public one. An IPv4-mapped IPv6 address is
    judged as the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-global", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def parse_allow_list(value: str) -> tuple[tuple[IPNetwork, ...], frozenset[str]]:
    """``127.0.0.0/8, intranet.example`` -> (networks, host names); ValueError names the
    entry that is neither."""
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        name = entry.lower().rstrip(".")
        labels = name.split(".")
        if not all(len(label) <= 63 and label.replace("-", "").isalnum() for label in labels):
            raise ValueError(f"{entry!r} is neither a CIDR/IP address nor a host name")
        hosts.add(name)
    return tuple(networks), frozenset(hosts)


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses, plus what the allow-list names."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_setting(cls, value: str) -> AddressPolicy:
        networks, hosts = parse_allow_list(value)
        return cls(networks, hosts)

    def refusal(self, host: str, address: str) -> str | None:
        """Why the fetcher may not connect to ``address`` (what ``host`` resolved to), or
        None when it may."""
        if host.lower().rstrip(".") in self.allowed_hosts:
            return None
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
        if any(ip in network for network in self.allowed_networks):
            return None
        return address_class(ip)


async def resolve_with_system(host: str, port: int) -> list[str]:
    """The addresses of ``host`` by the system resolver. An IP literal is itself, without
    a lookup: getaddrinfo runs in the loop's default executor, where page extraction may
    keep every thread busy for a while."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore backend that resolves, checks and connects to a checked address."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolver: Resolver = resolve_with_system,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self.resolver(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        refused: list[tuple[str, str]] = []
        allowed: list[str] = []
        for address in addresses:
            reason = self.policy.refusal(host, address)
            if reason is None:
                allowed.append(address)
            else:
                refused.append((address, reason))
        if not allowed:
            address, reason = refused[0] if refused else ("no address", "unresolvable")
            raise AddressRefused(host, address, reason)
        last: Exception | None = None
        for address in allowed:  # the first that answers; each of them checked
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused(path, path, "unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_transport(
    policy: AddressPolicy, *, limits: httpx.Limits, resolver: Resolver = resolve_with_system
) -> httpx.AsyncHTTPTransport:
    """httpx's own transport over a pool whose connections go through the guard.

    httpx takes no network backend, so the transport's pool is replaced by an httpcore pool
    built alike (default TLS context, the same limits) with the guarded backend. Proxy
    variables are not followed (``trust_env`` off): through a proxy the guard would check
    the proxy's address, not the site's."""
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedNetworkBackend(policy, resolver=resolver),
    )
    return transport
