"""contract: the v2 hub request as a v1 body, and v1 answers and chunks back as v2."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from gigachat.models import chat as sdk_v1
from gigachat.models import chat_completions as sdk_v2

from gpt2giga.gigachat import contract
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1

STATE = "0b6f1d2e-3c4a-4b5d-8e9f-0a1b2c3d4e5f"


# --- builders ----------------------------------------------------------------------


def text(role: str, value: str) -> giga.ChatMessage:
    return giga.ChatMessage(role=role, content=[giga.ChatContentPart(text=value)])


def call(name: str, **arguments: Any) -> giga.ChatContentPart:
    return giga.ChatContentPart(function_call=giga.ChatFunctionCall(name=name, arguments=arguments))


def result(name: str, value: Any) -> giga.ChatContentPart:
    return giga.ChatContentPart(function_result=giga.ChatFunctionResult(name=name, result=value))


def assistant(*parts: giga.ChatContentPart, state: str | None = None) -> giga.ChatMessage:
    return giga.ChatMessage(role="assistant", content=list(parts), tools_state_id=state)


def tool(*parts: giga.ChatContentPart) -> giga.ChatMessage:
    return giga.ChatMessage(role="tool", content=list(parts))


def spec(name: str) -> giga.ChatFunctionSpecification:
    return giga.ChatFunctionSpecification(
        name=name,
        description=f"The {name} function",
        parameters={"type": "object", "properties": {"q": {"type": "string"}}},
    )


def request(messages: list[giga.ChatMessage], **fields: Any) -> giga.ChatCompletionRequest:
    """A v2 request; the gigachat SDK's v2 model must accept it as it goes on the wire."""
    req = giga.ChatCompletionRequest(model="GigaChat-2-Max", messages=messages, **fields)
    sdk_v2.ChatCompletionRequest.model_validate_json(msgspec.json.encode(req))
    return req


def v1_body(req: giga.ChatCompletionRequest, profanity: bool | None = None) -> dict[str, Any]:
    """`to_v1` as JSON; the gigachat SDK's v1 `Chat` model must accept it."""
    encoded = msgspec.json.encode(contract.to_v1(req, profanity))
    sdk_v1.Chat.model_validate_json(encoded)
    body: dict[str, Any] = msgspec.json.decode(encoded)
    return body


def fc(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


# --- to_v1: messages ----------------------------------------------------------------


def test_text_messages_keep_role_and_order() -> None:
    req = request([text("system", "Be brief."), text("user", "Hi"), text("assistant", "Hello")])
    assert v1_body(req) == {
        "model": "GigaChat-2-Max",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
        ],
    }


def test_text_parts_join_with_newlines_and_files_become_attachments() -> None:
    msg = giga.ChatMessage(
        role="user",
        content=[
            giga.ChatContentPart(text="Look at"),
            giga.ChatContentPart(files=[giga.ChatContentFile(id="file-1")]),
            giga.ChatContentPart(text="these"),
            giga.ChatContentPart(files=[giga.ChatContentFile(id="file-2", mime="image/png")]),
        ],
    )
    assert v1_body(request([msg]))["messages"] == [
        {"role": "user", "content": "Look at\nthese", "attachments": ["file-1", "file-2"]}
    ]


def test_one_function_call_and_its_result() -> None:
    req = request(
        [
            text("user", "Weather?"),
            assistant(call("get_weather", city="Paris"), state=STATE),
            tool(result("get_weather", {"temp": 21})),
        ]
    )
    assert v1_body(req)["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "function_call": fc("get_weather", city="Paris"),
            "functions_state_id": STATE,
        },
        {"role": "function", "name": "get_weather", "content": '{"temp":21}'},
    ]


