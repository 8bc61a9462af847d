"""DEV mode's runtime log views: `/logs`, `/logs/{n}` (the last lines), `/logs/stream` (live).

They read this worker's in-memory ring (`observe.logs.Ring`); the routes exist
only when the ring does, and sit behind the proxy API key when it is on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from gpt2giga import errors, sse
from gpt2giga.asgi import Request, Response, StreamResponse
from gpt2giga.context import Context
from gpt2giga.observe.logs import Ring

TEXT = b"text/plain; charset=utf-8"
MAX_TAIL = 5000
DEFAULT_TAIL = 100


class LogViews:
    def __init__(self, ring: Ring) -> None:
        self.ring = ring

    async def tail(self, ctx: Context, request: Request) -> Response:
        """This worker's last n log lines (`/logs/{n}` or `/logs?lines=n`), oldest first."""
        raw = request.params.get("n") or request.query.get("lines") or str(DEFAULT_TAIL)
        if not raw.isdigit():
            raise errors.BadRequest(f"Expected a number of lines, got {raw[:20]!r}")
        lines = self.ring.tail(min(int(raw), MAX_TAIL))
        return Response("".join(line + "\n" for line in lines).encode(), content_type=TEXT)

    async def stream(self, ctx: Context, request: Request) -> StreamResponse:
        """This worker's log lines as they are written, one SSE event each."""
        return StreamResponse(_Tail(self.ring))


class _Tail:
    """Live log lines; subscribed at once so no line between headers and first read is lost."""

    def __init__(self, ring: Ring) -> None:
        self._ring = ring
        self._queue: asyncio.Queue[str | None] | None = ring.subscribe()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        line = None if self._queue is None else await self._queue.get()
        if line is None:
            await self.aclose()
            raise StopAsyncIteration
        return sse.frame(line.encode())

    async def aclose(self) -> None:
        if self._queue is not None:
            self._ring.unsubscribe(self._queue)
            self._queue = None
