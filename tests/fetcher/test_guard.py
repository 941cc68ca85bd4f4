"""The fetcher refuses non-public addresses after DNS resolution, at connect time, and on
every redirect hop.

Network rule of these tests: nothing leaves loopback, even with a broken guard. The private,
link-local, reserved and public ranges are only handed to the address check, never
connected to; the tests that connect use loopback addresses: a page at 127.0.0.2 while only
127.0.0.1 is allowed, a resolver stub that maps a name to 127.0.0.3, a redirect from an
allowed host to a refused loopback address. Each refused server counts its requests, and
the count must stay zero.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import ValidationError

from mediawatch.fetcher.guard import AddressPolicy, address_class, parse_allow_list
from mediawatch.fetcher.http_client import FetchError, PoliteClient
from mediawatch.fetcher.service import Fetcher
from mediawatch.fetcher.settings import FetcherSettings
from mediawatch.fetcher.sources import Source
from tests.support.site import rss


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "non-global"),  # carrier-grade NAT
        ("192.0.2.10", "private"),  # documentation range (TEST-NET-1)
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped: judged as the IPv4 address
        ("::ffff:127.0.0.1", "loopback"),
        ("1.1.1.1", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_classes_without_connecting(address: str, expected: str | None) -> None:
    assert address_class(ipaddress.ip_address(address)) == expected


def test_the_allow_list_opts_networks_and_hosts_in() -> None:
    policy = AddressPolicy.from_setting("127.0.0.1/32, 10.20.0.0/16, Intranet.Example.")
    assert policy.refusal("anything", "127.0.0.1") is None
    assert policy.refusal("anything", "127.0.0.2") == "loopback"
    assert policy.refusal("anything", "10.20.3.4") is None
    assert policy.refusal("anything", "10.21.0.1") == "private"
    assert policy.refusal("intranet.example", "10.99.0.1") is None  # allowed by name
    assert policy.refusal("anything", "fe80::1%eth0") == "link-local"  # zone id dropped
    assert AddressPolicy().refusal("x", "1.1.1.1") is None


def test_a_bad_allow_list_entry_is_named() -> None:
    with pytest.raises(ValueError, match="'not a host!' is neither a CIDR/IP address nor"):
        parse_allow_list("127.0.0.0/8, not a host!")
    with pytest.raises(ValidationError, match="fetch_allow"):
        FetcherSettings(fetch_allow="10.0.0.0/33")


# -- connecting, on loopback only ---------------------------------------------------------


@dataclass
class Counted:
    host: str
    port: int = 0
    hits: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


@asynccontextmanager
async def serve(
    host: str, routes: dict[str, web.Response] | None = None, port: int = 0
) -> AsyncIterator[Counted]:
    """A loopback server that answers every path (``routes`` or a small page) and counts
    the requests it received; each answer closes its connection, so that every request
    opens a new one."""
    counted = Counted(host)

    async def answer(request: web.Request) -> web.Response:
        counted.hits.append(request.path)
        response = (routes or {}).get(request.path) or web.Response(
            text="<html><body><p>hello</p></body></html>", content_type="text/html"
        )
        response.force_close()
        return response

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    counted.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield counted
    finally:
        await runner.cleanup()


def settings(allow: str, **extra: object) -> FetcherSettings:
    values: dict[str, object] = {
        "fetch_allow": allow,
        "politeness_delay_s": 0.0,
        "retry_attempts": 0,
        "total_timeout_s": 5.0,
    }
    return FetcherSettings(**(values | extra))  # type: ignore[arg-type]


async def test_a_page_at_127_0_0_2_is_refused_while_only_127_0_0_1_is_allowed() -> None:
    async with serve("127.0.0.2") as refused:
        client = PoliteClient(settings("127.0.0.1/32"))
        try:
            with pytest.raises(FetchError) as error:
                await client.get(f"{refused.base}/page")
        finally:
            await client.aclose()
        allowed = PoliteClient(settings("127.0.0.0/8"))  # the same page, allowed: fetched
        try:
            assert (await allowed.get(f"{refused.base}/page")).status == 200
        finally:
            await allowed.aclose()
    assert error.value.kind == "refused_address"
    assert str(error.value) == (
        "refused to connect to 127.0.0.2 at 127.0.0.2 (loopback address); allow it with "
        f"MEDIAWATCH_FETCH_ALLOW if this deployment must fetch from it ({refused.base}/page)"
    )
    assert refused.hits == ["/page"], "only the allowed client may have reached it"


async def test_the_default_refuses_loopback_too() -> None:
    async with serve("127.0.0.1") as site:
        client = PoliteClient(settings(""))
        try:
            with pytest.raises(FetchError, match=r"at 127\.0\.0\.1 \(loopback address\)"):
                await client.get(f"{site.base}/")
        finally:
            await client.aclose()
    assert site.hits == []


async def test_a_name_is_checked_at_the_address_it_resolves_to_on_each_connection() -> None:
    """DNS rebinding: the stub answers 127.0.0.1 (allowed) first and 127.0.0.3 (refused)
    next; the second connection is refused although the name and the URL are the same."""
    async with serve("127.0.0.1") as allowed, serve("127.0.0.3", port=allowed.port) as refused:
        answers = iter(["127.0.0.1", "127.0.0.3"])
        asked: list[tuple[str, int]] = []

        async def rebinding(host: str, port: int) -> list[str]:
            asked.append((host, port))
            return [next(answers)]

        client = PoliteClient(settings("127.0.0.1/32"), resolver=rebinding)
        url = f"http://news.example:{allowed.port}/article"
        try:
            first = await client.get(url)
            with pytest.raises(FetchError) as second:
                await client.get(url)
        finally:
            await client.aclose()
    assert first.status == 200 and allowed.hits == ["/article"]
    assert second.value.kind == "refused_address"
    assert "refused to connect to news.example at 127.0.0.3 (loopback address)" in str(second.value)
    assert refused.hits == []
    assert asked == [("news.example", allowed.port)] * 2


async def test_of_several_addresses_only_an_allowed_one_is_connected_to() -> None:
    async with serve("127.0.0.1") as allowed, serve("127.0.0.3", port=allowed.port) as refused:

        async def both(host: str, port: int) -> list[str]:
            return ["127.0.0.3", "127.0.0.1"]

        client = PoliteClient(settings("127.0.0.1/32"), resolver=both)
        try:
            answer = await client.get(f"http://news.example:{allowed.port}/")
        finally:
            await client.aclose()
    assert answer.status == 200
    assert allowed.hits == ["/"] and refused.hits == []


async def test_a_redirect_from_an_allowed_host_to_a_refused_address_is_refused() -> None:
    async with serve("127.0.0.2") as refused:
        jump = web.Response(status=302, headers={"Location": f"{refused.base}/internal"})
        async with serve("127.0.0.1", {"/jump": jump}) as allowed:
            client = PoliteClient(settings("127.0.0.1/32"))
            try:
                with pytest.raises(FetchError) as error:
                    await client.get(f"{allowed.base}/jump")
            finally:
                await client.aclose()
    assert error.value.kind == "refused_address"
    assert "at 127.0.0.2 (loopback address)" in str(error.value)
    assert error.value.url == f"{refused.base}/internal"
    assert allowed.hits == ["/jump"] and refused.hits == []


async def test_the_refusal_is_on_the_sources_health_and_in_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A feed on an allowed host whose entry links to a refused address: the entry's error
    names the address, in the log and on the source's health."""
    async with serve("127.0.0.2") as refused:
        link = f"{refused.base}/secret-admin"
        feed = web.Response(
            text=rss(refused.base, [("Internal page", "/secret-admin", "")]),
            content_type="application/rss+xml",
        )
        async with serve("127.0.0.1", {"/feed.xml": feed}) as allowed:
            source = Source(id="hostile", type="feed", url=f"{allowed.base}/feed.xml")
            fetcher = Fetcher(settings("127.0.0.1/32", state_dir=tmp_path), [source])
            try:
                with caplog.at_level(logging.WARNING, logger="mediawatch.fetcher"):
                    ok = await fetcher.run_source(source)
            finally:
                await fetcher.stop()  # closes the client and the (never started) producer
    assert not ok
    health = fetcher.health.as_json()["hostile"]
    assert health["healthy"] is False
    assert (
        "refused to connect to 127.0.0.2 at 127.0.0.2 (loopback address)" in (health["last_error"])
    )
    assert link in health["last_error"]
    logged = [getattr(r, "error", "") for r in caplog.records if r.getMessage() == "entry failed"]
    assert any("refused to connect to 127.0.0.2" in m and link in m for m in logged), logged
    assert refused.hits == []
