"""The per-request record: ids, tracing headers and what was observed of the request.

The app opens an `Exchange` for every HTTP request and keeps it in a
ContextVar; the GigaChat client fills in what only it sees (the model sent
upstream, usage, upstream time, the first stream chunk, upstream errors), so
every dialect gets metrics and logs without a line of its own. It only
observes: what a request holds and must give back lives in `context.Held`.
No I/O here.
"""

from __future__ import annotations

import random
import re
from contextvars import ContextVar
from time import perf_counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gpt2giga.observe.spans import Trace

REQUEST_ID = b"x-request-id"
# Client headers that are safe to pass on to GigaChat, with the spelling sent.
# An allowlist: credentials, cookies and SDK-internal headers (x-stainless-*,
# anthropic-*, openai-*) can never slip through.
TRACING: dict[bytes, str] = {
    b"x-session-id": "X-Session-ID",
    b"x-client-id": "X-Client-ID",
    b"x-trace-id": "X-Trace-ID",
    b"x-agent-id": "X-Agent-ID",
    b"x-service-id": "X-Service-ID",
    b"x-operation-id": "X-Operation-ID",
    b"traceparent": "traceparent",
    b"tracestate": "tracestate",  # W3C: travels with traceparent
}
MAX_TRACING_VALUE = 256


def forwarded(names: list[str]) -> dict[bytes, str]:
    """The tracing set plus an operator's GPT2GIGA_FORWARD_HEADERS, spelled as configured.

    The names were checked at start-up (`config.validate_forward_headers`).
    """
    return {**TRACING, **{name.lower().encode(): name for name in names}}


# A client's own request id is kept only if it is short and plain: it ends up in
# logs, a response header and GigaChat's request.
_CLIENT_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
_NO_SCOPE: dict[str, Any] = {}


def random_hex(size: int) -> str:
    """`size` random bytes in hex, for request and response ids: unique, not secret,
    so the interpreter's generator, not an os.urandom system call per request."""
    return f"{random.getrandbits(size * 8):0{size * 2}x}"


def new_request_id() -> str:
    """A random UUID4 in its usual spelling; uuid.uuid4() costs 3 µs, this under 1 µs."""
    h = random_hex(16)
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


class Exchange:
    """One request's story; the app writes the edges, the client the upstream part."""

    __slots__ = (
        "contract",
        "dialect",
        "disconnected",
        "error",
        "error_message",
        "finished",
        "first_chunk",
        "method",
        "model",
        "request_body",
        "request_id",
        "requested",
        "response_body",
        "response_headers",
        "route",
        "scope",
        "started",
        "status",
        "tokens_in",
        "tokens_out",
        "trace",
        "upstream_error",
        "upstream_headers",
        "upstream_seconds",
        "upstream_status",
    )

    def __init__(self, request_id: str, upstream_headers: dict[str, str]) -> None:
        self.request_id = request_id
        self.upstream_headers = upstream_headers
        self.started = perf_counter()
        self.dialect = ""
        self.route = ""
        self.method = ""
        self.contract = ""
        self.status = 0
        self.model = ""  # the model sent to GigaChat
        self.requested = ""  # the client's model: from the path (Gemini) or the body
        self.tokens_in = 0
        self.tokens_out = 0
        self.upstream_seconds = 0.0
        self.upstream_status = 0  # GigaChat's last HTTP status for this request
        self.first_chunk = 0.0
        self.upstream_error = ""
        self.disconnected = False
        self.error = ""
        self.error_message = ""
        self.finished = 0.0
        # The ASGI scope, read only by the traffic-log record, off the request path.
        self.scope: dict[str, Any] = _NO_SCOPE
        # Kept for the traffic log's content capture: references, not copies.
        self.request_body = b""
        self.response_body = b""
        self.response_headers: list[tuple[bytes, bytes]] = []
        # The sampled trace's record (spans.Trace), set only when tracing is on.
        self.trace: Trace | None = None

    @classmethod
    def open(
        cls, headers: list[tuple[bytes, bytes]], allowed: dict[bytes, str] = TRACING
    ) -> Exchange:
        """Read the request id and the headers to forward (`allowed`), in one pass."""
        request_id = ""
        forward: dict[str, str] = {}
        for name, value in headers:
            if name == REQUEST_ID:
                if _CLIENT_ID.fullmatch(value):
                    request_id = value.decode()
            elif name in allowed and 0 < len(value) <= MAX_TRACING_VALUE and value.isascii():
                # httpx sends header values as ASCII: anything else would fail the call.
                forward[allowed[name]] = value.decode()
        request_id = request_id or new_request_id()
        forward["X-Request-ID"] = request_id
        return cls(request_id, forward)

    @property
    def duration(self) -> float:
        return self.finished - self.started

    @property
    def age(self) -> float:
        """Seconds since the request arrived (the record's wall-clock start is now - age)."""
        return perf_counter() - self.started

    @property
    def ttft(self) -> float | None:
        """Seconds from the request's arrival to GigaChat's first stream chunk."""
        return self.first_chunk - self.started if self.first_chunk else None


# Outside a request (tests driving the client directly, `gpt2giga doctor`) the
# client writes into this one, which nobody reads.
DETACHED = Exchange("", {})
CURRENT: ContextVar[Exchange] = ContextVar("gpt2giga_exchange")


def current() -> Exchange:
    return CURRENT.get(DETACHED)
