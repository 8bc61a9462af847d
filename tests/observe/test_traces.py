"""Traces end to end: the app, the fake GigaChat, and the OTLP protobuf a receiver decoded.

Every test here reads what the gateway really exported (`tests/otlp.py`
decodes `ExportTraceServiceRequest`), and the `traceparent` GigaChat really
received (`Recorded` notes each upstream request's headers).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import pytest

from gpt2giga.app import App
from gpt2giga.gigachat.fake.server import DEMO_CREDENTIALS, FakeConfig, FakeGigaChat
from tests.conftest import Call, make_client, make_settings, over, sse_events
from tests.openai.test_handlers import WEATHER
from tests.otlp import Receiver, Span, closed_port

TRACING = {"GPT2GIGA_OBSERVABILITY_ENABLED": "true", "OTEL_EXPORTER_OTLP_TIMEOUT": "2000"}
CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
MODEL = "GigaChat-2-Max"
ANSWER = "Hello from the fake GigaChat! You said: hi"
FAKE_MODEL = f"{MODEL}:2.0.28.2"  # the version the fake reports


class Recorded:
    """The fake GigaChat, noting the path and headers of every request that reached it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, dict[str, str]]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self.seen.append((scope["path"], headers))
        await self.app(scope, receive, send)

    def traceparents(self, suffix: str) -> list[str | None]:
        return [h.get("traceparent") for path, h in self.seen if path.endswith(suffix)]


@dataclass
class Traced:
    app: App
    client: httpx.AsyncClient
    upstream: Recorded


@pytest.fixture
def receiver() -> Any:
    r = Receiver(0).start()
    yield r
    r.stop()


@pytest.fixture
def tracing(receiver: Receiver) -> Callable[..., Any]:
    """`async with tracing(**env) as t`: the app started; on exit shut down, spans exported."""

    @asynccontextmanager
    async def run(
        fake: Any = None, transport: httpx.AsyncBaseTransport | None = None, **env: str
    ) -> AsyncIterator[Traced]:
        settings = make_settings(
            **{**TRACING, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, **env}
        )
        upstream = Recorded(fake or FakeGigaChat(FakeConfig(validate=True)))
        transport = transport or httpx.ASGITransport(app=upstream, raise_app_exceptions=False)
        app = App(settings, make_client(settings, transport))
        await app.startup()
        try:
            async with over(app) as client:
                yield Traced(app, client, upstream)
        finally:
            await app.shutdown()

    return run


def one_trace(spans: list[Span]) -> tuple[Span, list[Span]]:
    """The server span and its client spans; every span of the trace is one of them."""
    (server,) = [s for s in spans if s.kind == "server"]
    clients = [s for s in spans if s.trace_id == server.trace_id and s.kind == "client"]
    assert {s.span_id for s in spans if s.trace_id == server.trace_id} == {
        server.span_id,
        *(c.span_id for c in clients),
    }
    assert all(c.parent_id == server.span_id for c in clients)
    assert all(server.start_ns <= c.start_ns <= c.end_ns <= server.end_ns for c in clients)
    return server, clients


def named(spans: list[Span], prefix: str) -> list[Span]:
    return [s for s in spans if s.name.startswith(prefix)]


def no_secrets(spans: list[Span]) -> None:
    text = repr([(s.attributes, [e.attributes for e in s.events], s.resource) for s in spans])
    for secret in (DEMO_CREDENTIALS, "Bearer ", "Basic ", "demo-secret"):
        assert secret not in text


# --- every dialect, with and without a stream ---------------------------------------------


def _data(body: bytes) -> list[Any]:
    return [msgspec.json.decode(d) for _, d in sse_events(body) if d != b"[DONE]"]


def openai_text(body: bytes, stream: bool) -> str:
    if not stream:
        return str(msgspec.json.decode(body)["choices"][0]["message"]["content"])
    return "".join(
        e["choices"][0]["delta"].get("content") or "" for e in _data(body) if e["choices"]
    )


def responses_text(body: bytes, stream: bool) -> str:
    if not stream:
        out = msgspec.json.decode(body)["output"]
        return "".join(
            c["text"] for item in out if item["type"] == "message" for c in item["content"]
        )
    return "".join(e["delta"] for e in _data(body) if e["type"] == "response.output_text.delta")


