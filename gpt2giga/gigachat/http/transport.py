"""The HTTP/1.1 keep-alive pool under httpx for GigaChat's few hosts (API and OAuth).

httpcore's pool scans every connection for every request (encode/httpx#3215):
with 64-256 requests in flight it was the gateway's ceiling. Here each origin
keeps idle connections on a stack and waiting requests in a FIFO queue, so a
request costs O(1) whatever the load. Connections are `asyncio.Protocol`s
feeding the sans-IO parser in `http1.py`. Every failure is raised as httpx's
own exception, so `upstream.py`'s mapping and `client.py`'s retries apply
unchanged. It only talks to the configured GigaChat hosts: client-named URLs
go through `remote.py`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator

import httpx

from gpt2giga.gigachat.http import http1
from gpt2giga.gigachat.http.connection import Connection, Timeouts, until

Key = tuple[bytes, bytes, int]
_DEFAULT_PORTS = {b"http": 80, b"https": 443}
# The most of an abandoned answer read to keep its connection (`Connection.finish_unread`).
FINISH_BYTES = 64 * 1024
_RETRYABLE = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


class Origin:
    """The connections to one scheme://host:port: idle ones on a stack, waiting requests in a FIFO.

    `open` counts connecting, busy and idle connections; a request finding
    none idle and `limit` open waits for the next one released, in order.
    """

    def __init__(
        self,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        limit: int,
        expiry: float,
        finish_seconds: float = 1.0,
    ):
        self.host, self.port, self.tls = host, port, tls
        self.limit, self.expiry, self.finish_seconds = limit, expiry, finish_seconds
        self.idle: deque[Connection] = deque()
        self.waiters: deque[asyncio.Future[Connection | None]] = deque()
        self.open = 0
        self.connections: set[Connection] = set()

    async def acquire(self, timeouts: Timeouts) -> Connection:
        loop = asyncio.get_running_loop()
        now = loop.time()
        idle = self.idle
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to have been closed
            if conn.usable(now, self.expiry):
                return conn
            self._forget(conn)
        if self.open < self.limit:
            self.open += 1
            return await self._connect(loop, timeouts.get("connect"))
        handed = await self._wait(loop, timeouts.get("pool"))
        return handed if handed is not None else await self._connect(loop, timeouts.get("connect"))

    async def _wait(
        self, loop: asyncio.AbstractEventLoop, seconds: float | None
    ) -> Connection | None:
        """The next released connection, or None: a free slot to connect in."""
        waiter: asyncio.Future[Connection | None] = loop.create_future()
        self.waiters.append(waiter)
        try:
            return await until(waiter, seconds, httpx.PoolTimeout)
        except asyncio.CancelledError:
            # Handed a connection or a slot just as the request was cancelled: pass it on.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                conn = waiter.result()
                if conn is not None:
                    self.release(conn)
                else:
                    self.open -= 1
                    self._pass_slot()
            raise

    async def _connect(self, loop: asyncio.AbstractEventLoop, seconds: float | None) -> Connection:
        """A new connection in a slot already counted in `open`; the slot is freed on failure."""
        try:
            async with asyncio.timeout(seconds):
                _, conn = await loop.create_connection(
                    lambda: Connection(loop),
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.host if self.tls is not None else None,
                )
        except BaseException as exc:
            self.open -= 1
            self._pass_slot()
            if isinstance(exc, TimeoutError):  # before OSError: TimeoutError is one
                raise httpx.ConnectTimeout("ConnectTimeout") from None
            if isinstance(exc, OSError):  # refused, DNS, TLS (ssl.SSLError is an OSError)
                raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
            raise
        self.connections.add(conn)
        return conn

    async def renew(self, conn: Connection, seconds: float | None) -> Connection:
        """A new connection in `conn`'s slot, which is closed."""
        self.connections.discard(conn)
        conn.close()
        return await self._connect(asyncio.get_running_loop(), seconds)

    def release(self, conn: Connection) -> None:
        """A finished exchange: the connection serves the next waiter, or waits idle."""
        if not conn.reusable:
            self.discard(conn)
            return
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # else timed out or cancelled
                waiter.set_result(conn)
                return
        conn.idle_since = now = conn.loop.time()
        idle = self.idle
        idle.append(conn)
        # The oldest ones first; with an expiry of 0 even `conn` goes, leaving none.
        while idle and not idle[0].usable(now, self.expiry):
            self._forget(idle.popleft())

    def discard(self, conn: Connection) -> None:
        """Close `conn` (broken, not reusable, or abandoned mid-answer); its slot goes on."""
        if self._forget(conn):
            self._pass_slot()

    def _forget(self, conn: Connection) -> bool:
        conn.close()
        if conn not in self.connections:
            return False  # already counted out
        self.connections.discard(conn)
        self.open -= 1
        return True

    def _pass_slot(self) -> None:
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                self.open += 1
                waiter.set_result(None)
                return

    def close(self) -> None:
        for conn in list(self.connections):
            self._forget(conn)
        self.idle.clear()
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(httpx.ConnectError("the connection pool was closed"))


