"""remote: fetching client-named URLs safely, against local test servers only."""

from __future__ import annotations

import ipaddress

import pytest

from gpt2giga.gigachat.remote import Fetcher, Refused, refusal, target
from tests.local_server import (
    LocalServer,
    chunked,
    redirect,
    response,
    self_signed,
    stall,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"p" * 56
LOOPBACK = [ipaddress.ip_network("127.0.0.1/32")]


def cap(n: int) -> object:
    return lambda content_type: n


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("::ffff:192.168.0.1", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("::ffff:169.254.169.254", "a cloud metadata address"),
        ("64:ff9b::a9fe:a9fe", "a cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("2002:7f00:1::", "a loopback address"),  # 6to4 around 127.0.0.1
        ("100.64.0.1", "not a public address"),  # shared address space (CGNAT)
        ("198.18.0.1", "a private address"),
        ("240.0.0.1", "a private address"),
        ("2001:db8::1", "a private address"),
    ],
)
def test_non_public_addresses_are_refused_with_the_reason(address: str, why: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_an_allowed_network_opens_exactly_that_range() -> None:
    allowed = [ipaddress.ip_network("10.0.0.0/24")]
    assert refusal(ipaddress.ip_address("10.0.0.7"), allowed) is None
    assert refusal(ipaddress.ip_address("::ffff:10.0.0.7"), allowed) is None
    assert refusal(ipaddress.ip_address("10.0.1.7"), allowed) == "a private address"


# --- the URL itself ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com/a.png", "only https URLs are fetched, not http ones"),
        ("ftp://example.com/a.png", "only https URLs are fetched, not ftp ones"),
        ("file:///etc/passwd", "only https URLs are fetched, not file ones"),
        ("gopher://example.com/", "only https URLs are fetched, not gopher ones"),
        ("//example.com/a.png", "only https URLs are fetched"),
        ("https://user:secret@example.com/a.png", "URLs with credentials are not fetched"),
        ("https:///a.png", "the URL has no host"),
        ("https://example.com:99999/", "the URL is not valid"),
    ],
)
def test_urls_are_refused_before_any_network(url: str, why: str) -> None:
    with pytest.raises(Refused) as exc:
        Fetcher().check(url)
    assert str(exc.value) == why


def test_http_is_fetched_only_when_allowed() -> None:
    Fetcher(allow_http=True).check("http://example.com/a.png")


@pytest.mark.parametrize(
    ("url", "host", "request_target", "port"),
    [
        ("https://Example.COM/a b.png?x=1 2", b"example.com", b"/a%20b.png?x=1%202", 443),
        ("https://example.com", b"example.com", b"/", 443),
        ("https://[::1]:8443/p", b"[::1]:8443", b"/p", 8443),
        ("https://пример.рф/к.png", b"xn--e1afmkfd.xn--p1ai", b"/%D0%BA.png", 443),
        ("http://example.com:80/a#frag", b"example.com", b"/a", 80),
    ],
)
def test_the_request_names_the_url_host(
    url: str, host: bytes, request_target: bytes, port: int
) -> None:
    found = target(url, frozenset({"https", "http"}))
    assert found.host_header == host
    assert found.url.target == request_target
    assert found.url.port == port


# --- against local servers ---------------------------------------------------------


async def test_loopback_is_refused_and_never_connected_to() -> None:
    async with LocalServer({"/a.png": response(body=PNG)}) as server:
        with pytest.raises(Refused, match=r"^127\.0\.0\.1 is a loopback address$"):
            await Fetcher(allow_http=True).fetch(server.url("/a.png"), cap(100))
        with pytest.raises(Refused, match=r"^localhost resolves to a loopback address$"):
            await Fetcher(allow_http=True).fetch(server.url("/a.png", host="localhost"), cap(100))
    assert server.connections == 0


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://[::1]/a.png", "::1 is a loopback address"),
        (
            "https://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is a cloud metadata address",
        ),
        ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is a loopback address"),
        ("https://0.0.0.0/", "0.0.0.0 is an unspecified address"),
        ("https://10.0.0.1/", "10.0.0.1 is a private address"),
    ],
)
async def test_address_literals_are_refused_before_connecting(url: str, why: str) -> None:
    fetcher = Fetcher()
    with pytest.raises(Refused) as exc:
        await fetcher.fetch(url, cap(100))
    assert str(exc.value) == why


