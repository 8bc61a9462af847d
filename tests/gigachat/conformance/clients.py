"""Every dialect's answer side, driven as the gateway drives it and read back by the official SDKs.

`whole(...)` takes a decoded GigaChat answer through each dialect's reply path;
`streamed(...)` takes raw upstream SSE bytes through the gateway's own reader
and relay into each dialect's stream translator. What comes out is parsed by
the client SDK's own types (and, for streams, its own accumulators), and
summed up as an `Outcome` so the dialects can be compared with each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NamedTuple

import httpx
import msgspec
import pydantic
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import ErrorResponse, Message, RawMessageStreamEvent
from google.genai import _api_client
from google.genai import types as gtypes
from openai import omit
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent

from gpt2giga import errors, sse
from gpt2giga.anthropic import stream as ant_stream
from gpt2giga.anthropic import translate as ant_translate
from gpt2giga.gemini import stream as gem_stream
from gpt2giga.gemini import translate as gem_translate
from gpt2giga.gigachat import answer
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.reader import UpstreamStream
from gpt2giga.gigachat.request import Prepared
from gpt2giga.openai import stream as oai_stream
from gpt2giga.openai import translate as oai_translate
from gpt2giga.openai.responses import output as rsp_output
from gpt2giga.openai.responses import stream as rsp_stream
from gpt2giga.openai.responses import wire as rsp
from gpt2giga.openai.responses.translate import Turn
from tests.conftest import sse_events

CREATED = 1_700_000_000
ASKED = "GigaChat-2-Max"
# Codex's namespaced tools: GigaChat sees one flat name, the client two parts.
NAMES = {"mcp__docs__search": ("mcp__docs__", "search")}
_encode = msgspec.json.Encoder().encode
_RESPONSE_EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
_ANTHROPIC_EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RawMessageStreamEvent)


class Outcome(NamedTuple):
    """What a client of one dialect ends up with."""

    text: str
    reasoning: str | None  # None where the dialect does not show it
    calls: list[tuple[str, Any]]  # name and arguments, as the client has them (text or object)
    model: str
    failed: str | None  # the error message, when the answer ended as an error
    usage: tuple[int, int] | None = None  # tokens in and out, where the client is told them


class Options(NamedTuple):
    """What the request side told the answer side (drawn per example)."""

    prepared: Prepared
    thoughts: bool = False
    include_usage: bool = False


def ids() -> Callable[[str], str]:
    counter = iter(range(1_000_000))
    return lambda prefix: f"{prefix}{next(counter)}"


def _base() -> rsp.Response:
    req = msgspec.json.decode(b'{"input": "x"}', type=rsp.ResponsesRequest)
    return rsp_output.skeleton(req, "resp_1", CREATED, ASKED)


def _flat(namespace: str | None, name: str) -> str:
    return (namespace or "") + name


# --- whole answers ---------------------------------------------------------------------------


def whole(resp: giga.ChatCompletionResponse, opts: Options) -> dict[str, Outcome]:
    """The answer through each dialect's reply path, read by each client SDK."""
    prep = opts.prepared
    paths: dict[str, Callable[[], Outcome]] = {
        "openai": lambda: _chat_whole(answer.reply(resp, prep, "call_", "fb")),
        "responses": lambda: _responses_whole(resp, answer.reply(resp, prep, "call_", "fb")),
        "anthropic": lambda: _anthropic_whole(answer.reply(resp, prep, "toolu_", "fb")),
        "gemini": lambda: _gemini_whole(
            answer.reply(resp, prep, gem_translate.CALL_PREFIX, "fb"), opts
        ),
    }
    return {name: _or_error(path) for name, path in paths.items()}


def _or_error(path: Callable[[], Outcome]) -> Outcome:
    """The gateway's own errors become the client's error body; anything else fails the test."""
    try:
        return path()
    except errors.GatewayError as err:
        return Outcome("", None, [], "", err.message)


def _chat_calls(message: Any) -> list[tuple[str, Any]]:
    return [
        (c.function.name, c.function.arguments)
        for c in (message.tool_calls or ())
        if getattr(c, "function", None) is not None
    ]


