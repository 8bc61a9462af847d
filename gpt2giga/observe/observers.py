"""What is written down when a request ends: metrics, the access line, the traffic-log record.

`Observers` picks them once, at start-up, from the settings; a feature
that is off is simply not in the list, so it costs nothing per request. Each
observer reads the request's `Exchange` and nothing else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from gpt2giga.asgi import IGNORED_HEADER
from gpt2giga.config import Settings
from gpt2giga.observe import logs, redact
from gpt2giga.observe.exchange import Exchange
from gpt2giga.observe.traffic import MAX_CONTENT_BYTES, TrafficLog

if TYPE_CHECKING:  # prometheus-client is imported only when metrics are on
    from gpt2giga.observe.metrics import Metrics

Observer = Callable[[Exchange], None]


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 1) if seconds else None


def facts(ex: Exchange) -> dict[str, Any]:
    """The access line's fields, also the traffic record's core. None: not applicable."""
    ignored = next((v.decode() for k, v in ex.response_headers if k == IGNORED_HEADER), None)
    return {
        "request_id": ex.request_id,
        "dialect": ex.dialect,
        "method": ex.method,
        "route": ex.route,
        "contract": ex.contract,
        "requested_model": ex.requested or None,
        "model": ex.model or None,
        "status": ex.status,
        "duration_ms": _ms(ex.duration),
        "upstream_ms": _ms(ex.upstream_seconds),
        "ttft_ms": _ms(ex.ttft),
        "tokens_in": ex.tokens_in or None,
        "tokens_out": ex.tokens_out or None,
        "ignored": ignored,
        "error": ex.error or None,
        "upstream_error": ex.upstream_error or None,
        "disconnected": ex.disconnected or None,
    }


def access_line(ex: Exchange) -> None:
    logs.ACCESS.info("%s %s %d", ex.method, ex.route, ex.status, extra={"fields": facts(ex)})


async def tap(chunks: AsyncIterator[bytes], ex: Exchange) -> AsyncIterator[bytes]:
    """Pass a stream through, keeping its first MAX_CONTENT_BYTES for the traffic log."""
    kept: list[bytes] = []
    size = 0
    try:
        async for chunk in chunks:
            if size <= MAX_CONTENT_BYTES:
                kept.append(chunk)
                size += len(chunk)
            yield chunk
    finally:
        ex.response_body = b"".join(kept)
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()  # the inner relay closes the upstream stream


class Observers:
    """The per-request recorders that are on, and what they own (the traffic writer)."""

    def __init__(self, settings: Settings, metrics: Metrics | None) -> None:
        proxy = settings.proxy
        self.metrics = metrics
        self.traffic: TrafficLog | None = None
        self.capture = False
        self.each: list[Observer] = []
        if metrics is not None:
            self.each.append(metrics.record)
        if logs.ACCESS.isEnabledFor(logging.INFO):
            self.each.append(access_line)
        if proxy.traffic_log_enabled and proxy.traffic_log_sink == "jsonl":
            redactor = (
                redact.Redactor(redact.secret_values(settings), proxy.traffic_log_redact_extra_keys)
                if proxy.traffic_log_redact_sensitive
                else None
            )
            self.traffic = TrafficLog(
                proxy.traffic_log_jsonl_path,
                queue_size=proxy.traffic_log_queue_size,
                batch_size=proxy.traffic_log_batch_size,
                flush_interval_s=proxy.traffic_log_flush_interval_ms / 1000,
                redactor=redactor,
                on_drop=metrics.dropped if metrics is not None else lambda: None,
            )
            self.capture = proxy.traffic_log_capture_content
            self.each.append(self.traffic_record)

    def traffic_record(self, ex: Exchange) -> None:
        assert self.traffic is not None
        record: dict[str, Any] = {"ts": round(time.time() - ex.duration, 3)}
        record.update((k, v) for k, v in facts(ex).items() if v is not None)
        if self.capture:
            # Bytes here; the writer thread decodes and redacts them, off the request path.
            if ex.request_body:
                record["request"] = ex.request_body
            if ex.response_body:
                record["response"] = ex.response_body
        self.traffic.submit(record)