def anthropic_text(body: bytes, stream: bool) -> str:
    if not stream:
        return "".join(
            b["text"] for b in msgspec.json.decode(body)["content"] if b["type"] == "text"
        )
    return "".join(
        e["delta"]["text"]
        for e in _data(body)
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta"
    )


def gemini_text(body: bytes, stream: bool) -> str:
    answers = _data(body) if stream else [msgspec.json.decode(body)]
    return "".join(
        p.get("text", "") for a in answers for p in a["candidates"][0]["content"]["parts"]
    )


USER = {"role": "user", "content": "hi"}
DIALECTS: dict[str, tuple[str, str, dict[str, Any], Callable[[bytes, bool], str]]] = {
    "openai": ("/v1/chat/completions", "/chat/completions", {"messages": [USER]}, openai_text),
    "responses": ("/v1/responses", "/responses", {"input": "hi"}, responses_text),
    "anthropic": (
        "/v1/messages",
        "/messages",
        {"max_tokens": 100, "messages": [USER]},
        anthropic_text,
    ),
    "gemini": (
        f"/v1beta/models/{MODEL}:generateContent",
        "/models/{model:path}:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        gemini_text,
    ),
}


def request_for(dialect: str, stream: bool) -> tuple[str, str, dict[str, Any]]:
    path, route, body, _ = DIALECTS[dialect]
    body = {"model": MODEL, **body} if dialect != "gemini" else dict(body)
    if stream and dialect == "gemini":
        return (
            path.replace(":generate", ":streamGenerate") + "?alt=sse",
            route.replace(":generate", ":streamGenerate"),
            body,
        )
    if stream:
        body["stream"] = True
    return path, route, body


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("dialect", list(DIALECTS))
async def test_one_trace_per_request_continues_the_clients_traceparent(
    tracing: Callable[..., Any], receiver: Receiver, dialect: str, stream: bool
) -> None:
    path, route, body = request_for(dialect, stream)
    async with tracing() as t:
        r = await t.client.post(path, json=body, headers={"traceparent": TRACEPARENT})
        assert r.status_code == 200, r.text
        assert DIALECTS[dialect][3](r.content, stream) == ANSWER

    server, clients = one_trace(receiver.spans)
    assert server.name == f"POST {route}"
    assert (server.trace_id, server.parent_id) == (CLIENT_TRACE, CLIENT_SPAN)
    assert server.resource["service.name"] == "gpt2giga"
    attrs = server.attributes
    assert attrs["http.route"] == route
    assert attrs["http.response.status_code"] == 200
    assert attrs["gpt2giga.dialect"] == ("openai" if dialect == "responses" else dialect)
    assert attrs["gpt2giga.request_id"] == r.headers["x-request-id"]
    assert (attrs["gpt2giga.requested_model"], attrs["gpt2giga.model"]) == (MODEL, MODEL)
    assert attrs["gpt2giga.contract"] == "v1"
    assert attrs["gpt2giga.stream"] is stream
    assert "input.value" not in attrs and "output.value" not in attrs  # no capture asked

    (auth,) = named(clients, "POST /api/v2/oauth")  # the first call of the process
    assert auth.attributes["gpt2giga.operation"] == "auth"
    (chat,) = named(clients, "chat ")
    assert chat.name == f"chat {MODEL}"
    # The traceparent GigaChat received names the gateway's client span, in the client's trace.
    assert t.upstream.traceparents("/chat/completions") == [f"00-{CLIENT_TRACE}-{chat.span_id}-01"]
    llm = chat.attributes
    assert llm["openinference.span.kind"] == "LLM"
    assert llm["gen_ai.operation.name"] == "chat"
    assert llm["gen_ai.provider.name"] == llm["llm.provider"] == "gigachat"
    assert llm["gen_ai.request.model"] == llm["llm.model_name"] == MODEL
    assert llm["gen_ai.response.model"] == FAKE_MODEL
    assert llm["gen_ai.response.finish_reasons"] == ["stop"]
    assert (llm["gen_ai.usage.input_tokens"], llm["gen_ai.usage.output_tokens"]) == (4, 8)
    assert (llm["llm.token_count.prompt"], llm["llm.token_count.completion"]) == (4, 8)
    assert llm["llm.token_count.total"] == 12
    assert llm["http.response.status_code"] == 200
    assert msgspec.json.decode(llm["llm.invocation_parameters"]).get("stream") is (stream or None)
    if stream:
        assert server.event_names() == ["stream.first_token", "stream.end"]
        first = server.event("stream.first_token").time_ns
        assert chat.start_ns < first < server.event("stream.end").time_ns <= server.end_ns
        assert 0 < llm["gen_ai.response.time_to_first_chunk"] < 5
    else:
        assert server.events == []
    no_secrets(receiver.spans)


