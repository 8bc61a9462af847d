"""Unknown fields of a client body, found against the dialect's wire struct."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from gpt2giga import fields
from gpt2giga.anthropic import wire as ant
from gpt2giga.gemini import wire as gem
from gpt2giga.openai import wire as oai


def unknown(body: dict[str, Any], kind: type) -> list[str]:
    return fields.scan(msgspec.json.encode(body), kind).unknown


def test_a_body_with_only_known_fields_has_none_unknown() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [{"type": "text", "text": "x"}]},
            {"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f"}}]},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"zz": 1}}}],
        "metadata": {"free": "keys"},
    }
    scan = fields.scan(msgspec.json.encode(body), oai.ChatCompletionRequest)
    assert scan == fields.Scan(top={}, unknown=[])


def test_unknown_fields_are_named_by_path_at_every_depth() -> None:
    body = {
        "model": "m",
        "foo": 1,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "x", "zz": 1}], "bar": 2},
            {"role": "user", "content": [{"type": "text", "text": "y", "zz": 2}]},
            {"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f", "q": 1}}]},
        ],
        "stream_options": {"include_usage": True, "k": 1},
    }
    scan = fields.scan(msgspec.json.encode(body), oai.ChatCompletionRequest)
    # List items fold into one path, named once, in the client's order.
    assert scan.unknown == [
        "foo",
        "messages[].bar",
        "messages[].content[].zz",
        "messages[].tool_calls[].function.q",
        "stream_options.k",
    ]
    assert scan.top == body


def test_tagged_unions_are_walked_by_their_tag() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "u"}}]},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "1", "name": "f", "input": {"a": 1}}],
            },
        ],
        "thinking": {"type": "enabled", "budget_tokens": 1024, "extra": 1},
    }
    body["messages"][0]["content"][0]["source"]["width"] = 3
    assert unknown(body, ant.MessagesRequest) == [
        "messages[].content[].source.width",
        "thinking.extra",
    ]


@pytest.mark.parametrize(
    "config",
    [{"generationConfig": {"topK": 2, "zzz": 1}}, {"generation_config": {"top_k": 2, "zzz": 1}}],
)
def test_gemini_names_count_in_both_spellings(config: dict[str, Any]) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "x", "foo": 1}]}], **config}
    key = next(iter(config))
    assert unknown(body, gem.GenerateContentRequest) == [
        "contents[].parts[].foo",
        f"{key}.zzz",
    ]


def test_raw_and_free_values_are_not_walked() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": "t", "input_schema": {"type": "object", "anything": {"x": 1}}}],
        "metadata": {"user_id": "u", "what": "ever"},
    }
    assert unknown(body, ant.MessagesRequest) == []


class Node(msgspec.Struct, kw_only=True):
    name: str
    children: list[Node] = []


def test_a_struct_that_contains_itself_is_walked() -> None:
    body = {"name": "a", "children": [{"name": "b", "children": [{"name": "c", "x": 1}]}]}
    assert unknown(body, Node) == ["children[].children[].x"]
    assert unknown({"name": "a"}, Node) == []