def _chat_whole(reply: answer.Reply) -> Outcome:
    body = _encode(oai_translate.from_giga(reply, "chatcmpl-1", CREATED))
    out = ChatCompletion.model_validate_json(body)
    message = out.choices[0].message
    reasoning = getattr(message, "reasoning_content", None) or ""
    assert out.usage is not None
    usage = (out.usage.prompt_tokens, out.usage.completion_tokens)
    return Outcome(message.content or "", reasoning, _chat_calls(message), out.model, None, usage)


def _responses_whole(resp: giga.ChatCompletionResponse, reply: answer.Reply) -> Outcome:
    runs = rsp_output.tool_runs(resp.tool_execution, resp.messages)
    body = _encode(rsp_output.from_giga(reply, runs, _base(), NAMES, ids()))
    return _response_outcome(Response.model_validate_json(body))


def _response_outcome(out: Response) -> Outcome:
    calls = [
        (_flat(o.namespace, o.name), o.arguments)  # type: ignore[attr-defined]
        for o in out.output
        if o.type == "function_call"
    ]
    reasoning = "".join(s.text for o in out.output if o.type == "reasoning" for s in o.summary)
    failed = out.error.message if out.error is not None else None
    usage = (out.usage.input_tokens, out.usage.output_tokens) if out.usage else None
    return Outcome(out.output_text, reasoning, calls, out.model, failed, usage)


def _anthropic_whole(reply: answer.Reply) -> Outcome:
    body = _encode(ant_translate.from_giga(reply, "msg_1"))
    return _message_outcome(Message.model_validate_json(body))


def _message_outcome(out: Message) -> Outcome:
    text = "".join(b.text for b in out.content if b.type == "text")
    reasoning = "".join(b.thinking for b in out.content if b.type == "thinking")
    calls = [(b.name, b.input) for b in out.content if b.type == "tool_use"]
    usage = out.usage.input_tokens + (out.usage.cache_read_input_tokens or 0)
    return Outcome(text, reasoning, calls, out.model, None, (usage, out.usage.output_tokens))


def _gemini_whole(reply: answer.Reply, opts: Options) -> Outcome:
    made = gem_translate.from_giga(reply, "r1", opts.thoughts)
    out = gtypes.GenerateContentResponse.model_validate_json(_encode(made))
    return _gemini_outcome([out], None)


def _gemini_outcome(chunks: list[gtypes.GenerateContentResponse], failed: str | None) -> Outcome:
    parts = [
        p
        for c in chunks
        for cand in c.candidates or ()
        if cand.content is not None
        for p in cand.content.parts or ()
    ]
    text = "".join(p.text for p in parts if p.text is not None and not p.thought)
    calls = [
        (p.function_call.name or "", p.function_call.args)
        for p in parts
        if p.function_call is not None
    ]
    model = next((c.model_version for c in reversed(chunks) if c.model_version), "")
    meta = next((c.usage_metadata for c in reversed(chunks) if c.usage_metadata), None)
    usage = (meta.prompt_token_count or 0, meta.candidates_token_count or 0) if meta else None
    return Outcome(text, None, calls, model, failed, usage)


# --- streams ---------------------------------------------------------------------------------


def relayed(body: bytes, v1: bool, translator: Any, frame: Callable[[Any], bytes]) -> bytes:
    """The gateway's own reader and relay over an upstream body, as the client receives it."""

    async def run() -> bytes:
        response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)
        upstream = UpstreamStream(response, "v1" if v1 else "v2")
        return b"".join([piece async for piece in sse.relay(upstream, translator, frame)])

    return asyncio.run(run())


def streamed(body: bytes, v1: bool, opts: Options) -> dict[str, Outcome]:
    """The upstream stream through each dialect's stream translator, read by each client SDK."""
    prep = opts.prepared
    chat = oai_stream.StreamTranslator(prep, "chatcmpl-1", CREATED, opts.include_usage)
    responses = rsp_stream.StreamTranslator(Turn(prepared=prep, names=NAMES), _base(), ids())
    anthropic = ant_stream.StreamTranslator(prep, "msg_1")
    gemini = gem_stream.StreamTranslator(prep, "r1", opts.thoughts)
    return {
        "openai": _chat_stream(relayed(body, v1, chat, oai_stream.frame)),
        "responses": _responses_stream(relayed(body, v1, responses, rsp_stream.frame)),
        "anthropic": _anthropic_stream(relayed(body, v1, anthropic, ant_stream.frame)),
        "gemini": _gemini_stream(relayed(body, v1, gemini, gem_stream.sse_frame)),
    }


