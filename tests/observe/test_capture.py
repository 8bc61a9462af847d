"""Content in spans: tool arguments left out in every dialect's shape, the cut, redaction."""

from __future__ import annotations

from typing import Any

import pytest

from gpt2giga.observe.capture import TRUNCATED, Capture, without_tool_args
from gpt2giga.observe.redact import Redactor


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (  # OpenAI chat: definitions and a call's arguments
            {"tools": [{"type": "function"}], "messages": [{"role": "assistant", "tool_calls": [
                {"id": "c1", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}]},
            {"messages": [{"role": "assistant", "tool_calls": [
                {"id": "c1", "function": {"name": "f"}}]}]},
        ),
        (  # Anthropic: a tool_use block's input, a streamed input_json_delta
            [{"type": "tool_use", "name": "f", "input": {"a": 1}},
             {"type": "content_block_delta",
              "delta": {"type": "input_json_delta", "partial_json": "{"}},
             {"type": "text", "text": "t", "input": "kept: not a tool block"}],
            [{"type": "tool_use", "name": "f"},
             {"type": "content_block_delta", "delta": {"type": "input_json_delta"}},
             {"type": "text", "text": "t", "input": "kept: not a tool block"}],
        ),
        (  # Gemini: functionCall args
            {"parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]},
            {"parts": [{"functionCall": {"name": "f"}}]},
        ),
        (  # Responses: the arguments' stream events; GigaChat v1: functions
            [{"type": "response.function_call_arguments.delta", "delta": "{\"a\""},
             {"functions": [{"name": "f"}], "messages": []}],
            [{"type": "response.function_call_arguments.delta"}, {"messages": []}],
        ),
    ],
)  # fmt: skip
def test_tool_arguments_are_left_out_in_every_shape(value: Any, expected: Any) -> None:
    assert without_tool_args(value) == expected


def capture(limit: int = 8000, tool_args: bool = False) -> Capture:
    return Capture(
        messages=True,
        responses=True,
        tool_args=tool_args,
        limit=limit,
        redactor=Redactor(["giga-secret-value"]),
    )


def test_the_cut_includes_its_mark() -> None:
    c = capture(limit=20)
    assert c.cut("short") == "short"
    cut = c.cut("x" * 50)
    assert cut == "xxxxxx" + TRUNCATED and len(cut) == 20
    assert capture(limit=5).cut("x" * 50) == TRUNCATED[:5]


def test_a_captured_event_stream_is_cleaned_event_by_event() -> None:
    body = (
        b'data: {"type":"x","token":"giga-secret-value","arguments":"{}","text":"hi"}\n\n'
        b"data: Bearer abcdef123456\n\n"
        b"data: [DONE]\n\n"
    )
    cleaned = capture().body(body).split("\n")
    assert cleaned[0] == 'data: {"type":"x","token":"***","text":"hi"}'
    assert cleaned[2] == "data: Bearer ***"
    assert cleaned[4] == "data: [DONE]"


def test_a_json_body_keeps_tool_arguments_when_asked() -> None:
    body = b'{"arguments":"{\\"city\\":\\"Paris\\"}","api_key":"k-12345"}'
    assert (
        capture(tool_args=True).body(body)
        == '{"arguments":"{\\"city\\":\\"Paris\\"}","api_key":"***"}'
    )
    assert capture().body(body) == '{"api_key":"***"}'
