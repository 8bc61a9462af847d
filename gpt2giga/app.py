"""The ASGI application: lifespan, dispatch and the one error boundary.

`routes.py` is the one route table; `router.py` reads a path into a route and
the GigaChat contract it names.
Every failure is rendered here, once, in the caller's dialect. Features
switched off at start-up cost nothing per request. Each request gets an
`Exchange` (request id, tracing headers, what the GigaChat client saw); when
it ends, it is handed once to `observe` (metrics, access line, traffic log,
as chosen at start-up). What a request holds (`context.Held`) is given back
after that, whatever happened.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import TYPE_CHECKING

from gpt2giga import cors, errors
from gpt2giga.asgi import (
    BodyTooLarge,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    StreamResponse,
    discard,
    read_body,
    send_full,
    send_stream,
)
from gpt2giga.config import ConfigError, Settings, auth_required, tracing_on
from gpt2giga.context import HELD, Context, Held
from gpt2giga.drain import Drain, shutting_down
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.upstream import build_pool
from gpt2giga.observe import exchange, logs
from gpt2giga.observe.exchange import Exchange
from gpt2giga.observe.observers import Observers, tap
from gpt2giga.openai.responses.handlers import Responses
from gpt2giga.ops.system import Ops
from gpt2giga.router import Dialect, Match, Router, RouteSpec, sniff
from gpt2giga.routes import DIALECTS, PUBLIC, ROUTES
from gpt2giga.state.store import open_store

if TYPE_CHECKING:
    from gpt2giga.observe.metrics import Metrics
    from gpt2giga.observe.postgres import Database
    from gpt2giga.observe.traces import Tracer

log = logging.getLogger("gpt2giga")


class App:
    """The gateway. `upstream` injects a GigaChat client (tests); else lifespan builds one.

    `hook_signals` (the server's worker only) lets SIGTERM start the drain.
    """

    def __init__(
        self,
        settings: Settings,
        upstream: GigaChatClient | None = None,
        *,
        hook_signals: bool = False,
    ) -> None:
        self.settings = settings
        p = settings.proxy
        self._limit = p.max_request_body_bytes
        self._api_key = p.api_key.value.encode() if auth_required(settings) and p.api_key else None
        self.drain = Drain(p.shutdown_timeout_seconds)
        self.metrics = _metrics(settings) if p.metrics_enabled else None
        self.database = _database(settings)
        self.observers = Observers(settings, self.metrics, self.database)
        # Tracing is decided here, once: off, the request path is what it was without it.
        self.tracer = _tracer(settings, self.metrics) if tracing_on(p) else None
        self._open = Exchange.open if self.tracer is None else self.tracer.open
        if self.tracer is not None:
            self.observers.each.append(self.tracer.record)
        self._tap = self.observers.capture or bool(self.tracer and self.tracer.wants_output)
        self.ring = logs.Ring() if p.mode == "DEV" else None
        if self.ring is not None:
            self.ring.setFormatter(logs.formatter(settings))
        # What outlives a request: in memory, or shared by workers and replicas.
        self.state = open_store(settings, self.metrics)
        # The Responses routes own the gateway's store of responses: built here, once.
        self.responses = Responses.from_settings(settings, self.state)
        ops = Ops(
            self.drain,
            self.metrics,
            self.ring,
            self.database,
            self,
            self.responses.create,
            self.state,
        )
        private, public = ops.routes(settings)
        stored: list[RouteSpec] = [(m, path, h, "openai") for m, path, h in self.responses.routes()]
        self.router = Router([*ROUTES, *stored, *private], [*PUBLIC, *public])
        self.limits = self.state.limits(
            p.model_max_connections,
            p.model_max_connections_default,
            p.model_max_connections_acquire_timeout,
            self.metrics,
        )
        self.ctx = self._context(upstream) if upstream is not None else None
        self._owns_upstream = upstream is None
        self._hook_signals = hook_signals
        # Pass-through credentials are leased per request; without them nothing is held.
        http = self._holding if p.pass_token else self._http
        self._serve = cors.wrap(http, cors.Policy(p)) if p.cors_allow_origins else http
        self._forward = exchange.forwarded(p.forward_headers)

    def _context(self, upstream: GigaChatClient) -> Context:
        upstream.limits = self.limits  # the app owns the settings, the client enforces them
        if self.tracer is not None:
            upstream.trace()
        return Context(self.settings, upstream, state=self.state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._serve(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.error("start-up failed: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        if self.ctx is None:
            giga = self.settings.gigachat
            self.ctx = self._context(GigaChatClient(giga, build_pool(giga)))
        upstream = self.ctx.upstream
        self.drain.on_cut(lambda: upstream.abort_streams(shutting_down()))
        if self.ring is not None:
            self.drain.on_cut(self.ring.end_readers)
        if self.observers.traffic is not None:
            await self.observers.traffic.start()
        if self.tracer is not None:
            self.tracer.start()
        if self.ring is not None:
            logging.getLogger().addHandler(self.ring)
        if self._hook_signals:
            self.drain.hook_signals()

    async def shutdown(self) -> None:
        if self.observers.traffic is not None:
            await self.observers.traffic.stop()
        if self.database is not None:
            await self.database.close()
        if self.tracer is not None:
            await asyncio.to_thread(self.tracer.stop)
        if self.ring is not None:
            logging.getLogger().removeHandler(self.ring)
        if self.metrics is not None:
            from gpt2giga.observe.metrics import mark_process_dead

            mark_process_dead()
        if self.ctx is not None and self._owns_upstream:
            await self.ctx.upstream.aclose()
        await self.state.close()

    async def _holding(self, scope: Scope, receive: Receive, send: Send) -> None:
        """`_http`, and what the request leased given back when it ends (a stream included)."""
        held = Held()
        token = HELD.set(held)
        try:
            await self._http(scope, receive, send)
        finally:
            HELD.reset(token)
            held.close()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        ex = self._open(scope["headers"], self._forward)
        ex.scope = scope
        token = exchange.CURRENT.set(ex)
        try:
            response = await self._response(scope, receive, ex)
            try:
                await self._send(receive, send, response, ex)
            finally:
                await self.observers.record(ex)
            if isinstance(response, Response) and response.linger:
                await discard(receive)
        finally:
            exchange.CURRENT.reset(token)

    async def _response(
        self, scope: Scope, receive: Receive, ex: Exchange
    ) -> Response | StreamResponse:
        method: str = scope["method"]
        matched = self.router.match(scope["path"], method)
        route = matched.route
        dialect = route.dialect if route is not None and route.dialect else sniff(scope)
        ex.method, ex.dialect = method, dialect
        ex.route = route.template if route is not None else "unmatched"
        ex.contract = matched.contract or self.settings.proxy.gigachat_api_mode
        ex.requested = matched.params.get("model", "")
        task = self.drain.enter()
        try:
            return await self._handle(scope, receive, matched, method, ex)
        except errors.GatewayError as err:
            return self._failed(dialect, err, ex)
        except asyncio.CancelledError:
            if not self.drain.owns(task):  # only the drain's own cut becomes an answer
                raise
            return self._failed(dialect, shutting_down(), ex)
        except Exception:
            log.exception("unhandled error on %s %s", method, matched.route and scope["path"])
            return self._failed(dialect, errors.GatewayError("Internal gateway error"), ex)
        finally:
            self.drain.leave(task)

    def _failed(self, dialect: Dialect, err: errors.GatewayError, ex: Exchange) -> Response:
        ex.error, ex.error_message = err.kind, err.message
        response = self.error_response(dialect, err)
        response.linger = isinstance(err, BodyTooLarge)
        return response

    async def _send(
        self, receive: Receive, send: Send, response: Response | StreamResponse, ex: Exchange
    ) -> None:
        response.headers.append((b"x-request-id", ex.request_id.encode()))
        ex.status, ex.response_headers = response.status, response.headers
        if isinstance(response, StreamResponse):
            if self._tap:
                response.chunks = tap(response.chunks, ex)
            ex.disconnected = not await send_stream(receive, send, response)
            return
        if ex.method == "HEAD":
            response.body = b""
        ex.response_body = response.body
        await send_full(send, response)

    async def _handle(
        self, scope: Scope, receive: Receive, matched: Match, method: str, ex: Exchange
    ) -> Response | StreamResponse:
        route = matched.route
        if route is None:
            if matched.allowed:
                raise errors.MethodNotAllowed(
                    f"Method {method} is not allowed here; use {', '.join(matched.allowed)}"
                )
            raise errors.NotFound(f"No route for {method} {scope['path']}")
        if self._api_key is not None and not route.public:
            self._check_key(scope)
        ctx = self.ctx
        if ctx is None:
            raise errors.Overloaded("The gateway is starting")
        if self.drain.draining and not route.public:
            raise shutting_down()
        body = (
            await read_body(scope, receive, self._limit)
            if method in ("POST", "PUT", "PATCH")
            else b""
        )
        ex.request_body = body
        contract = matched.contract or self.settings.proxy.gigachat_api_mode
        return await route.handler(ctx, Request(scope, body, contract, matched.params))

    def _check_key(self, scope: Scope) -> None:
        assert self._api_key is not None
        for name, value in scope["headers"]:
            if name == b"authorization":
                value = value.removeprefix(b"Bearer ").removeprefix(b"bearer ")
            elif name not in (b"x-api-key", b"x-goog-api-key"):
                continue
            if hmac.compare_digest(value.strip(), self._api_key):
                return
        query: bytes = scope.get("query_string", b"")
        for pair in query.split(b"&"):
            if pair.startswith(b"key=") and hmac.compare_digest(pair[4:], self._api_key):
                return
        raise errors.Unauthorized("Invalid or missing API key")

    def error_response(self, dialect: Dialect, err: errors.GatewayError) -> Response:
        spec = DIALECTS.get(dialect, DIALECTS["openai"])
        headers = []
        if err.retry_after is not None:
            headers.append((b"retry-after", str(max(1, round(err.retry_after))).encode()))
        if isinstance(err, errors.MethodNotAllowed):
            headers.append((b"allow", err.message.rpartition("use ")[2].encode()))
        return Response(spec.error_body(err), status=spec.error_status(err), headers=headers)


def _metrics(settings: Settings) -> Metrics:
    # prometheus-client costs ~12 ms of import and memory: loaded only when metrics are on.
    from gpt2giga.observe.metrics import Metrics

    return Metrics(settings)


def _database(settings: Settings) -> Database | None:
    """The traffic log's PostgreSQL (the sink and the admin API's store), when one is named.

    The admin API reads it even with the traffic log off: old records stay readable.
    """
    p = settings.proxy
    if "postgres" not in (p.traffic_log_sinks or [p.traffic_log_sink]):
        return None
    if not p.traffic_log_postgres_dsn:
        return None
    try:  # asyncpg is an optional extra: imported only when it is configured
        from gpt2giga.observe.postgres import Database
    except ImportError:
        raise ConfigError(
            "GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN: needs asyncpg; pip install 'gpt2giga[postgres]'"
        ) from None
    return Database(p.traffic_log_postgres_dsn.value)


def _tracer(settings: Settings, metrics: Metrics | None) -> Tracer:
    # The OpenTelemetry SDK adds ~10 MiB and ~40 ms to start-up (benchmarks): only when on.
    from gpt2giga.gigachat.traced import describe
    from gpt2giga.observe.traces import Tracer

    return Tracer(settings, describe, metrics.spans_lost if metrics is not None else _no_drop)


def _no_drop(reason: str, spans: int) -> None:
    return None


def from_environment() -> App:
    """Granian's factory target in each worker: settings the CLI already checked."""
    from gpt2giga import config

    settings = config.load()
    logs.setup(settings)
    return App(settings, hook_signals=True)
