"""OpenAI Chat Completions <-> GigaChat: struct in, struct out, no I/O.

Requests are checked on the v2 hub and, through `contract.to_v1`, in the v1
form the client sends; answers are read from the recorded GigaChat bodies in
`tests/fixtures/gigachat/chat_*.json` and checked with openai's own types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from openai.types.chat import ChatCompletion

from gpt2giga import errors
from gpt2giga.gigachat import answer, contract, schema
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.request import Options, Prepared
from gpt2giga.openai import translate
from gpt2giga.openai import wire as oai

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gigachat"
STATE = "3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15"
USER = {"role": "user", "content": "Погода в Москве?"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
EMPTY_PARAMS = {"type": "object", "properties": {}}
CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city"],
}

_decode_request = msgspec.json.Decoder(oai.ChatCompletionRequest).decode


def request(**body: Any) -> oai.ChatCompletionRequest:
    return _decode_request(msgspec.json.encode({"model": "GigaChat", "messages": [USER], **body}))


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


def tool_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def raises(exc: type[errors.GatewayError], **body: Any) -> errors.GatewayError:
    with pytest.raises(exc) as info:
        prepare(**body)
    return info.value


# --- messages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        pytest.param(
            [
                {"role": "system", "content": "Be brief."},
                USER,
                {"role": "developer", "content": [{"type": "text", "text": "Answer in Russian."}]},
            ],
            [text("system", "Be brief.\n\nAnswer in Russian."), text("user", USER["content"])],
            id="system-and-developer-merge-into-one-leading-system",
        ),
        pytest.param(
            [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
                }
            ],
            [text("user", "one\ntwo")],
            id="text-parts-join",
        ),
        pytest.param(
            [
                USER,
                {"role": "assistant", "content": "Солнечно."},
                {"role": "user", "content": "А завтра?"},
            ],
            [
                text("user", USER["content"]),
                text("assistant", "Солнечно."),
                text("user", "А завтра?"),
            ],
            id="user-assistant-turns",
        ),
        pytest.param(
            [{"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]}],
            [text("assistant", "No.")],
            id="assistant-refusal-part-is-text",
        ),
        pytest.param(
            [{"role": "assistant", "content": None}],
            [text("assistant", "")],
            id="empty-assistant-keeps-one-text-part",
        ),
        pytest.param(
            [
                {
                    "role": "assistant",
                    "content": "Сейчас узнаю.",
                    "tool_calls": [tool_call("call_1", "get_weather", '{"city":"Москва"}')],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "+20, ясно"},
            ],
            [
                {
                    "role": "assistant",
                    "content": [{"text": "Сейчас узнаю."}, call("get_weather", {"city": "Москва"})],
                },
                result("get_weather", {"result": "+20, ясно"}),
            ],
            id="client-made-call-id-carries-no-state",
        ),
        pytest.param(
            [
                {"role": "assistant", "tool_calls": [tool_call("c", "get_weather", "{}")]},
                {
                    "role": "tool",
                    "tool_call_id": "c",
                    "content": [{"type": "text", "text": '{"t": 20}'}],
                },
            ],
            [
                {"role": "assistant", "content": [call("get_weather", {})]},
                result("get_weather", {"t": 20}),
            ],
            id="tool-result-json-object-and-text-parts",
        ),
        pytest.param(
            [
                {
                    "role": "assistant",
                    "function_call": {"name": "get_weather", "arguments": '{"city":"Тверь"}'},
                },
                {"role": "function", "name": "get_weather", "content": "+18"},
            ],
            [
                {"role": "assistant", "content": [call("get_weather", {"city": "Тверь"})]},
                result("get_weather", {"result": "+18"}),
            ],
            id="legacy-function-call-and-function-role",
        ),
        pytest.param(
            [{"role": "function", "name": "get_time", "content": None}],
            [result("get_time", {"result": ""})],
            id="function-role-without-content",
        ),
        pytest.param(
            [
                {"role": "assistant", "tool_calls": [tool_call("x", "web_search", '{"q":"a"}')]},
                {"role": "tool", "tool_call_id": "x", "content": "found"},
            ],
            [
                {"role": "assistant", "content": [call("user_web_search", {"q": "a"})]},
                result("user_web_search", {"result": "found"}),
            ],
            id="function-named-like-a-gigachat-builtin-is-renamed",
        ),
    ],
)
def test_messages_become_giga_messages(messages: list[Any], expected: list[Any]) -> None:
    assert v2(prepare(messages=messages))["messages"] == expected


PARALLEL_TURN = [
    USER,
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            tool_call(f"call_{STATE}", "get_weather", '{"city":"Москва"}'),
            tool_call(f"call_{STATE}__1", "get_time", '{"tz":"Europe/Moscow"}'),
        ],
    },
    {"role": "tool", "tool_call_id": f"call_{STATE}", "content": "+20"},
    {"role": "tool", "tool_call_id": f"call_{STATE}__1", "content": '{"time":"12:00"}'},
]


def test_parallel_tool_calls_become_one_assistant_message_with_state_on_v2() -> None:
    assert v2(prepare(messages=PARALLEL_TURN))["messages"] == [
        text("user", USER["content"]),
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


def test_parallel_tool_calls_interleave_with_their_results_on_v1() -> None:
    assert v1(prepare(messages=PARALLEL_TURN))["messages"] == [
        {"role": "user", "content": USER["content"]},
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


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"city":"Москва","days":3}', {"city": "Москва", "days": 3}),
        ("", {}),
        ("  ", {}),
        ({"city": "Москва"}, {"city": "Москва"}),
        ("[1, 2]", {"value": [1, 2]}),
    ],
)
def test_tool_call_arguments_json_text_becomes_an_object(arguments: Any, expected: Any) -> None:
    messages = [USER, {"role": "assistant", "tool_calls": [tool_call("c", "f", arguments)]}]
    assert v2(prepare(messages=messages))["messages"][1]["content"] == [call("f", expected)]


def test_invalid_tool_call_arguments_are_a_bad_request_naming_the_message() -> None:
    messages = [USER, {"role": "assistant", "tool_calls": [tool_call("c", "f", "{city:")]}]
    err = raises(errors.BadRequest, messages=messages)
    assert (err.status, err.kind, err.param) == (400, "invalid_request", "messages[1].tool_calls")
    assert "messages[1]" in err.message


# --- images and files -------------------------------------------------------------------

PNG64 = "iVBORw0KGgoAAAANSUhEUg=="
PDF64 = "JVBERi0xLjcK"


def placed(prepared: Prepared) -> Prepared:
    """Give each attachment the id its upload would bring: `file-<n>`."""
    for n, attachment in enumerate(prepared.attachments):
        attachment.file.id = f"file-{n}"
    return prepared


def test_images_and_files_land_as_files_parts_on_v2_and_attachments_on_v1() -> None:
    parts = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG64}"}},
        {"type": "image_url", "image_url": {"url": "https://x.test/cat.png", "detail": "high"}},
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF64}"}},
        {"type": "file", "file": {"file_data": PDF64, "filename": "report.pdf"}},
        {"type": "text", "text": "and these"},
    ]
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": parts}]
    prepared = placed(prepare(messages=messages))
    assert [
        (a.where, a.url, a.data, a.mime, a.filename, a.image) for a in prepared.attachments
    ] == [
        ("messages[1].content[1]", None, PNG64, "image/png", None, True),
        ("messages[1].content[2]", "https://x.test/cat.png", None, None, None, True),
        ("messages[1].content[3]", None, PDF64, "application/pdf", None, False),
        ("messages[1].content[4]", None, PDF64, None, "report.pdf", False),
    ]
    ids = ["file-0", "file-1", "file-2", "file-3"]
    assert v2(prepared)["messages"][1] == {
        "role": "user",
        "content": [{"text": "look\nand these"}, {"files": [{"id": i} for i in ids]}],
    }
    assert v1(prepared)["messages"][1] == {
        "role": "user",
        "content": "look\nand these",
        "attachments": ids,
    }


def test_an_image_alone_is_a_user_message_with_empty_text() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}}
    prepared = placed(prepare(messages=[{"role": "user", "content": [part]}]))
    assert v1(prepared)["messages"] == [{"role": "user", "content": "", "attachments": ["file-0"]}]


def test_a_request_without_attachments_lists_none() -> None:
    assert prepare().attachments == []


@pytest.mark.parametrize(
    ("part", "kind", "param", "message"),
    [
        (
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
            errors.Unsupported,
            "messages[1].content[1]",
            "messages[1].content[1]: input_audio content is not supported by this gateway",
        ),
        (
            {"type": "file", "file": {"file_id": "file-abc"}},
            errors.Unsupported,
            "messages[1].content[1].file.file_id",
            "messages[1].content[1]: file_id refers to OpenAI's Files API, which GigaChat "
            "does not share; send the file as file_data",
        ),
        (
            {"type": "file", "file": {"filename": "a.pdf"}},
            errors.BadRequest,
            "messages[1].content[1].file",
            "messages[1].content[1]: a file part needs file_data",
        ),
        (
            {"type": "image_url", "image_url": {"url": "data:image/png,raw"}},
            errors.BadRequest,
            "messages[1].content[1]",
            "messages[1].content[1]: only base64 data URLs are accepted "
            "(data:<type>;base64,<data>)",
        ),
    ],
)
def test_parts_that_cannot_become_files_are_refused_naming_the_part(
    part: Any, kind: type[errors.GatewayError], param: str, message: str
) -> None:
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": [{"type": "text", "text": "look"}, part]},
    ]
    err = raises(kind, messages=messages)
    assert type(err) is kind
    assert (err.status, err.param, err.message) == (400, param, message)


def test_empty_messages_are_a_bad_request() -> None:
    err = raises(errors.BadRequest, messages=[])
    assert (err.status, err.param) == (400, "messages")


# --- tools ----------------------------------------------------------------------------

RICH_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 2, "description": "City name"},
        "unit": {"$ref": "#/$defs/Unit"},
        "days": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    },
    "required": ["city"],
    "additionalProperties": False,
    "$defs": {"Unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
}


@pytest.mark.parametrize("contract_", ["v1", "v2"])
def test_tools_become_function_specs_through_the_schema_normaliser(contract_: str) -> None:
    tools = [
        {
            "type": "function",
            "function": {"name": "forecast", "description": "Forecast", "parameters": RICH_SCHEMA},
        },
        {"type": "function", "function": {"name": "ping"}},
    ]
    prepared = prepare(options(contract=contract_), tools=tools)
    specs = [
        {
            "name": "forecast",
            "description": "Forecast",
            "parameters": schema.normalize(RICH_SCHEMA, contract_),
        },
        {"name": "ping", "parameters": EMPTY_PARAMS},
    ]
    assert v2(prepared)["tools"] == [{"functions": {"specifications": specs}}]
    assert v1(prepared)["functions"] == specs
    assert "tool_config" not in v2(prepared)
    # What the normaliser is there for: refs inlined, nullable unions collapsed,
    # annotations dropped; constraints kept on v2, said in words on v1.
    params = specs[0]["parameters"]
    assert set(params) == {"type", "properties", "required"}
    assert params["required"] == ["city"]
    assert params["properties"]["unit"] == {"type": "string", "enum": ["celsius", "fahrenheit"]}
    assert params["properties"]["days"]["type"] == "integer"
    city = params["properties"]["city"]
    assert city["type"] == "string"
    assert ("minLength" in city) == (contract_ == "v2")
    assert "City name" in city["description"]


def test_legacy_functions_become_function_specs() -> None:
    prepared = prepare(
        functions=[{"name": "get_time", "parameters": {"type": "object"}}],
        function_call={"name": "get_time"},
    )
    assert v2(prepared)["tools"] == [
        {"functions": {"specifications": [{"name": "get_time", "parameters": EMPTY_PARAMS}]}}
    ]
    assert v2(prepared)["tool_config"] == {"mode": "forced", "function_name": "get_time"}
    assert v1(prepared)["function_call"] == {"name": "get_time"}


@pytest.mark.parametrize(
    ("body", "hub", "legacy"),
    [
        ({"tools": [WEATHER], "tool_choice": "auto"}, {"mode": "auto"}, "auto"),
        ({"tools": [WEATHER], "tool_choice": "none"}, {"mode": "none"}, "none"),
        (
            {
                "tools": [WEATHER, TIME],
                "tool_choice": {"type": "function", "function": {"name": "get_time"}},
            },
            {"mode": "forced", "function_name": "get_time"},
            {"name": "get_time"},
        ),
        (
            {"tools": [WEATHER], "tool_choice": "required"},
            {"mode": "forced", "function_name": "get_weather"},
            {"name": "get_weather"},
        ),
        ({"functions": [WEATHER["function"]], "function_call": "auto"}, {"mode": "auto"}, "auto"),
        ({"tool_choice": "auto"}, None, None),
    ],
    ids=["auto", "none", "named", "required-with-one", "legacy-auto", "choice-without-tools"],
)
def test_tool_choice_becomes_tool_config(body: Any, hub: Any, legacy: Any) -> None:
    prepared = prepare(**body)
    assert v2(prepared).get("tool_config") == hub
    assert v1(prepared).get("function_call") == legacy


@pytest.mark.parametrize(
    ("body", "exc", "kind"),
    [
        ({"tools": [WEATHER, TIME], "tool_choice": "required"}, errors.Unsupported, "unsupported"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "allowed_tools", "allowed_tools": {}}},
            errors.Unsupported,
            "unsupported",
        ),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            errors.BadRequest,
            "invalid_request",
        ),
    ],
    ids=["required-with-several", "allowed-tools", "named-unknown"],
)
def test_tool_choice_gigachat_cannot_honour_is_rejected(
    body: Any, exc: type[errors.GatewayError], kind: str
) -> None:
    err = raises(exc, **body)
    assert (err.status, err.kind) == (400, kind)


# --- sampling, stop, reasoning -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "opts", "model_options", "flat"),
    [
        ({}, {}, None, {}),
        (
            {"temperature": 0.7, "top_p": 0.9, "max_tokens": 100},
            {},
            {"temperature": 0.7, "top_p": 0.9, "max_tokens": 100},
            {"temperature": 0.7, "top_p": 0.9, "max_tokens": 100},
        ),
        (
            {"max_tokens": 100, "max_completion_tokens": 50},
            {},
            {"max_tokens": 50},
            {"max_tokens": 50},
        ),
        ({"temperature": 0}, {}, {"top_p": 0.0}, {"top_p": 0.0}),
        ({}, {"default_max_tokens": 256}, {"max_tokens": 256}, {"max_tokens": 256}),
        ({"max_tokens": 10}, {"default_max_tokens": 256}, {"max_tokens": 10}, {"max_tokens": 10}),
    ],
    ids=[
        "nothing-set",
        "passed-through",
        "max-completion-tokens-wins",
        "temperature-zero-is-greedy-top-p",
        "default-max-tokens",
        "client-max-tokens-beats-default",
    ],
)
def test_sampling_options(body: Any, opts: Any, model_options: Any, flat: Any) -> None:
    prepared = prepare(options(**opts), **body)
    assert v2(prepared).get("model_options") == model_options
    sent = v1(prepared)
    assert {k: sent[k] for k in ("temperature", "top_p", "max_tokens") if k in sent} == flat


@pytest.mark.parametrize(
    ("stop", "stops"),
    [(None, []), ("\n\n", ["\n\n"]), (["END", "", "STOP"], ["END", "STOP"])],
)
def test_stop_is_carried_for_the_gateway_to_apply(stop: Any, stops: list[str]) -> None:
    prepared = prepare(stop=stop)
    assert prepared.stops == stops
    assert "stop" not in v2(prepared) and "stop" not in v1(prepared)


@pytest.mark.parametrize(
    ("body", "opts", "effort"),
    [
        ({}, {}, None),
        ({"reasoning_effort": "low"}, {}, "low"),
        ({"reasoning_effort": "medium"}, {}, "medium"),
        ({"reasoning_effort": "high"}, {}, "high"),
        ({"reasoning_effort": "minimal"}, {}, "low"),
        ({"reasoning_effort": "xhigh"}, {}, "high"),
        ({"reasoning_effort": "none"}, {}, None),
        ({"reasoning": {"effort": "high"}}, {}, "high"),
        ({"reasoning": {"enabled": True}}, {}, "medium"),
        ({"reasoning": {"enabled": False, "effort": "high"}}, {}, None),
        ({"reasoning": {"max_tokens": 1000}}, {}, "low"),
        ({"reasoning": {"max_tokens": 20000}}, {}, "high"),
        ({}, {"enable_reasoning": True}, "high"),
        ({"reasoning_effort": "low"}, {"enable_reasoning": True}, "low"),
        ({"reasoning_effort": "none"}, {"enable_reasoning": True}, None),
        ({"reasoning_effort": "high"}, {"disable_reasoning": True}, None),
    ],
)
def test_reasoning_effort_mapping(body: Any, opts: Any, effort: str | None) -> None:
    prepared = prepare(options(**opts), **body)
    hub = (v2(prepared).get("model_options") or {}).get("reasoning")
    assert hub == ({"effort": effort} if effort else None)
    assert v1(prepared).get("reasoning_effort") == effort


# --- structured output ------------------------------------------------------------------

CITY_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "city_info", "schema": CITY_SCHEMA, "strict": True},
}


def test_json_schema_in_function_call_mode_forces_a_function_named_after_the_schema() -> None:
    prepared = prepare(response_format=CITY_FORMAT)
    assert prepared.structured == "city_info"
    spec = {
        "name": "city_info",
        "description": "Give the final answer as data matching this schema.",
        "parameters": CITY_SCHEMA,
    }
    assert v2(prepared)["tools"] == [{"functions": {"specifications": [spec]}}]
    assert v2(prepared)["tool_config"] == {"mode": "forced", "function_name": "city_info"}
    assert "model_options" not in v2(prepared)
    assert v1(prepared)["functions"] == [spec]
    assert v1(prepared)["function_call"] == {"name": "city_info"}


@pytest.mark.parametrize(
    ("tool_choice", "config"),
    [
        (None, None),
        ("auto", {"mode": "auto"}),
        ("required", {"mode": "forced", "function_name": "get_weather"}),
        ("none", {"mode": "forced", "function_name": "city_info"}),
    ],
)
def test_json_schema_beside_client_tools_leaves_the_client_tools_callable(
    tool_choice: Any, config: Any
) -> None:
    prepared = prepare(response_format=CITY_FORMAT, tools=[WEATHER], tool_choice=tool_choice)
    specs = v2(prepared)["tools"][0]["functions"]["specifications"]
    assert [s["name"] for s in specs] == ["get_weather", "city_info"]
    assert v2(prepared).get("tool_config") == config


def test_json_schema_in_native_mode_is_a_response_format() -> None:
    prepared = prepare(options(structured_mode="native"), response_format=CITY_FORMAT)
    assert prepared.structured is None
    fmt = {"type": "json_schema", "schema": CITY_SCHEMA, "strict": True}
    assert v2(prepared)["model_options"] == {"response_format": fmt}
    assert "tools" not in v2(prepared)
    assert v1(prepared)["response_format"] == fmt


@pytest.mark.parametrize(
    ("response_format", "exc", "kind"),
    [
        ({"type": "json_object"}, errors.Unsupported, "unsupported"),
        (
            {"type": "json_schema", "json_schema": {"name": "x"}},
            errors.BadRequest,
            "invalid_request",
        ),
    ],
)
def test_response_format_without_a_schema_is_rejected(
    response_format: Any, exc: type[errors.GatewayError], kind: str
) -> None:
    err = raises(exc, response_format=response_format)
    assert (err.status, err.kind, err.param) == (400, kind, "response_format")


def test_text_response_format_changes_nothing() -> None:
    assert v2(prepare(response_format={"type": "text"})) == v2(prepare())


# --- ignored fields -----------------------------------------------------------------


def test_fields_gigachat_cannot_apply_are_listed_as_ignored() -> None:
    prepared = prepare(
        n=1,
        seed=7,
        user="u-1",
        logit_bias={"50256": -100},
        presence_penalty=0.5,
        parallel_tool_calls=False,
        store=False,
        stream=True,
        stream_options={"include_usage": True},
        temperature=0.5,
    )
    assert prepared.ignored == [
        "n",
        "logit_bias",
        "seed",
        "user",
        "parallel_tool_calls",
        "presence_penalty",
        "store",
    ]
    assert v2(prepared) == v2(prepare(temperature=0.5))


def test_a_plain_request_ignores_nothing() -> None:
    assert prepare().ignored == []


# --- answers ------------------------------------------------------------------------------

_decode_v1 = msgspec.json.Decoder(giga1.ChatCompletionV1).decode
_decode_v2 = msgspec.json.Decoder(giga.ChatCompletionResponse).decode
COMPLETION_ID = "chatcmpl-0123456789ab"
CREATED = 1_700_000_000
MODEL = "GigaChat-2-Max:2.0.28.2"


def recorded(name: str) -> giga.ChatCompletionResponse:
    body = (FIXTURES / f"{name}.json").read_bytes()
    return contract.from_v1(_decode_v1(body)) if name.endswith("_v1") else _decode_v2(body)


def completion(
    resp: giga.ChatCompletionResponse, structured: str | None = None, stops: list[str] | None = None
) -> Any:
    prepared = Prepared(
        request=giga.ChatCompletionRequest(messages=[]), structured=structured, stops=stops or []
    )
    reply = answer.reply(resp, prepared, "call_", COMPLETION_ID.removeprefix("chatcmpl-"))
    body = msgspec.json.encode(translate.from_giga(reply, COMPLETION_ID, CREATED))
    ChatCompletion.model_validate_json(body)  # openai's own type accepts it
    return msgspec.json.decode(body)


def usage(prompt: int, completion_: int, total: int, cached: int = 0) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_,
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def chat_completion(message: dict[str, Any], finish: str, usage_: dict[str, Any]) -> Any:
    return {
        "id": COMPLETION_ID,
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "refusal": None, **message},
                "finish_reason": finish,
                "logprobs": None,
            }
        ],
        "usage": usage_,
        "object": "chat.completion",
    }


def weather_call(call_id: str, arguments: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }


TEXT = chat_completion({"content": "Привет! Как дела?"}, "stop", usage(12, 5, 17, cached=4))
REASONING = chat_completion(
    {"content": "4", "reasoning_content": "2+2 is 4."}, "stop", usage(9, 7, 16)
)
ONE_CALL = chat_completion(
    {
        "content": None,
        "tool_calls": [weather_call(f"call_{STATE}", '{"city":"Москва","unit":"celsius"}')],
    },
    "tool_calls",
    usage(120, 24, 144, cached=64),
)
TWO_CALLS = chat_completion(
    {
        "content": None,
        "tool_calls": [
            weather_call(f"call_{STATE}", '{"city":"Москва"}'),
            {
                "id": f"call_{STATE}__1",
                "type": "function",
                "function": {"name": "get_time", "arguments": '{"tz":"Europe/Moscow"}'},
            },
        ],
    },
    "tool_calls",
    usage(150, 40, 190),
)
STRUCTURED = chat_completion(
    {"content": '{"city":"Москва","population":13010112}'}, "stop", usage(80, 20, 100)
)


@pytest.mark.parametrize(
    ("fixture", "structured", "expected"),
    [
        ("chat_text_v1", None, TEXT),
        ("chat_text_v2", None, TEXT),
        ("chat_reasoning_v1", None, REASONING),
        ("chat_reasoning_v2", None, REASONING),
        ("chat_function_call_v1", None, ONE_CALL),
        ("chat_function_call_v2", None, ONE_CALL),
        ("chat_function_calls_v2", None, TWO_CALLS),
        ("chat_structured_v1", "city_info", STRUCTURED),
        ("chat_structured_v2", "city_info", STRUCTURED),
    ],
)
def test_recorded_answer_becomes_chat_completion(
    fixture: str, structured: str | None, expected: Any
) -> None:
    assert completion(recorded(fixture), structured) == expected


def answer_with(finish: str | None, *parts: giga.ChatContentPart, state: str | None = None) -> Any:
    return giga.ChatCompletionResponse(
        model=MODEL,
        messages=[
            giga.ChatAnswerMessage(role="assistant", content=list(parts), tool_state_id=state)
        ],
        finish_reason=finish,
        usage=giga.ChatUsage(input_tokens=3, output_tokens=2),
    )


HELLO = giga.ChatContentPart(text="hello")


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("blacklist", "content_filter"),
        ("error", "stop"),
        (None, "stop"),
        ("something_new", "stop"),
    ],
)
def test_finish_reason_mapping(finish: str | None, expected: str) -> None:
    body = completion(answer_with(finish, HELLO))
    assert body["choices"][0]["finish_reason"] == expected
    assert body["usage"]["total_tokens"] == 5  # GigaChat sent none: input + output


def test_function_call_finish_becomes_tool_calls() -> None:
    fc = giga.ChatContentPart(function_call=giga.ChatFunctionCall(name="f", arguments={}))
    body = completion(answer_with("function_call", HELLO, fc, state=STATE))
    message = body["choices"][0]["message"]
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert message["content"] == "hello"
    assert message["tool_calls"] == [
        {"id": f"call_{STATE}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    ]


@pytest.mark.parametrize(
    ("state", "ids"),
    [
        (STATE, [f"call_{STATE}", f"call_{STATE}__1"]),
        (None, ["call_0123456789ab", "call_0123456789ab__1"]),
        ("not-a-uuid", ["call_0123456789ab", "call_0123456789ab__1"]),
    ],
)
def test_tool_call_ids_carry_the_state_id_and_are_stable(state: str | None, ids: list[str]) -> None:
    parts = [
        giga.ChatContentPart(function_call=giga.ChatFunctionCall(name=n, arguments={"a": 1}))
        for n in ("f", "user_web_search")
    ]
    first = completion(answer_with("function_call", *parts, state=state))
    again = completion(answer_with("function_call", *parts, state=state))
    calls = first["choices"][0]["message"]["tool_calls"]
    assert [c["id"] for c in calls] == ids
    assert [c["function"]["name"] for c in calls] == ["f", "web_search"]
    assert [c["function"]["arguments"] for c in calls] == ['{"a":1}', '{"a":1}']
    assert first == again
    assert [answer.state_of(i) for i in ids] == [state if state == STATE else None] * 2


def test_stop_sequence_cuts_the_answer_text() -> None:
    part = giga.ChatContentPart(text="one two STOP three")
    body = completion(answer_with("length", part), stops=["STOP", "three"])
    assert body["choices"][0]["message"]["content"] == "one two "
    assert body["choices"][0]["finish_reason"] == "stop"


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (
            errors.BadRequest("bad", param="messages[0].role"),
            {
                "message": "bad",
                "type": "invalid_request_error",
                "param": "messages[0].role",
                "code": None,
            },
        ),
        (
            errors.Unsupported("no images", param="messages[1].content"),
            {
                "message": "no images",
                "type": "invalid_request_error",
                "param": "messages[1].content",
                "code": "unsupported",
            },
        ),
        (
            errors.Unauthorized("key"),
            {
                "message": "key",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            },
        ),
        (
            errors.NotFound("gone", param="model"),
            {
                "message": "gone",
                "type": "invalid_request_error",
                "param": "model",
                "code": "not_found",
            },
        ),
        (
            errors.PayloadTooLarge("big"),
            {
                "message": "big",
                "type": "invalid_request_error",
                "param": None,
                "code": "request_too_large",
            },
        ),
        (
            errors.RateLimited("slow down", retry_after=3),
            {
                "message": "slow down",
                "type": "rate_limit_error",
                "param": None,
                "code": "rate_limit_exceeded",
            },
        ),
        (
            errors.UpstreamError("broke"),
            {"message": "broke", "type": "server_error", "param": None, "code": None},
        ),
        (
            errors.Overloaded("busy"),
            {"message": "busy", "type": "server_error", "param": None, "code": "overloaded"},
        ),
        (
            errors.UpstreamTimeout("late"),
            {"message": "late", "type": "timeout", "param": None, "code": "upstream_timeout"},
        ),
        (
            errors.GatewayError("oops"),
            {"message": "oops", "type": "server_error", "param": None, "code": None},
        ),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, errors.GatewayError) else "",
)
def test_error_body_is_openai_shaped(err: errors.GatewayError, expected: Any) -> None:
    assert msgspec.json.decode(translate.error_body(err)) == {"error": expected}
