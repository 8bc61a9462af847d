"""The table of system routes: which exist, decided once from the settings, and the metrics route.

Health, ping and readiness always exist and are public (`health.py`); the
metrics route exists only when metrics are on, the log views only in DEV
(`logs.py`), debug translate (`debug.py`) and the admin API (`admin.py`)
only when enabled. Metrics and logs sit behind the proxy API key when it is
on; debug and admin routes behind the admin key instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from gpt2giga.asgi import Request, Response, StreamResponse
from gpt2giga.config import Settings
from gpt2giga.context import Context
from gpt2giga.drain import Drain
from gpt2giga.observe.logs import Ring
from gpt2giga.ops.debug import Debug
from gpt2giga.ops.health import Ready, health
from gpt2giga.ops.logs import LogViews

if TYPE_CHECKING:  # prometheus-client and asyncpg are imported only when they are on
    from gpt2giga.observe.metrics import Metrics
    from gpt2giga.observe.postgres import Database
    from gpt2giga.ops.replay import App
    from gpt2giga.state.store import Store as StateStore

Handler = Callable[[Context, Request], Awaitable[Response | StreamResponse]]
Spec = tuple[str, str, Handler, None]

log = logging.getLogger("gpt2giga")


class Ops:
    """`database`: the traffic log's PostgreSQL, for the admin API; `app`: the whole app,
    through which the admin API replays a request; `responses`: the Responses create
    route, over the gateway's store, which debug translate runs for a request;
    `state`: the state store `/ready` reports on."""

    def __init__(
        self,
        drain: Drain,
        metrics: Metrics | None,
        ring: Ring | None,
        database: Database | None = None,
        app: App | None = None,
        responses: Handler | None = None,
        state: StateStore | None = None,
    ) -> None:
        self.drain = drain
        self.metrics = metrics
        self.ring = ring
        self.database = database
        self.app = app
        self.responses = responses
        self.state = state

    def routes(self, settings: Settings) -> tuple[list[Spec], list[Spec]]:
        """(routes behind the API key, public routes) for the features that are on."""
        private: list[Spec] = []
        if self.metrics is not None:
            private.append(
                ("GET", settings.proxy.metrics_path.rstrip("/"), self.serve_metrics, None)
            )
        public: list[Spec] = [
            ("GET", "/health", health, None),
            ("GET", "/ping", health, None),
            ("POST", "/ping", health, None),
            ("GET", "/ready", Ready(self.drain, self.state), None),
        ]
        if self.ring is not None:
            logs_private, logs_public = LogViews(self.ring, settings.proxy).routes()
            private += logs_private
            public += logs_public
        if settings.proxy.debug_translate_enabled:
            public += Debug(settings, self.responses).routes()
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

    async def serve_metrics(self, ctx: Context, request: Request) -> Response:
        assert self.metrics is not None
        body, content_type = self.metrics.render()
        return Response(body, content_type=content_type)
