"""What is written down when a request ends: metrics, the access line, the traffic-log record.

`Observers` picks them once, at start-up, from the settings; a feature
that is off is simply not in the list, so it costs nothing per request. The
app hands each finished `Exchange` to `Observers.record`, the one entry
point; each observer reads the record and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from gpt2giga.asgi import IGNORED_HEADER
from gpt2giga.config import Settings
from gpt2giga.observe import logs, sinks
from gpt2giga.observe.exchange import Exchange
from gpt2giga.observe.traffic import MAX_CONTENT_BYTES

if TYPE_CHECKING:  # prometheus-client and asyncpg are imported only when they are used
    from gpt2giga.observe.metrics import Metrics
    from gpt2giga.observe.postgres import Database

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
    """The per-request recorders that are on, and what they own (the traffic log's sinks)."""

    def __init__(
        self, settings: Settings, metrics: Metrics | None, database: Database | None = None
    ) -> None:
        self.metrics = metrics
        self.each: list[Observer] = []
        if metrics is not None:
            self.each.append(metrics.record)
        if logs.ACCESS.isEnabledFor(logging.INFO):
            self.each.append(access_line)
        self.traffic = sinks.build(
            settings,
            database,
            metrics.traffic_dropped_by if metrics is not None else _no_drop_hook,
            metrics.traffic_written_by if metrics is not None else _no_written_hook,
        )
        self.capture = self.traffic is not None and self.traffic.capture
        # With drop-on-backpressure off the app awaits room in the queues itself.
        self.wait = self.traffic.put if self.traffic is not None and self.traffic.wait else None
        if self.traffic is not None and self.wait is None:
            self.each.append(self.traffic.submit)

    async def record(self, ex: Exchange) -> None:
        """The request has ended (its stream too): write it down wherever that is on.

        With the traffic log's drop-on-backpressure off, this waits for room in its queues.
        """
        ex.finished = perf_counter()
        for observe in self.each:
            observe(ex)
        if self.wait is not None:
            await self.wait(ex)


def _no_drop_hook(sink: str, reason: str, count: int) -> None:
    return None


def _no_written_hook(sink: str, count: int) -> None:
    return None