async def test_a_name_resolving_to_a_private_address_is_refused_without_naming_it() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.20.30.40"]

    with pytest.raises(Refused) as exc:
        await Fetcher(resolve=resolve).fetch("https://files.example/a.png", cap(100))
    assert str(exc.value) == "files.example resolves to a private address"


async def test_an_allowed_local_address_is_fetched_with_only_the_gateways_headers() -> None:
    async with LocalServer(
        {"/a.png": response(body=PNG, headers={"Content-Type": "image/png"})}
    ) as s:
        fetched = await Fetcher(allow_http=True, allowed=LOOPBACK).fetch(s.url("/a.png"), cap(100))
    assert fetched.data == PNG
    assert fetched.content_type == "image/png"
    assert fetched.url == s.url("/a.png")
    [seen] = s.seen
    assert seen.method == "GET"
    assert seen.headers == [
        ("Host", f"127.0.0.1:{s.port}"),
        ("Accept", "*/*"),
        ("Accept-Encoding", "identity"),
        ("User-Agent", "gpt2giga"),
    ]


@pytest.mark.parametrize(
    ("location", "why"),
    [
        ("http://10.0.0.1/a.png", "10.0.0.1 is a private address"),
        (
            "http://169.254.169.254/latest/meta-data/iam",
            "169.254.169.254 is a cloud metadata address",
        ),
        ("http://[::1]:8080/", "::1 is a loopback address"),
        ("http://127.0.0.2/", "127.0.0.2 is a loopback address"),  # beside the allowed one
    ],
)
async def test_every_redirect_hop_is_checked_again(location: str, why: str) -> None:
    routes = {"/a.png": redirect("/b.png"), "/b.png": redirect(location)}
    async with LocalServer(routes) as s:
        with pytest.raises(Refused) as exc:
            await Fetcher(allow_http=True, allowed=LOOPBACK).fetch(s.url("/a.png"), cap(100))
    assert str(exc.value) == why
    assert [seen.path for seen in s.seen] == ["/a.png", "/b.png"]


async def test_a_redirect_to_http_is_refused_when_http_is_not_allowed() -> None:
    cert = self_signed("files.test")

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    async with LocalServer({"/a.png": redirect("http://files.test/a.png")}, tls=cert.server) as s:
        fetcher = Fetcher(resolve=resolve, allowed=LOOPBACK, ssl_context=cert.client)
        with pytest.raises(Refused, match=r"^only https URLs are fetched, not http ones$"):
            await fetcher.fetch(s.url("/a.png", "https", "files.test"), cap(100))
    assert len(s.seen) == 1


async def test_redirects_are_followed_a_few_times_only() -> None:
    routes = {
        "/1": redirect("/2", 301),
        "/2": redirect("/3", 307),
        "/3": redirect("/4", 308),
        "/4": response(body=PNG),
        "/0": redirect("/1", 303),
    }
    fetcher = Fetcher(allow_http=True, allowed=LOOPBACK)
    async with LocalServer(routes) as s:
        assert (await fetcher.fetch(s.url("/1"), cap(100))).url == s.url("/4")
        with pytest.raises(Refused, match="more than 3 redirects"):
            await fetcher.fetch(s.url("/0"), cap(100))


async def test_a_body_over_the_limit_is_refused_by_its_declared_length_before_reading() -> None:
    async with LocalServer({"/big.png": stall(b"", 10_000)}) as s:
        with pytest.raises(Refused, match="the file is 10000 bytes, over the limit of 100 bytes"):
            await Fetcher(allow_http=True, allowed=LOOPBACK).fetch(s.url("/big.png"), cap(100))


