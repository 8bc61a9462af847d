"""Traces: a sampled request's record becomes OpenTelemetry spans, off the request path.

Loaded only when tracing is on (it imports the OpenTelemetry SDK). On the
request path the tracer does two things: `open` decides the trace when the
request arrives (`spans.Sampler`), and `record` puts a finished, sampled
request on a bounded queue (a full queue drops and counts). A worker thread
builds the spans with the times the request noted (a SERVER span for the
request, a CLIENT span for every GigaChat call under it) and hands them to
the SDK's BatchSpanProcessor, which exports in its own thread; a failed
export is counted and logged, never seen by a request.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from gpt2giga import __version__
from gpt2giga.asgi import IGNORED_HEADER
from gpt2giga.config import Settings
from gpt2giga.observe import genai, otlp
from gpt2giga.observe.capture import Capture
from gpt2giga.observe.exchange import Exchange
from gpt2giga.observe.spans import Answer, Call, Sampler

log = logging.getLogger("gpt2giga.traces")

Describe = Callable[[Call, bool], Answer]  # gigachat.traced.describe: a chat call's answer
OnDrop = Callable[[str, int], None]  # (reason, spans): queue_full or export_failed
SAMPLED = TraceFlags(TraceFlags.SAMPLED)
STOP_TIMEOUT_S = 5.0
# The worker wakes this often and takes whatever finished meanwhile. Waking per
# request instead (a blocking get) cost a GIL hand-off and a thread switch per
# sampled request on the gateway's one core: 0.29x the throughput at 256 in flight.
POLL_S = 0.25
LOG_EVERY_S = 60.0  # a collector that is down is reported at most once a minute


class Counted(SpanExporter):
    """The OTLP exporter, with every span it could not deliver counted."""

    def __init__(self, inner: SpanExporter, on_failed: Callable[[int], None]) -> None:
        self.inner = inner
        self._on_failed = on_failed

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:  # an exporter bug must not end the export thread
            log.exception("traces: the exporter failed")
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self._on_failed(len(spans))
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


class Tracer:
    """Decides, records and exports the traces of one process."""

    def __init__(
        self,
        settings: Settings,
        describe: Describe,
        on_drop: OnDrop = lambda reason, n: None,
        exporter: Callable[[Settings], SpanExporter] = otlp.exporter,
    ) -> None:
        proxy = settings.proxy
        self.settings = settings
        self.open = Sampler(proxy.observability_sample_rate).open
        self.capture = Capture.from_settings(settings)
        self.wants_output = self.capture is not None and self.capture.responses
        self._describe = describe
        self._on_drop = on_drop
        self._exporter = exporter
        self._queue: queue.Queue[Any] = queue.Queue(proxy.observability_queue_size)
        self._resource = otlp.resource(settings)
        self._scope = InstrumentationScope("gpt2giga", __version__)
        self._processor: BatchSpanProcessor | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._last_report = 0.0
        self.dropped = 0  # requests whose spans never left: queue full
        self.failed = 0  # spans the collector did not take

    # --- the request path --------------------------------------------------------

    def record(self, ex: Exchange) -> None:
        if ex.trace is None:
            return
        try:
            self._queue.put_nowait(ex)
        except queue.Full:
            self.dropped += 1
            self._on_drop("queue_full", 1 + len(ex.trace.calls))
            self._report("trace queue full (GPT2GIGA_OBSERVABILITY_QUEUE_SIZE)")

    # --- the worker ----------------------------------------------------------------

    def start(self) -> None:
        where = otlp.target(self.settings)
        self._processor = BatchSpanProcessor(Counted(self._exporter(self.settings), self._failed))
        self._thread = threading.Thread(target=self._run, name="gpt2giga-traces", daemon=True)
        self._thread.start()
        log.info("traces: exporting to %s (%s)", where.url, "grpc" if where.grpc else "http")

    def stop(self) -> None:
        """Export what was recorded, then end both threads (lifespan shutdown)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join(STOP_TIMEOUT_S)
        if self._processor is not None:
            self._processor.shutdown()  # type: ignore[no-untyped-call]

    def _run(self) -> None:
        processor = self._processor
        assert processor is not None
        while True:
            stopping = self._stopping.wait(POLL_S)
            while True:  # everything queued so far, then sleep again
                try:
                    ex = self._queue.get_nowait()
                except queue.Empty:
                    break
                try:
                    for span in self.spans(ex):
                        processor.on_end(span)
                except Exception:  # one odd record must not end tracing
                    log.exception("traces: could not build the spans of request %s", ex.request_id)
            if stopping:
                return

    def _failed(self, spans: int) -> None:
        self.failed += spans
        self._on_drop("export_failed", spans)
        self._report("the collector did not take them")

    def _report(self, why: str) -> None:
        now = time.monotonic()
        if now - self._last_report >= LOG_EVERY_S:
            self._last_report = now
            log.warning(
                "traces: spans dropped (%s); so far %d requests not queued, %d spans not exported",
                why,
                self.dropped,
                self.failed,
            )

    # --- spans -------------------------------------------------------------------------

    def spans(self, ex: Exchange) -> list[ReadableSpan]:
        """The request's SERVER span and a CLIENT span per GigaChat call, ids as recorded."""
        trace = ex.trace
        assert trace is not None
        offset = time.time_ns() - int(perf_counter() * 1e9)

        def ns(t: float) -> int:
            return int(t * 1e9) + offset

        trace_id = int(trace.trace_id, 16)
        server = SpanContext(trace_id, int(trace.span_id, 16), False, SAMPLED)
        remote = (
            SpanContext(trace_id, int(trace.parent_id, 16), True, SAMPLED)
            if trace.parent_id
            else None
        )
        v1 = ex.contract == "v1"
        answers = {c.span_id: self._describe(c, v1) for c in trace.calls if c.operation == "chat"}
        spans = [
            self._client(ex, call, answers.get(call.span_id), trace_id, server, ns)
            for call in trace.calls
        ]
        spans.insert(0, self._server(ex, answers, server, remote, ns))
        return spans

    def _span(
        self, name: str, context: SpanContext, parent: SpanContext | None, **kw: Any
    ) -> ReadableSpan:
        return ReadableSpan(
            name,
            context=context,
            parent=parent,
            resource=self._resource,
            instrumentation_scope=self._scope,
            **kw,
        )

    def _server(
        self,
        ex: Exchange,
        answers: dict[str, Answer],
        context: SpanContext,
        parent: SpanContext | None,
        ns: Callable[[float], int],
    ) -> ReadableSpan:
        assert ex.trace is not None
        chat = [c for c in ex.trace.calls if c.operation == "chat"]
        streaming = any(c.streaming for c in chat)
        attributes = server_attributes(ex, streaming)
        if self.capture is not None:
            if self.capture.messages and ex.request_body:
                attributes["input.value"] = self.capture.body(ex.request_body)
                attributes["input.mime_type"] = "application/json"
            if self.capture.responses and ex.response_body:
                attributes["output.value"] = self.capture.body(ex.response_body)
        events: list[Event] = []
        if streaming:
            last = next((c for c in reversed(chat) if c.status == 200), None)
            answer = answers.get(last.span_id) if last is not None else None
            events = self._stream_events(ex, answer, ns)
        failed = ex.status >= 500 or (streaming and bool(ex.upstream_error or ex.error))
        status = Status(StatusCode.ERROR, ex.error or ex.upstream_error) if failed else Status()
        return self._span(
            f"{ex.method} {ex.route}",
            context,
            parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            events=events,
            status=status,
            start_time=ns(ex.started),
            end_time=ns(ex.finished),
        )

    def _stream_events(
        self, ex: Exchange, answer: Answer | None, ns: Callable[[float], int]
    ) -> list[Event]:
        events: list[Event] = []
        first = answer.first_token if answer is not None else None
        if first or ex.first_chunk:
            events.append(Event("stream.first_token", {}, ns(first or ex.first_chunk)))
        for call in answer.tool_calls if answer is not None else ():
            attributes: dict[str, Any] = {"gen_ai.tool.name": call.name, "index": call.position}
            if self.capture is not None and self.capture.tool_args:
                attributes["gen_ai.tool.call.arguments"] = self.capture.text(call.arguments)
            events.append(Event("stream.tool_call_delta", attributes, ns(call.at or ex.finished)))
        if ex.disconnected:
            events.append(Event("stream.client_disconnect", {}, ns(ex.finished)))
        elif ex.upstream_error or ex.error:
            kind = ex.upstream_error or ex.error
            events.append(Event("stream.error", {"error.type": kind}, ns(ex.finished)))
        else:
            events.append(Event("stream.end", {}, ns(ex.finished)))
        return events

    def _client(
        self,
        ex: Exchange,
        call: Call,
        answer: Answer | None,
        trace_id: int,
        server: SpanContext,
        ns: Callable[[float], int],
    ) -> ReadableSpan:
        attributes = client_attributes(call)
        name = f"{call.method} {call.path}"
        if call.operation in genai.OPERATION:
            body = genai.sent(call.body)
            model = str(body.get("model") or ex.model)
            name = f"{genai.OPERATION[call.operation]} {model}"
            attributes.update(genai.request_attributes(call.operation, model, body))
            if answer is not None:
                attributes.update(genai.answer_attributes(answer, call.started))
            elif call.operation == "embeddings" and ex.tokens_in and call.status == 200:
                attributes["gen_ai.usage.input_tokens"] = ex.tokens_in
                attributes["llm.token_count.prompt"] = ex.tokens_in
            if self.capture is not None:
                attributes.update(genai.content_attributes(self.capture, body, answer))
        failed = bool(call.error) or call.status >= 400
        return self._span(
            name,
            SpanContext(trace_id, int(call.span_id, 16), False, SAMPLED),
            server,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            status=Status(StatusCode.ERROR, call.error or str(call.status)) if failed else Status(),
            start_time=ns(call.started),
            # A call still open at the end (an abandoned stream) ends with the request.
            end_time=ns(call.ended or ex.finished),
        )