def test_several_calls_interleave_with_results_matched_by_name_then_order() -> None:
    req = request(
        [
            text("user", "Go"),
            assistant(
                giga.ChatContentPart(text="Checking."),
                call("read", path="a"),
                call("grep", pattern="x"),
                call("read", path="b"),
                state=STATE,
            ),
            # Results arrive in another order, and one of them under an unknown name.
            tool(result("grep", "found x")),
            tool(result("read", "A text"), result("function", "B text")),
            text("user", "Thanks"),
        ]
    )
    assert v1_body(req)["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Checking.",
            "function_call": fc("read", path="a"),
            "functions_state_id": STATE,
        },
        {"role": "function", "name": "read", "content": '{"result":"A text"}'},
        {
            "role": "assistant",
            "content": "",
            "function_call": fc("grep", pattern="x"),
            "functions_state_id": STATE,
        },
        {"role": "function", "name": "grep", "content": '{"result":"found x"}'},
        {
            "role": "assistant",
            "content": "",
            "function_call": fc("read", path="b"),
            "functions_state_id": STATE,
        },
        {"role": "function", "name": "read", "content": '{"result":"B text"}'},
        {"role": "user", "content": "Thanks"},
    ]


def test_several_calls_with_missing_and_extra_results() -> None:
    req = request(
        [
            assistant(call("a"), call("b")),
            tool(result("b", "only b")),
        ]
    )
    assert [(m["role"], m.get("name"), m["content"]) for m in v1_body(req)["messages"]] == [
        ("assistant", None, ""),
        ("assistant", None, ""),
        ("function", "b", '{"result":"only b"}'),
    ]
    extra = request(
        [assistant(call("a"), call("b")), tool(result("a", 1), result("b", 2), result("c", 3))]
    )
    assert [(m["role"], m.get("name")) for m in v1_body(extra)["messages"]] == [
        ("assistant", None),
        ("function", "a"),
        ("assistant", None),
        ("function", "b"),
        ("function", "c"),
    ]


def test_message_level_function_call_counts_as_a_call() -> None:
    msg = giga.ChatMessage(
        role="assistant", function_call=giga.ChatFunctionCall(name="f", arguments={"x": 1})
    )
    assert v1_body(request([msg]))["messages"] == [
        {"role": "assistant", "content": "", "function_call": fc("f", x=1)}
    ]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [({"a": [1, 2]}, {"a": [1, 2]}), ("not an object", {}), (None, {}), ([1], {})],
)
def test_call_arguments_are_always_an_object(arguments: Any, expected: dict[str, Any]) -> None:
    part = giga.ChatContentPart(function_call=giga.ChatFunctionCall(name="f", arguments=arguments))
    assert v1_body(request([assistant(part)]))["messages"][0]["function_call"] == {
        "name": "f",
        "arguments": expected,
    }


@pytest.mark.parametrize(
    ("output", "content"),
    [
        ("plain text", '{"result":"plain text"}'),
        ('{"ok": true}', '{"ok":true}'),
        ('  {"ok": true}\n', '{"ok":true}'),
        ("{not json", '{"result":"{not json"}'),
        ("[1, 2]", '{"result":"[1, 2]"}'),
        ("", '{"result":""}'),
        ({"temp": 21}, '{"temp":21}'),
        ([1, 2], '{"result":[1,2]}'),
        (42, '{"result":42}'),
        (None, '{"result":null}'),
    ],
    ids=[
        "text", "json-object-text", "padded-json-object", "broken-json", "json-list-text",
        "empty", "object", "list", "number", "null",
    ],
)  # fmt: skip
def test_tool_results_are_function_messages_with_a_json_object(output: Any, content: str) -> None:
    body = v1_body(request([assistant(call("f")), tool(result("f", output))]))
    assert body["messages"][1] == {"role": "function", "name": "f", "content": content}


# --- to_v1: tools and options --------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (giga.ChatToolConfig(mode="forced", function_name="f"), {"name": "f"}),
        (giga.ChatToolConfig(mode="auto"), "auto"),
        (giga.ChatToolConfig(mode="none"), "none"),
        (giga.ChatToolConfig(mode="forced", tool_name="web_search"), None),
        (giga.ChatToolConfig(), None),
        (None, None),
    ],
    ids=["forced", "auto", "none", "forced-builtin", "no-mode", "absent"],
)
def test_tool_config_becomes_function_call(
    config: giga.ChatToolConfig | None, expected: Any
) -> None:
    tools = [giga.ChatTool(functions=giga.ChatFunctionsTool(specifications=[spec("f")]))]
    body = v1_body(request([text("user", "x")], tools=tools, tool_config=config))
    assert body.get("function_call") == expected


