"""GigaChat calls as client spans: each attempt has its own span id, sent in `traceparent`.

`GigaChatClient.trace()` puts `Traced` around the transport call only when
tracing is on, and a request whose trace is not sampled passes straight
through. What a span needs later goes on the request's `spans.Trace`: times,
the status or the exception's class, the JSON sent (chat and embeddings only:
never the authorization form, whose body holds credentials, nor a file) and
the answer's bytes as they were read. `describe` reads those back into an
`Answer` in the tracer's thread, off the request path.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from time import perf_counter

import httpx
import msgspec

from gpt2giga import errors, sse
from gpt2giga.gigachat import contract
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.reader import hub_chunk
from gpt2giga.observe import exchange
from gpt2giga.observe.spans import MAX_KEPT_BYTES, Answer, Call, ToolCall

Send = Callable[[httpx.Request], Awaitable[httpx.Response]]

# Calls whose JSON body and answer a span may read: model, parameters, usage, content.
READ = frozenset({"chat", "embeddings"})

# As leniently as the client reads answers (and the SDK: pydantic is lax).
_decode_v1 = msgspec.json.Decoder(giga1.ChatCompletionV1, strict=False).decode
_decode_v2 = msgspec.json.Decoder(giga.ChatCompletionResponse, strict=False).decode
_encode = msgspec.json.Encoder().encode


class Traced:
    """The client's transport call, noting each attempt on the sampled request's trace."""

    def __init__(self, send: Send, operations: dict[str, str]) -> None:
        self._send = send
        self._operations = operations  # URL path -> operation (chat, auth, upload_file, ...)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        trace = exchange.current().trace
        if trace is None:
            return await self._send(request)
        url = request.url
        operation = self._operations.get(url.path, "http")
        server = f"{url.host}:{url.port}" if url.port else url.host
        call = trace.call(request.method, server, url.path, operation)
        request.headers["traceparent"] = trace.traceparent(call.span_id)
        keep = operation in READ
        if keep:
            call.body = request.content
            call.streaming = request.headers.get("accept") == "text/event-stream"
        try:
            response = await self._send(request)
        except BaseException as exc:  # CancelledError too: the span still ends
            call.ended = perf_counter()
            call.error = type(exc).__name__
            raise
        call.status = response.status_code
        call.encoding = response.headers.get("content-encoding", "")
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)  # an async transport's answer
        response.stream = Watched(stream, call, keep)
        return response


class Watched(httpx.AsyncByteStream):
    """An answer's body as read: the span ends when it is closed (read or abandoned)."""

    def __init__(self, inner: httpx.AsyncByteStream, call: Call, keep: bool) -> None:
        self._inner = inner
        self._call = call
        self._keep = keep

    async def __aiter__(self) -> AsyncIterator[bytes]:
        call, kept = self._call, 0
        try:
            async for chunk in self._inner:
                if self._keep and kept < MAX_KEPT_BYTES:
                    call.reads.append((perf_counter(), chunk))
                    kept += len(chunk)
                yield chunk
        except Exception as exc:
            call.error = type(exc).__name__
            raise

    async def aclose(self) -> None:
        if not self._call.ended:
            self._call.ended = perf_counter()
        await self._inner.aclose()


def operations(urls: dict[str, str]) -> dict[str, str]:
    """URL -> operation as the tracer names calls, keyed by URL path as requests carry it."""
    return {httpx.URL(url).path: name for url, name in urls.items()}


def _decoded(call: Call) -> list[tuple[float, bytes]]:
    """The kept reads with the content coding undone (GigaChat may gzip its answers)."""
    if call.encoding in ("", "identity"):
        return call.reads
    if call.encoding not in ("gzip", "deflate"):
        return []
    # wbits 47: a zlib or a gzip header, whichever the stream has.
    inflate = zlib.decompressobj(47 if call.encoding == "gzip" else 15)
    try:
        return [(at, inflate.decompress(data)) for at, data in call.reads]
    except zlib.error:
        return []


def describe(call: Call, v1: bool) -> Answer:
    """What GigaChat answered a chat call: model, usage, finish, text and tool calls."""
    reads = _decoded(call)
    if call.status != 200 or not reads:
        return Answer()
    try:
        if call.streaming:
            return _streamed(reads, v1)
        body = b"".join(data for _, data in reads)
        whole = contract.from_v1(_decode_v1(body)) if v1 else _decode_v2(body)
    except (msgspec.DecodeError, errors.GatewayError):  # cut at MAX_KEPT_BYTES, or malformed
        return Answer()
    answer = Answer(
        whole.model, whole.message_id, [whole.finish_reason] if whole.finish_reason else []
    )
    _usage(answer, whole.usage)
    for message in whole.messages:
        _message(answer, message, message.role, None)
    return answer


def _streamed(reads: list[tuple[float, bytes]], v1: bool) -> Answer:
    answer = Answer()
    parser = sse.SSEParser(each_line=v1)  # as the reader splits them
    role = "assistant"  # GigaChat names a message's role on its first delta only
    for at, data in reads:
        for event, payload in parser.feed(data):
            if payload.strip() == sse.DONE:
                return answer
            chunk = hub_chunk(v1, event, payload)
            if chunk is None:  # an event that is no answer chunk
                continue
            answer.model = chunk.model or answer.model
            answer.response_id = chunk.message_id or answer.response_id
            if chunk.finish_reason and chunk.finish_reason not in answer.finish_reasons:
                answer.finish_reasons.append(chunk.finish_reason)
            _usage(answer, chunk.usage)
            for message in chunk.messages or ():
                role = message.role or role
                _message(answer, message, role, at)
    return answer


def _usage(answer: Answer, usage: giga.ChatUsage | None) -> None:
    if usage is not None:
        answer.input_tokens, answer.output_tokens = usage.input_tokens, usage.output_tokens


def _message(
    answer: Answer, message: giga.ChatMessageChunk, role: str | None, at: float | None
) -> None:
    if role not in ("assistant", "function_in_progress"):
        return
    parts = message.parts
    if message.function_call is not None:
        parts = [*parts, giga.ChatContentPart(function_call=message.function_call)]
    for part in parts:
        if part.text:
            answer.text += part.text
            if answer.first_token is None:
                answer.first_token = at
        fc = part.function_call
        if fc is not None:
            if answer.first_token is None:
                answer.first_token = at
            arguments = fc.arguments if isinstance(fc.arguments, str) else _encode(fc.arguments)
            text = arguments if isinstance(arguments, str) else arguments.decode()
            answer.tool_calls.append(ToolCall(at, len(answer.tool_calls), fc.name, text))
