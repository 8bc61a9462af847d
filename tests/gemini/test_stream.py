"""GigaChat stream -> Gemini chunks: recorded upstream streams in, the exact event sequence out.

The recorded bodies in `tests/fixtures/gigachat/chat_*.sse` are split by the
gateway's own SSE parser and decoded as the client does (v1 chunks through
`contract.chunk_from_v1`); what comes out is framed by `stream.sse_frame` and
read back by google-genai's own stream parser, then checked with its
`GenerateContentResponse` type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from google.genai import _api_client, types
from google.genai import errors as genai_errors

from gpt2giga import errors, sse
from gpt2giga.gemini import stream
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.request import Prepared
from tests.conftest import recorded

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gigachat"
STATE = "3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15"
ID = "0123456789abcdef01234567"
MODEL = "GigaChat-2-Max:2.0.28.2"

_decode_v1 = msgspec.json.Decoder(giga1.ChatCompletionChunkV1).decode
_decode_v2 = msgspec.json.Decoder(giga.ChatCompletionChunk).decode


def prepared(structured: str | None = None) -> Prepared:
    request = giga.ChatCompletionRequest(model="GigaChat-2-Max", messages=[])
    return Prepared(request=request, structured=structured)


def sdk_view(body: bytes) -> list[Any]:
    """The chunks as google-genai's own stream reader parses them from the wire."""
    response = _api_client.HttpResponse({}, response_stream=httpx.Response(200, content=body))
    chunks = list(response.segments())
    for chunk in chunks:
        if "error" not in chunk:
            types.GenerateContentResponse.model_validate(chunk)
    return chunks


def translate(
    chunks: list[giga.ChatCompletionChunk],
    structured: str | None = None,
    thoughts: bool = False,
    failure: errors.GatewayError | None = None,
) -> list[Any]:
    """Drive the translator the way `sse.relay` does, and read the framed bytes back."""
    translator = stream.StreamTranslator(prepared(structured), ID, thoughts)
    body = b""
    for chunk in chunks:
        body += stream.sse_frame(translator.feed(chunk))
        if translator.done:
            break
    if failure is not None:
        body += stream.sse_frame(translator.error(failure))
    body += stream.sse_frame(sse.finish(translator))
    return sdk_view(body)