async def test_embeddings_get_an_embedding_span(
    tracing: Callable[..., Any], receiver: Receiver
) -> None:
    async with tracing() as t:
        r = await t.client.post(
            "/v1/embeddings", json={"model": "EmbeddingsGigaR", "input": ["a b", "c"]}
        )
        assert r.status_code == 200
        assert len(r.json()["data"]) == 2
    _, clients = one_trace(receiver.spans)
    (emb,) = named(clients, "embeddings ")
    assert emb.name == "embeddings EmbeddingsGigaR"
    assert emb.attributes["openinference.span.kind"] == "EMBEDDING"
    assert emb.attributes["gen_ai.operation.name"] == "embeddings"
    assert emb.attributes["gen_ai.usage.input_tokens"] == r.json()["usage"]["prompt_tokens"]


async def test_a_trace_the_gateway_starts_reaches_gigachat_with_the_client_span(
    tracing: Callable[..., Any], receiver: Receiver
) -> None:
    async with tracing() as t:
        path, _, body = request_for("openai", False)
        r = await t.client.post(path, json=body)
        assert openai_text(r.content, False) == ANSWER
    server, clients = one_trace(receiver.spans)
    assert server.parent_id == ""  # a root: the client sent no traceparent
    (chat,) = named(clients, "chat ")
    assert t.upstream.traceparents("/chat/completions") == [
        f"00-{server.trace_id}-{chat.span_id}-01"
    ]


# --- the calls around the chat: token, files, retries, failures -----------------------------

PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 24).decode()
LOOK = {
    "role": "user",
    "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG_B64}},
    ],
}


class Failing:
    """Answers the first chat calls with `statuses`, in turn; then the fake answers."""

    def __init__(self, app: Any, statuses: list[int]) -> None:
        self.app = app
        self.statuses = statuses

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        chat = scope["type"] == "http" and scope["path"].endswith("/chat/completions")
        if chat and self.statuses:
            status = self.statuses.pop(0)
            body = msgspec.json.encode({"status": status, "message": "GigaChat is busy"})
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


async def test_token_refresh_file_upload_and_chat_are_client_spans_in_order(
    tracing: Callable[..., Any], receiver: Receiver
) -> None:
    fake = FakeGigaChat(FakeConfig(validate=True))
    async with tracing(fake) as t:
        r = await t.client.post("/v1/chat/completions", json={"model": MODEL, "messages": [LOOK]})
        assert r.status_code == 200, r.text
        assert "[files: " in r.json()["choices"][0]["message"]["content"]
    _, clients = one_trace(receiver.spans)
    assert [c.name for c in sorted(clients, key=lambda c: c.start_ns)] == [
        "POST /api/v2/oauth",
        "POST /api/v1/files",
        f"chat {MODEL}",
    ]
    (upload,) = named(clients, "POST /api/v1/files")
    assert upload.attributes["gpt2giga.operation"] == "upload_file"
    assert upload.attributes["http.response.status_code"] == 200
    assert t.upstream.traceparents("/files") == [f"00-{upload.trace_id}-{upload.span_id}-01"]
    no_secrets(receiver.spans)


async def test_a_retry_is_a_second_client_span_with_its_own_traceparent(
    tracing: Callable[..., Any], receiver: Receiver
) -> None:
    fake = Failing(FakeGigaChat(), [503])
    async with tracing(fake, GIGACHAT_MAX_RETRIES="1") as t:
        r = await t.client.post(
            "/v1/chat/completions",
            json={"model": MODEL, "messages": [USER]},
            headers={"traceparent": TRACEPARENT},
        )
        assert openai_text(r.content, False) == ANSWER
    server, clients = one_trace(receiver.spans)
    first, second = sorted(named(clients, "chat "), key=lambda c: c.start_ns)
    assert (first.status, first.attributes["error.type"]) == ("error", "503")
    assert first.attributes["http.response.status_code"] == 503
    assert "http.request.resend_count" not in first.attributes
    assert second.status == "unset"
    assert second.attributes["http.request.resend_count"] == 1
    assert second.attributes["gen_ai.usage.output_tokens"] == 8
    assert first.end_ns <= second.start_ns
    assert t.upstream.traceparents("/chat/completions") == [
        f"00-{CLIENT_TRACE}-{first.span_id}-01",
        f"00-{CLIENT_TRACE}-{second.span_id}-01",
    ]
    assert server.status == "unset"


