"""Operator routes: `/ready`, the metrics endpoint, and the route lists of ops/logs.py,
debug.py and admin.py.

Which of them exist is decided once, from the settings: no metrics route when
metrics are off, no log views in PROD. `/ready` is public like `/health`;
the others sit behind the proxy API key when it is on. A shared state store
that is down makes `/ready` say "degraded" but stay 200: every replica shares
the store, so a 503 would take them all out of the load balancer at once,
failing the requests that do not need the store as well.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from gpt2giga import errors
from gpt2giga.asgi import Request, Response, StreamResponse
from gpt2giga.config import Settings
from gpt2giga.context import Context
from gpt2giga.drain import Drain
from gpt2giga.observe.logs import Ring
from gpt2giga.ops.debug import Debug
from gpt2giga.ops.logs import LogViews
from gpt2giga.state.store import Store

if TYPE_CHECKING:  # prometheus-client and asyncpg are imported only when they are on
    from gpt2giga.observe.metrics import Metrics
    from gpt2giga.observe.postgres import Database
    from gpt2giga.ops.replay import App

Handler = Callable[[Context, Request], Awaitable[Response | StreamResponse]]
Spec = tuple[str, str, Handler, None]

_encode = msgspec.json.Encoder().encode
log = logging.getLogger("gpt2giga")


class Ops:
    """`database`: the traffic log's PostgreSQL, for the admin API; `app`: the whole app,
    through which the admin API replays a request; `state`: the store /ready reports on."""

    def __init__(
        self,
        drain: Drain,
        metrics: Metrics | None,
        ring: Ring | None,
        database: Database | None = None,
        app: App | None = None,
        *,
        state: Store | None = None,
    ) -> None:
        self.drain = drain
        self.metrics = metrics
        self.ring = ring
        self.database = database
        self.app = app
        self.state = state

    def routes(self, settings: Settings) -> tuple[list[Spec], list[Spec]]:
        """(routes behind the API key, public routes) for the features that are on."""
        private: list[Spec] = []
        if self.metrics is not None:
            private.append(
                ("GET", settings.proxy.metrics_path.rstrip("/"), self.serve_metrics, None)
            )
        public: list[Spec] = [("GET", "/ready", self.ready, None)]
        if self.ring is not None:
            logs_private, logs_public = LogViews(self.ring, settings.proxy).routes()
            private += logs_private
            public += logs_public
        if settings.proxy.debug_translate_enabled:
            public += Debug(settings).routes()
        if settings.proxy.admin_api_enabled:
            public += self.admin_routes(settings)
        return private, public

    def admin_routes(self, settings: Settings) -> list[Spec]:
        """`/_admin/logs*`: behind the admin key instead of the proxy key."""
        from gpt2giga.ops.admin import Admin
        from gpt2giga.ops.replay import Replayer

        store = None
        if self.database is not None:  # the store imports asyncpg: only when configured
            from gpt2giga.observe.store import Store

            store = Store(self.database)
        p = settings.proxy
        replayer = Replayer(self.app) if p.replay_enabled and self.app is not None else None
        if not p.admin_api_key:
            log.warning("admin API: no GPT2GIGA_ADMIN_API_KEY; every /_admin route answers 403")
        if store is None:
            log.warning("admin API: no PostgreSQL traffic log; every /_admin route answers 503")
        if replayer is not None and not p.traffic_log_capture_content:
            log.warning(
                "admin API: replay needs recorded bodies (GPT2GIGA_TRAFFIC_LOG_CAPTURE_CONTENT)"
            )
        return Admin(settings, store, replayer).routes()

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
        if self.state is None or self.state.kind == "memory":
            return _status(200, "ready")
        down = await self.state.ready()
        if down is not None:
            return _status(200, "degraded", down, state_store="down")
        return _status(200, "ready", state_store="up")

    async def serve_metrics(self, ctx: Context, request: Request) -> Response:
        assert self.metrics is not None
        body, content_type = self.metrics.render()
        return Response(body, content_type=content_type)


def _status(status: int, word: str, reason: str | None = None, **extra: str) -> Response:
    body: dict[str, Any] = {"status": word}
    if reason:
        body["reason"] = reason
    body.update(extra)
    return Response(_encode(body), status=status)
