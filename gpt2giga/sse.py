"""Server-sent events: a sans-IO parser for upstream bytes, the outbound framer, the relay.

The parser never awaits and never decodes JSON; it only splits the byte stream
into (event, data) pairs as the SSE spec's dispatch rules say. `relay` is the
one loop that drives a dialect's stream translator over an upstream stream,
with optional keep-alive frames while the upstream is silent, and the one
place that decides how a stream ends (`finish`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Protocol, TypeVar

from gpt2giga.errors import GatewayError, UpstreamError

C = TypeVar("C")
C_in = TypeVar("C_in", contravariant=True)
C_out = TypeVar("C_out", covariant=True)
E = TypeVar("E")

DONE = b"[DONE]"


class SSEParser:
    """Feed raw bytes, get complete events as `(event name or None, data)`.

    With `each_line`, every `data:` line is an event of its own, unnamed, as
    the gigachat SDK reads GigaChat's v1 streams.
    """

    __slots__ = ("_buffer", "_data", "_each_line", "_event")

    def __init__(self, each_line: bool = False) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[bytes] = []
        self._each_line = each_line

    def feed(self, chunk: bytes) -> list[tuple[str | None, bytes]]:
        events: list[tuple[str | None, bytes]] = []
        buffer = self._buffer + chunk
        *lines, self._buffer = buffer.split(b"\n")
        for line in lines:
            self._line(line.removesuffix(b"\r"), events)
        return events

    def finish(self) -> list[tuple[str | None, bytes]]:
        """Flush an event the upstream did not end with a blank line."""
        events: list[tuple[str | None, bytes]] = []
        if self._buffer:
            self._line(self._buffer.removesuffix(b"\r"), events)
            self._buffer = b""
        self._line(b"", events)
        return events

    def _line(self, line: bytes, events: list[tuple[str | None, bytes]]) -> None:
        if not line:
            if self._data:
                events.append((self._event, b"\n".join(self._data)))
            self._event = None
            self._data = []
            return
        if line[0] == 0x3A:  # ":" starts a comment (keep-alive)
            return
        name, sep, value = line.partition(b":")
        if not sep:
            name, value = line, b""
        elif value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            if self._each_line:
                events.append((None, value))
            else:
                self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")


def frame(data: bytes, event: str | None = None) -> bytes:
    """One outbound SSE frame; `data` is a single line (compact JSON)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


DONE_FRAME = frame(DONE)


class StreamTranslator(Protocol[C_in, E]):
    """A dialect's sans-IO stream translator: upstream chunks in, client events out.

    `done` turns true once the stream's last event (the answer's finish or an
    error) has been made; `error` renders a failure as the dialect's own end.
    """

    done: bool

    def feed(self, chunk: C_in) -> list[E]: ...

    def error(self, err: GatewayError) -> list[E]: ...


# GigaChat closed the stream without a finish: the answer may be cut anywhere.
TRUNCATED = "GigaChat ended the stream before the answer was complete"


def finish(translator: StreamTranslator[C, E]) -> list[E]:
    """What a stream ends with once its upstream has closed: nothing after the answer's
    finish, else an error event (a cut-off answer never looks like a complete one)."""
    return [] if translator.done else translator.error(UpstreamError(TRUNCATED))


class Upstream(Protocol[C_out]):
    def batches(self) -> AsyncGenerator[Sequence[C_out], None]:
        """The chunks of each upstream read together."""
        ...

    async def aclose(self) -> None: ...


class _Idle:
    """What `_ticking` yields when the upstream was silent for a whole interval."""


IDLE = _Idle()
_END = _Idle()


async def relay(
    upstream: Upstream[C],
    translator: StreamTranslator[C, E],
    frame: Callable[[list[E]], bytes],
    keepalive: float | None = None,
    ping: bytes = b"",
) -> AsyncIterator[bytes]:
    """Upstream chunks through `translator` to framed bytes; a failure ends as an error event.

    What one upstream read delivered goes out as one piece. With `keepalive`
    (seconds), `ping` goes out whenever the upstream stays silent that long:
    clients and proxies drop streams that look dead while a model thinks.
    Without it the upstream is iterated directly, no task per chunk.
    """
    batches = upstream.batches()
    ticking = None if keepalive is None else _ticking(batches, keepalive)
    pieces: AsyncIterator[Sequence[C] | _Idle] = batches if ticking is None else ticking
    try:
        async for batch in pieces:
            if isinstance(batch, _Idle):
                yield ping
                continue
            events: list[E] = []
            for chunk in batch:
                events += translator.feed(chunk)
                if translator.done:
                    break
            if events:
                yield frame(events)
            if translator.done:
                break
        if events := finish(translator):
            yield frame(events)
    except GatewayError as exc:
        if events := translator.error(exc):
            yield frame(events)
    finally:
        if ticking is not None:
            await ticking.aclose()
        # Closed here, not by the loop's finalizer hook (a task per stream).
        await batches.aclose()
        await upstream.aclose()


async def _next(chunks: AsyncIterator[C]) -> C | _Idle:
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return _END


async def _ticking(chunks: AsyncIterator[C], interval: float) -> AsyncGenerator[C | _Idle, None]:
    """`chunks`, and IDLE after each `interval` of silence.

    The pending read is waited on, never cancelled, by a tick: cancelling it
    would abort the upstream stream mid-chunk.
    """
    pending: asyncio.Future[C | _Idle] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(_next(chunks))
            done, _ = await asyncio.wait((pending,), timeout=interval)
            if not done:
                yield IDLE
                continue
            task, pending = pending, None
            chunk = task.result()
            if chunk is _END:
                return
            yield chunk
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.wait((pending,))
            if not pending.cancelled():
                pending.exception()  # a failure after the client left is moot; mark it read
