"""Anthropic Messages <-> GigaChat: struct in, struct out, no I/O.

Requests are checked on the v2 hub and, through `contract.to_v1`, in the v1
form the client sends; answers are read from the recorded GigaChat bodies in
`tests/fixtures/gigachat/chat_*.json` and checked with anthropic's own types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from anthropic.types import Message
from anthropic.types.shared import ErrorResponse

from gpt2giga import errors
from gpt2giga.anthropic import translate
from gpt2giga.anthropic import wire as ant
from gpt2giga.gigachat import answer, contract, schema
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.request import Options, Prepared

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gigachat"
STATE = "3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15"
USER = {"role": "user", "content": "Погода в Москве?"}
WEATHER = {
    "name": "get_weather",
    "description": "Current weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TIME = {"name": "get_time", "input_schema": {"type": "object"}}
EMPTY_PARAMS = {"type": "object", "properties": {}}
CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city"],
}

_decode_request = msgspec.json.Decoder(ant.MessagesRequest).decode
_decode_count = msgspec.json.Decoder(ant.CountTokensRequest).decode


def request(**body: Any) -> ant.MessagesRequest:
    full = {"model": "GigaChat", "max_tokens": 256, "messages": [USER], **body}
    return _decode_request(msgspec.json.encode(full))


def options(**kw: Any) -> Options:
    return Options(contract=kw.pop("contract", "v2"), model="GigaChat", **kw)


def prepare(opts: Options | None = None, **body: Any) -> Prepared:
    return translate.to_giga(request(**body), opts or options())


def v2(prepared: Prepared) -> Any:
    return msgspec.json.decode(msgspec.json.encode(prepared.request))


def v1(prepared: Prepared) -> Any:
    return msgspec.json.decode(msgspec.json.encode(contract.to_v1(prepared.request)))


def text(role: str, value: str) -> dict[str, Any]:
    return {"role": role, "content": [{"text": value}]}


def result(name: str, value: Any, state: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "role": "tool",
        "content": [{"function_result": {"name": name, "result": value}}],
    }
    if state:
        msg["tools_state_id"] = state
    return msg


def call(name: str, arguments: Any) -> dict[str, Any]:
    return {"function_call": {"name": name, "arguments": arguments}}


def tool_use(use_id: str, name: str, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": use_id, "name": name, "input": arguments}


def tool_result(use_id: str, content: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": use_id, "content": content, **extra}


def block(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": value, **extra}


def raises(exc: type[errors.GatewayError], **body: Any) -> errors.GatewayError:
    with pytest.raises(exc) as info:
        prepare(**body)
    return info.value


# --- messages ---------------------------------------------------------------------

EPHEMERAL = {"cache_control": {"type": "ephemeral"}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({}, [text("user", USER["content"])], id="string-content"),
        pytest.param(
            {
                "system": [
                    block("x-anthropic-billing-header: cc_version=2.0.76; cch=1f;"),
                    block("You are Claude Code.", **EPHEMERAL),
                    block("Be brief."),
                ],
                "messages": [
                    USER,
                    {"role": "system", "content": "Plan mode is off."},
                    {"role": "user", "content": "А завтра?"},
                ],
            },
            [
                text("system", "You are Claude Code.\n\nBe brief.\n\nPlan mode is off."),
                text("user", USER["content"]),
                text("user", "А завтра?"),
            ],
            id="system-blocks-and-system-turns-merge-first-without-the-billing-line",
        ),
        pytest.param(
            {"system": "Line one\nx-anthropic-billing-header: cc_version=1;\nLine two"},
            [text("system", "Line one\nLine two"), text("user", USER["content"])],
            id="billing-line-inside-a-system-string",
        ),
        pytest.param(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [block("<system-reminder>ctx</system-reminder>"), block("Hi")],
                    }
                ]
            },
            [text("user", "<system-reminder>ctx</system-reminder>\n\nHi")],
            id="user-text-blocks-join",
        ),
        pytest.param(
            {
                "messages": [
                    USER,
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "thinking", "thinking": "hmm", "signature": "gpt2giga"},
                            {"type": "redacted_thinking", "data": "opaque"},
                            block("Сейчас узнаю."),
                            tool_use(f"toolu_{STATE}", "get_weather", {"city": "Москва"}),
                        ],
                    },
                    {
                        "role": "user",
                        "content": [tool_result(f"toolu_{STATE}", "+20, ясно", **EPHEMERAL)],
                    },
                ]
            },
            [
                text("user", USER["content"]),
                {
                    "role": "assistant",
                    "content": [{"text": "Сейчас узнаю."}, call("get_weather", {"city": "Москва"})],
                    "tools_state_id": STATE,
                },
                result("get_weather", {"result": "+20, ясно"}, STATE),
            ],
            id="thinking-dropped-tool-use-and-result-carry-the-state",
        ),
        pytest.param(
            {
                "messages": [
                    {"role": "assistant", "content": [tool_use("toolu_1", "get_weather", {})]},
                    {
                        "role": "user",
                        "content": [
                            tool_result("toolu_1", [block('{"t": 20}')]),
                            block("И что скажешь?"),
                        ],
                    },
                ]
            },
            [
                {"role": "assistant", "content": [call("get_weather", {})]},
                result("get_weather", {"t": 20}),
                text("user", "И что скажешь?"),
            ],
            id="client-id-no-state-json-result-then-text",
        ),
        pytest.param(
            {
                "messages": [
                    {"role": "assistant", "content": [tool_use("toolu_1", "Bash", {"c": "ls"})]},
                    {
                        "role": "user",
                        "content": [
                            tool_result(
                                "toolu_1", [block("exit 1"), block("no such dir")], is_error=True
                            )
                        ],
                    },
                ]
            },
            [
                {"role": "assistant", "content": [call("Bash", {"c": "ls"})]},
                result("Bash", {"error": "exit 1\nno such dir"}),
            ],
            id="error-result-says-so",
        ),
        pytest.param(
            {
                "messages": [
                    {"role": "assistant", "content": [tool_use("a", "get_time", {})]},
                    {"role": "user", "content": [tool_result("unknown", None)]},
                ]
            },
            [
                {"role": "assistant", "content": [call("get_time", {})]},
                result("get_time", {"result": ""}),
            ],
            id="unknown-id-takes-the-latest-call-and-empty-content",
        ),
        pytest.param(
            {
                "messages": [
                    {"role": "assistant", "content": [tool_use("x", "web_search", {"q": "a"})]},
                    {"role": "user", "content": [tool_result("x", "found")]},
                ]
            },
            [
                {"role": "assistant", "content": [call("user_web_search", {"q": "a"})]},
                result("user_web_search", {"result": "found"}),
            ],
            id="function-named-like-a-gigachat-builtin-is-renamed",
        ),
        pytest.param(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "search_result",
                                "title": "Погода",
                                "source": "https://weather.test",
                                "content": [block("+20"), block("ясно")],
                            },
                            block("Кратко?"),
                        ],
                    }
                ]
            },
            [text("user", "Погода (https://weather.test)\n+20\nясно\n\nКратко?")],
            id="search-result-becomes-text",
        ),
        pytest.param(
            {
                "messages": [
                    USER,
                    {"role": "assistant", "content": [{"type": "thinking", "thinking": "t"}]},
                    {"role": "assistant", "content": "Сплошной текст"},
                    {"role": "user", "content": []},
                ]
            },
            [
                text("user", USER["content"]),
                text("assistant", ""),
                text("assistant", "Сплошной текст"),
                text("user", ""),
            ],
            id="empty-turns-keep-one-text-part",
        ),
    ],
)
def test_messages_become_giga_messages(body: dict[str, Any], expected: list[Any]) -> None:
    assert v2(prepare(**body))["messages"] == expected


PARALLEL_TURN = [
    USER,
    {
        "role": "assistant",
        "content": [
            tool_use(f"toolu_{STATE}", "get_weather", {"city": "Москва"}),
            tool_use(f"toolu_{STATE}__1", "get_time", {"tz": "Europe/Moscow"}),
        ],
    },
    {
        "role": "user",
        "content": [
            tool_result(f"toolu_{STATE}", "+20"),
            tool_result(f"toolu_{STATE}__1", [block('{"time":"12:00"}')]),
        ],
    },
]


def test_several_tool_uses_are_one_assistant_message_with_state_on_v2() -> None:
    assert v2(prepare(messages=PARALLEL_TURN))["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                call("get_weather", {"city": "Москва"}),
                call("get_time", {"tz": "Europe/Moscow"}),
            ],
            "tools_state_id": STATE,
        },
        result("get_weather", {"result": "+20"}, STATE),
        result("get_time", {"time": "12:00"}, STATE),
    ]


def test_several_tool_uses_interleave_with_their_results_on_v1() -> None:
    assert v1(prepare(messages=PARALLEL_TURN))["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "function_call": {"name": "get_weather", "arguments": {"city": "Москва"}},
            "functions_state_id": STATE,
        },
        {"role": "function", "name": "get_weather", "content": '{"result":"+20"}'},
        {
            "role": "assistant",
            "content": "",
            "function_call": {"name": "get_time", "arguments": {"tz": "Europe/Moscow"}},
            "functions_state_id": STATE,
        },
        {"role": "function", "name": "get_time", "content": '{"time":"12:00"}'},
    ]


# --- images and documents ------------------------------------------------------------

IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}
SHOT = {"type": "image", "source": {"type": "url", "url": "https://x.test/shot.png"}}
PDF = {
    "type": "document",
    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
    "title": "spec.pdf",
    "cache_control": {"type": "ephemeral"},
}
NOTES = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hi"}}
LINKED = {"type": "document", "source": {"type": "url", "url": "https://x.test/a.pdf"}}


def placed(prepared: Prepared) -> Prepared:
    """Give each attachment the id its upload would bring: `file-<n>`."""
    for n, attachment in enumerate(prepared.attachments):
        attachment.file.id = f"file-{n}"
    return prepared


def test_image_and_document_blocks_land_as_files_on_the_user_message() -> None:
    content = [block("look"), IMAGE, SHOT, PDF, NOTES, LINKED, block("and read")]
    prepared = placed(prepare(messages=[{"role": "user", "content": content}]))
    assert [
        (a.where, a.url, a.data, a.text, a.mime, a.filename, a.image) for a in prepared.attachments
    ] == [
        ("messages[0].content[1]", None, "iVBO", None, "image/png", None, True),
        ("messages[0].content[2]", "https://x.test/shot.png", None, None, None, None, True),
        ("messages[0].content[3]", None, "JVBE", None, "application/pdf", "spec.pdf", False),
        ("messages[0].content[4]", None, None, "hi", "text/plain", None, False),
        ("messages[0].content[5]", "https://x.test/a.pdf", None, None, None, None, False),
    ]
    ids = [f"file-{n}" for n in range(5)]
    assert v2(prepared)["messages"] == [
        {
            "role": "user",
            "content": [{"text": "look\n\nand read"}, {"files": [{"id": i} for i in ids]}],
        }
    ]
    assert v1(prepared)["messages"] == [
        {"role": "user", "content": "look\n\nand read", "attachments": ids}
    ]


def test_images_in_tool_results_follow_the_results_on_a_user_message() -> None:
    messages = [
        USER,
        {"role": "assistant", "content": [tool_use(f"toolu_{STATE}", "screenshot", {})]},
        {
            "role": "user",
            "content": [tool_result(f"toolu_{STATE}", [block("taken"), IMAGE]), block("so?")],
        },
    ]
    prepared = placed(prepare(messages=messages))
    assert [a.where for a in prepared.attachments] == ["messages[2].content[0].content[1]"]
    assert v2(prepared)["messages"][2:] == [
        result("screenshot", {"result": "taken"}, STATE),
        {"role": "user", "content": [{"text": "so?"}, {"files": [{"id": "file-0"}]}]},
    ]
    assert v1(prepared)["messages"][2:] == [
        {"role": "function", "name": "screenshot", "content": '{"result":"taken"}'},
        {"role": "user", "content": "so?", "attachments": ["file-0"]},
    ]


def test_a_tool_result_that_is_only_an_image_still_reaches_the_model() -> None:
    messages = [
        USER,
        {"role": "assistant", "content": [tool_use("t", "screenshot", {})]},
        {"role": "user", "content": [tool_result("t", [IMAGE])]},
    ]
    prepared = placed(prepare(messages=messages))
    assert v2(prepared)["messages"][2:] == [
        result("screenshot", {"result": ""}),
        {"role": "user", "content": [{"text": ""}, {"files": [{"id": "file-0"}]}]},
    ]


@pytest.mark.parametrize(
    ("source", "message", "param"),
    [
        (
            {"type": "file", "file_id": "file_011"},
            "messages[0].content[0]: file_id refers to Anthropic's Files API, which GigaChat "
            "does not share",
            "messages[0].content[0].source",
        ),
        (
            {"type": "content", "content": [{"type": "text", "text": "x"}]},
            "messages[0].content[0]: content documents are not supported; send base64, text or url",
            "messages[0].content[0].source",
        ),
    ],
)
def test_sources_without_data_are_unsupported_naming_the_block(
    source: dict[str, Any], message: str, param: str
) -> None:
    err = raises(
        errors.Unsupported,
        messages=[{"role": "user", "content": [{"type": "document", "source": source}]}],
    )
    assert (err.status, err.param, err.message) == (400, param, message)


def test_an_unknown_source_type_is_a_decode_error_naming_it() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.messages\[0\]\.content\[0\]\.source"):
        request(
            messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "x"}}]}]
        )


def test_counting_tokens_lists_attachments_but_counts_only_text() -> None:
    body = {"model": "GigaChat", "messages": [{"role": "user", "content": [block("look"), IMAGE]}]}
    req = _decode_count(msgspec.json.encode(body))
    assert translate.texts_to_count(req, options()) == (["look"], [])


def test_empty_messages_are_a_bad_request() -> None:
    err = raises(errors.BadRequest, messages=[])
    assert (err.status, err.param) == (400, "messages")


# --- tools ----------------------------------------------------------------------------

RICH_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "offset": {"type": "integer", "exclusiveMinimum": 0, "maximum": 9007199254740991},
        "unit": {"$ref": "#/$defs/Unit"},
        "days": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    },
    "required": ["offset"],
    "additionalProperties": False,
    "$defs": {"Unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
}


@pytest.mark.parametrize("contract_", ["v1", "v2"])
def test_custom_tools_become_function_specs_through_the_schema_normaliser(contract_: str) -> None:
    tools = [
        {"name": "Read", "description": "Read a file", "input_schema": RICH_SCHEMA, **EPHEMERAL},
        {"type": "custom", "name": "ExitPlanMode", "input_schema": {"type": "object"}},
        {"name": "mcp__ide__getDiagnostics", "defer_loading": True, "input_schema": {}},
        {"name": "bare"},
    ]
    prepared = prepare(options(contract=contract_), tools=tools)
    specs = [
        {
            "name": "Read",
            "description": "Read a file",
            "parameters": schema.normalize(RICH_SCHEMA, contract_),
        },
        {"name": "ExitPlanMode", "parameters": EMPTY_PARAMS},
        {"name": "mcp__ide__getDiagnostics", "parameters": EMPTY_PARAMS},
        {"name": "bare", "parameters": EMPTY_PARAMS},
    ]
    assert v2(prepared)["tools"] == [{"functions": {"specifications": specs}}]
    assert v1(prepared)["functions"] == specs
    params = specs[0]["parameters"]
    assert params["properties"]["unit"] == {"type": "string", "enum": ["celsius", "fahrenheit"]}
    assert params["properties"]["offset"]["type"] == "integer"
    assert "maximum" not in params["properties"]["offset"]
    assert prepared.ignored == []


PROVIDER_TOOLS = [
    {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
    {"type": "web_fetch_20250910", "name": "web_fetch"},
    {"type": "code_execution_20250825", "name": "code_execution"},
    {"type": "web_search_20260209", "name": "web_search"},
    {"type": "bash_20250124", "name": "bash"},
    {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
    {"type": "mcp_toolset", "mcp_server_name": "github"},
]
CLIENT_SIDE = ["tools.bash_20250124", "tools.text_editor_20250728", "tools.mcp_toolset"]


def test_provider_tools_become_gigachat_builtins_on_v2() -> None:
    prepared = prepare(tools=[WEATHER, *PROVIDER_TOOLS])
    assert v2(prepared)["tools"][1:] == [
        {"web_search": {}},
        {"url_content_extraction": {}},
        {"code_interpreter": {}},
    ]
    assert prepared.ignored == CLIENT_SIDE


@pytest.mark.parametrize(
    "opts",
    [options(contract="v1"), options(map_builtin_tools=False)],
    ids=["v1", "v2-mapping-disabled"],
)
def test_provider_tools_are_ignored_on_v1_or_when_not_mapped(opts: Options) -> None:
    prepared = prepare(opts, tools=PROVIDER_TOOLS)
    assert "tools" not in v2(prepared)
    assert "functions" not in v1(prepared)
    assert prepared.ignored == [
        "tools.web_search_20250305",
        "tools.web_fetch_20250910",
        "tools.code_execution_20250825",
        "tools.web_search_20260209",
        *CLIENT_SIDE,
    ]


def test_a_custom_tool_needs_a_name() -> None:
    err = raises(errors.BadRequest, tools=[WEATHER, {"input_schema": {"type": "object"}}])
    assert (err.status, err.param) == (400, "tools[1].name")


@pytest.mark.parametrize(
    ("body", "hub", "legacy"),
    [
        ({"tools": [WEATHER], "tool_choice": {"type": "auto"}}, {"mode": "auto"}, "auto"),
        ({"tools": [WEATHER], "tool_choice": {"type": "none"}}, {"mode": "none"}, "none"),
        (
            {"tools": [WEATHER, TIME], "tool_choice": {"type": "tool", "name": "get_time"}},
            {"mode": "forced", "function_name": "get_time"},
            {"name": "get_time"},
        ),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "any"}},
            {"mode": "forced", "function_name": "get_weather"},
            {"name": "get_weather"},
        ),
        ({"tool_choice": {"type": "any"}}, None, None),
        ({"tools": [WEATHER]}, None, None),
    ],
    ids=["auto", "none", "tool", "any-with-one", "choice-without-tools", "no-choice"],
)
def test_tool_choice_becomes_tool_config(body: Any, hub: Any, legacy: Any) -> None:
    prepared = prepare(**body)
    assert v2(prepared).get("tool_config") == hub
    assert v1(prepared).get("function_call") == legacy


@pytest.mark.parametrize(
    ("choice", "exc", "message"),
    [
        ({"type": "any"}, errors.Unsupported, "GigaChat can force one named function"),
        ({"type": "tool", "name": "nope"}, errors.BadRequest, "'nope', which is not among"),
    ],
)
def test_tool_choice_gigachat_cannot_honour_is_a_400(
    choice: Any, exc: type[errors.GatewayError], message: str
) -> None:
    err = raises(exc, tools=[WEATHER, TIME], tool_choice=choice)
    assert err.status == 400
    assert message in err.message
    assert err.param is not None and err.param.startswith("tool_choice")


def test_disable_parallel_tool_use_is_accepted_and_reported() -> None:
    choice = {"type": "auto", "disable_parallel_tool_use": True}
    prepared = prepare(tools=[WEATHER], tool_choice=choice)
    assert v2(prepared)["tool_config"] == {"mode": "auto"}
    assert prepared.ignored == ["tool_choice.disable_parallel_tool_use"]


# --- options, reasoning, structured output -------------------------------------------


def test_sampling_options_and_stop_sequences() -> None:
    prepared = prepare(temperature=0, top_p=0.9, max_tokens=64, stop_sequences=["END", ""])
    assert v2(prepared)["model_options"] == {"top_p": 0.0, "max_tokens": 64}
    assert prepared.stops == ["END"]
    assert v1(prepare(temperature=0.7))["temperature"] == 0.7


@pytest.mark.parametrize(
    ("body", "effort"),
    [
        ({}, None),
        ({"thinking": {"type": "disabled"}}, None),
        ({"thinking": {"type": "disabled"}, "output_config": {"effort": "high"}}, None),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "low"),
        ({"thinking": {"type": "enabled", "budget_tokens": 8000}}, "medium"),
        ({"thinking": {"type": "enabled", "budget_tokens": 32000}}, "high"),
        ({"thinking": {"type": "adaptive"}}, "high"),
        ({"thinking": {"type": "adaptive", "display": "omitted"}}, "high"),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}, "low"),
        ({"thinking": {"type": "between_tools"}}, "high"),
        ({"output_config": {"effort": "medium"}}, "medium"),
        ({"output_config": {"effort": "max"}}, "high"),
        ({"output_config": {"effort": "xhigh"}}, "high"),
        ({"output_config": {"effort": "turbo"}}, "medium"),
    ],
)
@pytest.mark.parametrize("contract_", ["v1", "v2"])
def test_thinking_and_effort_become_reasoning_effort(
    body: dict[str, Any], effort: str | None, contract_: str
) -> None:
    prepared = prepare(options(contract=contract_), **body)
    reasoning = v2(prepared)["model_options"].get("reasoning")
    assert reasoning == ({"effort": effort} if effort else None)
    assert v1(prepared).get("reasoning_effort") == effort


@pytest.mark.parametrize(
    ("opts", "body", "effort"),
    [
        ({"enable_reasoning": True}, {}, "high"),
        ({"enable_reasoning": True}, {"thinking": {"type": "disabled"}}, None),
        ({"disable_reasoning": True}, {"thinking": {"type": "adaptive"}}, None),
    ],
)
def test_reasoning_settings_apply(opts: dict[str, Any], body: Any, effort: str | None) -> None:
    reasoning = v2(prepare(options(**opts), **body))["model_options"].get("reasoning")
    assert reasoning == ({"effort": effort} if effort else None)


@pytest.mark.parametrize(
    "body",
    [
        {"output_format": {"type": "json_schema", "schema": CITY_SCHEMA}},
        {"output_config": {"format": {"type": "json_schema", "schema": CITY_SCHEMA}}},
    ],
    ids=["output_format", "output_config.format"],
)
def test_structured_output_is_a_forced_function_or_native(body: dict[str, Any]) -> None:
    prepared = prepare(**body)
    hub = v2(prepared)
    assert prepared.structured == "structured_output"
    assert hub["tool_config"] == {"mode": "forced", "function_name": "structured_output"}
    spec = hub["tools"][0]["functions"]["specifications"][0]
    assert (spec["name"], spec["parameters"]) == ("structured_output", CITY_SCHEMA)
    native = prepare(options(structured_mode="native"), **body)
    assert native.structured is None
    assert v2(native)["model_options"]["response_format"] == {
        "type": "json_schema",
        "schema": CITY_SCHEMA,
    }


def test_structured_output_beside_tool_choice_none_still_forces_the_schema() -> None:
    body = {"output_format": {"type": "json_schema", "schema": CITY_SCHEMA}}
    hub = v2(prepare(tools=[WEATHER], tool_choice={"type": "none"}, **body))
    assert hub["tool_config"] == {"mode": "forced", "function_name": "structured_output"}
    assert [s["name"] for s in hub["tools"][0]["functions"]["specifications"]] == [
        "get_weather",
        "structured_output",
    ]


def test_fields_gigachat_cannot_apply_are_listed_as_ignored() -> None:
    req = request(
        top_k=5,
        metadata={"user_id": '{"device_id":"d1","session_id":"s1"}'},
        service_tier="auto",
        context_management={"edits": [{"type": "clear_thinking_20251015"}]},
        container="c1",
        mcp_servers=[{"type": "url", "url": "https://mcp.test", "name": "m"}],
        cache_control={"type": "ephemeral"},
    )
    prepared = translate.to_giga(req, options(), ["claude-code-20250219", "context-1m"])
    assert prepared.ignored == [
        "top_k",
        "metadata",
        "service_tier",
        "context_management",
        "container",
        "mcp_servers",
        "cache_control",
        "anthropic-beta:claude-code-20250219",
        "anthropic-beta:context-1m",
    ]
    assert set(v2(prepared)) == {"model", "messages", "model_options"}


def test_texts_to_count_are_what_the_model_reads() -> None:
    body = {
        "model": "GigaChat",
        "system": [block("x-anthropic-billing-header: cch=1;"), block("Be brief.")],
        "messages": [USER],
        "tools": [WEATHER, PROVIDER_TOOLS[0]],
    }
    req = _decode_count(msgspec.json.encode(body))
    spec = '{"name":"get_weather","description":"Current weather","parameters":'
    assert translate.texts_to_count(req, options()) == (
        [
            "Be brief.",
            USER["content"],
            spec + '{"type":"object","properties":{"city":{"type":"string"}}}}',
        ],
        [],
    )


# --- answers ------------------------------------------------------------------------

_decode_v1 = msgspec.json.Decoder(giga1.ChatCompletionV1).decode
_decode_v2 = msgspec.json.Decoder(giga.ChatCompletionResponse).decode
MSG_ID = "msg_0123456789abcdef01234567"
MODEL = "GigaChat-2-Max:2.0.28.2"


def recorded(name: str) -> giga.ChatCompletionResponse:
    raw = (FIXTURES / f"{name}.json").read_bytes()
    return contract.from_v1(_decode_v1(raw)) if name.endswith("_v1") else _decode_v2(raw)


def message_of(
    name: str, structured: str | None = None, stops: list[str] | None = None
) -> dict[str, Any]:
    prepared = Prepared(
        request=giga.ChatCompletionRequest(messages=[]), structured=structured, stops=stops or []
    )
    reply = answer.reply(recorded(name), prepared, "toolu_", MSG_ID.removeprefix("msg_"))
    body: dict[str, Any] = msgspec.json.decode(
        msgspec.json.encode(translate.from_giga(reply, MSG_ID))
    )
    Message.model_validate(body)  # anthropic's own type accepts it
    return body


def usage(inputs: int, outputs: int, cached: int = 0) -> dict[str, int]:
    return {
        "input_tokens": inputs,
        "output_tokens": outputs,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }


def message(content: list[Any], stop: str, u: dict[str, int], seq: str | None = None) -> Any:
    return {
        "type": "message",
        "id": MSG_ID,
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": seq,
        "usage": u,
    }


WEATHER_USE = {
    "type": "tool_use",
    "id": f"toolu_{STATE}",
    "name": "get_weather",
    "input": {"city": "Москва", "unit": "celsius"},
}


@pytest.mark.parametrize("contract_", ["v1", "v2"])
@pytest.mark.parametrize(
    ("fixture", "structured", "expected"),
    [
        (
            "chat_text",
            None,
            message([{"type": "text", "text": "Привет! Как дела?"}], "end_turn", usage(8, 5, 4)),
        ),
        (
            "chat_reasoning",
            None,
            message(
                [
                    {"type": "thinking", "thinking": "2+2 is 4.", "signature": "gpt2giga"},
                    {"type": "text", "text": "4"},
                ],
                "end_turn",
                usage(9, 7),
            ),
        ),
        ("chat_function_call", None, message([WEATHER_USE], "tool_use", usage(56, 24, 64))),
        (
            "chat_structured",
            "city_info",
            message(
                [{"type": "text", "text": '{"city":"Москва","population":13010112}'}],
                "end_turn",
                usage(80, 20),
            ),
        ),
    ],
)
def test_recorded_answers_become_anthropic_messages(
    contract_: str, fixture: str, structured: str | None, expected: Any
) -> None:
    assert message_of(f"{fixture}_{contract_}", structured) == expected


def test_several_calls_are_tool_use_blocks_with_distinct_stable_ids() -> None:
    assert message_of("chat_function_calls_v2")["content"] == [
        {
            "type": "tool_use",
            "id": f"toolu_{STATE}",
            "name": "get_weather",
            "input": {"city": "Москва"},
        },
        {
            "type": "tool_use",
            "id": f"toolu_{STATE}__1",
            "name": "get_time",
            "input": {"tz": "Europe/Moscow"},
        },
    ]
    assert answer.state_of(f"toolu_{STATE}__1") == STATE


def test_a_matched_stop_sequence_is_named() -> None:
    body = message_of("chat_text_v2", stops=["! "])
    assert body["content"] == [{"type": "text", "text": "Привет"}]
    assert (body["stop_reason"], body["stop_sequence"]) == ("stop_sequence", "! ")


@pytest.mark.parametrize(
    ("finish", "stop", "called", "reason"),
    [
        ("stop", None, False, "end_turn"),
        ("length", None, False, "max_tokens"),
        ("function_call", None, True, "tool_use"),
        ("stop", None, True, "tool_use"),
        ("blacklist", None, False, "refusal"),
        ("stop", "END", False, "stop_sequence"),
        ("error", None, False, "end_turn"),
    ],
)
def test_stop_reason(finish: str, stop: str | None, called: bool, reason: str) -> None:
    assert translate.stop_reason(finish, stop, called) == reason


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"city": "Москва"}, {"city": "Москва"}),
        ('{"city": "Москва"}', {"city": "Москва"}),
        ("", {}),
        (None, {}),
        ("not json", {"value": "not json"}),
        ([1, 2], {"value": [1, 2]}),
    ],
)
def test_tool_input_is_always_an_object(arguments: Any, expected: Any) -> None:
    reply = answer.Reply(calls=[answer.Call("toolu_1", "f", arguments)])
    (block,) = translate.from_giga(reply, "msg_1").content
    assert isinstance(block, ant.ToolUseOut) and block.input == expected


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("err", "status", "kind"),
    [
        (errors.BadRequest("bad"), 400, "invalid_request_error"),
        (errors.Unsupported("no"), 400, "invalid_request_error"),
        (errors.Unauthorized("who"), 401, "authentication_error"),
        (errors.Forbidden("no"), 403, "permission_error"),
        (errors.NotFound("none"), 404, "not_found_error"),
        (errors.PayloadTooLarge("big"), 413, "request_too_large"),
        (errors.RateLimited("slow"), 429, "rate_limit_error"),
        (errors.GatewayError("bug"), 500, "api_error"),
        (errors.UpstreamError("broke"), 502, "api_error"),
        (errors.Overloaded("busy"), 529, "overloaded_error"),
        (errors.UpstreamTimeout("late"), 504, "timeout_error"),
    ],
)
def test_errors_in_anthropic_shape_and_status(
    err: errors.GatewayError, status: int, kind: str
) -> None:
    body = msgspec.json.decode(translate.error_body(err))
    assert body == {"type": "error", "error": {"type": kind, "message": err.message}}
    assert translate.error_status(err) == status
    if kind != "request_too_large":  # Anthropic's 413 type is not in the SDK's union
        ErrorResponse.model_validate(body)
