"""The table of system routes: which exist, decided once from the settings, and the metrics route.

Health, ping and readiness always exist and are public (`health.py`); the
metrics route exists only when metrics are on, the log views only in DEV
(`logs.py`); those sit behind the proxy API key when it is on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from gpt2giga.asgi import Request, Response, StreamResponse
from gpt2giga.config import Settings
from gpt2giga.context import Context
from gpt2giga.drain import Drain
from gpt2giga.observe.logs import Ring
from gpt2giga.ops.health import Ready, health
from gpt2giga.ops.logs import LogViews

if TYPE_CHECKING:  # prometheus-client is imported only when metrics are on
    from gpt2giga.observe.metrics import Metrics

Handler = Callable[[Context, Request], Awaitable[Response | StreamResponse]]
Spec = tuple[str, str, Handler, None]


class Ops:
    def __init__(self, drain: Drain, metrics: Metrics | None, ring: Ring | None) -> None:
        self.drain = drain
        self.metrics = metrics
        self.ring = ring

    def routes(self, settings: Settings) -> tuple[list[Spec], list[Spec]]:
        """(routes behind the API key, public routes) for the features that are on."""
        private: list[Spec] = []
        if self.metrics is not None:
            private.append(
                ("GET", settings.proxy.metrics_path.rstrip("/"), self.serve_metrics, None)
            )
        if self.ring is not None:
            views = LogViews(self.ring)
            private += [
                ("GET", "/logs", views.tail, None),
                ("GET", "/logs/stream", views.stream, None),
                ("GET", "/logs/{n}", views.tail, None),
            ]
        public: list[Spec] = [
            ("GET", "/health", health, None),
            ("GET", "/ping", health, None),
            ("POST", "/ping", health, None),
            ("GET", "/ready", Ready(self.drain), None),
        ]
        return private, public

    async def serve_metrics(self, ctx: Context, request: Request) -> Response:
        assert self.metrics is not None
        body, content_type = self.metrics.render()
        return Response(body, content_type=content_type)