def test_functions_are_listed_and_builtin_tools_dropped() -> None:
    weather = giga.ChatFunctionSpecification(
        name="weather",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}},
        few_shot_examples=[giga.ChatFunctionExample(request="Paris?", params={"city": "Paris"})],
        return_parameters={"type": "object", "properties": {"temp": {"type": "number"}}},
    )
    tools = [
        giga.ChatTool(web_search=giga.ChatWebSearchTool(type="actual_info")),
        giga.ChatTool(functions=giga.ChatFunctionsTool(specifications=[weather, spec("f")])),
        giga.ChatTool(code_interpreter={}),
    ]
    body = v1_body(request([text("user", "x")], tools=tools))
    assert body["functions"] == [
        {
            "name": "weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            "few_shot_examples": [{"request": "Paris?", "params": {"city": "Paris"}}],
            "return_parameters": {"type": "object", "properties": {"temp": {"type": "number"}}},
        },
        {
            "name": "f",
            "description": "The f function",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    ]


def test_only_builtin_tools_send_neither_functions_nor_function_call() -> None:
    req = request(
        [text("user", "x")],
        tools=[giga.ChatTool(web_search=giga.ChatWebSearchTool())],
        tool_config=giga.ChatToolConfig(mode="auto"),
    )
    body = v1_body(req)
    assert "functions" not in body
    assert "function_call" not in body


def test_model_options_are_flattened() -> None:
    options = giga.ChatModelOptions(
        temperature=0.3,
        top_p=0.9,
        max_tokens=256,
        repetition_penalty=1.1,
        update_interval=0.5,
        reasoning=giga.ChatReasoning(effort="high"),
        response_format=giga.ChatResponseFormat(
            type="json_schema",
            schema={"type": "object", "properties": {"a": {"type": "string"}}},
            strict=True,
        ),
    )
    req = request([text("user", "x")], model_options=options, flags=["f1"])
    assert v1_body(req, profanity=False) == {
        "model": "GigaChat-2-Max",
        "messages": [{"role": "user", "content": "x"}],
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 256,
        "repetition_penalty": 1.1,
        "update_interval": 0.5,
        "profanity_check": False,
        "flags": ["f1"],
        "response_format": {
            "type": "json_schema",
            "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
            "strict": True,
        },
        "reasoning_effort": "high",
    }


def test_gigachat_native_options_take_their_v1_places() -> None:
    req = request(
        [text("user", "x")],
        disable_filter=True,
        ranker_options=giga.ChatRankerOptions(enabled=True, top_n=3, embeddings_model="Emb"),
        # v1 has no place for these: left out (the client is told by gigachat/native.py).
        filter_config=giga.ChatFilterConfig(
            request_content=giga.ChatFilterContentConfig(neuro=False)
        ),
        user_info=giga.ChatUserInfo(timezone="Europe/Moscow"),
        model_options=giga.ChatModelOptions(preset="creative", unnormalized_history=True),
    )
    assert v1_body(req, profanity=True) == {
        "model": "GigaChat-2-Max",
        "messages": [{"role": "user", "content": "x"}],
        # The request's own choice wins over the operator's GIGACHAT_PROFANITY_CHECK.
        "profanity_check": False,
        "function_ranker": {"enabled": True, "top_n": 3},
    }


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (giga.ChatResponseFormat(type="text"), None),
        (giga.ChatResponseFormat(type="json_schema", schema="raw text schema"), None),
        (
            giga.ChatResponseFormat(type="json_schema", schema={"type": "object"}),
            {"type": "json_schema", "schema": {"type": "object"}},
        ),
    ],
    ids=["text", "string-schema", "schema-without-strict"],
)
def test_response_format_reaches_v1_only_as_a_json_schema(
    fmt: giga.ChatResponseFormat, expected: dict[str, Any] | None
) -> None:
    req = request([text("user", "x")], model_options=giga.ChatModelOptions(response_format=fmt))
    assert v1_body(req).get("response_format") == expected


@pytest.mark.parametrize(
    ("effort", "expected"),
    [("low", "low"), ("medium", "medium"), ("high", "high"), ("xhigh", None), (None, None)],
)
def test_reasoning_effort_reaches_v1_only_as_a_word_it_knows(
    effort: str | None, expected: str | None
) -> None:
    options = giga.ChatModelOptions(reasoning=giga.ChatReasoning(effort=effort))
    req = request([text("user", "x")], model_options=options)
    assert v1_body(req).get("reasoning_effort") == expected


