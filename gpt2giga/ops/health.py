"""Liveness and readiness: `/health` and `/ping` (the process answers), `/ready` (it can work).

Public routes: a load balancer or orchestrator probes them without the API key,
and they reveal nothing but a status word. A shared state store that is down
makes `/ready` say "degraded" but stay 200: every replica shares the store, so
a 503 would take them all out of the load balancer at once, failing the
requests that do not need the store as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from gpt2giga import errors
from gpt2giga.asgi import Request, Response
from gpt2giga.context import Context
from gpt2giga.drain import Drain

if TYPE_CHECKING:
    from gpt2giga.state.store import Store

_encode = msgspec.json.Encoder().encode
OK = b'{"status":"ok"}'


async def health(ctx: Context, request: Request) -> Response:
    return Response(OK)


class Ready:
    """`/ready`: 503 while draining or while the gateway's own GigaChat authorization fails;
    with a shared state store, whether it answers."""

    def __init__(self, drain: Drain, state: Store | None = None) -> None:
        self.drain = drain
        self.state = state

    async def __call__(self, ctx: Context, request: Request) -> Response:
        if self.drain.draining:
            return _status(503, "draining")
        auth = ctx.upstream.auth
        if auth.creds.can_refresh:
            try:
                await auth.token()
            except errors.GatewayError as err:
                return _status(503, "gigachat authorization failing", err.message)
        if self.state is None or self.state.kind == "memory":
            return _status(200, "ready")
        down = await self.state.ready()
        if down is not None:
            return _status(200, "degraded", down, state_store="down")
        return _status(200, "ready", state_store="up")


def _status(status: int, word: str, reason: str | None = None, **extra: str) -> Response:
    body: dict[str, Any] = {"status": word}
    if reason:
        body["reason"] = reason
    body.update(extra)
    return Response(_encode(body), status=status)
