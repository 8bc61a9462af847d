"""GigaChat stream -> OpenAI chunks: recorded upstream streams in, the exact event sequence out.

The recorded bodies in `tests/fixtures/gigachat/chat_*.sse` are split by the
gateway's own SSE parser and decoded as the client does (v1 chunks through
`contract.chunk_from_v1`); what comes out is framed by `stream.frame` and read
back as a client would, then checked with openai's own chunk type and SSE
handling.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from gpt2giga import errors, sse
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.request import Prepared
from gpt2giga.openai import stream
from tests.conftest import recorded, sse_events

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gigachat"
STATE = "3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15"
ID = "chatcmpl-0123456789ab"
CREATED = 1_700_000_000
MODEL = "GigaChat-2-Max:2.0.28.2"
DONE = "[DONE]"

_decode_v1 = msgspec.json.Decoder(giga1.ChatCompletionChunkV1).decode
_decode_v2 = msgspec.json.Decoder(giga.ChatCompletionChunk).decode


def prepared(structured: str | None = None, stops: list[str] | None = None) -> Prepared:
    return Prepared(
        request=giga.ChatCompletionRequest(messages=[]), structured=structured, stops=stops or []
    )


def client_view(body: bytes) -> list[Any]:
    """What a client reads: each `data:` as JSON, `[DONE]` as the string."""
    events = []
    for event, data in sse_events(body):
        assert event is None  # Chat Completions streams are unnamed events
        events.append(DONE if data == sse.DONE else msgspec.json.decode(data))
    return events


def translate(
    name: str,
    structured: str | None = None,
    stops: list[str] | None = None,
    include_usage: bool = False,
) -> list[Any]:
    """Drive the translator the way `sse.relay` does, and read the framed bytes back."""
    translator = stream.StreamTranslator(
        prepared(structured, stops), ID, CREATED, include_usage=include_usage
    )
    body = b""
    for chunk in recorded(name):
        body += stream.frame(translator.feed(chunk))
        if translator.done:
            break
    body += stream.frame(sse.finish(translator))
    events = client_view(body)
    for event in events:
        if event != DONE and "error" not in event:
            ChatCompletionChunk.model_validate(event)  # openai's own type accepts it
    return events


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": ID,
        "created": CREATED,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        "object": "chat.completion.chunk",
    }


def usage_chunk(prompt: int, completion: int, total: int, cached: int = 0) -> dict[str, Any]:
    return {
        "id": ID,
        "created": CREATED,
        "model": MODEL,
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": total,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        "object": "chat.completion.chunk",
    }


ROLE = chunk({"role": "assistant", "content": ""})
TEXT = [
    ROLE,
    chunk({"content": "Привет"}),
    chunk({"content": "! Как"}),
    chunk({"content": " дела?"}),
    chunk({}, "stop"),
    DONE,
]
REASONING = [
    ROLE,
    chunk({"reasoning_content": "2+2"}),
    chunk({"reasoning_content": " is 4."}),
    chunk({"content": "4"}),
    chunk({}, "stop"),
    DONE,
]


def tool_delta(index: int, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return chunk(
        {
            "tool_calls": [
                {
                    "index": index,
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            ]
        }
    )


ONE_CALL = [
    ROLE,
    tool_delta(0, f"call_{STATE}", "get_weather", '{"city":"Москва","unit":"celsius"}'),
    chunk({}, "tool_calls"),
    DONE,
]
STRUCTURED = [
    ROLE,
    chunk({"content": '{"city":"Москва","population":13010112}'}),
    chunk({}, "stop"),
    DONE,
]


@pytest.mark.parametrize("contract_", ["v1", "v2"])
@pytest.mark.parametrize(
    ("fixture", "structured", "expected"),
    [
        ("chat_text", None, TEXT),
        ("chat_reasoning", None, REASONING),
        ("chat_function_call", None, ONE_CALL),
        ("chat_structured", "city_info", STRUCTURED),
    ],
)
def test_recorded_stream_becomes_the_same_chunks_on_both_contracts(
    contract_: str, fixture: str, structured: str | None, expected: list[Any]
) -> None:
    assert translate(f"{fixture}_{contract_}", structured) == expected


def test_deltas_without_a_role_go_on_in_the_role_named_before() -> None:
    # GigaChat names a message's role on its first delta only (the SDK's ChatMessageChunk).
    assert translate("chat_roleless_v2") == [
        ROLE,
        chunk({"reasoning_content": "2+2"}),
        chunk({"reasoning_content": " is 4."}),
        chunk({"content": "Answer: "}),
        chunk({"content": "4"}),
        chunk({}, "stop"),
        DONE,
    ]


def test_parallel_calls_are_one_tool_calls_delta_each_indexed_in_order() -> None:
    assert translate("chat_function_calls_v2") == [
        ROLE,
        tool_delta(0, f"call_{STATE}", "get_weather", '{"city":"Москва"}'),
        tool_delta(1, f"call_{STATE}__1", "get_time", '{"tz":"Europe/Moscow"}'),
        chunk({}, "tool_calls"),
        DONE,
    ]


@pytest.mark.parametrize(
    ("fixture", "usage"),
    [
        ("chat_text_v1", usage_chunk(12, 5, 17, cached=4)),
        ("chat_text_v2", usage_chunk(12, 5, 17, cached=4)),
        ("chat_function_call_v1", usage_chunk(120, 24, 144, cached=64)),
        ("chat_function_calls_v2", usage_chunk(150, 40, 190)),
    ],
)
def test_include_usage_adds_one_usage_chunk_before_done(fixture: str, usage: Any) -> None:
    plain = translate(fixture)
    assert translate(fixture, include_usage=True) == [*plain[:-1], usage, DONE]


@pytest.mark.parametrize("contract_", ["v1", "v2"])
def test_stop_sequence_split_across_chunks_ends_the_stream(contract_: str) -> None:
    # "ет! " begins at the end of the first chunk ("Привет") and ends in the second.
    assert translate(f"chat_text_{contract_}", stops=["ет! "]) == [
        ROLE,
        chunk({"content": "Прив"}),
        chunk({}, "stop"),
        DONE,
    ]


@pytest.mark.parametrize("contract_", ["v1", "v2"])
def test_held_back_prefix_of_a_stop_sequence_is_released_at_the_end(contract_: str) -> None:
    events = translate(f"chat_text_{contract_}", stops=["дела?!"])
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert text == "Привет! Как дела?"
    assert events[-2:] == [chunk({}, "stop"), DONE]


UNFINISHED = {
    "error": {
        "message": "GigaChat ended the stream before the answer was complete",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}


@pytest.mark.parametrize("contract_", ["v1", "v2"])
def test_upstream_ending_without_finish_is_an_error_event_and_no_done(contract_: str) -> None:
    assert translate(f"chat_truncated_{contract_}") == [
        ROLE,
        chunk({"content": "Привет"}),
        chunk({"content": "! Как"}),
        UNFINISHED,
    ]


class BreakingUpstream:
    """Yields recorded chunks, then fails as the client would mid-stream."""

    def __init__(self, chunks: list[giga.ChatCompletionChunk], err: errors.GatewayError) -> None:
        self._chunks = chunks
        self._err = err
        self.closed = False

    async def batches(self) -> AsyncGenerator[list[giga.ChatCompletionChunk], None]:
        for c in self._chunks:
            yield [c]
        raise self._err

    async def aclose(self) -> None:
        self.closed = True


async def test_gateway_error_mid_stream_becomes_an_error_event_and_no_done() -> None:
    upstream = BreakingUpstream(
        recorded("chat_text_v2")[:2], errors.UpstreamTimeout("GigaChat stopped sending mid-stream")
    )
    translator = stream.StreamTranslator(prepared(), ID, CREATED)
    body = b"".join([piece async for piece in sse.relay(upstream, translator, stream.frame)])
    assert client_view(body) == [
        ROLE,
        chunk({"content": "Привет"}),
        chunk({"content": "! Как"}),
        {
            "error": {
                "message": "GigaChat stopped sending mid-stream",
                "type": "timeout",
                "param": None,
                "code": "upstream_timeout",
            }
        },
    ]
    assert upstream.closed


def test_error_before_any_chunk_is_the_only_event() -> None:
    translator = stream.StreamTranslator(prepared(), ID, CREATED)
    body = stream.frame(translator.error(errors.RateLimited("slow down")))
    assert body == (
        b'data: {"error":{"message":"slow down","type":"rate_limit_error",'
        b'"param":null,"code":"rate_limit_exceeded"}}\n\n'
    )
    assert sse.finish(translator) == []


def test_frames_are_compact_data_lines_ending_with_done() -> None:
    translator = stream.StreamTranslator(prepared(), ID, CREATED)
    body = b"".join(stream.frame(translator.feed(c)) for c in recorded("chat_text_v1"))
    assert body.endswith(b"\n\ndata: [DONE]\n\n")
    assert body.startswith(
        b'data: {"object":"chat.completion.chunk","id":"chatcmpl-0123456789ab",'
        b'"created":1700000000,"model":"GigaChat-2-Max:2.0.28.2","choices":[{"index":0,'
        b'"delta":{"role":"assistant","content":""},"finish_reason":null,"logprobs":null}]}\n\n'
    )
    assert translator.done


# --- the openai SDK reading these streams -------------------------------------------


def sdk_stream(body: bytes) -> Any:
    """The openai SDK's own SSE handling over `body` (an in-memory transport: no network)."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = openai.OpenAI(
        api_key="sk-test",
        base_url="http://gateway.test/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        max_retries=0,
    )
    return client.chat.completions.create(
        model="GigaChat", messages=[{"role": "user", "content": "hi"}], stream=True
    )