def test_v2_only_fields_do_not_reach_v1() -> None:
    req = request(
        [text("user", "x")],
        storage=giga.ChatStorage(thread_id="t-1", limit=5),
        tools_state_id=STATE,
        stream=True,
    )
    assert v1_body(req) == {
        "model": "GigaChat-2-Max",
        "messages": [{"role": "user", "content": "x"}],
    }


# --- from_v1 -----------------------------------------------------------------------------


def v1_answer(
    message: dict[str, Any], finish: str = "stop", **usage: int
) -> giga1.ChatCompletionV1:
    """A v1 answer body; the SDK's v1 `ChatCompletion` must accept it first."""
    body = {
        "choices": [{"message": message, "index": 0, "finish_reason": finish}],
        "created": 1_700_000_000,
        "model": "GigaChat-2-Max:2.0.28.2",
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, **usage},
        "object": "chat.completion",
    }
    raw = msgspec.json.encode(body)
    sdk_v1.ChatCompletion.model_validate_json(raw)
    return msgspec.json.decode(raw, type=giga1.ChatCompletionV1)


def v2_json(value: msgspec.Struct, model: Any) -> dict[str, Any]:
    """A hub struct as JSON, checked against the SDK's v2 model."""
    raw = msgspec.json.encode(value)
    model.model_validate_json(raw)
    decoded: dict[str, Any] = msgspec.json.decode(raw)
    return decoded


def test_text_answer() -> None:
    resp = contract.from_v1(v1_answer({"role": "assistant", "content": "Hello"}))
    assert v2_json(resp, sdk_v2.ChatCompletionResponse) == {
        "model": "GigaChat-2-Max:2.0.28.2",
        "created_at": 1_700_000_000,
        "messages": [{"role": "assistant", "content": [{"text": "Hello"}]}],
        "finish_reason": "stop",
        "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
    }


def test_reasoning_becomes_a_reasoning_message_before_the_answer() -> None:
    resp = contract.from_v1(
        v1_answer({"role": "assistant", "content": "42", "reasoning_content": "Think."})
    )
    assert v2_json(resp, sdk_v2.ChatCompletionResponse)["messages"] == [
        {"role": "reasoning", "content": [{"text": "Think."}]},
        {"role": "assistant", "content": [{"text": "42"}]},
    ]


def test_function_call_keeps_its_state_id_and_finish_reason() -> None:
    message = {
        "role": "assistant",
        "content": "",
        "function_call": {"name": "get_weather", "arguments": {"city": "Paris"}},
        "functions_state_id": STATE,
    }
    resp = contract.from_v1(v1_answer(message, "function_call"))
    body = v2_json(resp, sdk_v2.ChatCompletionResponse)
    assert body["messages"] == [
        {
            "role": "assistant",
            "content": [{"function_call": fc("get_weather", city="Paris")}],
            "tools_state_id": STATE,
        }
    ]
    assert body["finish_reason"] == "function_call"


def test_function_call_without_arguments_gets_an_empty_object() -> None:
    message = {"role": "assistant", "content": "", "function_call": {"name": "now"}}
    resp = contract.from_v1(v1_answer(message, "function_call"))
    assert v2_json(resp, sdk_v2.ChatCompletionResponse)["messages"][0]["content"] == [
        {"function_call": {"name": "now", "arguments": {}}}
    ]


@pytest.mark.parametrize(
    ("extra", "details"),
    [({}, None), ({"precached_prompt_tokens": 7}, {"cached_tokens": 7})],
    ids=["no-cache", "precached"],
)
def test_usage_maps_prompt_completion_and_cached_tokens(
    extra: dict[str, int], details: dict[str, int] | None
) -> None:
    resp = contract.from_v1(v1_answer({"role": "assistant", "content": "x"}, "stop", **extra))
    assert resp.usage is not None
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.total_tokens) == (
        10,
        5,
        15,
    )
    assert resp.usage.cached_tokens == (details or {}).get("cached_tokens", 0)
    assert (
        v2_json(resp, sdk_v2.ChatCompletionResponse)["usage"].get("input_tokens_details") == details
    )


