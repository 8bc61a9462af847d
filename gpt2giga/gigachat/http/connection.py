"""One HTTP/1.1 connection for the GigaChat transport, as an `asyncio.Protocol`.

Bytes from the socket go straight into the sans-IO `http1.ResponseParser`
(no StreamReader in between); the request's task waits on a future that
`data_received` resolves. Failures come out as httpx's own exceptions.
The pool around it is `transport.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar, cast

import httpx

from gpt2giga.gigachat.http import http1

# Parsed body bytes buffered per connection before the socket stops being read:
# a slow reader (a client on a slow link) must not pull the whole stream into memory.
HIGH_WATER = 256 * 1024

Timeouts = dict[str, float | None]  # httpx's request.extensions["timeout"]
Timeout = httpx.TimeoutException
T = TypeVar("T")


def _expire(waiter: asyncio.Future[Any], kind: type[Timeout]) -> None:
    # The exception is made only when a timer fires: most waits end well before.
    if not waiter.done():
        waiter.set_exception(kind(kind.__name__))


async def until(waiter: asyncio.Future[T], seconds: float | None, kind: type[Timeout]) -> T:
    """`waiter`'s result, or `kind` raised after `seconds`.

    A timer on the future rather than `asyncio.timeout`: no task cancellation to
    undo (the drain cancels tasks on its own), and one handle per wait.
    """
    handle = None
    if seconds is not None:
        handle = asyncio.get_running_loop().call_later(seconds, _expire, waiter, kind)
    try:
        return await waiter
    finally:
        if handle is not None:
            handle.cancel()


class Connection(asyncio.Protocol):
    """One socket to one origin, serving one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.parser = http1.ResponseParser()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.error: BaseException | None = None  # why it broke: a reset or bad framing
        self.served = 0  # requests sent on it; a reused one may have been closed while idle
        self.idle_since = 0.0
        self._read: float | None = None  # this exchange's read and write timeouts
        self._write: float | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._paused = False
        # An abandoned answer's rest being read and dropped (`finish_unread`).
        self._finished: Callable[[Connection], None] | None = None
        self._finish_timer: asyncio.TimerHandle | None = None
        self._finish_budget = 0

    # --- asyncio callbacks -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports (Granian's loop when uvloop is installed) implement
        # asyncio.Transport without subclassing it: no isinstance check here.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        try:
            parser.feed(data)
        except http1.ProtocolError as exc:
            # After a complete answer this only spoils reuse; before, the reader sees it.
            self.error = exc
            self.close()
        if parser.pending > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        try:
            self.parser.eof()
        except http1.ProtocolError as exc:
            self.error = exc
        self.closed = True
        self._wake()
        return None  # let asyncio close the socket

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if exc is not None and self.error is None:
            self.error = exc
        self._wake()
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def pause_writing(self) -> None:
        self._drained = self.loop.create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._finished is not None:
            self._finish_step()

    # --- the rest of an abandoned answer ---------------------------------------------

    def finish_unread(self, done: Callable[[Connection], None], seconds: float, limit: int) -> None:
        """Read and drop the rest of the current answer, with no task; `done(self)` after.

        A stream's reader stops at the answer's last event, and the `data: [DONE]`
        and the end of the chunked body follow at once: reading them keeps the
        connection for the next request. A remainder longer than `limit` bytes or
        `seconds` (a client that left mid-answer) closes it instead.
        """
        self._finished, self._finish_budget = done, limit
        if seconds > 0:
            self._finish_timer = self.loop.call_later(seconds, self._finish_expired)
        else:
            self.close()
        self._finish_step()

    def _finish_step(self) -> None:
        done = self._finished
        assert done is not None
        self._finish_budget -= len(self.take())
        if self._finish_budget < 0 and not self.parser.complete:
            self.close()
        if self.parser.complete or self.closed:
            self._finished = None
            if self._finish_timer is not None:
                self._finish_timer.cancel()
            done(self)

    def _finish_expired(self) -> None:
        if self._finished is not None:
            self.close()
            self._finish_step()

    # --- the request side ------------------------------------------------------------

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def usable(self, now: float, expiry: float) -> bool:
        return not self.closed and now - self.idle_since < expiry

    async def send(self, request: httpx.Request, head: bytes, timeouts: Timeouts) -> None:
        """Write the request; the body comes from `request.stream` unless httpx holds its bytes."""
        self.served += 1
        self._read, self._write = timeouts.get("read"), timeouts.get("write")
        self.parser.expect(bodiless=request.method == "HEAD")
        transport = self.transport
        assert transport is not None
        try:
            body = request.content  # JSON bodies: one write with the head
        except httpx.RequestNotRead:
            transport.write(head)
            await self._send_stream(request, transport)
        else:
            transport.write(head + body)
        await self._drain()

    async def _send_stream(self, request: httpx.Request, transport: asyncio.Transport) -> None:
        """A streamed body (multipart uploads), chunk-coded when httpx gave no length."""
        assert isinstance(request.stream, httpx.AsyncByteStream)
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        async for chunk in request.stream:
            if self.closed:
                raise self._broken(httpx.WriteError)
            if not chunk:  # a zero-size chunk would end the body early (RFC 9112 7.1)
                continue
            transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await self._drain()
        if chunked:
            transport.write(b"0\r\n\r\n")

    async def _drain(self) -> None:
        """Until the socket took what was written, if asyncio asked to stop writing."""
        if self._drained is not None:
            await until(self._drained, self._write, httpx.WriteTimeout)
            if self.closed:
                raise self._broken(httpx.WriteError)

    async def _wait(self) -> None:
        """Until the socket delivers something, or ReadTimeout."""
        self._waiter = self.loop.create_future()
        try:
            await until(self._waiter, self._read, httpx.ReadTimeout)
        finally:
            self._waiter = None

    def _broken(self, kind: type[httpx.TransportError] = httpx.ReadError) -> Exception:
        """The connection closed or broke before the exchange was complete."""
        error = self.error
        if error is None or isinstance(error, http1.ProtocolError):
            return httpx.RemoteProtocolError(str(error or "Server disconnected."))
        return kind(str(error) or type(error).__name__)

    async def read_head(self) -> http1.Head:
        parser = self.parser
        while parser.head is None:
            if self.closed:
                raise self._broken()
            await self._wait()
        return parser.head

    async def read_body(self) -> bytes:
        """The body bytes received so far (waiting for some), or b"" at its end."""
        parser = self.parser
        while not parser.pending:
            if parser.complete:
                return b""
            if self.closed:
                raise self._broken()
            await self._wait()
        return self.take()

    def take(self) -> bytes:
        """The parsed body bytes, reading the socket again if they had paused it.

        Also for an answer already complete when its head is read: one that arrived
        while the request body was still going out can have crossed HIGH_WATER.
        """
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return self.parser.take()

    @property
    def reusable(self) -> bool:
        return not self.closed and self.parser.complete and self.parser.keep_alive