async def test_an_upstream_error_marks_both_spans(
    tracing: Callable[..., Any], receiver: Receiver
) -> None:
    async with tracing(Failing(FakeGigaChat(), [500])) as t:
        r = await t.client.post("/v1/chat/completions", json={"model": MODEL, "messages": [USER]})
        assert r.status_code == 502
        assert "GigaChat answered 500" in r.json()["error"]["message"]
    server, clients = one_trace(receiver.spans)
    assert server.status == "error"
    assert server.attributes["http.response.status_code"] == 502
    assert (
        server.attributes["gpt2giga.error"] == server.attributes["error.type"] == "upstream_error"
    )
    assert server.attributes["gpt2giga.upstream_error"] == "upstream_error"
    (chat,) = named(clients, "chat ")
    assert (chat.status, chat.attributes["error.type"]) == ("error", "500")
    assert "gen_ai.response.model" not in chat.attributes


class Held(httpx.AsyncByteStream):
    """A GigaChat stream that sends one chunk and then nothing, until the test is over."""

    def __init__(self) -> None:
        self.end = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'data: {"choices":[{"delta":{"content":"Hello"},"index":0}],"created":1,'
        yield b'"model":"GigaChat-2-Max","object":"chat.completion"}\n\n'
        await self.end.wait()


class HeldUpstream(httpx.AsyncBaseTransport):
    """GigaChat over a socket-less transport: a token, then a stream that never ends.

    httpx's ASGITransport gathers a whole answer first, so a stream left mid-way
    needs a transport that hands the body out as it comes.
    """

    def __init__(self) -> None:
        self.stream = Held()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth"):
            token = {"access_token": "tok-1", "expires_at": 4_102_444_800_000}
            return httpx.Response(200, json=token)
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=self.stream)


async def test_a_client_that_leaves_mid_stream_ends_the_trace_with_a_disconnect(
    tracing: Callable[..., Any], receiver: Receiver
) -> None:
    held = HeldUpstream()
    async with tracing(transport=held) as t:
        path, _, body = request_for("openai", True)
        call = Call(
            t.app, "POST", path, msgspec.json.encode(body), {"content-type": "application/json"}
        )
        task = call.start()
        await call.sent(lambda text: b"Hello" in text)
        call.leave.set()
        await asyncio.wait_for(task, 5)
        assert b"[DONE]" not in call.text
    server, clients = one_trace(receiver.spans)
    assert server.event_names() == ["stream.first_token", "stream.client_disconnect"]
    assert server.attributes["gpt2giga.disconnected"] is True
    assert server.status == "unset"  # the client's choice, not a failure
    (chat,) = named(clients, "chat ")
    assert chat.end_ns <= server.event("stream.client_disconnect").time_ns
    assert "gen_ai.usage.output_tokens" not in chat.attributes  # the stream never ended


# --- off, sampling, and a collector that is down -----------------------------------------


@pytest.mark.parametrize(
    "env",
    [{"GPT2GIGA_OBSERVABILITY_ENABLED": "false"}, {"GPT2GIGA_OBSERVABILITY_BACKEND": "noop"}],
    ids=["disabled", "noop"],
)
async def test_nothing_is_exported_when_tracing_is_off(
    tracing: Callable[..., Any], receiver: Receiver, env: dict[str, str]
) -> None:
    async with tracing(**env) as t:
        assert t.app.tracer is None
        for headers in ({"traceparent": TRACEPARENT}, {}):
            r = await t.client.post(
                "/v1/chat/completions", json={"model": MODEL, "messages": [USER]}, headers=headers
            )
            assert openai_text(r.content, False) == ANSWER
    assert receiver.spans == [] and receiver.paths == []
    # The client's header still reaches GigaChat as it came; none is made up.
    assert t.upstream.traceparents("/chat/completions") == [TRACEPARENT, None]


