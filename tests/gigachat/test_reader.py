"""reader: upstream SSE events as hub chunks, for every framing the gigachat SDK reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
import respx
from gigachat.api.utils import _iter_event_chunks, parse_data_chunk
from gigachat.models import chat as sdk_v1
from gigachat.models import chat_completions as sdk_v2

from gpt2giga import errors
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.client import GigaChatClient, hub_answer
from gpt2giga.gigachat.reader import hub_chunk
from gpt2giga.gigachat.upstream import build_pool
from tests.conftest import FIXTURES, V1_CHAT, V2_CHAT, chunks_of, make_settings, no_sleep

SSE = {"content-type": "text/event-stream"}
HI = giga.ChatCompletionRequest(
    model="GigaChat",
    messages=[giga.ChatMessage(role="user", content=[giga.ChatContentPart(text="hi")])],
)
TEXT = b'{"messages":[{"role":"assistant","content":[{"text":"Hi"}]}]}'


def sdk_v2_events(body: bytes) -> list[sdk_v2.ChatCompletionChunk]:
    """What the gigachat SDK yields for a v2 stream body."""
    lines = body.decode().split("\n")
    return list(_iter_event_chunks(lines, sdk_v2.ChatCompletionChunk))


def sdk_v1_chunks(body: bytes) -> list[sdk_v1.ChatCompletionChunk]:
    lines = body.decode().split("\n")
    found = (parse_data_chunk(line, sdk_v1.ChatCompletionChunk) for line in lines)
    return [c for c in found if c is not None]


# --- hub_chunk: one event ----------------------------------------------------------------


@pytest.mark.parametrize("event", ["response.tool.completed", "response.future.thing"])
def test_an_unknown_event_the_sdk_reads_as_a_chunk_is_a_chunk(event: str) -> None:
    data = b'{"tool_execution":{"name":"web_search","status":"completed"}}'
    (sdk,) = sdk_v2_events(f"event: {event}\ndata: ".encode() + data + b"\n\n")
    chunk = hub_chunk(False, event, data)
    assert chunk is not None and chunk.event == sdk.event == event
    assert chunk.tool_execution == giga.ChatToolExecution(name="web_search", status="completed")


@pytest.mark.parametrize(
    ("event", "data"),
    [
        ("response.tool.progress", b"42%"),
        ("ping", b"[1, 2]"),
        ("response.future.thing", b'{"messages": "not a list"}'),
        (None, b"keep-alive"),
    ],
    ids=["text", "array", "other-shape", "unnamed"],
)
def test_an_event_that_is_no_chunk_under_another_name_is_skipped(
    event: str | None, data: bytes
) -> None:
    assert hub_chunk(False, event, data) is None


@pytest.mark.parametrize("event", ["response.message.delta", "response.message.done"])
def test_a_malformed_answer_event_is_an_upstream_error(event: str) -> None:
    with pytest.raises(errors.UpstreamError) as caught:
        hub_chunk(False, event, b'{"messages": 5}')
    assert caught.value.message == "GigaChat sent a malformed stream chunk"


def test_a_name_the_payload_gives_itself_wins_as_in_the_sdk() -> None:
    data = b'{"event":"response.message.done","finish_reason":"stop"}'
    (sdk,) = sdk_v2_events(b"event: response.message.delta\ndata: " + data + b"\n\n")
    chunk = hub_chunk(False, "response.message.delta", data)
    assert chunk is not None and chunk.event == sdk.event == "response.message.done"


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b'{"status":503,"message":"overloaded"}', errors.Overloaded, ": overloaded"),
        (b'{"status":429,"message":"slow down"}', errors.RateLimited, ": slow down"),
        (b'{"message":"boom"}', errors.UpstreamError, ": boom"),
        (b"not json", errors.UpstreamError, ""),
    ],
)
def test_an_error_event_mid_stream_keeps_its_meaning(
    data: bytes, error: type[errors.GatewayError], message: str
) -> None:
    with pytest.raises(error) as caught:
        hub_chunk(False, "error", data)
    assert caught.value.message == "GigaChat failed mid-stream" + message


def test_counts_are_read_as_leniently_as_the_sdk_reads_them() -> None:
    data = b'{"finish_reason":"stop","usage":{"input_tokens":"5","output_tokens":2.0}}'
    sdk = sdk_v2.ChatCompletionChunk.model_validate_json(data)
    chunk = hub_chunk(False, "response.message.done", data)
    assert chunk is not None and chunk.usage is not None
    assert sdk.usage is not None
    assert (chunk.usage.input_tokens, chunk.usage.output_tokens) == (
        sdk.usage.input_tokens,
        sdk.usage.output_tokens,
    )


def test_a_whole_answer_is_read_as_leniently_too() -> None:
    body = b'{"messages":[{"role":"assistant","content":"4"}],"usage":{"total_tokens":"3"}}'
    sdk_v2.ChatCompletionResponse.model_validate_json(body)
    answer = hub_answer(False, body)
    assert answer.usage is not None and answer.usage.tokens_total == 3
    v1 = (
        b'{"choices":[{"message":{"role":"assistant"},"index":"0"}],"created":"1",'
        b'"model":"GigaChat","object":"chat.completion",'
        b'"usage":{"prompt_tokens":1,"completion_tokens":"2","total_tokens":3.0}}'
    )
    sdk_v1.ChatCompletion.model_validate_json(v1)
    assert hub_answer(True, v1).usage == giga.ChatUsage(
        input_tokens=1, output_tokens=2, total_tokens=3
    )


# --- UpstreamStream: whole bodies -----------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[GigaChatClient]:
    settings = make_settings().gigachat
    made = GigaChatClient(
        settings, build_pool(settings, httpx.AsyncHTTPTransport()), sleep=no_sleep
    )
    yield made
    await made.aclose()


async def collect(client: GigaChatClient, contract: str) -> list[giga.ChatCompletionChunk]:
    stream = await client.stream(HI, contract)  # type: ignore[arg-type]
    try:
        return [chunk async for chunk in chunks_of(stream)]
    finally:
        await stream.aclose()


def v1_line(text: str, **extra: Any) -> bytes:
    body = {"choices": [{"delta": {"content": text}, "index": 0, **extra}]}
    return msgspec.json.encode({**body, "created": 1, "model": "GigaChat", "object": "x"})


async def test_v1_lines_without_blank_lines_between_are_chunks_each(
    upstream: respx.MockRouter, client: GigaChatClient
) -> None:
    body = (
        b"data: " + v1_line("Hel") + b"\ndata: " + v1_line("lo", finish_reason="stop") + b"\n"
        b"data:   [DONE]\n\n"
    )
    assert [c.choices[0].delta.content for c in sdk_v1_chunks(body)] == ["Hel", "lo"]
    upstream.post(V1_CHAT).respond(headers=SSE, content=body)
    chunks = await collect(client, "v1")
    assert [c.messages[0].parts[0].text for c in chunks if c.messages] == ["Hel", "lo"]
    assert chunks[-1].finish_reason == "stop"


async def test_v2_events_the_sdk_would_not_read_as_chunks_are_passed_over(
    upstream: respx.MockRouter, client: GigaChatClient
) -> None:
    body = (
        b"event: response.message.delta\ndata: " + TEXT + b"\n\n"
        b"event: response.tool.progress\ndata: 50%\n\n"
        b'event: response.message.done\ndata: {"finish_reason":"stop"}\n\n'
    )
    upstream.post(V2_CHAT).respond(headers=SSE, content=body)
    chunks = await collect(client, "v2")
    assert [c.event for c in chunks] == ["response.message.delta", "response.message.done"]


async def test_an_error_event_ends_the_stream_with_its_meaning(
    upstream: respx.MockRouter, client: GigaChatClient
) -> None:
    body = (
        b"event: response.message.delta\ndata: " + TEXT + b"\n\n"
        b'event: error\ndata: {"status":503,"message":"overloaded"}\n\n'
    )
    upstream.post(V2_CHAT).respond(headers=SSE, content=body)
    stream = await client.stream(HI, "v2")
    seen: list[giga.ChatCompletionChunk] = []
    with pytest.raises(errors.Overloaded) as caught:
        async for chunk in chunks_of(stream):
            seen.append(chunk)  # noqa: PERF401 - what came before the failure is the point
    await stream.aclose()
    assert caught.value.message == "GigaChat failed mid-stream: overloaded"
    assert [c.event for c in seen] == ["response.message.delta"]


# --- the trace reads a stream the same way ---------------------------------------------------


@pytest.mark.parametrize("v1", [False, True], ids=["v2", "v1"])
def test_a_trace_reads_role_less_deltas_as_the_reader_does(v1: bool) -> None:
    from gpt2giga.gigachat.traced import describe
    from gpt2giga.observe.spans import Call

    body = (FIXTURES / ("chat_text_v1.sse" if v1 else "chat_roleless_v2.sse")).read_bytes()
    call = Call("span", "POST", "giga.test", "/chat/completions", "chat")
    call.status, call.streaming = 200, True
    call.reads = [(0.0, body[:40]), (0.1, body[40:])]
    seen = describe(call, v1)
    assert seen.text == ("Привет! Как дела?" if v1 else "Answer: 4")
    assert (seen.finish_reasons, seen.output_tokens) == (["stop"], 5 if v1 else 7)