class Body(httpx.AsyncByteStream):
    """A response body read as it arrives; the connection returns to the pool at its end."""

    def __init__(self, origin: Origin, conn: Connection) -> None:
        self._origin = origin
        self._conn: Connection | None = conn

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            raise httpx.StreamClosed()
        while chunk := await conn.read_body():
            yield chunk
        self._conn = None
        self._origin.release(conn)

    async def aclose(self) -> None:
        # Closed before its end: the rest of the answer would arrive as the next
        # request's, so it is read first, or the connection goes.
        conn, self._conn = self._conn, None
        if conn is not None:
            origin = self._origin
            conn.finish_unread(origin.release, origin.finish_seconds, FINISH_BYTES)


class Transport(httpx.AsyncBaseTransport):
    """httpx's transport interface over `Origin` pools; `verify` as httpx takes it."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 100,
        keepalive_expiry: float = 30.0,
        finish_seconds: float = 1.0,
    ) -> None:
        self.verify = verify
        self.max_connections = max_connections  # per origin: OAuth never queues behind chats
        self.keepalive_expiry = keepalive_expiry
        self.finish_seconds = finish_seconds  # for an abandoned answer's rest
        self._tls: ssl.SSLContext | None = None
        self._origins: dict[Key, Origin] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        key = (scheme, url.raw_host, url.port or _DEFAULT_PORTS.get(scheme, 0))
        origin = self._origins.get(key) or self._origin(key)
        timeouts = request.extensions.get("timeout", {})
        try:
            head = http1.request_head(request.method.encode(), url.raw_path, request.headers.raw)
        except ValueError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from None
        conn = await origin.acquire(timeouts)
        try:
            try:
                return await self._exchange(origin, conn, request, head, timeouts)
            except _RETRYABLE:
                if conn.served < 2 or conn.parser.started:
                    raise
            # A kept-alive connection the server closed while it sat idle, found out
            # only now: nothing was answered, so the request goes once more, on a new
            # connection (httpx's own bodies, bytes and multipart, can be sent twice).
            conn = await origin.renew(conn, timeouts.get("connect"))
            return await self._exchange(origin, conn, request, head, timeouts)
        except BaseException:
            origin.discard(conn)  # its state is unknown: it cannot serve another request
            raise

    async def _exchange(
        self,
        origin: Origin,
        conn: Connection,
        request: httpx.Request,
        head: bytes,
        timeouts: Timeouts,
    ) -> httpx.Response:
        await conn.send(request, head, timeouts)
        answer = await conn.read_head()
        extensions = {"http_version": answer.version, "reason_phrase": answer.reason}
        if conn.parser.complete:  # the whole answer came with its head, as JSON answers do
            body = conn.take()
            origin.release(conn)
            # As content, not a stream: the response holds it read, and `aread` has
            # no iteration left to do.
            return httpx.Response(
                answer.status, headers=answer.headers, content=body, extensions=extensions
            )
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=Body(origin, conn),
            extensions=extensions,
        )

    def _origin(self, key: Key) -> Origin:
        scheme, host, port = key
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme.decode()!r}")
        tls = self._context() if scheme == b"https" else None
        origin = Origin(
            host.decode("ascii"),
            port,
            tls,
            self.max_connections,
            self.keepalive_expiry,
            self.finish_seconds,
        )
        self._origins[key] = origin
        return origin

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            verify = self.verify
            # httpx's own builder for True (certifi) and False (no checks at all).
            self._tls = (
                verify
                if isinstance(verify, ssl.SSLContext)
                else httpx.create_ssl_context(verify=verify, trust_env=False)
            )
        return self._tls

    async def aclose(self) -> None:
        origins = list(self._origins.values())
        self._origins.clear()
        for origin in origins:
            origin.close()
