"""DEV's runtime log views: `/logs?lines=N`, `/logs/{n}`, `/logs/stream` and the `/logs/html` page.

They show this worker's recent lines (the ring in observe/logs.py), never a
file. Who may read them: whoever the proxy API key lets in (when it is on),
from an address in `GPT2GIGA_LOGS_IP_ALLOWLIST` (when it is set); the page
itself holds no log line, so it loads without the key and asks for it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources

from gpt2giga import errors
from gpt2giga.asgi import Request, Response, Scope, StreamResponse
from gpt2giga.config import ProxySettings
from gpt2giga.context import Context
from gpt2giga.observe.logs import Ring
from gpt2giga.ops.auth import detail

Handler = Callable[[Context, Request], Awaitable[Response | StreamResponse]]
Spec = tuple[str, str, Handler, None]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

TEXT = b"text/plain; charset=utf-8"
MAX_TAIL = 5000
DEFAULT_TAIL = 100
# A comment frame while no line comes: proxies and browsers keep an idle stream open.
PING_SECONDS = 15.0
PING = b": ping\n\n"
DENIED = "Access denied: IP not in logs allowlist"


def _networks(values: list[str]) -> list[Network]:
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values]


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class Allowlist:
    """Which client addresses may read the logs; X-Forwarded-For only from trusted proxies.

    The client is the first address, reading X-Forwarded-For from the right,
    that is not a trusted proxy: entries to its left were written by the
    client itself and prove nothing (the FastAPI gpt2giga trusted the leftmost).
    """

    def __init__(self, allowed: list[str], trusted: list[str]) -> None:
        self._allowed = _networks(allowed)
        self._trusted = _networks(trusted)

    def _is_trusted(self, address: Address) -> bool:
        return any(address in network for network in self._trusted)

    def client(self, scope: Scope) -> Address | None:
        peer = scope.get("client")
        address = _address(str(peer[0])) if isinstance(peer, list | tuple) and peer else None
        if address is None or not self._is_trusted(address):
            return address
        # Repeated headers are one list, in order (RFC 9110, 5.3).
        forwarded = b",".join(v for k, v in scope["headers"] if k == b"x-forwarded-for")
        hops = [hop for hop in forwarded.decode("latin-1").split(",") if hop.strip()]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None or not self._is_trusted(address):
                return address  # an unreadable hop is no client we can allow
        return address

    def allows(self, scope: Scope) -> bool:
        if not self._allowed:
            return True
        address = self.client(scope)
        return address is not None and any(address in n for n in self._allowed)


def _page() -> tuple[bytes, bytes]:
    """The viewer page and a CSP that lets it run only its own inline script and style."""
    page = resources.files("gpt2giga.ops").joinpath("logs.html").read_bytes()
    hashes = {}
    for tag in ("script", "style"):
        found = re.search(rb"<%s>(.*?)</%s>" % (tag.encode(), tag.encode()), page, re.S)
        assert found is not None, f"logs.html has no <{tag}>"
        hashes[tag] = base64.b64encode(hashlib.sha256(found[1]).digest())
    csp = (
        b"default-src 'none'; script-src 'sha256-" + hashes["script"] + b"'; "
        b"style-src 'sha256-" + hashes["style"] + b"'; connect-src 'self'; "
        b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return page, csp


PAGE, PAGE_CSP = _page()
PAGE_HEADERS = [
    (b"content-security-policy", PAGE_CSP),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]


class LogViews:
    def __init__(self, ring: Ring, proxy: ProxySettings) -> None:
        self.ring = ring
        self.allowlist = Allowlist(proxy.logs_ip_allowlist, proxy.logs_trusted_proxies)

    def routes(self) -> tuple[list[Spec], list[Spec]]:
        """(routes behind the API key, public routes): the page holds no data."""
        private: list[Spec] = [
            ("GET", "/logs", self.tail, None),
            ("GET", "/logs/stream", self.stream, None),
            ("GET", "/logs/{n}", self.tail, None),
        ]
        return private, [("GET", "/logs/html", self.html, None)]

    async def tail(self, ctx: Context, request: Request) -> Response:
        """This worker's last n log lines (`/logs/{n}` or `/logs?lines=n`), oldest first."""
        if not self.allowlist.allows(request.scope):
            return detail(403, DENIED)
        raw = request.params.get("n") or request.query.get("lines") or str(DEFAULT_TAIL)
        if not raw.isdigit():
            raise errors.BadRequest(f"Expected a number of lines, got {raw[:20]!r}")
        lines = self.ring.tail(min(int(raw), MAX_TAIL))
        return Response("".join(line + "\n" for line in lines).encode(), content_type=TEXT)

    async def stream(self, ctx: Context, request: Request) -> Response | StreamResponse:
        """This worker's log lines as they are written, one SSE event each."""
        if not self.allowlist.allows(request.scope):
            return detail(403, DENIED)
        return StreamResponse(Tail(self.ring))

    async def html(self, ctx: Context, request: Request) -> Response:
        if not self.allowlist.allows(request.scope):
            return detail(403, DENIED)
        return Response(PAGE, content_type=b"text/html; charset=utf-8", headers=list(PAGE_HEADERS))


def frame(line: str) -> bytes:
    """One SSE event per log line; a line with breaks in it becomes several `data:` lines."""
    data = b"".join(b"data: " + part + b"\n" for part in line.encode().split(b"\n"))
    return data + b"\n"


class Tail:
    """Live log lines; subscribed at once so no line between headers and first read is lost."""

    def __init__(self, ring: Ring, ping_seconds: float = PING_SECONDS) -> None:
        self._ring = ring
        self._ping = ping_seconds
        self._queue: asyncio.Queue[str | None] | None = ring.subscribe()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._queue is None:
            raise StopAsyncIteration
        try:
            line = await asyncio.wait_for(self._queue.get(), self._ping)
        except TimeoutError:
            return PING
        if line is None:
            await self.aclose()
            raise StopAsyncIteration
        return frame(line)

    async def aclose(self) -> None:
        if self._queue is not None:
            self._ring.unsubscribe(self._queue)
            self._queue = None