@pytest.mark.parametrize("finish", ["stop", "length", "function_call", "blacklist"])
def test_finish_reason_passes_through(finish: str) -> None:
    resp = contract.from_v1(v1_answer({"role": "assistant", "content": "x"}, finish))
    assert resp.finish_reason == finish


def test_answer_without_choices_has_no_messages() -> None:
    answer = giga1.ChatCompletionV1(
        choices=[],
        created=1,
        model="GigaChat",
        usage=giga1.UsageV1(prompt_tokens=1, completion_tokens=0, total_tokens=1),
        object="chat.completion",
    )
    resp = contract.from_v1(answer)
    assert (resp.messages, resp.finish_reason) == ([], None)


# --- chunk_from_v1 --------------------------------------------------------------------


def v1_chunk(
    delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None
) -> giga1.ChatCompletionChunkV1:
    body: dict[str, Any] = {
        "choices": [{"delta": delta, "index": 0, "finish_reason": finish}],
        "created": 1_700_000_001,
        "model": "GigaChat-2-Max:2.0.28.2",
        # GigaChat labels stream chunks "chat.completion".
        "object": "chat.completion",
    }
    if usage is not None:
        body["usage"] = usage
    raw = msgspec.json.encode(body)
    sdk_v1.ChatCompletionChunk.model_validate_json(raw)
    return msgspec.json.decode(raw, type=giga1.ChatCompletionChunkV1)


@pytest.mark.parametrize(
    ("delta", "messages"),
    [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Hel"}, [{"role": "assistant", "content": [{"text": "Hel"}]}]),
        ({"reasoning_content": "Hmm"}, [{"role": "reasoning", "content": [{"text": "Hmm"}]}]),
        (
            {"content": "", "function_call": fc("f", a=1), "functions_state_id": STATE},
            [
                {
                    "role": "assistant",
                    "content": [{"function_call": fc("f", a=1)}],
                    "tools_state_id": STATE,
                }
            ],
        ),
    ],
    ids=["role-only", "text", "reasoning", "function-call"],
)
def test_delta_chunks(delta: dict[str, Any], messages: list[dict[str, Any]] | None) -> None:
    chunk = contract.chunk_from_v1(v1_chunk(delta))
    body = v2_json(chunk, sdk_v2.ChatCompletionChunk)
    assert body.get("event") == "response.message.delta"
    assert body.get("messages") == messages
    assert (body["model"], body["created_at"]) == ("GigaChat-2-Max:2.0.28.2", 1_700_000_001)
    assert "finish_reason" not in body


def test_last_chunk_is_done_with_finish_reason_and_usage() -> None:
    usage = {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "precached_prompt_tokens": 2,
    }
    chunk = contract.chunk_from_v1(v1_chunk({"content": ""}, "stop", usage))
    assert v2_json(chunk, sdk_v2.ChatCompletionChunk) == {
        "event": "response.message.done",
        "model": "GigaChat-2-Max:2.0.28.2",
        "created_at": 1_700_000_001,
        "finish_reason": "stop",
        "usage": {
            "input_tokens": 3,
            "input_tokens_details": {"cached_tokens": 2},
            "output_tokens": 4,
            "total_tokens": 7,
        },
    }


# --- helpers shared with the dialects ------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, ""),
        ("plain", "plain"),
        ([giga.ChatContentPart(text="a"), giga.ChatContentPart(text="b")], "a\nb"),
        ([giga.ChatContentPart(function_call=giga.ChatFunctionCall(name="f", arguments={}))], ""),
    ],
)
def test_text_of(content: Any, expected: str) -> None:
    assert contract.text_of(giga.ChatMessage(role="user", content=content)) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (giga.ChatMessage(role="assistant", tools_state_id="a"), "a"),
        (giga.ChatMessage(role="assistant", tool_state_id="b"), "b"),
        (giga.ChatMessage(role="assistant", tools_state_id="a", tool_state_id="b"), "a"),
        (giga.ChatMessage(role="assistant"), None),
    ],
)
def test_state_id_reads_either_spelling(message: giga.ChatMessage, expected: str | None) -> None:
    assert contract.state_id(message) == expected