async def test_a_body_without_a_length_is_stopped_at_the_limit() -> None:
    fetcher = Fetcher(allow_http=True, allowed=LOOPBACK)
    async with LocalServer({"/ok": chunked(b"x" * 10, 10), "/big": chunked(b"x" * 10, 11)}) as s:
        assert len((await fetcher.fetch(s.url("/ok"), cap(100))).data) == 100
        with pytest.raises(Refused, match="the file is over the limit of 100 bytes"):
            await fetcher.fetch(s.url("/big"), cap(100))


async def test_the_limit_sees_the_content_type_and_may_refuse_it() -> None:
    def limit(content_type: str) -> int:
        raise Refused(f"no {content_type}")

    body = response(body=b"<html>", headers={"Content-Type": "text/html; charset=utf-8"})
    async with LocalServer({"/": body}) as s:
        with pytest.raises(Refused, match="no text/html"):
            await Fetcher(allow_http=True, allowed=LOOPBACK).fetch(s.url("/"), limit)


async def test_a_stalled_body_hits_the_read_timeout() -> None:
    fetcher = Fetcher(allow_http=True, allowed=LOOPBACK, read_timeout=0.2, deadline=30)
    async with LocalServer({"/slow.png": stall(b"\x89PNG", 64)}) as s:
        with pytest.raises(Refused, match="the server did not answer in time"):
            await fetcher.fetch(s.url("/slow.png"), cap(100))


async def test_a_slow_download_hits_the_overall_deadline() -> None:
    fetcher = Fetcher(allow_http=True, allowed=LOOPBACK, read_timeout=30, deadline=0.2)
    async with LocalServer({"/slow.png": stall(b"\x89PNG", 64)}) as s:
        with pytest.raises(Refused, match=r"the download took longer than 0\.2 s"):
            await fetcher.fetch(s.url("/slow.png"), cap(100))


@pytest.mark.parametrize(
    ("handler", "why"),
    [
        (response(404), "the server answered 404"),
        (response(302), "the server answered 302 without a Location"),
        (
            response(body=b"\x1f\x8b", headers={"Content-Encoding": "gzip"}),
            "the server sent a gzip-encoded body",
        ),
    ],
)
async def test_answers_that_are_not_a_file_are_refused(handler: object, why: str) -> None:
    async with LocalServer({"/f": handler}) as s:  # type: ignore[dict-item]
        with pytest.raises(Refused) as exc:
            await Fetcher(allow_http=True, allowed=LOOPBACK).fetch(s.url("/f"), cap(100))
    assert str(exc.value) == why


async def test_a_closed_port_cannot_be_connected_to() -> None:
    async with LocalServer({}) as s:
        port = s.port
    with pytest.raises(Refused, match=r"^cannot connect \(ConnectError\)$"):
        await Fetcher(allow_http=True, allowed=LOOPBACK).fetch(
            f"http://127.0.0.1:{port}/", cap(100)
        )


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(Refused, match=r"^nowhere\.invalid does not resolve$"):
        await Fetcher(resolve=resolve).fetch("https://nowhere.invalid/a.png", cap(100))


async def test_https_connects_to_the_checked_address_and_names_the_host_for_tls() -> None:
    cert = self_signed("files.test")
    lookups: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    body = response(body=PNG, headers={"Content-Type": "image/png"})
    async with LocalServer({"/a.png": body}, tls=cert.server) as s:
        fetcher = Fetcher(resolve=resolve, allowed=LOOPBACK, ssl_context=cert.client)
        fetched = await fetcher.fetch(s.url("/a.png", "https", "files.test"), cap(100))
    assert fetched.data == PNG
    assert lookups == ["files.test"]  # resolved once, then connected by address
    assert cert.names == ["files.test"]  # TLS was told the host, not the address
    assert s.seen[0].headers[0] == ("Host", f"files.test:{s.port}")


async def test_https_refuses_a_certificate_for_another_host() -> None:
    cert = self_signed("other.test")

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    async with LocalServer({"/a.png": response(body=PNG)}, tls=cert.server) as s:
        fetcher = Fetcher(resolve=resolve, allowed=LOOPBACK, ssl_context=cert.client)
        with pytest.raises(Refused, match=r"cannot connect \(TLS certificate not trusted\)"):
            await fetcher.fetch(s.url("/a.png", "https", "files.test"), cap(100))
    assert s.seen == []
