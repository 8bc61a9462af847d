"""GigaChat stream -> Anthropic events: recorded upstream streams in, the exact event sequence out.

The recorded bodies in `tests/fixtures/gigachat/chat_*.sse` are split by the
gateway's own SSE parser and decoded as the client does (v1 chunks through
`contract.chunk_from_v1`); what comes out is framed by `stream.frame`, read
back as a client would, validated with anthropic's own event types and
assembled with the SDK's own stream accumulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pydantic
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message, RawMessageStreamEvent

from gpt2giga import errors, sse
from gpt2giga.anthropic import stream
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.request import Prepared
from tests.conftest import recorded, sse_events

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gigachat"
STATE = "3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15"
MSG_ID = "msg_0123456789abcdef01234567"
MODEL = "GigaChat-2-Max:2.0.28.2"

_decode_v1 = msgspec.json.Decoder(giga1.ChatCompletionChunkV1).decode
_decode_v2 = msgspec.json.Decoder(giga.ChatCompletionChunk).decode
_event = pydantic.TypeAdapter(RawMessageStreamEvent)


def prepared(structured: str | None = None, stops: list[str] | None = None) -> Prepared:
    return Prepared(
        request=giga.ChatCompletionRequest(model="GigaChat-2-Max", messages=[]),
        structured=structured,
        stops=stops or [],
    )


def client_view(body: bytes) -> list[dict[str, Any]]:
    """Each frame's JSON, after checking that its SSE event name is its `type`."""
    events = []
    for name, data in sse_events(body):
        event = msgspec.json.decode(data)
        assert name == event["type"]
        events.append(event)
    return events


def drive(
    chunks: list[giga.ChatCompletionChunk],
    structured: str | None = None,
    stops: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Drive the translator the way `sse.relay` does, and read the framed bytes back."""
    translator = stream.StreamTranslator(prepared(structured, stops), MSG_ID)
    body = b""
    for chunk in chunks:
        body += stream.frame(translator.feed(chunk))
        if translator.done:
            break
    body += stream.frame(sse.finish(translator))
    return client_view(body)


def assemble(events: list[dict[str, Any]]) -> Message:
    """What the anthropic SDK's `get_final_message()` builds from these events."""
    snapshot = None
    buffers: dict[int, bytes] = {}
    for raw in events:
        if raw["type"] in ("ping", "error"):
            continue
        snapshot = accumulate_event(
            event=_event.validate_python(raw), current_snapshot=snapshot, json_bufs=buffers
        )
    assert snapshot is not None
    return Message.model_validate(snapshot.model_dump())


def usage(inputs: int, outputs: int, cached: int = 0) -> dict[str, int]:
    return {
        "input_tokens": inputs,
        "output_tokens": outputs,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }


START = [
    {
        "type": "message_start",
        "message": {
            "type": "message",
            "id": MSG_ID,
            "role": "assistant",
            "model": MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage(0, 0),
        },
    },
    {"type": "ping"},
]


def start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": {"type": kind, **fields}}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def end(reason: str, u: dict[str, int], sequence: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": sequence},
            "usage": u,
        },
        {"type": "message_stop"},
    ]


def tool_block(index: int, use_id: str, name: str, arguments: str) -> list[dict[str, Any]]:
    return [
        start(index, {"type": "tool_use", "id": use_id, "name": name, "input": {}}),
        delta(index, "input_json_delta", partial_json=arguments),
        stop(index),
    ]


