"""One request's trace as the request path records it: W3C trace context, the upstream calls.

No OpenTelemetry here and no I/O: ids, clock readings and references go on the
request's `Exchange`, and `traces.py` turns them into spans off the request
path. Sampling is decided once, when the request arrives (`Sampler.open`):
a client's `traceparent` decides for its trace (parent-based), a trace the
gateway starts is kept by trace-id ratio exactly as the OpenTelemetry SDK's
`TraceIdRatioBased` keeps it, so every process agrees on the same trace.
"""

from __future__ import annotations

import re
from time import perf_counter
from typing import NamedTuple

from gpt2giga.observe.exchange import TRACING, Exchange, random_hex

# W3C Trace Context: version-traceId-parentId-flags. A later version may add
# fields after these four; version ff is invalid, and so are all-zero ids.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
# Upstream bytes kept per call to read the answer's model, usage and tool calls
# from: a long stream is cut here, the spans lose only its tail's details.
MAX_KEPT_BYTES = 256 * 1024


class Parent(NamedTuple):
    trace_id: str
    span_id: str
    sampled: bool


def parse_traceparent(value: str) -> Parent | None:
    """The client's span context, or None for a header the W3C rules reject."""
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags = match.groups()
    if version == "ff" or (version == "00" and len(value.strip()) != 55):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return Parent(trace_id, span_id, bool(int(flags, 16) & 1))


class Call:
    """One HTTP exchange with GigaChat (an attempt: a retry is a call of its own)."""

    __slots__ = (
        "attempt",
        "body",
        "encoding",
        "ended",
        "error",
        "method",
        "operation",
        "path",
        "reads",
        "server",
        "span_id",
        "started",
        "status",
        "streaming",
    )

    def __init__(self, span_id: str, method: str, server: str, path: str, operation: str) -> None:
        self.span_id = span_id
        self.method = method
        self.server = server  # host[:port]: never credentials, never a query
        self.path = path
        self.operation = operation  # chat, embeddings, auth, upload_file, models, count_tokens
        self.started = perf_counter()
        self.ended = 0.0
        self.attempt = 0
        self.status = 0
        self.error = ""  # an exception's class name; "" when GigaChat answered
        self.streaming = False
        self.encoding = ""  # the answer's Content-Encoding
        self.body = b""  # the JSON sent (chat and embeddings only: never auth or files)
        # (clock, bytes) per read of the answer, for chat calls, up to MAX_KEPT_BYTES.
        self.reads: list[tuple[float, bytes]] = []


class ToolCall(NamedTuple):
    at: float | None  # when it arrived (streams), on the clock of `Call.started`
    position: int  # the call's place in the answer
    name: str
    arguments: str  # JSON text


class Answer:
    """What a chat call's answer said, read back from its bytes (`gigachat.traced.describe`)."""

    __slots__ = (
        "finish_reasons",
        "first_token",
        "input_tokens",
        "model",
        "output_tokens",
        "response_id",
        "text",
        "tool_calls",
    )

    def __init__(
        self,
        model: str | None = None,
        response_id: str | None = None,
        finish_reasons: list[str] | None = None,
    ) -> None:
        self.model = model
        self.response_id = response_id
        self.finish_reasons = finish_reasons or []
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.text = ""
        self.tool_calls: list[ToolCall] = []
        self.first_token: float | None = None


class Trace:
    """The request's span context and its upstream calls; present only when sampled."""

    __slots__ = ("calls", "parent_id", "span_id", "trace_id")

    def __init__(self, trace_id: str, parent_id: str) -> None:
        self.trace_id = trace_id
        self.parent_id = parent_id  # the client's span, "" when the gateway started the trace
        self.span_id = random_hex(8)  # the gateway's server span
        self.calls: list[Call] = []

    def call(self, method: str, server: str, path: str, operation: str) -> Call:
        """A new client span under the server span; its `traceparent` goes upstream."""
        call = Call(random_hex(8), method, server, path, operation)
        # The client's retry loop sends again only after a failure: a resend is a call
        # to the same place right after one that failed.
        previous = next((c for c in reversed(self.calls) if c.path == path), None)
        if previous is not None and (previous.error or previous.status != 200):
            call.attempt = previous.attempt + 1
        self.calls.append(call)
        return call

    def traceparent(self, span_id: str) -> str:
        return f"00-{self.trace_id}-{span_id}-01"


class Sampler:
    """Opens each request's exchange with its trace decided: kept (a `Trace`) or not."""

    def __init__(self, rate: float) -> None:
        # TraceIdRatioBased: kept when the trace id's low 64 bits are below rate * 2^64.
        self.bound = round(rate * (1 << 64))

    def open(
        self, headers: list[tuple[bytes, bytes]], allowed: dict[bytes, str] = TRACING
    ) -> Exchange:
        ex = Exchange.open(headers, allowed)
        forward = ex.upstream_headers
        sent = forward.get("traceparent")
        parent = parse_traceparent(sent) if sent is not None else None
        if parent is not None:
            if parent.sampled:
                ex.trace = Trace(parent.trace_id, parent.span_id)
            # Not sampled: the client's header goes on unchanged, as it came.
            return ex
        # No valid parent: the gateway starts the trace, and a tracestate has nothing to belong to.
        forward.pop("tracestate", None)
        trace_id = random_hex(16)
        if int(trace_id[16:], 16) < self.bound:
            ex.trace = trace = Trace(trace_id, "")
            forward["traceparent"] = trace.traceparent(trace.span_id)
        else:
            # GigaChat still joins the trace the gateway did not keep, and keeps none of it.
            forward["traceparent"] = f"00-{trace_id}-{random_hex(8)}-00"
        return ex