def _chat_stream(body: bytes) -> Outcome:
    """As the openai SDK reads it: chunks until `[DONE]`, or `{"error": ...}` raised."""
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    seen_done, failed, handled = False, None, 0
    for name, data in sse_events(body):
        assert name is None and not seen_done and failed is None, "events after the end"
        if data == sse.DONE:
            seen_done = True
            continue
        event = msgspec.json.decode(data)
        if "error" in event:
            failed = event["error"]["message"]
            assert isinstance(failed, str) and isinstance(event["error"]["type"], str)
            continue
        state.handle_chunk(ChatCompletionChunk.model_validate(event))
        handled += 1
    assert seen_done != (failed is not None), "a stream ends with [DONE] or an error, not both"
    if handled == 0:
        return Outcome("", "", [], "", failed)  # the error came first
    snapshot = state.current_completion_snapshot
    choices = snapshot.choices
    if failed is None:
        assert choices[0].finish_reason is not None, "a finished stream says why"
    message = choices[0].message if choices else None
    calls = _chat_calls(message) if message else []
    text = (message.content or "") if message else ""
    reasoning = getattr(message, "reasoning_content", None) or "" if message else ""
    told = snapshot.usage
    usage = (told.prompt_tokens, told.completion_tokens) if told else None
    return Outcome(text, reasoning, calls, snapshot.model, failed, usage)


def _responses_stream(body: bytes) -> Outcome:
    """As `responses.stream()` reads it: every event validated and accumulated in order."""
    state: ResponseStreamState[None] = ResponseStreamState(input_tools=omit, text_format=omit)
    events = []
    for name, data in sse_events(body):
        event = msgspec.json.decode(data)
        assert name == event["type"], "the SSE event name repeats the type"
        state.handle_event(_RESPONSE_EVENTS.validate_python(event))
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    last = events[-1]["type"]
    if last == "error":
        assert events[-2]["type"] == "response.failed"
        return _response_outcome(Response.model_validate(events[-2]["response"]))
    if last == "response.incomplete":  # the SDK's `get_final_response()` wants `completed`
        return _response_outcome(Response.model_validate(events[-1]["response"]))
    assert last == "response.completed"
    final = state._completed_response
    assert final is not None
    return _response_outcome(final)


def _anthropic_stream(body: bytes) -> Outcome:
    """As `messages.stream()` assembles it; an `error` event is what the SDK raises."""
    snapshot, buffers, failed, stopped = None, {}, None, False
    for name, data in sse_events(body):
        event = msgspec.json.decode(data)
        assert name == event["type"] and failed is None and not stopped, "events after the end"
        if event["type"] == "error":
            failed = ErrorResponse.model_validate(event).error.message
            continue
        if event["type"] == "ping":
            continue
        parsed = _ANTHROPIC_EVENTS.validate_python(event)
        snapshot = accumulate_event(event=parsed, current_snapshot=snapshot, json_bufs=buffers)
        stopped = event["type"] == "message_stop"
    assert stopped != (failed is not None), "a stream ends with message_stop or an error"
    if snapshot is None:
        return Outcome("", "", [], "", failed)
    outcome = _message_outcome(Message.model_validate(snapshot.model_dump()))
    return outcome._replace(failed=failed)


def _gemini_stream(body: bytes) -> Outcome:
    """As google-genai's stream reader parses the `alt=sse` body."""
    response = _api_client.HttpResponse({}, response_stream=httpx.Response(200, content=body))
    chunks, failed = [], None
    for raw in response.segments():
        assert failed is None, "chunks after the error"
        if "error" in raw:
            error = raw["error"]
            assert isinstance(error["code"], int) and isinstance(error["status"], str)
            failed = error["message"]
            continue
        chunks.append(gtypes.GenerateContentResponse.model_validate(raw))
    if failed is None:
        last = chunks[-1].candidates
        assert last and last[0].finish_reason is not None, "the last chunk says why it ended"
    return _gemini_outcome(chunks, failed)