async def test_sampling_is_decided_once_per_trace_and_follows_the_clients_choice(
    tracing: Callable[..., Any], receiver: Receiver
) -> None:
    unsampled = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-00"
    async with tracing(GPT2GIGA_OBSERVABILITY_SAMPLE_RATE="0") as t:
        for headers in ({}, {"traceparent": unsampled}, {"traceparent": TRACEPARENT}):
            r = await t.client.post(
                "/v1/chat/completions", json={"model": MODEL, "messages": [USER]}, headers=headers
            )
            assert openai_text(r.content, False) == ANSWER
    # Only the client's sampled trace is exported: rate 0 applies to traces the gateway starts.
    server, clients = one_trace(receiver.spans)
    assert server.trace_id == CLIENT_TRACE
    assert [c.name for c in clients] == [f"chat {MODEL}"]
    started, passed, kept = t.upstream.traceparents("/chat/completions")
    # A trace not kept still reaches GigaChat as a trace, marked not sampled.
    assert started is not None and started.endswith("-00") and CLIENT_TRACE not in started
    assert passed == unsampled
    assert kept == f"00-{CLIENT_TRACE}-{clients[0].span_id}-01"


async def test_a_collector_that_is_down_never_harms_a_request_and_drops_are_counted(
    tracing: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": down,
        "OTEL_EXPORTER_OTLP_TIMEOUT": "300",
        "GPT2GIGA_METRICS_ENABLED": "true",
    }
    async with tracing(**env) as t:
        for stream in (False, True):
            path, _, body = request_for("openai", stream)
            r = await t.client.post(path, json=body, headers={"traceparent": TRACEPARENT})
            assert r.status_code == 200
            assert openai_text(r.content, stream) == ANSWER
    tracer = t.app.tracer
    assert tracer is not None
    assert tracer.failed == 5  # two server spans, two chats, one token request
    assert t.app.metrics is not None
    metrics = t.app.metrics.render()[0].decode()
    assert 'gpt2giga_trace_spans_dropped_total{reason="export_failed"} 5.0' in metrics
    assert any("spans dropped" in r.message for r in caplog.records if r.name == "gpt2giga.traces")


async def test_a_full_queue_drops_and_counts_without_waiting(receiver: Receiver) -> None:
    from gpt2giga.gigachat.traced import describe
    from gpt2giga.observe.spans import Sampler
    from gpt2giga.observe.traces import Tracer

    settings = make_settings(**TRACING, GPT2GIGA_OBSERVABILITY_QUEUE_SIZE="1")
    drops: list[tuple[str, int]] = []
    tracer = Tracer(settings, describe, lambda reason, n: drops.append((reason, n)))
    sampler = Sampler(1.0)
    for _ in range(3):  # not started: nothing takes from the queue
        tracer.record(sampler.open([]))
    assert tracer.dropped == 2
    assert drops == [("queue_full", 1), ("queue_full", 1)]


# --- content: the double opt-in, tool arguments, redaction, the length cap ----------------

CAPTURE = {
    "GPT2GIGA_OBSERVABILITY_CAPTURE_CONTENT": "true",
    "GPT2GIGA_OBSERVABILITY_CAPTURE_MESSAGES": "true",
    "GPT2GIGA_OBSERVABILITY_CAPTURE_RESPONSES": "true",
}
CONTENT_KEYS = ("input.value", "output.value", "llm.input_messages", "llm.output_messages")


def exported_text(spans: list[Span]) -> str:
    return repr([(s.attributes, [e.attributes for e in s.events]) for s in spans])