def framed(name: str, **kw: Any) -> bytes:
    translator = stream.StreamTranslator(prepared(**kw), ID, CREATED)
    body = b"".join(stream.frame(translator.feed(c)) for c in recorded(name))
    return body + stream.frame(sse.finish(translator))


def test_openai_sdk_assembles_the_stream() -> None:
    chunks = list(sdk_stream(framed("chat_function_calls_v2")))
    calls = [tc for c in chunks for tc in c.choices[0].delta.tool_calls or ()]
    assert [(tc.index, tc.id, tc.function.name) for tc in calls] == [
        (0, f"call_{STATE}", "get_weather"),
        (1, f"call_{STATE}__1", "get_time"),
    ]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_openai_sdk_raises_api_error_on_the_error_event() -> None:
    received: list[str | None] = []
    with pytest.raises(openai.APIError) as info:
        received.extend(c.choices[0].delta.content for c in sdk_stream(framed("chat_truncated_v1")))
    assert received == ["", "Привет", "! Как"]
    assert info.value.message == UNFINISHED["error"]["message"]
    assert info.value.body == UNFINISHED["error"]


# --- the recordings themselves -----------------------------------------------------------


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("chat_*")), ids=lambda p: p.name)
def test_recordings_are_what_the_gigachat_sdk_reads(path: Path) -> None:
    from gigachat.models import chat, chat_completions

    v1 = path.stem.endswith("_v1")
    if path.suffix == ".json":
        model: Any = chat.ChatCompletion if v1 else chat_completions.ChatCompletionResponse
        model.model_validate_json(path.read_bytes())
        return
    events = sse_events(path.read_bytes())
    if v1:
        assert {e for e, _ in events} == {None}
        assert (events[-1][1] == sse.DONE) == ("truncated" not in path.stem)
    else:
        # Built-in tool runs arrive as `response.tool.*` events between the message events.
        assert all(e and e.startswith(("response.message.", "response.tool.")) for e, _ in events)
        assert sse.DONE not in [d for _, d in events]
    for _, data in events:
        if data != sse.DONE:
            model = chat.ChatCompletionChunk if v1 else chat_completions.ChatCompletionChunk
            model.model_validate_json(data)


def test_model_is_the_requested_one_until_gigachat_names_it() -> None:
    asked = Prepared(request=giga.ChatCompletionRequest(model="GigaChat-2", messages=[]))
    translator = stream.StreamTranslator(asked, ID, CREATED)
    nameless = [
        giga.ChatCompletionChunk(
            messages=[
                giga.ChatMessageChunk(role="assistant", content=[giga.ChatContentPart(text="a")])
            ]
        ),
        *recorded("chat_text_v2")[1:],
    ]
    events = client_view(b"".join(stream.frame(translator.feed(c)) for c in nameless))
    assert [e["model"] for e in events[:-1]] == ["GigaChat-2", "GigaChat-2"] + [MODEL] * 3
