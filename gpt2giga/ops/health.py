"""Liveness and readiness: `/health` and `/ping` (the process answers), `/ready` (it can work).

Public routes: a load balancer or orchestrator probes them without the API key,
and they reveal nothing but a status word.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gpt2giga import errors
from gpt2giga.asgi import Request, Response
from gpt2giga.context import Context
from gpt2giga.drain import Drain

_encode = msgspec.json.Encoder().encode
OK = b'{"status":"ok"}'


async def health(ctx: Context, request: Request) -> Response:
    return Response(OK)


class Ready:
    """`/ready`: 503 while draining or while the gateway's own GigaChat authorization fails."""

    def __init__(self, drain: Drain) -> None:
        self.drain = drain

    async def __call__(self, ctx: Context, request: Request) -> Response:
        if self.drain.draining:
            return _status(503, "draining")
        auth = ctx.upstream.auth
        if auth.creds.can_refresh:
            try:
                await auth.token()
            except errors.GatewayError as err:
                return _status(503, "gigachat authorization failing", err.message)
        return _status(200, "ready")


def _status(status: int, word: str, reason: str | None = None) -> Response:
    body: dict[str, Any] = {"status": word}
    if reason:
        body["reason"] = reason
    return Response(_encode(body), status=status)