TEXT = [
    *START,
    start(0, {"type": "text", "text": ""}),
    delta(0, "text_delta", text="Привет"),
    delta(0, "text_delta", text="! Как"),
    delta(0, "text_delta", text=" дела?"),
    stop(0),
    *end("end_turn", usage(8, 5, 4)),
]
REASONING = [
    *START,
    start(0, {"type": "thinking", "thinking": "", "signature": ""}),
    delta(0, "thinking_delta", thinking="2+2"),
    delta(0, "thinking_delta", thinking=" is 4."),
    delta(0, "signature_delta", signature="gpt2giga"),
    stop(0),
    start(1, {"type": "text", "text": ""}),
    delta(1, "text_delta", text="4"),
    stop(1),
    *end("end_turn", usage(9, 7)),
]
ONE_CALL = [
    *START,
    *tool_block(0, f"toolu_{STATE}", "get_weather", '{"city":"Москва","unit":"celsius"}'),
    *end("tool_use", usage(56, 24, 64)),
]
STRUCTURED = [
    *START,
    start(0, {"type": "text", "text": ""}),
    delta(0, "text_delta", text='{"city":"Москва","population":13010112}'),
    stop(0),
    *end("end_turn", usage(80, 20)),
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
def test_recorded_stream_becomes_the_same_events_on_both_contracts(
    contract_: str, fixture: str, structured: str | None, expected: list[Any]
) -> None:
    events = drive(recorded(f"{fixture}_{contract_}"), structured)
    assert events == expected
    assemble(events)


def test_deltas_without_a_role_go_on_in_the_role_named_before() -> None:
    # GigaChat names a message's role on its first delta only (the SDK's ChatMessageChunk).
    final = assemble(drive(recorded("chat_roleless_v2")))
    assert [b.model_dump(exclude_none=True) for b in final.content] == [
        {"type": "thinking", "thinking": "2+2 is 4.", "signature": "gpt2giga"},
        {"type": "text", "text": "Answer: 4"},
    ]
    assert (final.stop_reason, final.model) == ("end_turn", MODEL)


def test_stream_assembles_into_the_message_a_whole_answer_gives() -> None:
    final = assemble(drive(recorded("chat_reasoning_v2")))
    assert final.model_dump(exclude_none=True) == {
        "id": MSG_ID,
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [
            {"type": "thinking", "thinking": "2+2 is 4.", "signature": "gpt2giga"},
            {"type": "text", "text": "4"},
        ],
        "stop_reason": "end_turn",
        "usage": usage(9, 7),
    }


def test_several_calls_are_consecutive_tool_use_blocks() -> None:
    events = drive(recorded("chat_function_calls_v2"))
    assert events == [
        *START,
        *tool_block(0, f"toolu_{STATE}", "get_weather", '{"city":"Москва"}'),
        *tool_block(1, f"toolu_{STATE}__1", "get_time", '{"tz":"Europe/Moscow"}'),
        *end("tool_use", usage(150, 40)),
    ]
    final = assemble(events)
    assert [(b.type, getattr(b, "input", None)) for b in final.content] == [
        ("tool_use", {"city": "Москва"}),
        ("tool_use", {"tz": "Europe/Moscow"}),
    ]


def test_text_then_call_then_reasoning_open_new_blocks_in_order() -> None:
    def chunk(role: str, part: giga.ChatContentPart) -> giga.ChatCompletionChunk:
        message = giga.ChatMessageChunk(role=role, content=[part])
        return giga.ChatCompletionChunk(model=MODEL, messages=[message])

    call = giga.ChatFunctionCall(name="get_time", arguments={})
    done = giga.ChatCompletionChunk(finish_reason="function_call", usage=giga.ChatUsage())
    events = drive(
        [
            chunk("assistant", giga.ChatContentPart(text="Смотрю.")),
            chunk("assistant", giga.ChatContentPart(function_call=call)),
            chunk("reasoning", giga.ChatContentPart(text="ещё")),
            chunk("assistant", giga.ChatContentPart(text="Готово.")),
            done,
        ]
    )
    assert [(e["type"], e.get("index")) for e in events[2:]] == [
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_delta", 2),
        ("content_block_delta", 2),
        ("content_block_stop", 2),
        ("content_block_start", 3),
        ("content_block_delta", 3),
        ("content_block_stop", 3),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert [b.type for b in assemble(events).content] == ["text", "tool_use", "thinking", "text"]


def test_a_stop_sequence_ends_the_stream_and_is_named() -> None:
    events = drive(recorded("chat_text_v2"), stops=["! "])
    assert events == [
        *START,
        start(0, {"type": "text", "text": ""}),
        delta(0, "text_delta", text="Привет"),
        stop(0),
        *end("stop_sequence", usage(0, 0), sequence="! "),
    ]


ERROR_AFTER_TEXT = [
    *START,
    start(0, {"type": "text", "text": ""}),
    delta(0, "text_delta", text="Привет"),
    delta(0, "text_delta", text="! Как"),
]


@pytest.mark.parametrize("contract_", ["v1", "v2"])
def test_upstream_ending_without_finish_is_an_error_event(contract_: str) -> None:
    assert drive(recorded(f"chat_truncated_{contract_}")) == [
        *ERROR_AFTER_TEXT,
        {
            "type": "error",
            "error": {
                "type": "api_error",
                "message": "GigaChat ended the stream before the answer was complete",
            },
        },
    ]


@pytest.mark.parametrize(
    ("err", "kind"),
    [
        (errors.UpstreamError("GigaChat stream broke: ReadError"), "api_error"),
        (errors.UpstreamTimeout("GigaChat stopped sending mid-stream"), "timeout_error"),
        (errors.Overloaded("GigaChat answered 503"), "overloaded_error"),
    ],
)
def test_mid_stream_failure_is_an_error_event_and_the_end(
    err: errors.GatewayError, kind: str
) -> None:
    translator = stream.StreamTranslator(prepared(), MSG_ID)
    body = b"".join(stream.frame(translator.feed(c)) for c in recorded("chat_text_v2")[:2])
    body += stream.frame(translator.error(err))
    assert sse.finish(translator) == []
    assert client_view(body) == [
        *ERROR_AFTER_TEXT,
        {"type": "error", "error": {"type": kind, "message": err.message}},
    ]


def test_ping_frame_is_a_named_ping_event() -> None:
    assert stream.PING_FRAME == b'event: ping\ndata: {"type":"ping"}\n\n'
