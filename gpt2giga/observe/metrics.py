"""Prometheus metrics: the FastAPI gpt2giga's series, bounded labels, one record per request.

The app calls `record` once per finished request with its exchange; the
per-model limiter reports slots through the `held`/`waiting`/`refused` hooks.
With one worker the series live in this process's registry. With several, the
CLI sets PROMETHEUS_MULTIPROC_DIR before the workers start (prometheus-client
reads it at import), each worker writes its own files and `/metrics` merges
them. Labels are bounded: dialect, route template, method, status, contract
and a model from a known set (`other` beyond it); never prompts, keys or ids.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from gpt2giga.config import Settings
from gpt2giga.observe.exchange import Exchange

# GigaChat's published model names; anything else a client sends is `other`,
# unless the settings name it (default model, embeddings, aliases, limits).
KNOWN_MODELS = frozenset(
    {
        "GigaChat",
        "GigaChat-Plus",
        "GigaChat-Pro",
        "GigaChat-Max",
        "GigaChat-2",
        "GigaChat-2-Lite",
        "GigaChat-2-Pro",
        "GigaChat-2-Max",
        "GigaChat-preview",
        "GigaChat-Pro-preview",
        "GigaChat-Max-preview",
        "GigaChat-2-preview",
        "GigaChat-2-Pro-preview",
        "GigaChat-2-Max-preview",
        "Embeddings",
        "Embeddings-2",
        "EmbeddingsGigaR",
    }
)
OTHER = "other"
NONE = "none"  # the request made no model call (health, model list, errors before one)
REQUEST_LABELS = ("dialect", "route", "method", "status", "contract", "model")
# LLM calls run from milliseconds (errors, cached answers) to minutes (long reasoning).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# What generate_latest writes; every Prometheus version reads it.
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60)


def multiprocess() -> bool:
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ


def known_models(settings: Settings) -> frozenset[str]:
    p = settings.proxy
    named = {settings.gigachat.model, p.embeddings, *p.model_aliases.values()}
    return KNOWN_MODELS | named | set(p.model_max_connections)


class Metrics:
    """The collectors and the label bounding; `render` is the /metrics body."""

    def __init__(self, settings: Settings) -> None:
        shared = multiprocess()
        # `*_created` series double the output and no dashboard reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        # In multiprocess mode series are files, not registry members; /metrics
        # reads them all through a MultiProcessCollector.
        self._registry = None if shared else CollectorRegistry()
        self._models = known_models(settings)
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._series: dict[tuple[str, str, str, int, str, str], _Series] = {}
        # Declared in this order, the series are exposed in this order.
        self._request_series()
        self._sink_series()
        self._limit_series()
        self._exposition = self._registry or _merged()

    def _counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(name, doc, labels, registry=self._registry)

    def _histogram(self, name: str, doc: str, labels: tuple[str, ...], buckets: Any) -> Histogram:
        return Histogram(name, doc, labels, registry=self._registry, buckets=buckets)

    def _gauge(self, name: str, doc: str) -> Gauge:
        return Gauge(name, doc, ("model",), registry=self._registry, multiprocess_mode="livesum")

    def _request_series(self) -> None:
        """What `record` writes: one request, its GigaChat calls, its tokens."""
        self.requests = self._counter("gpt2giga_requests_total", "HTTP requests.", REQUEST_LABELS)
        self.duration = self._histogram(
            "gpt2giga_request_duration_seconds",
            "HTTP request duration, stream bodies included.",
            REQUEST_LABELS,
            DURATION_BUCKETS,
        )
        upstream = ("contract", "model")
        self.upstream = self._histogram(
            "gpt2giga_upstream_duration_seconds",
            "Time spent in GigaChat calls per request.",
            upstream,
            DURATION_BUCKETS,
        )
        self.upstream_errors = self._counter(
            "gpt2giga_upstream_errors_total", "Failed GigaChat calls.", (*upstream, "kind")
        )
        usage = ("dialect", "contract", "model")
        self.tokens_in = self._counter("gpt2giga_tokens_input_total", "Input tokens.", usage)
        self.tokens_out = self._counter("gpt2giga_tokens_output_total", "Output tokens.", usage)
        self.ttft = self._histogram(
            "gpt2giga_time_to_first_token_seconds",
            "From a stream request's arrival to GigaChat's first chunk.",
            usage,
            TTFT_BUCKETS,
        )
        self.disconnects = self._counter(
            "gpt2giga_stream_disconnects_total",
            "Streams the client left before the end.",
            ("dialect", "route", "model"),
        )

    def _sink_series(self) -> None:
        """What the traffic-log sinks and the tracer report: records and spans kept or lost."""
        self.traffic_dropped = self._counter(
            "gpt2giga_traffic_log_dropped_total",
            "Traffic-log records lost: queue full, write failed, or left at shutdown.",
            ("sink", "reason"),
        )
        self.traffic_written = self._counter(
            "gpt2giga_traffic_log_written_total", "Traffic-log records stored.", ("sink",)
        )
        self.spans_dropped = self._counter(
            "gpt2giga_trace_spans_dropped_total",
            "Trace spans not exported: queue_full (never queued) or export_failed.",
            ("reason",),
        )

    def _limit_series(self) -> None:
        """What the per-model limiter and the shared state store report."""
        self.inflight = self._gauge("gpt2giga_inflight_requests", "GigaChat calls in flight.")
        self.queued = self._gauge("gpt2giga_model_queue_waiting", "Calls waiting for a model slot.")
        self.refusals = self._counter(
            "gpt2giga_model_limit_rejections_total",
            "Calls refused: no model slot within the acquire timeout.",
            ("model",),
        )
        # Shared state (GPT2GIGA_REDIS_URL, or several workers on one box).
        self.store_state = Gauge(
            "gpt2giga_state_store_up",
            "1 while the shared state store answers, 0 while it is down (per process).",
            registry=self._registry,
            multiprocess_mode="livemin",
        )
        self.fallbacks = self._counter(
            "gpt2giga_model_limit_fallback_total",
            "Model slots granted by one process on its own: the shared state store was down.",
            ("model",),
        )

    def model(self, name: str) -> str:
        if not name:
            return NONE
        return name if name in self._models else OTHER

    def child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, remembered: cheaper than prometheus-client's own lookup."""
        key = (id(metric), *labels)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = metric.labels(*labels)
        return found

    def record(self, ex: Exchange) -> None:
        model = self.model(ex.model)
        key = (ex.dialect, ex.route, ex.method, ex.status, ex.contract, model)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(self, key)
        series.requests.inc()
        series.duration.observe(ex.duration)
        if ex.upstream_seconds:
            series.get("upstream").observe(ex.upstream_seconds)
        if ex.upstream_error:
            self.child(self.upstream_errors, ex.contract, model, ex.upstream_error).inc()
        if ex.tokens_in:
            series.get("tokens_in").inc(ex.tokens_in)
        if ex.tokens_out:
            series.get("tokens_out").inc(ex.tokens_out)
        if ex.first_chunk:
            series.get("ttft").observe(ex.first_chunk - ex.started)
        if ex.disconnected:
            self.child(self.disconnects, ex.dialect, ex.route, model).inc()

    # sinks.DropHook / WrittenHook: sink names and reasons are a closed set.
    def traffic_dropped_by(self, sink: str, reason: str, count: int) -> None:
        self.child(self.traffic_dropped, sink, reason).inc(count)

    def traffic_written_by(self, sink: str, count: int) -> None:
        self.child(self.traffic_written, sink).inc(count)

    def spans_lost(self, reason: str, spans: int) -> None:
        """traces.OnDrop; called from the tracer's threads (prometheus-client counters lock)."""
        self.child(self.spans_dropped, reason).inc(spans)

    # limits.Observer: the model names here are GigaChat's, bounded like the rest.
    def held(self, model: str, delta: int) -> None:
        self.child(self.inflight, self.model(model)).inc(delta)

    def waiting(self, model: str, delta: int) -> None:
        self.child(self.queued, self.model(model)).inc(delta)

    def refused(self, model: str) -> None:
        self.child(self.refusals, self.model(model)).inc()

    # state.store.Observer
    def store_up(self, up: bool) -> None:
        self.store_state.set(1 if up else 0)

    def limit_fallback(self, model: str) -> None:
        self.child(self.fallbacks, self.model(model)).inc()

    def render(self) -> tuple[bytes, bytes]:
        """The exposition body and its content type."""
        return generate_latest(self._exposition), CONTENT_TYPE


class _Series:
    """The children one kind of request writes to, found with a single dict lookup.

    prometheus-client's own `labels()` takes a lock and rebuilds its key on every
    call; a chat request touches up to six series. The optional ones are made on
    first use, so a health check never shows up as a zero token count.
    """

    __slots__ = ("_m", "_optional", "_usage", "duration", "requests")

    def __init__(self, m: Metrics, key: tuple[str, str, str, int, str, str]) -> None:
        dialect, route, method, status, contract, model = key
        labels = (dialect, route, method, str(status), contract, model)
        self._m = m
        self._usage = (dialect, contract, model)
        self._optional: dict[str, Any] = {}
        self.requests = m.child(m.requests, *labels)
        self.duration = m.child(m.duration, *labels)

    def get(self, name: str) -> Any:
        found = self._optional.get(name)
        if found is None:
            labels = self._usage[1:] if name == "upstream" else self._usage  # contract, model
            found = self._optional[name] = getattr(self._m, name).labels(*labels)
        return found


def _merged() -> CollectorRegistry:
    from prometheus_client import multiprocess as mp

    registry = CollectorRegistry()
    mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def mark_process_dead() -> None:
    """Forget this worker's live gauges (multiprocess mode), at its shutdown."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
