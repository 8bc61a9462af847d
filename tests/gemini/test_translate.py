"""Gemini generateContent <-> GigaChat: struct in, struct out, no I/O.

Requests are checked on the v2 hub and, through `contract.to_v1`, in the v1
form the client sends; answers are read from the recorded GigaChat bodies in
`tests/fixtures/gigachat/chat_*.json` and checked with google-genai's own types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from google.genai import types

from gpt2giga import errors
from gpt2giga.gemini import contents, spelling, translate
from gpt2giga.gemini import wire as gem
from gpt2giga.gigachat import answer, contract
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.request import Options, Prepared

FIXTURES = Path(__file__).parent.parent / "fixtures"
STATE = "3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15"
OTHER_STATE = "7a2b9c4d-1e3f-4a5b-8c6d-0e9f1a2b3c4d"
USER = {"role": "user", "parts": [{"text": "Погода в Москве?"}]}
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {"name": "get_weather", "description": "Current weather", "parametersJsonSchema": CITY}
TIME = {"name": "get_time", "parameters": {"type": "OBJECT", "properties": {}}}
EMPTY_PARAMS = {"type": "object", "properties": {}}

_decode_request = spelling.decoder(gem.GenerateContentRequest)


def request(**body: Any) -> gem.GenerateContentRequest:
    return _decode_request(msgspec.json.encode({"contents": [USER], **body}))


def options(**kw: Any) -> Options:
    return Options(contract=kw.pop("contract", "v2"), model="GigaChat", **kw)


def prepare(opts: Options | None = None, **body: Any) -> Prepared:
    return translate.to_giga(request(**body), opts or options())


def v2(prepared: Prepared) -> Any:
    return msgspec.json.decode(msgspec.json.encode(prepared.request))


def v1(prepared: Prepared) -> Any:
    return msgspec.json.decode(msgspec.json.encode(contract.to_v1(prepared.request)))


def rejected(body: dict[str, Any], opts: Options | None = None) -> errors.GatewayError:
    with pytest.raises(errors.GatewayError) as caught:
        translate.to_giga(request(**body), opts or options())
    assert caught.value.status == 400
    return caught.value


def text(role: str, value: str) -> dict[str, Any]:
    return {"role": role, "content": [{"text": value}]}


# --- contents -------------------------------------------------------------------------------


def call(name: str, call_id: str | None = None, **args: Any) -> dict[str, Any]:
    fc: dict[str, Any] = {"name": name, "args": args}
    if call_id is not None:
        fc["id"] = call_id
    return {"functionCall": fc}


def result(name: str, response: Any, call_id: str | None = None) -> dict[str, Any]:
    fr: dict[str, Any] = {"name": name, "response": response}
    if call_id is not None:
        fr["id"] = call_id
    return {"functionResponse": fr}


def giga_call(name: str, **args: Any) -> dict[str, Any]:
    return {"function_call": {"name": name, "arguments": args}}


def giga_result(name: str, output: Any) -> dict[str, Any]:
    return {"function_result": {"name": name, "result": output}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Be kind."}]},
                "contents": [
                    {"parts": [{"text": "Hi"}, {"text": "there"}]},
                    {"role": "model", "parts": [{"text": "Hel"}, {"text": "lo"}]},
                    {"role": "user", "parts": [{"text": "Again"}]},
                ],
            },
            [
                text("system", "Be brief.\nBe kind."),
                text("user", "Hi\nthere"),
                text("assistant", "Hello"),
                text("user", "Again"),
            ],
        ),
        (
            {
                "contents": [
                    USER,
                    {
                        "role": "model",
                        "parts": [
                            {"text": "Let me check.", "thought": True, "thoughtSignature": "c2ln"},
                            {"text": "Checking."},
                            {**call("get_weather", f"call_{STATE}", city="Москва")},
                        ],
                    },
                    {"role": "user", "parts": [result("get_weather", {"t": 1}, f"call_{STATE}")]},
                ]
            },
            [
                text("user", "Погода в Москве?"),
                {
                    "role": "assistant",
                    "content": [{"text": "Checking."}, giga_call("get_weather", city="Москва")],
                    "tools_state_id": STATE,
                },
                {
                    "role": "tool",
                    "content": [giga_result("get_weather", {"t": 1})],
                    "tools_state_id": STATE,
                },
            ],
        ),
        (
            {
                "contents": [
                    USER,
                    {"role": "model", "parts": [{"text": "only thinking", "thought": True}]},
                    {"role": "model", "parts": [call("a"), call("b", x=1)]},
                    {
                        "role": "function",
                        "parts": [result("b", {"ok": True}), result("a", {"ok": False})],
                    },
                    {"role": "user", "parts": [{"text": ""}]},
                ]
            },
            [
                text("user", "Погода в Москве?"),
                {"role": "assistant", "content": [giga_call("a"), giga_call("b", x=1)]},
                {"role": "tool", "content": [giga_result("b", {"ok": True})]},
                {"role": "tool", "content": [giga_result("a", {"ok": False})]},
            ],
        ),
    ],
    ids=["texts-and-system", "call-and-result-with-ids", "no-ids-thoughts-only-empty-text"],
)
def test_contents_become_giga_messages(body: dict[str, Any], expected: list[Any]) -> None:
    assert v2(prepare(**body))["messages"] == expected


def test_result_without_id_finds_the_state_of_the_call_with_its_name() -> None:
    body = {
        "contents": [
            USER,
            {
                "role": "model",
                "parts": [
                    call("get_time", f"call_{STATE}"),
                    call("get_weather", f"call_{STATE}__1", city="x"),
                ],
            },
            {
                "role": "user",
                "parts": [result("get_weather", {"sky": "sunny"}), result("get_time", {"t": 12})],
            },
            {"role": "model", "parts": [call("get_time", f"call_{OTHER_STATE}")]},
            {"role": "user", "parts": [result("get_time", {"t": 1}, "cli-made-id")]},
        ]
    }
    tools = [m for m in v2(prepare(**body))["messages"] if m["role"] == "tool"]
    assert [(m["content"][0]["function_result"], m["tools_state_id"]) for m in tools] == [
        ({"name": "get_weather", "result": {"sky": "sunny"}}, STATE),
        ({"name": "get_time", "result": {"t": 12}}, STATE),
        ({"name": "get_time", "result": {"t": 1}}, OTHER_STATE),
    ]


def test_results_interleave_with_their_calls_on_v1() -> None:
    body = {
        "contents": [
            USER,
            {"role": "model", "parts": [call("a", f"call_{STATE}"), call("b", f"call_{STATE}__1")]},
            {
                "role": "user",
                "parts": [result("b", {"r": 2}), result("a", {"r": 1}), {"text": "?"}],
            },
        ]
    }
    assert v1(prepare(**body))["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "function_call": {"name": "a", "arguments": {}},
            "functions_state_id": STATE,
        },
        {"role": "function", "content": '{"r":1}', "name": "a"},
        {
            "role": "assistant",
            "content": "",
            "function_call": {"name": "b", "arguments": {}},
            "functions_state_id": STATE,
        },
        {"role": "function", "content": '{"r":2}', "name": "b"},
        {"role": "user", "content": "?"},
    ]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"contents": []}, "contents"),
        (
            {"contents": [{"parts": [{"inlineData": {"mimeType": "image/png"}}]}]},
            "contents[0].parts[0].inlineData",
        ),
        (
            {"contents": [USER, {"role": "model", "parts": [{"fileData": {"fileUri": "gs://x"}}]}]},
            "contents[1].parts[0].fileData",
        ),
        (
            {"systemInstruction": {"parts": [{"inlineData": {"data": "AA=="}}]}},
            "systemInstruction.parts[0].inlineData",
        ),
        (
            {
                "contents": [
                    {"parts": [{"functionResponse": {"name": "f", "parts": [{"inlineData": {}}]}}]}
                ]
            },
            "contents[0].parts[0].functionResponse.parts[0].inlineData",
        ),
        (
            {"contents": [{"parts": [{"functionResponse": {"name": "f", "parts": [{}]}}]}]},
            "contents[0].parts[0].functionResponse.parts[0]",
        ),
    ],
    ids=[
        "empty", "inline-without-data", "model-media", "system-media", "result-without-data",
        "result-part-without-media",
    ],
)  # fmt: skip
def test_media_and_empty_contents_are_refused_naming_the_part(
    body: dict[str, Any], param: str
) -> None:
    assert rejected(body).param == param


# --- media -----------------------------------------------------------------------------------

PNG64 = "iVBORw0KGgoAAAANSUhEUg=="


def placed(prepared: Prepared) -> Prepared:
    """Give each attachment the id its upload would bring: `file-<n>`."""
    for n, attachment in enumerate(prepared.attachments):
        attachment.file.id = f"file-{n}"
    return prepared


def test_inline_and_file_data_land_as_files_on_the_user_message() -> None:
    parts = [
        {"text": "Compare"},
        {"inlineData": {"mimeType": "image/png", "data": PNG64}},
        {"file_data": {"mime_type": "application/pdf", "file_uri": "https://x.test/a.pdf"}},
        {"inlineData": {"mimeType": "text/plain", "data": "aGk=", "displayName": "notes"}},
    ]
    prepared = placed(prepare(contents=[{"role": "user", "parts": parts}]))
    assert [(a.where, a.url, a.data, a.mime, a.filename) for a in prepared.attachments] == [
        ("contents[0].parts[1]", None, PNG64, "image/png", None),
        ("contents[0].parts[2]", "https://x.test/a.pdf", None, "application/pdf", None),
        ("contents[0].parts[3]", None, "aGk=", "text/plain", "notes"),
    ]
    ids = ["file-0", "file-1", "file-2"]
    assert v2(prepared)["messages"] == [
        {"role": "user", "content": [{"text": "Compare"}, {"files": [{"id": i} for i in ids]}]}
    ]
    assert v1(prepared)["messages"] == [{"role": "user", "content": "Compare", "attachments": ids}]


def test_media_a_function_returned_follows_the_results_on_a_user_message() -> None:
    contents_ = [
        USER,
        {"role": "model", "parts": [{"functionCall": {"name": "read", "id": f"call_{STATE}"}}]},
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "read",
                        "id": f"call_{STATE}",
                        "response": {"output": "an image"},
                        "parts": [{"inlineData": {"mimeType": "image/png", "data": PNG64}}],
                    }
                }
            ],
        },
    ]
    prepared = placed(prepare(contents=contents_))
    assert [a.where for a in prepared.attachments] == [
        "contents[2].parts[0].functionResponse.parts[0]"
    ]
    assert v1(prepared)["messages"][2:] == [
        {"role": "function", "name": "read", "content": '{"output":"an image"}'},
        {"role": "user", "content": "", "attachments": ["file-0"]},
    ]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"contents": [{"role": "wizard", "parts": [{"text": "x"}]}]}, "contents[0].role"),
        ({"contents": [{"parts": [{"text": 5}]}]}, "contents[0].parts[0].text"),
        ({"generationConfig": {"temperature": "hot"}}, "generationConfig.temperature"),
        (
            {"toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}},
            "toolConfig.functionCallingConfig.mode",
        ),
    ],
)
def test_wrong_fields_are_named_by_the_decoder(body: dict[str, Any], param: str) -> None:
    from gpt2giga.asgi import parse

    with pytest.raises(errors.BadRequest) as caught:
        parse(_decode_request, msgspec.json.encode(body))
    assert caught.value.param == param
    assert f"$.{param}" in caught.value.message


# --- both spellings ---------------------------------------------------------------------------

SNAKE = {
    "system_instruction": {"parts": [{"text": "sys"}]},
    "contents": [
        USER,
        {
            "role": "model",
            "parts": [
                {"function_call": {"name": "f", "args": {"mime_type": 1}}, "thought_signature": "x"}
            ],
        },
        {"parts": [{"function_response": {"name": "f", "response": {"file_data": 2}}}]},
    ],
    "tools": [{"function_declarations": [{"name": "f", "parameters_json_schema": CITY}]}],
    "tool_config": {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["f"]}},
    "generation_config": {
        "max_output_tokens": 9,
        "stop_sequences": ["END"],
        "thinking_config": {"include_thoughts": True, "thinking_budget": 1024},
    },
}
CAMEL = {
    "systemInstruction": {"parts": [{"text": "sys"}]},
    "contents": [
        USER,
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "f", "args": {"mime_type": 1}}, "thoughtSignature": "x"}
            ],
        },
        {"parts": [{"functionResponse": {"name": "f", "response": {"file_data": 2}}}]},
    ],
    "tools": [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": CITY}]}],
    "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
    "generationConfig": {
        "maxOutputTokens": 9,
        "stopSequences": ["END"],
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024},
    },
}


def test_snake_case_field_names_read_as_camel_case_and_client_data_is_kept() -> None:
    snake = _decode_request(msgspec.json.encode(SNAKE))
    assert snake == _decode_request(msgspec.json.encode(CAMEL))
    hub = v2(translate.to_giga(snake, options()))
    assert hub["messages"][2]["content"][0]["function_call"]["arguments"] == {"mime_type": 1}
    assert hub["messages"][3]["content"][0]["function_result"]["result"] == {"file_data": 2}
    assert hub["model_options"] == {"max_tokens": 9, "reasoning": {"effort": "low"}}
    assert translate.wants_thoughts(snake)


@pytest.mark.parametrize(
    ("body", "snake"),
    [
        (b'{"generation_config": {}}', True),
        (b'{"generationConfig": {"top_p" : 1}}', True),
        (b'{"contents": [{"parts": [{"text": "say \\"top_p\\": 1"}]}]}', False),
        (b'{"args": {"my_top_p": 1, "file_path": "x"}}', False),
        (b'{"generationConfig": {"topP": 1}}', False),
    ],
)
def test_snake_case_names_are_spotted_only_as_keys(body: bytes, snake: bool) -> None:
    assert spelling.has_snake_names(body) is snake


def test_snake_case_body_errors_still_name_the_field() -> None:
    from gpt2giga.asgi import parse

    with pytest.raises(errors.BadRequest) as caught:
        parse(_decode_request, b'{"generation_config": {"top_p": "x"}, "contents": []}')
    assert caught.value.param == "generationConfig.topP"


# --- tools ----------------------------------------------------------------------------------

GEMINI_SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "city": {"type": "STRING", "nullable": True, "description": "City"},
        "unit": {"type": "STRING", "enum": ["C", "F"], "format": "enum"},
        "days": {"type": "INTEGER", "minimum": 1},
    },
    "required": ["city"],
    "propertyOrdering": ["city", "unit", "days"],
}


@pytest.mark.parametrize(
    ("contract_", "days"),
    [
        ("v2", {"type": "integer", "minimum": 1}),
        ("v1", {"type": "integer", "description": "Minimum: 1"}),
    ],
)
def test_both_schema_dialects_become_function_specs(contract_: str, days: Any) -> None:
    tools = [
        {
            "functionDeclarations": [
                {"name": "forecast", "description": "Forecast", "parameters": GEMINI_SCHEMA},
                WEATHER,
                {"name": "web_search"},
            ]
        }
    ]
    specs = [
        {
            "name": "forecast",
            "description": "Forecast",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City"},
                    "unit": {"type": "string", "enum": ["C", "F"]},
                    "days": days,
                },
                "required": ["city"],
            },
        },
        {"name": "get_weather", "description": "Current weather", "parameters": CITY},
        {"name": "user_web_search", "parameters": EMPTY_PARAMS},
    ]
    prepared = prepare(options(contract=contract_), tools=tools)
    if contract_ == "v2":
        assert v2(prepared)["tools"] == [{"functions": {"specifications": specs}}]
    else:
        assert v1(prepared)["functions"] == specs


def test_a_declaration_with_both_schemas_is_refused() -> None:
    decl = {"name": "f", "parameters": GEMINI_SCHEMA, "parametersJsonSchema": CITY}
    err = rejected({"tools": [{"functionDeclarations": [decl]}]})
    assert "not both" in err.message


@pytest.mark.parametrize(
    ("contract_", "tools", "ignored"),
    [
        ("v2", [{"web_search": {}}, {"url_content_extraction": {}}, {"code_interpreter": {}}], []),
        *(
            (
                contract_,
                None,
                [
                    "tools.googleSearch",
                    "tools.googleSearchRetrieval",
                    "tools.urlContext",
                    "tools.codeExecution",
                ],
            )
            for contract_ in ("v1", "v2-unmapped")
        ),
    ],
)
def test_builtin_tools_map_on_v2_and_are_reported_on_v1_or_unmapped(
    contract_: str, tools: Any, ignored: list[str]
) -> None:
    body = {
        "tools": [
            {"googleSearch": {}},
            {"googleSearchRetrieval": {"dynamicRetrievalConfig": {}}, "urlContext": {}},
            {"codeExecution": {}, "googleMaps": {}},
        ]
    }
    opts = options(contract="v2", map_builtin_tools=False) if contract_ == "v2-unmapped" else None
    prepared = prepare(opts or options(contract=contract_), **body)
    assert v2(prepared).get("tools") == tools
    assert prepared.ignored == ["tools.googleMaps", *ignored]


def calling(mode: str | None = None, names: list[str] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if mode is not None:
        config["mode"] = mode
    if names is not None:
        config["allowedFunctionNames"] = names
    return {
        "tools": [{"functionDeclarations": [WEATHER, TIME]}],
        "toolConfig": {"functionCallingConfig": config},
    }


@pytest.mark.parametrize(
    ("body", "config", "offered"),
    [
        (calling(), None, ["get_weather", "get_time"]),
        (calling("MODE_UNSPECIFIED"), None, ["get_weather", "get_time"]),
        (calling("AUTO"), {"mode": "auto"}, ["get_weather", "get_time"]),
        (calling("VALIDATED", ["get_time"]), {"mode": "auto"}, ["get_time"]),
        (
            calling("AUTO", ["get_time", "get_weather"]),
            {"mode": "auto"},
            ["get_weather", "get_time"],
        ),
        (calling("NONE", ["nonexistent"]), {"mode": "none"}, ["get_weather", "get_time"]),
        (
            calling("ANY", ["get_time"]),
            {"mode": "forced", "function_name": "get_time"},
            ["get_time"],
        ),
        (
            {
                "tools": [{"functionDeclarations": [WEATHER]}],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
            },
            {"mode": "forced", "function_name": "get_weather"},
            ["get_weather"],
        ),
    ],
    ids=[
        "no-mode",
        "unspecified",
        "auto",
        "validated-filtered",
        "auto-filtered",
        "none",
        "any-one-allowed",
        "any-one-declared",
    ],
)
def test_function_calling_config_becomes_tool_config(
    body: dict[str, Any], config: Any, offered: list[str]
) -> None:
    hub = v2(prepare(**body))
    assert hub.get("tool_config") == config
    assert [s["name"] for s in hub["tools"][0]["functions"]["specifications"]] == offered


@pytest.mark.parametrize(
    ("body", "kind", "param", "words"),
    [
        (
            calling("ANY"),
            "unsupported",
            "toolConfig.functionCallingConfig.allowedFunctionNames",
            "not 'one of several'",
        ),
        (
            calling("ANY", ["get_weather", "get_time"]),
            "unsupported",
            "toolConfig.functionCallingConfig.allowedFunctionNames",
            "with 2 tools",
        ),
        (
            calling("AUTO", ["get_wether"]),
            "invalid_request",
            "toolConfig.functionCallingConfig.allowedFunctionNames",
            "'get_wether'",
        ),
        (
            {"toolConfig": {"functionCallingConfig": {"mode": "ANY"}}},
            "invalid_request",
            "toolConfig.functionCallingConfig.mode",
            "needs functionDeclarations",
        ),
    ],
    ids=["any-of-several", "any-of-several-allowed", "unknown-name", "any-without-functions"],
)
def test_function_calling_config_gigachat_cannot_honour_is_refused(
    body: dict[str, Any], kind: str, param: str, words: str
) -> None:
    err = rejected(body)
    assert (err.kind, err.param) == (kind, param)
    assert words in err.message


# --- generationConfig -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gen", "model_options"),
    [
        (
            {"temperature": 0.3, "topP": 0.9, "maxOutputTokens": 64},
            {"temperature": 0.3, "top_p": 0.9, "max_tokens": 64},
        ),
        ({"temperature": 0, "topP": 1}, {"top_p": 0.0}),
        ({"topK": 40, "seed": 1, "candidateCount": 1}, None),
    ],
)
def test_sampling_options(gen: dict[str, Any], model_options: Any) -> None:
    assert v2(prepare(generationConfig=gen)).get("model_options") == model_options


@pytest.mark.parametrize(
    ("thinking", "opts", "effort"),
    [
        (None, {}, None),
        ({"thinkingBudget": 0}, {}, None),
        ({"thinkingBudget": 0}, {"enable_reasoning": True}, None),
        ({"thinkingBudget": -1}, {}, "medium"),
        ({"thinkingBudget": 1024, "includeThoughts": True}, {}, "low"),
        ({"thinkingBudget": 8192}, {}, "medium"),
        ({"thinkingBudget": 24576}, {}, "high"),
        ({"thinkingLevel": "MINIMAL"}, {}, "low"),
        ({"thinkingLevel": "HIGH"}, {}, "high"),
        ({"thinkingLevel": "THINKING_LEVEL_UNSPECIFIED"}, {}, None),
        ({"includeThoughts": True}, {}, "medium"),
        ({"includeThoughts": False}, {"enable_reasoning": True}, "high"),
        ({"thinkingLevel": "HIGH"}, {"disable_reasoning": True}, None),
    ],
)
def test_thinking_config_becomes_reasoning_effort(
    thinking: Any, opts: dict[str, Any], effort: str | None
) -> None:
    gen = {"thinkingConfig": thinking} if thinking is not None else {}
    hub = v2(prepare(options(**opts), generationConfig=gen))
    assert hub.get("model_options", {}).get("reasoning", {}).get("effort") == effort


@pytest.mark.parametrize(
    ("gen", "wanted"),
    [
        ({}, False),
        ({"thinkingConfig": {"thinkingBudget": 99}}, False),
        ({"thinkingConfig": {"includeThoughts": True}}, True),
    ],
)
def test_thoughts_are_wanted_only_with_include_thoughts(gen: Any, wanted: bool) -> None:
    assert translate.wants_thoughts(request(generationConfig=gen)) is wanted


def test_stop_sequences_are_carried_for_the_gateway_to_apply() -> None:
    assert prepare(generationConfig={"stopSequences": ["END", ""]}).stops == ["END"]


OBJECT_SCHEMA = {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}}
LIST_SCHEMA = {
    "type": "array",
    "items": {"type": "object", "properties": {"a": {"type": "integer"}}},
}


@pytest.mark.parametrize("key", ["responseSchema", "responseJsonSchema"])
def test_json_schema_in_function_call_mode_forces_a_function(key: str) -> None:
    prepared = prepare(
        generationConfig={"responseMimeType": "application/json", key: OBJECT_SCHEMA}
    )
    hub = v2(prepared)
    assert (prepared.structured, prepared.unwrap) == ("json_response", None)
    assert hub["tool_config"] == {"mode": "forced", "function_name": "json_response"}
    assert hub["tools"][0]["functions"]["specifications"] == [
        {
            "name": "json_response",
            "description": "Give the final answer as data matching this schema.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]


def test_json_schema_beside_tools_leaves_them_callable_and_none_still_forces_the_json() -> None:
    gen = {"responseMimeType": "application/json", "responseJsonSchema": OBJECT_SCHEMA}
    free = v2(prepare(generationConfig=gen, tools=[{"functionDeclarations": [WEATHER]}]))
    assert "tool_config" not in free
    assert len(free["tools"][0]["functions"]["specifications"]) == 2
    none = v2(prepare(generationConfig=gen, **calling("NONE")))
    assert none["tool_config"] == {"mode": "forced", "function_name": "json_response"}


@pytest.mark.parametrize("contract_", ["v1", "v2"])
def test_json_schema_in_native_mode_is_a_response_format(contract_: str) -> None:
    gen = {"responseMimeType": "application/json", "responseSchema": LIST_SCHEMA}
    prepared = prepare(options(contract=contract_, structured_mode="native"), generationConfig=gen)
    wrapped = {
        "type": "object",
        "properties": {
            "value": {
                "type": "array",
                "items": {"type": "object", "properties": {"a": {"type": "integer"}}},
            }
        },
        "required": ["value"],
    }
    assert (prepared.structured, prepared.unwrap) == (None, "value")
    if contract_ == "v2":
        fmt = v2(prepared)["model_options"]["response_format"]
    else:
        fmt = v1(prepared)["response_format"]
    assert fmt == {"type": "json_schema", "schema": wrapped}


@pytest.mark.parametrize(
    ("gen", "kind", "param"),
    [
        (
            {"responseMimeType": "application/json"},
            "unsupported",
            "generationConfig.responseSchema",
        ),
        (
            {
                "responseMimeType": "text/x.enum",
                "responseSchema": {"type": "STRING", "enum": ["a"]},
            },
            "unsupported",
            "generationConfig.responseMimeType",
        ),
        ({"responseSchema": OBJECT_SCHEMA}, "invalid_request", "generationConfig.responseMimeType"),
        (
            {
                "responseMimeType": "application/json",
                "responseSchema": OBJECT_SCHEMA,
                "responseJsonSchema": OBJECT_SCHEMA,
            },
            "invalid_request",
            "generationConfig.responseJsonSchema",
        ),
    ],
    ids=["json-without-schema", "enum-mime", "schema-without-mime", "both-schemas"],
)
def test_response_formats_gigachat_cannot_honour_are_refused(
    gen: dict[str, Any], kind: str, param: str
) -> None:
    err = rejected({"generationConfig": gen})
    assert (err.kind, err.param) == (kind, param)


def test_text_plain_changes_nothing() -> None:
    prepared = prepare(generationConfig={"responseMimeType": "text/plain"})
    assert "model_options" not in v2(prepared) and prepared.structured is None


def test_fields_gigachat_cannot_apply_are_listed_as_ignored() -> None:
    body = {
        "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}],
        "cachedContent": "cachedContents/x",
        "generationConfig": {
            "candidateCount": 1,
            "topK": 40,
            "seed": 7,
            "presencePenalty": 0.5,
            "frequencyPenalty": 0.5,
            "responseModalities": ["TEXT"],
            "responseLogprobs": False,
        },
        "tools": [{"retrieval": {}, "mcpServers": [{}]}],
        "toolConfig": {"retrievalConfig": {"languageCode": "ru"}},
    }
    assert prepare(**body).ignored == [
        "safetySettings",
        "cachedContent",
        "generationConfig.candidateCount",
        "generationConfig.topK",
        "generationConfig.seed",
        "generationConfig.presencePenalty",
        "generationConfig.frequencyPenalty",
        "generationConfig.responseLogprobs",
        "generationConfig.responseModalities",
        "tools.retrieval",
        "tools.mcpServers",
        "toolConfig.retrievalConfig",
    ]


def test_a_plain_request_ignores_nothing() -> None:
    prepared = prepare()
    assert prepared.ignored == []
    assert v2(prepared) == {"model": "GigaChat", "messages": [text("user", "Погода в Москве?")]}


# --- countTokens and embeddings -------------------------------------------------------------


def test_count_request_takes_either_form() -> None:
    decode = spelling.decoder(gem.CountTokensRequest)
    hi = {"contents": [{"parts": [{"text": "hi"}]}]}
    plain = translate.count_request(decode(msgspec.json.encode(hi)))
    body = {"generateContentRequest": {"model": "models/x", **hi}}
    nested = translate.count_request(decode(msgspec.json.encode(body)))
    assert plain.contents == nested.contents
    assert nested.model == "models/x"


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([{"text": "a"}, {"text": "b"}], "a\nb"),
        ([{"text": ""}], None),
        ([{"inlineData": {"data": "AA=="}}], None),
    ],
)
def test_embedding_text_takes_text_parts_only(parts: Any, expected: str | None) -> None:
    content = msgspec.convert({"parts": parts}, gem.Content)
    if expected is None:
        with pytest.raises(errors.BadRequest):
            contents.embedding_text(content, "content")
    else:
        assert contents.embedding_text(content, "content") == expected


def test_model_names_come_with_or_without_their_prefix() -> None:
    assert translate.model_name("models/gemini-2.5-pro") == "gemini-2.5-pro"
    assert translate.model_name("GigaChat-2-Max") == "GigaChat-2-Max"


# --- answers ------------------------------------------------------------------------------

_decode_v1 = msgspec.json.Decoder(giga1.ChatCompletionV1).decode
_decode_v2 = msgspec.json.Decoder(giga.ChatCompletionResponse).decode
RESPONSE_ID = "0123456789abcdef01234567"
MODEL = "GigaChat-2-Max:2.0.28.2"


def recorded(name: str) -> giga.ChatCompletionResponse:
    body = (FIXTURES / "gigachat" / f"{name}.json").read_bytes()
    return contract.from_v1(_decode_v1(body)) if name.endswith("_v1") else _decode_v2(body)


def generated(
    resp: giga.ChatCompletionResponse, structured: str | None = None, thoughts: bool = False
) -> Any:
    prepared = Prepared(request=giga.ChatCompletionRequest(messages=[]), structured=structured)
    reply = answer.reply(resp, prepared, "call_", RESPONSE_ID)
    body = msgspec.json.encode(translate.from_giga(reply, RESPONSE_ID, thoughts))
    types.GenerateContentResponse.model_validate_json(body)  # google-genai's own type takes it
    return msgspec.json.decode(body)


def response(parts: list[Any], finish: str, usage: dict[str, int]) -> Any:
    return {
        "candidates": [
            {"content": {"parts": parts, "role": "model"}, "finishReason": finish, "index": 0}
        ],
        "usageMetadata": usage,
        "modelVersion": MODEL,
        "responseId": RESPONSE_ID,
    }


def usage(prompt: int, out: int, total: int, cached: int = 0) -> dict[str, int]:
    counts = {"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": total}
    return {**counts, "cachedContentTokenCount": cached} if cached else counts


def fc(call_id: str, name: str, **args: Any) -> dict[str, Any]:
    return {"functionCall": {"id": call_id, "name": name, "args": args}}


TEXT = response([{"text": "Привет! Как дела?"}], "STOP", usage(12, 5, 17, cached=4))
REASONING = response([{"text": "4"}], "STOP", usage(9, 7, 16))
THOUGHTS = response(
    [{"text": "2+2 is 4.", "thought": True}, {"text": "4"}], "STOP", usage(9, 7, 16)
)
ONE_CALL = response(
    [fc(f"call_{STATE}", "get_weather", city="Москва", unit="celsius")],
    "STOP",
    usage(120, 24, 144, cached=64),
)
TWO_CALLS = response(
    [
        fc(f"call_{STATE}", "get_weather", city="Москва"),
        fc(f"call_{STATE}__1", "get_time", tz="Europe/Moscow"),
    ],
    "STOP",
    usage(150, 40, 190),
)
STRUCTURED = response(
    [{"text": '{"city":"Москва","population":13010112}'}], "STOP", usage(80, 20, 100)
)


@pytest.mark.parametrize(
    ("fixture", "structured", "thoughts", "expected"),
    [
        ("chat_text_v1", None, False, TEXT),
        ("chat_text_v2", None, True, TEXT),
        ("chat_reasoning_v1", None, False, REASONING),
        ("chat_reasoning_v2", None, False, REASONING),
        ("chat_reasoning_v1", None, True, THOUGHTS),
        ("chat_reasoning_v2", None, True, THOUGHTS),
        ("chat_function_call_v1", None, False, ONE_CALL),
        ("chat_function_call_v2", None, False, ONE_CALL),
        ("chat_function_calls_v2", None, False, TWO_CALLS),
        ("chat_structured_v1", "city_info", False, STRUCTURED),
        ("chat_structured_v2", "city_info", False, STRUCTURED),
    ],
)
def test_recorded_answer_becomes_generate_content_response(
    fixture: str, structured: str | None, thoughts: bool, expected: Any
) -> None:
    assert generated(recorded(fixture), structured, thoughts) == expected


def answer_with(finish: str | None, *parts: giga.ChatContentPart) -> giga.ChatCompletionResponse:
    return giga.ChatCompletionResponse(
        model=MODEL,
        messages=[giga.ChatAnswerMessage(role="assistant", content=list(parts))],
        finish_reason=finish,
        usage=giga.ChatUsage(input_tokens=3, output_tokens=2),
    )


HELLO = giga.ChatContentPart(text="hello")


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("stop", "STOP"),
        ("length", "MAX_TOKENS"),
        ("blacklist", "SAFETY"),
        ("function_call", "STOP"),
        (None, "STOP"),
        ("something_new", "OTHER"),
    ],
)
def test_finish_reason_mapping(finish: str | None, expected: str) -> None:
    body = generated(answer_with(finish, HELLO))
    assert body["candidates"][0]["finishReason"] == expected
    assert body["usageMetadata"]["totalTokenCount"] == 5  # GigaChat sent none: input + output


@pytest.mark.parametrize(
    ("arguments", "args"),
    [
        ('{"a": 1}', {"a": 1}),
        ("", {}),
        ("oops", {"value": "oops"}),
        ([1], {"value": [1]}),
        (None, {}),
    ],
)
def test_call_arguments_always_become_an_object(arguments: Any, args: Any) -> None:
    part = translate.call_part(answer.Call("call_x", "f", arguments))
    assert part.function_call and part.function_call.args == args


@pytest.mark.parametrize(
    ("finish", "words"),
    [("stop", "empty answer"), ("length", "maxOutputTokens"), ("blacklist", "content filter")],
)
def test_an_answer_with_nothing_usable_is_an_error(finish: str, words: str) -> None:
    thinking_only = giga.ChatCompletionResponse(
        messages=[
            giga.ChatAnswerMessage(role="reasoning", content=[giga.ChatContentPart(text="hm")])
        ],
        finish_reason=finish,
    )
    reply = answer.reply(
        thinking_only, Prepared(request=giga.ChatCompletionRequest(messages=[])), "call_", "x"
    )
    with pytest.raises(errors.UpstreamError) as caught:
        translate.from_giga(reply, RESPONSE_ID, thoughts=True)
    assert words in caught.value.message


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("err", "code", "status"),
    [
        (errors.BadRequest("bad"), 400, "INVALID_ARGUMENT"),
        (errors.Unsupported("no"), 400, "INVALID_ARGUMENT"),
        (errors.Unauthorized("who"), 401, "UNAUTHENTICATED"),
        (errors.Forbidden("no"), 403, "PERMISSION_DENIED"),
        (errors.NotFound("gone"), 404, "NOT_FOUND"),
        (errors.MethodNotAllowed("use POST"), 405, "UNIMPLEMENTED"),
        (errors.PayloadTooLarge("big"), 400, "INVALID_ARGUMENT"),
        (errors.RateLimited("slow"), 429, "RESOURCE_EXHAUSTED"),
        (errors.GatewayError("boom"), 500, "INTERNAL"),
        (errors.UpstreamError("down"), 502, "UNAVAILABLE"),
        (errors.Overloaded("busy"), 503, "UNAVAILABLE"),
        (errors.UpstreamTimeout("late"), 504, "DEADLINE_EXCEEDED"),
    ],
)
def test_error_body_is_google_shaped(err: errors.GatewayError, code: int, status: str) -> None:
    assert translate.error_status(err) == code
    assert msgspec.json.decode(translate.error_body(err)) == {
        "error": {"code": code, "message": err.message, "status": status}
    }
