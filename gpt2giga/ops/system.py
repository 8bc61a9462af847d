"""Operator routes: `/ready`, the metrics endpoint, DEV's `/logs/{n}` and `/logs/stream`.

Which of them exist is decided once, from the settings: no metrics route when
metrics are off, no log views in PROD. `/ready` is public like `/health`;
the others sit behind the proxy API key when it is on. A shared state store
that is down makes `/ready` say "degraded" but stay 200: every replica shares
the store, so a 503 would take them all out of the load balancer at once,
failing the requests that do not need the store as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from gpt2giga import errors, sse
from gpt2giga.asgi import Request, Response, StreamResponse
from gpt2giga.config import Settings
from gpt2giga.context import Context
from gpt2giga.drain import Drain
from gpt2giga.observe.logs import Ring
from gpt2giga.state.store import Store

if TYPE_CHECKING:  # prometheus-client is imported only when metrics are on
    from gpt2giga.observe.metrics import Metrics

Handler = Callable[[Context, Request], Awaitable[Response | StreamResponse]]
Spec = tuple[str, str, Handler, None]
TEXT = b"text/plain; charset=utf-8"
MAX_TAIL = 5000
DEFAULT_TAIL = 100

_encode = msgspec.json.Encoder().encode


class Ops:
    def __init__(
        self, drain: Drain, metrics: Metrics | None, ring: Ring | None, state: Store
    ) -> None:
        self.drain = drain
        self.metrics = metrics
        self.ring = ring
        self.state = state

    def routes(self, settings: Settings) -> tuple[list[Spec], list[Spec]]:
        """(routes behind the API key, public routes) for the features that are on."""
        private: list[Spec] = []
        if self.metrics is not None:
            private.append(
                ("GET", settings.proxy.metrics_path.rstrip("/"), self.serve_metrics, None)
            )
        if self.ring is not None:
            private += [
                ("GET", "/logs", self.logs_tail, None),
                ("GET", "/logs/stream", self.logs_stream, None),
                ("GET", "/logs/{n}", self.logs_tail, None),
            ]
        return private, [("GET", "/ready", self.ready, None)]

    async def ready(self, ctx: Context, request: Request) -> Response:
        """503 while draining or while the gateway's own GigaChat authorization fails."""
        if self.drain.draining:
            return _status(503, "draining")
        auth = ctx.upstream.auth
        if auth.creds.can_refresh:
            try:
                await auth.token()
            except errors.GatewayError as err:
                return _status(503, "gigachat authorization failing", err.message)
        if self.state.kind == "memory":
            return _status(200, "ready")
        down = await self.state.ready()
        if down is not None:
            return _status(200, "degraded", down, state_store="down")
        return _status(200, "ready", state_store="up")

    async def serve_metrics(self, ctx: Context, request: Request) -> Response:
        assert self.metrics is not None
        body, content_type = self.metrics.render()
        return Response(body, content_type=content_type)

    async def logs_tail(self, ctx: Context, request: Request) -> Response:
        """This worker's last n log lines (`/logs/{n}` or `/logs?lines=n`), oldest first."""
        assert self.ring is not None
        raw = request.params.get("n") or request.query.get("lines") or str(DEFAULT_TAIL)
        if not raw.isdigit():
            raise errors.BadRequest(f"Expected a number of lines, got {raw[:20]!r}")
        lines = self.ring.tail(min(int(raw), MAX_TAIL))
        return Response("".join(line + "\n" for line in lines).encode(), content_type=TEXT)

    async def logs_stream(self, ctx: Context, request: Request) -> StreamResponse:
        """This worker's log lines as they are written, one SSE event each."""
        assert self.ring is not None
        return StreamResponse(_Tail(self.ring))


def _status(status: int, word: str, reason: str | None = None, **extra: str) -> Response:
    body: dict[str, Any] = {"status": word}
    if reason:
        body["reason"] = reason
    body.update(extra)
    return Response(_encode(body), status=status)


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
