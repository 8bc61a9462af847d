"""An OTLP/HTTP trace receiver on a loopback port: what the gateway exported, as decoded spans.

It decodes the real protobuf body (`ExportTraceServiceRequest`) the exporter
POSTs to `/v1/traces`, keeps every span with its resource, and answers as a
collector does. It runs in a thread: the exporter sends from its own thread
with a blocking client, whatever the test's event loop is doing.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan

KINDS = {
    PbSpan.SPAN_KIND_INTERNAL: "internal",
    PbSpan.SPAN_KIND_SERVER: "server",
    PbSpan.SPAN_KIND_CLIENT: "client",
}


def value(v: AnyValue) -> Any:
    """An OTLP attribute value as the Python value it was set from."""
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    if kind is None:
        return None
    return getattr(v, kind)


@dataclass
class Event:
    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass
class Span:
    """One exported span, ids in lower-case hex as in a `traceparent`."""

    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str
    start_ns: int
    end_ns: int
    status: str  # "unset", "ok" or "error"
    status_message: str
    attributes: dict[str, Any]
    events: list[Event]
    resource: dict[str, Any]
    scope: str

    def event(self, name: str) -> Event:
        (found,) = [e for e in self.events if e.name == name]
        return found

    def event_names(self) -> list[str]:
        return [e.name for e in self.events]


def decode(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for rs in request.resource_spans:
        resource = {a.key: value(a.value) for a in rs.resource.attributes}
        for ss in rs.scope_spans:
            spans.extend(
                Span(
                    name=s.name,
                    kind=KINDS.get(s.kind, str(s.kind)),
                    trace_id=s.trace_id.hex(),
                    span_id=s.span_id.hex(),
                    parent_id=s.parent_span_id.hex(),
                    start_ns=s.start_time_unix_nano,
                    end_ns=s.end_time_unix_nano,
                    status={0: "unset", 1: "ok", 2: "error"}[s.status.code],
                    status_message=s.status.message,
                    attributes={a.key: value(a.value) for a in s.attributes},
                    events=[
                        Event(
                            e.name,
                            e.time_unix_nano,
                            {a.key: value(a.value) for a in e.attributes},
                        )
                        for e in s.events
                    ],
                    resource=resource,
                    scope=ss.scope.name,
                )
                for s in ss.spans
            )
    return spans


@dataclass
class Receiver:
    """The spans received so far and the requests that carried them."""

    port: int
    spans: list[Span] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    status: int = 200  # what it answers; 503 plays a collector that is overloaded
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        """The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it (no /v1/traces)."""
        return f"http://127.0.0.1:{self.port}"

    def received(self, body: bytes, headers: dict[str, str], path: str) -> None:
        spans = decode(body)
        with self._lock:
            self.spans += spans
            self.headers.append(headers)
            self.paths.append(path)

    def wait(self, predicate: Callable[[list[Span]], bool], timeout: float = 10.0) -> list[Span]:
        """The spans once `predicate` holds for them (the exporter sends in the background)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                spans = list(self.spans)
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver got {[s.name for s in spans]}")
            time.sleep(0.01)

    def start(self) -> Self:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                encoding = self.headers.get("content-encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                headers = {k.lower(): v for k, v in self.headers.items()}
                if receiver.status == 200:
                    receiver.received(body, headers, self.path)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on: a collector that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