def chunk(
    *parts: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": list(parts), "role": "model"}}
    if finish is not None:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    out: dict[str, Any] = {"candidates": [candidate]}
    if usage is not None:
        out["usageMetadata"] = usage
    return {**out, "modelVersion": MODEL, "responseId": ID}


def usage(prompt: int, out: int, total: int, cached: int = 0) -> dict[str, int]:
    counts = {"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": total}
    return {**counts, "cachedContentTokenCount": cached} if cached else counts


def fc(call_id: str, name: str, **args: Any) -> dict[str, Any]:
    return {"functionCall": {"id": call_id, "name": name, "args": args}}


def error(code: int, message: str, status: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


TEXT = [
    chunk({"text": "Привет"}),
    chunk({"text": "! Как"}),
    chunk({"text": " дела?"}, finish="STOP", usage=usage(12, 5, 17, cached=4)),
]
REASONING = [chunk({"text": "4"}, finish="STOP", usage=usage(9, 7, 16))]
THOUGHTS = [
    chunk({"text": "2+2", "thought": True}),
    chunk({"text": " is 4.", "thought": True}),
    chunk({"text": "4"}, finish="STOP", usage=usage(9, 7, 16)),
]
ONE_CALL = [
    chunk(
        fc(f"call_{STATE}", "get_weather", city="Москва", unit="celsius"),
        finish="STOP",
        usage=usage(120, 24, 144, cached=64),
    )
]
TWO_CALLS = [
    chunk(
        fc(f"call_{STATE}", "get_weather", city="Москва"),
        fc(f"call_{STATE}__1", "get_time", tz="Europe/Moscow"),
        finish="STOP",
        usage=usage(150, 40, 190),
    )
]
STRUCTURED = [
    chunk(
        {"text": '{"city":"Москва","population":13010112}'},
        finish="STOP",
        usage=usage(80, 20, 100),
    )
]
BROKEN = error(502, "GigaChat ended the stream before the answer was complete", "UNAVAILABLE")


@pytest.mark.parametrize("contract_", ["v1", "v2"])
@pytest.mark.parametrize(
    ("name", "structured", "thoughts", "expected"),
    [
        ("chat_text", None, False, TEXT),
        ("chat_reasoning", None, False, REASONING),
        ("chat_reasoning", None, True, THOUGHTS),
        ("chat_function_call", None, False, ONE_CALL),
        ("chat_structured", "city_info", False, STRUCTURED),
        (
            "chat_truncated",
            None,
            False,
            [chunk({"text": "Привет"}), chunk({"text": "! Как"}), BROKEN],
        ),
    ],
    ids=["text", "reasoning-hidden", "thoughts", "function-call", "structured", "truncated"],
)
def test_recorded_stream_becomes_gemini_chunks(
    contract_: str, name: str, structured: str | None, thoughts: bool, expected: list[Any]
) -> None:
    assert translate(recorded(f"{name}_{contract_}"), structured, thoughts) == expected


def test_deltas_without_a_role_go_on_in_the_role_named_before() -> None:
    # GigaChat names a message's role on its first delta only (the SDK's ChatMessageChunk).
    assert translate(recorded("chat_roleless_v2"), thoughts=True) == [
        chunk({"text": "2+2", "thought": True}),
        chunk({"text": " is 4.", "thought": True}),
        chunk({"text": "Answer: "}),
        chunk({"text": "4"}, finish="STOP", usage=usage(9, 7, 16)),
    ]


def test_several_calls_arrive_whole_in_one_chunk_on_v2() -> None:
    assert translate(recorded("chat_function_calls_v2")) == TWO_CALLS


@pytest.mark.parametrize("contract_", ["v1", "v2"])
def test_failure_mid_stream_sends_what_came_then_an_error_the_sdk_raises(contract_: str) -> None:
    failure = errors.UpstreamError("GigaChat stream broke: ReadError")
    events = translate(recorded(f"chat_text_{contract_}")[:2], failure=failure)
    assert events == [
        chunk({"text": "Привет"}),
        chunk({"text": "! Как"}),
        error(502, "GigaChat stream broke: ReadError", "UNAVAILABLE"),
    ]
    with pytest.raises(genai_errors.ServerError) as caught:
        genai_errors.APIError.raise_error(events[-1]["error"]["code"], events[-1], None)
    assert (caught.value.code, caught.value.status) == (502, "UNAVAILABLE")


def test_an_answer_with_only_hidden_thoughts_is_an_error_not_an_empty_candidate() -> None:
    reasoning_only = [
        c
        for c in recorded("chat_reasoning_v2")
        if not c.messages or c.messages[0].role == "reasoning"
    ]
    assert translate(reasoning_only, thoughts=True) == [
        chunk({"text": "2+2", "thought": True}),
        chunk({"text": " is 4.", "thought": True}),
        error(502, "GigaChat returned an empty answer", "UNAVAILABLE"),
    ]


def test_the_model_asked_for_is_named_until_gigachat_names_its_own() -> None:
    bare = giga.ChatCompletionChunk(
        messages=[giga.ChatMessageChunk(role="assistant", content=[giga.ChatContentPart(text="a")])]
    )
    translator = stream.StreamTranslator(prepared(), ID, thoughts=False)
    assert translator.feed(bare) == []
    [held] = translator.feed(bare)
    assert held.model_version == "GigaChat-2-Max"


def test_a_413_mid_stream_is_reported_as_google_does() -> None:
    translator = stream.StreamTranslator(prepared(), ID, thoughts=False)
    [event] = translator.error(errors.PayloadTooLarge("too big"))
    assert msgspec.json.decode(msgspec.json.encode(event)) == error(
        400, "too big", "INVALID_ARGUMENT"
    )
    assert translator.done and sse.finish(translator) == []


@pytest.mark.parametrize(
    ("batches", "expected"),
    [
        ([], b"[]"),
        ([[1]], b'[{"n":1}]'),
        ([[1, 2], [], [3]], b'[{"n":1},\r\n{"n":2},\r\n{"n":3}]'),
    ],
)
def test_without_alt_sse_the_chunks_form_one_json_array(
    batches: list[list[int]], expected: bytes
) -> None:
    framer = stream.ArrayFrame()
    body = b"".join(framer([{"n": n} for n in batch]) for batch in batches)
    assert body + framer.close() == expected
