"""Fetching a URL a client named: a request on the client's behalf, so guarded against SSRF.

Only https (http when the operator allows it); the host is resolved here and
every address it has is checked before connecting (loopback, private,
link-local, multicast, unspecified, reserved and cloud-metadata addresses are
refused, IPv4 and IPv6 alike, IPv4 inside IPv6 too), and the connection goes
to the checked address: no second lookup, while TLS still verifies and names
the URL's host. Each redirect hop is checked again, up to MAX_REDIRECTS;
connect, read and overall deadlines apply; the body is streamed and stopped
at the caller's limit. Nothing of the client's request (headers, credentials)
is sent. This is the one module that connects to hosts a client chose; it
never uses GigaChat's pool or its client certificate.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import NamedTuple
from urllib.parse import quote, urljoin, urlsplit

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolve = Callable[[str, int], Awaitable[list[str]]]

MAX_REDIRECTS = 3
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "gpt2giga"
# Instance metadata services that hand out cloud credentials: AWS/GCP/Azure/
# OpenStack, AWS ECS, AWS over IPv6, Alibaba Cloud. Most are non-public
# anyway; naming them makes the refusal say what was at stake.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Fetched(NamedTuple):
    data: bytes
    content_type: str  # the server's Content-Type, without parameters, lower-case
    url: str  # after redirects


class Refused(Exception):
    """A fetch the gateway will not make or could not finish; the text says why."""


def refusal(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why the gateway must not connect to `address`, or None when it may."""
    if any(address in net for net in allowed if net.version == address.version):
        return None
    inner = embedded_ipv4(address)
    if inner is not None:
        return refusal(inner, allowed)
    if address in METADATA:
        return "a cloud metadata address"
    for test, what in (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_private, "a private address"),
    ):
        if test:
            return what
    if address.is_reserved or not address.is_global:
        return "not a public address"
    return None


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4, Teredo), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return address.teredo[1] if address.teredo is not None else None


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving each host once and connecting to checked addresses."""

    def __init__(self, resolve: Resolve, allowed: Sequence[IPNetwork]) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._resolve = resolve
        self._allowed = allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._addresses(host, port, timeout)
        failure: Exception = Refused(f"{host} has no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure

    async def _addresses(self, host: str, port: int, wait: float | None) -> list[str]:
        try:
            found = await asyncio.wait_for(self._resolve(host, port), wait)
        except TimeoutError:
            raise Refused(f"resolving {host} took too long") from None
        except OSError:
            raise Refused(f"{host} does not resolve") from None
        for text in found:
            why = refusal(ipaddress.ip_address(text.partition("%")[0]), self._allowed)
            if why is not None:
                # A name's addresses stay unnamed: they may map the operator's network.
                raise Refused(
                    f"{host} is {why}" if _is_address(host) else f"{host} resolves to {why}"
                )
        return found

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise Refused("unix sockets are never used")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    return True


class Target(NamedTuple):
    url: httpcore.URL
    host_header: bytes


def target(url: str, schemes: frozenset[str]) -> Target:
    """The request line and Host header for `url`, or Refused: scheme, credentials, host."""
    try:
        parts = urlsplit(url)
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise Refused("the URL is not valid") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        allowed = " or ".join(sorted(schemes))
        raise Refused(
            f"only {allowed} URLs are fetched" + (f", not {scheme} ones" if scheme else "")
        )
    if parts.username is not None or parts.password is not None:
        raise Refused("URLs with credentials are not fetched")
    if not host:
        raise Refused("the URL has no host")
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?") if parts.query else ""
    name = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    header = name if port in (None, default) else f"{name}:{port}"
    return Target(
        httpcore.URL(
            scheme=scheme.encode(),
            host=host.encode(),
            port=port or default,
            target=(path + query).encode(),
        ),
        header.encode(),
    )


class Fetcher:
    """Fetches client-named URLs; one per process (in the Uploader)."""

    def __init__(
        self,
        *,
        allow_http: bool = False,
        allowed: Sequence[IPNetwork] = (),
        resolve: Resolve = system_resolve,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        deadline: float = 60.0,
    ) -> None:
        self.schemes = frozenset({"https", "http"} if allow_http else {"https"})
        self._backend = CheckedBackend(resolve, allowed)
        self._ssl = ssl_context
        self._timeouts = {
            "connect": connect_timeout,
            "read": read_timeout,
            "write": read_timeout,
            "pool": connect_timeout,
        }
        self._deadline = deadline

    def check(self, url: str) -> None:
        """Refuse what needs no network to refuse (scheme, credentials, no host)."""
        target(url, self.schemes)

    async def fetch(self, url: str, limit: Callable[[str], int]) -> Fetched:
        """GET `url` following checked redirects; `limit(content_type)` caps the body or refuses.

        Raises Refused with the reason.
        """
        if self._ssl is None:
            self._ssl = _default_ssl()
        # A pool of its own per fetch: nothing is shared with another client's fetch.
        pool = httpcore.AsyncConnectionPool(
            ssl_context=self._ssl, network_backend=self._backend, retries=0, max_connections=4
        )
        try:
            async with pool, asyncio.timeout(self._deadline):
                return await self._follow(pool, url, limit)
        except TimeoutError:
            raise Refused(f"the download took longer than {self._deadline:g} s") from None
        except httpcore.TimeoutException:
            raise Refused("the server did not answer in time") from None
        except httpcore.ConnectError as exc:
            raise Refused(f"cannot connect ({_reason(exc)})") from None
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise Refused(f"the download failed ({type(exc).__name__})") from None

    async def _follow(
        self, pool: httpcore.AsyncConnectionPool, url: str, limit: Callable[[str], int]
    ) -> Fetched:
        for _ in range(MAX_REDIRECTS + 1):
            where = target(url, self.schemes)
            headers = [
                (b"Host", where.host_header),
                (b"Accept", b"*/*"),
                (b"Accept-Encoding", b"identity"),
                (b"User-Agent", USER_AGENT.encode()),
            ]
            extensions = {"timeout": self._timeouts}
            async with pool.stream("GET", where.url, headers=headers, extensions=extensions) as r:
                if r.status in REDIRECTS:
                    location = _header(r.headers, b"location")
                    if not location:
                        raise Refused(f"the server answered {r.status} without a Location")
                    url = urljoin(url, location)
                    continue
                if r.status != 200:
                    raise Refused(f"the server answered {r.status}")
                return Fetched(await _body(r, limit), _content_type(r.headers), url)
        raise Refused(f"more than {MAX_REDIRECTS} redirects")


async def _body(response: httpcore.Response, limit: Callable[[str], int]) -> bytes:
    encoding = _header(response.headers, b"content-encoding").strip().lower()
    if encoding not in ("", "identity"):
        raise Refused(f"the server sent a {encoding}-encoded body")
    cap = limit(_content_type(response.headers))
    declared = _header(response.headers, b"content-length").strip()
    if declared.isdigit() and int(declared) > cap:
        raise Refused(f"the file is {int(declared)} bytes, over the limit of {cap} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_stream():
        size += len(chunk)
        if size > cap:
            raise Refused(f"the file is over the limit of {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), "")


def _content_type(headers: list[tuple[bytes, bytes]]) -> str:
    return _header(headers, b"content-type").partition(";")[0].strip().lower()


def _reason(exc: Exception) -> str:
    # Certificate failures are worth naming; other texts may carry internal detail.
    text = str(exc)
    return "TLS certificate not trusted" if "CERTIFICATE" in text.upper() else type(exc).__name__


def _default_ssl() -> ssl.SSLContext:
    import certifi  # httpx's own trust store

    return ssl.create_default_context(cafile=certifi.where())