def server_attributes(ex: Exchange, streaming: bool) -> dict[str, Any]:
    """What the gateway knows of the request: no content, no credentials."""
    attributes: dict[str, Any] = {
        "openinference.span.kind": "CHAIN",
        "http.request.method": ex.method,
        "http.route": ex.route,
        "http.response.status_code": ex.status,
        "gpt2giga.request_id": ex.request_id,
        "gpt2giga.dialect": ex.dialect,
        "gpt2giga.contract": ex.contract,
        "gpt2giga.stream": streaming,
    }
    optional = {
        "gpt2giga.requested_model": ex.requested,
        "gpt2giga.model": ex.model,
        "gpt2giga.error": ex.error,
        "error.type": ex.error or ex.upstream_error,
        "gpt2giga.upstream_error": ex.upstream_error,
    }
    attributes.update((k, v) for k, v in optional.items() if v)
    ignored = next((v.decode() for k, v in ex.response_headers if k == IGNORED_HEADER), "")
    if ignored:
        attributes["gpt2giga.ignored_fields"] = [f.strip() for f in ignored.split(",")]
    if ex.disconnected:
        attributes["gpt2giga.disconnected"] = True
    if ex.tokens_in or ex.tokens_out:
        attributes["gpt2giga.tokens_in"] = ex.tokens_in
        attributes["gpt2giga.tokens_out"] = ex.tokens_out
    return attributes


def client_attributes(call: Call) -> dict[str, Any]:
    """The HTTP side of a GigaChat call (HTTP client semantic conventions)."""
    host, _, port = call.server.partition(":")
    attributes: dict[str, Any] = {
        "http.request.method": call.method,
        "server.address": host,
        "url.path": call.path,
        "gpt2giga.operation": call.operation,
    }
    if port:
        attributes["server.port"] = int(port)
    if call.status:
        attributes["http.response.status_code"] = call.status
    if call.attempt:
        attributes["http.request.resend_count"] = call.attempt
    if call.error or call.status >= 400:
        attributes["error.type"] = call.error or str(call.status)
    return attributes