@pytest.mark.parametrize("tool_args", [False, True], ids=["no-tool-args", "tool-args"])
async def test_tool_calls_stream_as_events_with_arguments_only_when_asked(
    tracing: Callable[..., Any], receiver: Receiver, tool_args: bool
) -> None:
    env = {**CAPTURE, "GPT2GIGA_OBSERVABILITY_CAPTURE_TOOL_ARGS": str(tool_args)}
    body = {
        "model": MODEL,
        "stream": True,
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": "weather please"}],
    }
    async with tracing(**env) as t:
        r = await t.client.post("/v1/chat/completions", json=body)
    calls = [
        c
        for e in _data(r.content)
        if e["choices"]
        for c in e["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert [c["function"]["name"] for c in calls] == ["get_weather"]
    arguments = msgspec.json.decode(calls[0]["function"]["arguments"])
    assert list(arguments) == ["city"]

    server, clients = one_trace(receiver.spans)
    assert server.event_names() == ["stream.first_token", "stream.tool_call_delta", "stream.end"]
    delta = server.event("stream.tool_call_delta")
    assert delta.attributes["gen_ai.tool.name"] == "get_weather"
    (chat,) = named(clients, "chat ")
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["function_call"]
    assert chat.attributes["llm.tool_calls.names"] == ["get_weather"]
    assert "weather please" in server.attributes["input.value"]
    assert chat.attributes["llm.input_messages.0.message.content"] == "weather please"
    key = "llm.output_messages.0.message.tool_calls.0.tool_call.function"
    if tool_args:
        assert msgspec.json.decode(delta.attributes["gen_ai.tool.call.arguments"]) == arguments
        assert msgspec.json.decode(chat.attributes[f"{key}.arguments"]) == arguments
        assert chat.attributes[f"{key}.name"] == "get_weather"
        assert '"city"' in server.attributes["input.value"]  # the tool's schema
    else:
        # Neither the tool's schema nor the arguments GigaChat chose appear anywhere.
        assert "city" not in exported_text(receiver.spans)
        assert "gen_ai.tool.call.arguments" not in delta.attributes
        assert f"{key}.arguments" not in chat.attributes


@pytest.mark.parametrize(
    "env",
    [
        {k: "true" for k in CAPTURE if not k.endswith("_CONTENT")},
        {"GPT2GIGA_OBSERVABILITY_CAPTURE_CONTENT": "true"},
    ],
    ids=["kinds-without-the-switch", "switch-without-a-kind"],
)
async def test_content_needs_both_opt_ins(
    tracing: Callable[..., Any], receiver: Receiver, env: dict[str, str]
) -> None:
    async with tracing(**env) as t:
        r = await t.client.post("/v1/chat/completions", json={"model": MODEL, "messages": [USER]})
        assert openai_text(r.content, False) == ANSWER
    text = exported_text(receiver.spans)
    assert not any(key in text for key in CONTENT_KEYS)
    assert ANSWER not in text and "'hi'" not in text


async def test_captured_content_is_redacted_and_cut_at_the_maximum_length(
    tracing: Callable[..., Any], receiver: Receiver
) -> None:
    secret = "sk-live-0123456789"
    message = f"my api_key={secret} " + "word " * 100
    env = {**CAPTURE, "GPT2GIGA_OBSERVABILITY_MAX_CONTENT_LENGTH": "120"}
    async with tracing(**env) as t:
        r = await t.client.post(
            "/v1/chat/completions",
            json={"model": MODEL, "messages": [{"role": "user", "content": message}]},
        )
        assert r.status_code == 200
    server, clients = one_trace(receiver.spans)
    (chat,) = named(clients, "chat ")
    for value in (
        server.attributes["input.value"],
        server.attributes["output.value"],
        chat.attributes["input.value"],
        chat.attributes["llm.input_messages.0.message.content"],
    ):
        assert len(value) == 120 and value.endswith("...[truncated]")
    assert chat.attributes["llm.input_messages.0.message.content"].startswith("my api_key=***")
    assert secret not in exported_text(receiver.spans)
    no_secrets(receiver.spans)


async def test_the_collector_gets_protobuf_with_the_configured_headers_and_resource(
    tracing: Callable[..., Any], receiver: Receiver
) -> None:
    env = {
        "PHOENIX_COLLECTOR_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",  # loses to Phoenix's variable
        "GPT2GIGA_PHOENIX_API_KEY": "phx-secret-key",
        "GPT2GIGA_PHOENIX_PROJECT_NAME": "agents",
        "OTEL_SERVICE_NAME": "edge-gateway",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=staging",
    }
    async with tracing(**env) as t:
        r = await t.client.post("/v1/chat/completions", json={"model": MODEL, "messages": [USER]})
        assert openai_text(r.content, False) == ANSWER
    assert set(receiver.paths) == {"/v1/traces"}
    sent = receiver.headers[0]
    assert sent["content-type"] == "application/x-protobuf"
    assert sent["authorization"] == "Bearer phx-secret-key"
    server, _ = one_trace(receiver.spans)
    assert server.scope == "gpt2giga"
    resource = server.resource
    assert resource["service.name"] == "edge-gateway"
    assert resource["openinference.project.name"] == "agents"
    assert resource["deployment.environment"] == "staging"
    assert "phx-secret-key" not in exported_text(receiver.spans)
