"""OpenAI Responses <-> GigaChat translation as pure functions: request dicts in, hub payloads out.

Upstream payloads are compared as the JSON GigaChat would receive (v2 hub
form; the v1 conversion is the client's and tested there). Answers are
checked with the openai SDK's own `Response` model.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from openai.types.responses import Response

from gpt2giga import errors
from gpt2giga.gigachat import answer, contract
from gpt2giga.gigachat import request as build
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.request import Options
from gpt2giga.openai.responses import output, translate
from gpt2giga.openai.responses import wire as rsp
from gpt2giga.openai.responses.store import StoredResponse

STATE = "3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15"
MODEL = "GigaChat-2-Max"
V1 = Options(contract="v1", model=MODEL)
V2 = Options(contract="v2", model=MODEL)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": False,
}
WEATHER_SPEC = {
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
DOCS = {
    "type": "namespace",
    "name": "mcp__docs__",
    "description": "Docs server",
    "tools": [
        {"type": "function", "name": "search", "parameters": {"type": "object"}},
        {"type": "custom", "name": "raw"},
    ],
}


def request(**body: Any) -> rsp.ResponsesRequest:
    return msgspec.json.decode(msgspec.json.encode(body), type=rsp.ResponsesRequest)


def turn(opts: Options = V2, previous: StoredResponse | None = None, **body: Any) -> translate.Turn:
    body.setdefault("store", False)
    return translate.to_giga(request(**body), opts, previous)


def plain(value: Any) -> Any:
    """A struct as the JSON the gateway would send."""
    return msgspec.json.decode(msgspec.json.encode(value))


def sent(t: translate.Turn) -> Any:
    return plain(t.prepared.request)


def text(role: str, value: str) -> dict[str, Any]:
    return {"role": role, "content": [{"text": value}]}


def call(name: str, arguments: Any) -> dict[str, Any]:
    return {"function_call": {"name": name, "arguments": arguments}}


def result(name: str, value: Any) -> dict[str, Any]:
    return {"function_result": {"name": name, "result": value}}


# --- input items -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({"input": "Hi"}, [text("user", "Hi")]),
        (
            {"input": "Hi", "instructions": "Be brief."},
            [text("system", "Be brief."), text("user", "Hi")],
        ),
        (
            # Codex: no instructions, the system prompt is a developer item.
            {
                "instructions": "First.",
                "input": [
                    {"type": "message", "role": "developer", "content": "Second."},
                    {"role": "user", "content": [{"type": "input_text", "text": "a"}]},
                    {"role": "system", "content": [{"type": "input_text", "text": "Third."}]},
                ],
            },
            [text("system", "First.\n\nSecond.\n\nThird."), text("user", "a")],
        ),
        (
            {
                "input": [
                    {"role": "user", "content": "q"},
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [
                            {"type": "output_text", "text": "a1", "annotations": []},
                            {"type": "refusal", "refusal": "no"},
                        ],
                    },
                ]
            },
            [text("user", "q"), text("assistant", "a1\nno")],
        ),
    ],
)
def test_message_items_become_one_system_message_and_turns(
    body: dict[str, Any], messages: list[Any]
) -> None:
    assert sent(turn(**body))["messages"] == messages


def test_calls_join_the_assistant_message_and_outputs_are_tool_messages() -> None:
    t = turn(
        input=[
            {"role": "user", "content": "weather and time?"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": None},
            {"type": "message", "role": "assistant", "content": "Checking."},
            {
                "type": "function_call",
                "call_id": f"call_{STATE}",
                "name": "get_weather",
                "arguments": '{"city":"Oslo"}',
            },
            {
                "type": "function_call",
                "call_id": f"call_{STATE}__1",
                "name": "get_time",
                "arguments": "",
            },
            {"type": "function_call_output", "call_id": f"call_{STATE}", "output": "sunny"},
            {
                "type": "function_call_output",
                "call_id": f"call_{STATE}__1",
                "output": [{"type": "input_text", "text": '{"hour": 12}'}],
            },
        ]
    )
    assert sent(t)["messages"] == [
        text("user", "weather and time?"),
        {
            "role": "assistant",
            "content": [
                {"text": "Checking."},
                call("get_weather", {"city": "Oslo"}),
                call("get_time", {}),
            ],
            "tools_state_id": STATE,
        },
        # Plain-text output is wrapped as the JSON object GigaChat reads.
        {
            "role": "tool",
            "content": [result("get_weather", {"result": "sunny"})],
            "tools_state_id": STATE,
        },
        {"role": "tool", "content": [result("get_time", {"hour": 12})], "tools_state_id": STATE},
    ]
    assert t.calls == {f"call_{STATE}": "get_weather", f"call_{STATE}__1": "get_time"}


def test_an_output_without_its_call_is_named_from_the_stored_calls_or_itself() -> None:
    previous = StoredResponse(body=b"{}", calls={"call_a": "get_weather"})
    t = turn(
        V1,
        previous,
        input=[
            {"type": "function_call_output", "call_id": "call_a", "output": "1"},
            {"type": "function_call_output", "call_id": "x", "name": "search",
             "namespace": "mcp__docs__", "output": "2"},
            {"type": "custom_tool_call", "call_id": "c", "name": "apply_patch",
             "input": "*** Begin"},
            {"type": "custom_tool_call_output", "call_id": "c", "output": "ok"},
        ],
    )  # fmt: skip
    assert sent(t)["messages"] == [
        {"role": "tool", "content": [result("get_weather", {"result": "1"})]},
        {"role": "tool", "content": [result("mcp__docs__search", {"result": "2"})]},
        {"role": "assistant", "content": [call("apply_patch", {"input": "*** Begin"})]},
        {"role": "tool", "content": [result("apply_patch", {"result": "ok"})]},
    ]


def test_a_namespaced_call_in_history_goes_back_under_its_flat_name() -> None:
    t = turn(
        tools=[DOCS],
        input=[
            {"role": "user", "content": "find it"},
            {"type": "function_call", "call_id": "call_1", "name": "search",
             "namespace": "mcp__docs__", "arguments": {"q": "x"}},
            {"type": "function_call_output", "call_id": "call_1", "output": "found"},
        ],
    )  # fmt: skip
    messages = sent(t)["messages"]
    assert messages[1] == {"role": "assistant", "content": [call("mcp__docs__search", {"q": "x"})]}
    assert messages[2]["content"] == [result("mcp__docs__search", {"result": "found"})]


@pytest.mark.parametrize(
    ("items", "error", "param", "says"),
    [
        ([{"role": "wizard", "content": "x"}], errors.BadRequest, "input[0].role",
         "$.input[0].role"),
        ([{"role": "user"}], errors.BadRequest, "input[0].content", "`content`"),
        (
            [{"role": "user", "content": [{"type": "input_text", "text": 1}]}],
            errors.BadRequest, "input[0].content[0].text", "$.input[0].content[0].text",
        ),
        (
            [{"role": "user", "content": [{"type": "input_image", "image_url": "data:,"}]}],
            errors.BadRequest, "input[0].content[0]", "only base64 data URLs are accepted",
        ),
        (
            [{"role": "user", "content": "x"},
             {"type": "function_call_output", "call_id": "c",
              "output": [{"type": "input_file", "file_id": "f"}]}],
            errors.Unsupported, "input[1].output[0].file_id",
            "input[1].output[0]: file_id refers to OpenAI's Files API",
        ),
        (
            [{"role": "user", "content": [{"type": "input_image", "detail": "auto"}]}],
            errors.BadRequest, "input[0].content[0]", "input_image needs image_url",
        ),
        (
            [{"role": "user", "content": [{"type": "input_file", "filename": "a.pdf"}]}],
            errors.BadRequest, "input[0].content[0]", "input_file needs file_data or file_url",
        ),
        (
            [{"role": "developer", "content": [{"type": "input_image", "image_url": "https://x"}]}],
            errors.BadRequest, "input[0].content[0]",
            "input_image is accepted only in user messages and tool outputs",
        ),
        (
            [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
            errors.Unsupported, "input[0].content[0]",
            "input_audio content is not supported by this gateway",
        ),
        ([{"type": "telepathy"}], errors.BadRequest, "input[0].type", "telepathy"),
        ([{"type": "item_reference", "id": "msg_1"}], errors.Unsupported, "input[0]",
         "item_reference"),
        (
            [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{oops"}],
            errors.BadRequest, "input[0].arguments", "not valid JSON",
        ),
        ([], errors.BadRequest, "input", "must not be empty"),
        ([{"type": "reasoning", "summary": []}], errors.BadRequest, "input", "no message"),
    ],
)  # fmt: skip
def test_bad_input_is_named_by_its_place(
    items: list[Any], error: type[errors.GatewayError], param: str, says: str
) -> None:
    with pytest.raises(error) as caught:
        turn(input=items)
    assert type(caught.value) is error
    assert caught.value.param == param
    assert says in caught.value.message


# --- images and files -------------------------------------------------------------------

PNG64 = "iVBORw0KGgoAAAANSUhEUg=="
PDF64 = "JVBERi0xLjcK"


def placed(t: translate.Turn) -> translate.Turn:
    """Give each attachment the id its upload would bring: `file-<n>`."""
    for n, attachment in enumerate(t.prepared.attachments):
        attachment.file.id = f"file-{n}"
    return t


def files(*ids: str) -> dict[str, Any]:
    return {"files": [{"id": i} for i in ids]}


def weather_call(call_id: str) -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": "get_weather", "arguments": "{}"}


def test_input_images_and_files_land_on_the_user_message() -> None:
    content = [
        {"type": "input_text", "text": "Compare"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG64}", "detail": "low"},
        {"type": "input_image", "image_url": "https://x.test/b.png"},
        {"type": "input_file", "file_data": f"data:application/pdf;base64,{PDF64}",
         "filename": "a.pdf"},
        {"type": "input_file", "file_data": PDF64, "filename": "b.pdf"},
        {"type": "input_file", "file_url": "https://x.test/c.pdf"},
    ]  # fmt: skip
    t = placed(turn(input=[{"role": "user", "content": content}]))
    assert [
        (a.where, a.url, a.data, a.mime, a.filename, a.image) for a in t.prepared.attachments
    ] == [
        ("input[0].content[1]", None, PNG64, "image/png", None, True),
        ("input[0].content[2]", "https://x.test/b.png", None, None, None, True),
        ("input[0].content[3]", None, PDF64, "application/pdf", "a.pdf", False),
        ("input[0].content[4]", None, PDF64, None, "b.pdf", False),
        ("input[0].content[5]", "https://x.test/c.pdf", None, None, None, False),
    ]
    ids = [f"file-{n}" for n in range(5)]
    assert sent(t)["messages"] == [{"role": "user", "content": [{"text": "Compare"}, files(*ids)]}]
    v1 = plain(contract.to_v1(t.prepared.request))
    assert v1["messages"] == [{"role": "user", "content": "Compare", "attachments": ids}]


def test_images_from_tool_outputs_follow_the_results_on_a_user_message() -> None:
    shot = {"type": "input_image", "image_url": f"data:image/png;base64,{PNG64}"}
    t = placed(
        turn(
            tools=[WEATHER],
            input=[
                {"role": "user", "content": "Two screenshots"},
                weather_call("c1"),
                weather_call("c2"),
                {"type": "function_call_output", "call_id": "c1",
                 "output": [{"type": "input_text", "text": "one"}, shot]},
                {"type": "function_call_output", "call_id": "c2", "output": [shot]},
                {"role": "user", "content": "What changed?"},
            ],
        )
    )  # fmt: skip
    assert [a.where for a in t.prepared.attachments] == ["input[3].output[1]", "input[4].output[0]"]
    messages = sent(t)["messages"]
    assert messages[2:] == [
        {"role": "tool", "content": [result("get_weather", {"result": "one"})]},
        {"role": "tool", "content": [result("get_weather", {"result": ""})]},
        {"role": "user", "content": [{"text": "What changed?"}, files("file-0", "file-1")]},
    ]
    v1 = plain(contract.to_v1(t.prepared.request))["messages"]
    assert [m["role"] for m in v1] == [
        "user",
        "assistant",
        "function",
        "assistant",
        "function",
        "user",
    ]
    assert v1[-1] == {
        "role": "user",
        "content": "What changed?",
        "attachments": ["file-0", "file-1"],
    }


def test_tool_output_files_get_their_own_user_message_before_the_next_turn() -> None:
    shot = {"type": "input_image", "image_url": "https://x.test/shot.png"}
    t = placed(
        turn(
            tools=[WEATHER],
            input=[
                {"role": "user", "content": "Look"},
                weather_call("c1"),
                {"type": "function_call_output", "call_id": "c1", "output": [shot]},
                weather_call("c2"),
            ],
        )
    )  # fmt: skip
    roles = [(m["role"], m["content"][-1]) for m in sent(t)["messages"]]
    assert roles[2:] == [
        ("tool", result("get_weather", {"result": ""})),
        ("user", files("file-0")),
        ("assistant", call("get_weather", {})),
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [("background", True), ("conversation", "conv_1"), ("prompt", {"id": "pmpt_1"})],
)
def test_features_without_a_gigachat_equivalent_are_refused(field: str, value: Any) -> None:
    with pytest.raises(errors.Unsupported) as caught:
        turn(input="x", **{field: value})
    assert caught.value.param == field


# --- tools ------------------------------------------------------------------------------

WEB = {"type": "web_search", "external_web_access": False}


def test_tools_on_v2_functions_flattened_namespaces_and_builtins() -> None:
    t = turn(
        tools=[
            WEATHER,
            {"type": "function", "name": "no_params"},
            {"type": "function", "name": "web_search", "parameters": None},
            DOCS,
            WEB,
            {"type": "web_search_preview"},
            {"type": "image_generation"},
            {"type": "code_interpreter", "container": {"type": "auto"}},
            {"type": "file_search", "vector_store_ids": ["vs"]},
            {"type": "mcp", "server_label": "x"},
            {"type": "local_shell"},
        ],
        input="x",
    )
    empty = {"type": "object", "properties": {}}
    assert sent(t)["tools"] == [
        {
            "functions": {
                "specifications": [
                    WEATHER_SPEC,
                    {"name": "no_params", "parameters": empty},
                    # GigaChat's own tool name is reserved: the client's travels renamed.
                    {"name": "user_web_search", "parameters": empty},
                    {"name": "mcp__docs__search", "parameters": empty},
                ]
            }
        },
        {"web_search": {}},
        {"image_generate": {}},
        {"code_interpreter": {}},
    ]
    assert t.names["mcp__docs__search"] == ("mcp__docs__", "search")
    # A mapped built-in's own settings are accepted, and named: GigaChat's take none.
    assert t.prepared.ignored == [
        "store", "tools.custom", "tools[].external_web_access", "tools[].container",
        "tools.file_search", "tools.mcp", "tools.local_shell",
    ]  # fmt: skip


UNMAPPED = Options(contract="v2", model=MODEL, map_builtin_tools=False)


@pytest.mark.parametrize("opts", [V1, UNMAPPED], ids=["v1", "v2-mapping-disabled"])
def test_builtins_on_v1_or_unmapped_are_ignored_and_reported(opts: Options) -> None:
    t = turn(opts, tools=[WEATHER, WEB, {"type": "image_generation"}], input="x")
    assert sent(t)["tools"] == [{"functions": {"specifications": [WEATHER_SPEC]}}]
    assert t.prepared.ignored == ["store", "tools.web_search", "tools.image_generation"]


def test_namespace_names_are_made_unique_and_safe() -> None:
    t = turn(
        tools=[
            {"type": "namespace", "name": "srv.a", "tools": [{"type": "function", "name": "go"}]},
            {"type": "function", "name": "srv_a__go_2"},
            {"type": "namespace", "name": "srv/a", "tools": [{"type": "function", "name": "go"}]},
        ],
        input="x",
    )
    assert list(t.names) == ["srv_a__go", "srv_a__go_2", "srv_a__go_3"]
    assert t.names["srv_a__go_3"] == ("srv/a", "go")


@pytest.mark.parametrize(
    ("tools", "bad"),
    [
        ([{"name": "f"}], "tools[0].type"),
        ([{"type": "function"}], "tools[0].name"),
        ([{"type": "namespace", "name": "n", "tools": [{"type": "function"}]}],
         "tools[0].tools[0].name"),
    ],
)  # fmt: skip
def test_bad_tools_are_named_by_their_place(tools: list[Any], bad: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        turn(tools=tools, input="x")
    assert caught.value.param == bad


def test_two_tools_of_one_name_are_a_bad_request() -> None:
    with pytest.raises(errors.BadRequest, match="Two tools"):
        turn(tools=[WEATHER, WEATHER], input="x")


@pytest.mark.parametrize(
    ("opts", "tools", "choice", "config"),
    [
        (V2, [WEATHER], "auto", {"mode": "auto"}),
        (V2, [WEATHER], "none", {"mode": "none"}),
        (V2, [WEATHER], "required", {"mode": "forced", "function_name": "get_weather"}),
        (V2, [WEATHER, DOCS], {"type": "function", "name": "search"},
         {"mode": "forced", "function_name": "mcp__docs__search"}),
        (V2, [WEATHER, DOCS], {"type": "function", "name": "mcp__docs__search"},
         {"mode": "forced", "function_name": "mcp__docs__search"}),
        (V2, [WEATHER, WEB], {"type": "web_search_preview"},
         {"mode": "forced", "tool_name": "web_search"}),
        (V1, [WEATHER, WEB], {"type": "web_search_preview"}, None),
        (V2, [WEATHER, DOCS], {"type": "allowed_tools", "mode": "required",
                              "tools": [{"type": "function", "name": "get_weather"}]},
         {"mode": "forced", "function_name": "get_weather"}),
        (V2, [WEATHER, DOCS], {"type": "allowed_tools", "mode": "auto", "tools": []},
         {"mode": "auto"}),
        (V2, [], "required", None),
    ],
)  # fmt: skip
def test_tool_choice(opts: Options, tools: list[Any], choice: Any, config: Any) -> None:
    assert sent(turn(opts, tools=tools, tool_choice=choice, input="x")).get("tool_config") == config


@pytest.mark.parametrize(
    ("choice", "error"),
    [
        ("required", errors.Unsupported),  # GigaChat forces one function, not "one of several"
        ({"type": "function", "name": "nope"}, errors.BadRequest),
        ({"type": "mcp", "server_label": "x"}, errors.Unsupported),
    ],
)
def test_tool_choice_gigachat_cannot_honour(choice: Any, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        turn(tools=[WEATHER, DOCS], tool_choice=choice, input="x")
    assert type(caught.value) is error


@pytest.mark.parametrize("opts", [V1, UNMAPPED], ids=["v1", "v2-mapping-disabled"])
def test_builtin_tool_choice_on_v1_or_unmapped_is_reported_as_ignored(opts: Options) -> None:
    t = turn(opts, tools=[WEATHER, WEB], tool_choice={"type": "web_search"}, input="x")
    assert "tool_choice" in t.prepared.ignored
    assert "tool_config" not in sent(t)


def test_builtin_tool_choice_without_that_tool_is_reported_as_ignored() -> None:
    t = turn(V2, tools=[WEATHER], tool_choice={"type": "image_generation"}, input="x")
    assert "tool_choice" in t.prepared.ignored
    assert "tool_config" not in sent(t)


def test_reasoning_summaries_cannot_be_asked_of_gigachat() -> None:
    t = turn(
        reasoning={"effort": "low", "summary": "detailed", "generate_summary": "auto"}, input="x"
    )
    assert t.prepared.ignored == ["store", "reasoning.summary", "reasoning.generate_summary"]
    assert sent(t)["model_options"] == {"reasoning": {"effort": "low"}}


# --- options, reasoning, structured output -----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "model_options"),
    [
        ({"reasoning": {"effort": "none", "summary": "auto"}}, None),  # Codex
        ({"reasoning": {"effort": "minimal"}}, {"reasoning": {"effort": "low"}}),
        ({"reasoning": {"effort": "high"}}, {"reasoning": {"effort": "high"}}),
        ({"reasoning": {"effort": "xhigh"}}, {"reasoning": {"effort": "high"}}),
        # An effort word GigaChat does not know never fails the request.
        ({"reasoning": {"effort": "turbo"}}, {"reasoning": {"effort": "medium"}}),
        ({"reasoning": {"summary": "detailed"}}, None),
        ({"max_output_tokens": 64, "temperature": 0.5, "top_p": 0.9},
         {"temperature": 0.5, "top_p": 0.9, "max_tokens": 64}),
        ({"temperature": 0}, {"top_p": 0.0}),
    ],
)  # fmt: skip
def test_model_options(body: dict[str, Any], model_options: Any) -> None:
    assert sent(turn(input="x", **body)).get("model_options") == model_options


SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
JSON_FORMAT = {"format": {"type": "json_schema", "name": "city", "schema": SCHEMA, "strict": True}}


def test_json_schema_output_is_a_forced_function_by_default() -> None:
    t = turn(input="x", text=JSON_FORMAT)
    body = sent(t)
    assert body["tools"][0]["functions"]["specifications"][0]["name"] == "city"
    assert body["tool_config"] == {"mode": "forced", "function_name": "city"}
    assert t.prepared.structured == "city"


def test_json_schema_output_natively_is_a_response_format() -> None:
    native = Options(contract="v2", model=MODEL, structured_mode="native")
    body = sent(turn(native, input="x", text=JSON_FORMAT))
    assert body["model_options"]["response_format"]["type"] == "json_schema"
    assert body["model_options"]["response_format"]["schema"]["properties"] == SCHEMA["properties"]


def test_required_with_one_tool_and_a_schema_forces_the_clients_tool() -> None:
    body = sent(turn(input="x", text=JSON_FORMAT, tools=[WEATHER], tool_choice="required"))
    assert body["tool_config"] == {"mode": "forced", "function_name": "get_weather"}


def test_json_schema_with_tool_choice_none_still_forces_the_schema() -> None:
    body = sent(turn(input="x", text=JSON_FORMAT, tools=[WEATHER], tool_choice="none"))
    assert body["tool_config"] == {"mode": "forced", "function_name": "city"}


@pytest.mark.parametrize(
    ("fmt", "error"),
    [
        ({"format": {"type": "json_object"}}, errors.Unsupported),
        ({"format": {"type": "json_schema", "name": "x"}}, errors.BadRequest),
    ],
)
def test_text_formats_gigachat_cannot_do(fmt: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        turn(input="x", text=fmt)


def test_accepted_fields_without_an_equivalent_are_reported() -> None:
    t = turn(
        input="x",
        include=["reasoning.encrypted_content"],
        prompt_cache_key="k",
        client_metadata={"a": "b"},
        metadata={"m": "1"},
        truncation="auto",
        service_tier="auto",
        user="u",
        parallel_tool_calls=True,
        text={"verbosity": "low"},
    )
    assert t.prepared.ignored == [
        "include", "store", "prompt_cache_key", "client_metadata", "metadata", "truncation",
        "service_tier", "user", "parallel_tool_calls", "text.verbosity",
    ]  # fmt: skip
    assert set(sent(t)) == {"model", "messages"}


# --- previous_response_id --------------------------------------------------------------------

STORED = StoredResponse(
    body=b"{}",
    system=["From an item."],
    messages=[build.text_message("user", "one"), build.text_message("assistant", "two")],
    calls={"call_x": "get_weather"},
    thread_id="thread-1",
    thread_system="Rules.\n\nFrom an item.",
)


def test_v1_rebuilds_the_conversation_from_the_store() -> None:
    t = turn(V1, STORED, instructions="New rules.", input="three", store=True)
    # Instructions are not carried over; system items are.
    assert sent(t)["messages"] == [
        text("system", "New rules.\n\nFrom an item."),
        text("user", "one"),
        text("assistant", "two"),
        text("user", "three"),
    ]
    assert "storage" not in sent(t) and t.full is None
    assert t.system == ["From an item."] and t.calls == {"call_x": "get_weather"}


def test_v2_continues_the_thread_with_the_new_turn_only() -> None:
    t = turn(V2, STORED, instructions="Rules.", input="three", store=True)
    assert sent(t)["messages"] == [text("user", "three")]
    assert sent(t)["storage"] == {"thread_id": "thread-1"}
    # Should GigaChat have lost the thread, the whole conversation starts a new one.
    assert t.full is not None
    full = plain(t.full)
    assert full["storage"] == {}
    assert [m["role"] for m in full["messages"]] == ["system", "user", "assistant", "user"]


def test_v2_new_system_text_cannot_reuse_the_thread() -> None:
    t = turn(V2, STORED, instructions="Other rules.", input="three", store=True)
    assert sent(t)["storage"] == {}
    assert len(sent(t)["messages"]) == 4 and t.full is None


def test_v2_store_false_keeps_nothing_upstream_either() -> None:
    t = turn(V2, STORED, instructions="Rules.", input="three", store=False)
    assert "storage" not in sent(t)
    assert len(sent(t)["messages"]) == 4 and not t.store


def test_v2_first_stored_turn_starts_a_thread() -> None:
    t = turn(V2, None, input="hi", store=True)
    assert sent(t)["storage"] == {}
    assert t.thread_system == ""


# --- answers -----------------------------------------------------------------------------------


def ids() -> Any:
    counter = iter(range(100))
    return lambda prefix: f"{prefix}{next(counter)}"


def base(**body: Any) -> rsp.Response:
    body.setdefault("input", "x")
    return output.skeleton(request(**body), "resp_1", 1_700_000_000, MODEL)


def validated(resp: rsp.Response) -> Response:
    return Response.model_validate(plain(resp))


def test_skeleton_echoes_the_request_settings() -> None:
    skeleton = base(
        instructions="Be brief.",
        tools=[WEATHER, DOCS, WEB],
        tool_choice={"type": "function", "name": "get_weather"},
        text={"format": {"type": "json_schema", "name": "city", "schema": SCHEMA},
              "verbosity": "low"},
        reasoning={"effort": "none", "summary": "auto"},
        store=False,
        parallel_tool_calls=False,
        metadata={"k": "v"},
    )  # fmt: skip
    body = plain(skeleton)
    assert body["tools"] == [WEATHER, DOCS, WEB]
    assert body["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "city", "schema": SCHEMA},
        "verbosity": "low",
    }
    assert body["reasoning"] == {"effort": "none", "summary": "auto"}
    assert (body["store"], body["parallel_tool_calls"], body["metadata"]) == (
        False,
        False,
        {"k": "v"},
    )
    parsed = validated(skeleton)
    assert parsed.status == "in_progress" and parsed.output == []


def reply(**fields: Any) -> answer.Reply:
    fields.setdefault("usage", giga.ChatUsage(input_tokens=10, output_tokens=5, total_tokens=15))
    return answer.Reply(model="GigaChat-2-Max:2.0.28.2", **fields)


def test_text_and_reasoning_answer() -> None:
    resp = validated(
        output.from_giga(reply(text="4", reasoning="2+2 is 4."), {}, base(), {}, ids())
    )
    assert resp.output_text == "4"
    assert [o.type for o in resp.output] == ["reasoning", "message"]
    assert resp.output[0].model_dump()["summary"] == [{"type": "summary_text", "text": "2+2 is 4."}]
    assert resp.status == "completed" and resp.model == "GigaChat-2-Max:2.0.28.2"
    assert resp.usage is not None
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.total_tokens) == (
        10,
        5,
        15,
    )


@pytest.mark.parametrize(
    ("finish", "status", "reason"),
    [("length", "incomplete", "max_output_tokens"), ("blacklist", "incomplete", "content_filter"),
     ("stop", "completed", None)],
)  # fmt: skip
def test_finish_reason_becomes_the_status(finish: str, status: str, reason: str | None) -> None:
    resp = validated(output.from_giga(reply(text="Hi", finish=finish), {}, base(), {}, ids()))
    assert resp.status == status
    assert (resp.incomplete_details.reason if resp.incomplete_details else None) == reason
    assert resp.output[0].model_dump()["status"] == status


def test_calls_come_back_under_the_clients_names() -> None:
    calls = [
        answer.Call(f"call_{STATE}", "get_weather", {"city": "Oslo"}),
        answer.Call(f"call_{STATE}__1", "mcp__docs__search", {"q": "x"}),
    ]
    names = {"get_weather": (None, "get_weather"), "mcp__docs__search": ("mcp__docs__", "search")}
    resp = validated(
        output.from_giga(reply(calls=calls, finish="function_call"), {}, base(), names, ids())
    )
    assert resp.output_text == ""
    assert [o.model_dump(exclude_none=True) for o in resp.output] == [
        {"type": "function_call", "id": "fc_0", "call_id": f"call_{STATE}", "name": "get_weather",
         "arguments": '{"city":"Oslo"}', "status": "completed"},
        {"type": "function_call", "id": "fc_1", "call_id": f"call_{STATE}__1", "name": "search",
         "arguments": '{"q":"x"}', "status": "completed", "namespace": "mcp__docs__"},
    ]  # fmt: skip


def test_builtin_tool_runs_become_their_own_items() -> None:
    source = giga.ChatInlineData(sources={"1": giga.ChatSource(url="https://a.example", title="A")})
    messages = [
        giga.ChatAnswerMessage(
            role="assistant",
            content=[giga.ChatContentPart(text="Found.", inline_data=source)],
            tool_execution=giga.ChatToolExecution(name="web_search", status="success"),
        ),
        giga.ChatAnswerMessage(
            role="assistant", tool_execution=giga.ChatToolExecution(name="image_generate")
        ),
    ]
    runs = output.tool_runs(giga.ChatToolExecution(name="code_interpreter"), messages)
    resp = validated(output.from_giga(reply(text="Found."), runs, base(), {}, ids()))
    assert [o.model_dump(exclude_none=True) for o in resp.output[:2]] == [
        {"type": "web_search_call", "id": "ws_0", "status": "completed",
         "action": {"type": "search", "sources": [{"type": "url", "url": "https://a.example"}]}},
        {"type": "image_generation_call", "id": "ig_1", "status": "completed"},
    ]  # fmt: skip
    assert resp.output_text == "Found."


def test_censored_or_failed_runs_are_failed() -> None:
    messages = [
        giga.ChatAnswerMessage(
            role="assistant",
            tool_execution=giga.ChatToolExecution(name="web_search", censored=True),
        )
    ]
    runs = output.tool_runs(None, messages)
    assert output.tool_status(runs["web_search"].status, final=True) == "failed"
    assert output.tool_status("error", final=False) == "failed"
    assert output.tool_status("running", final=False) == "in_progress"


def test_the_record_holds_the_conversation_for_the_next_turn() -> None:
    t = turn(V2, None, instructions="Rules.", input="weather?", store=True)
    r = reply(calls=[answer.Call(f"call_{STATE}", "get_weather", {"city": "Oslo"})])
    stored = output.record(t, r, b"{...}", "thread-9")
    assert plain(stored.messages) == [
        text("user", "weather?"),
        {"role": "assistant", "content": [call("get_weather", {"city": "Oslo"})],
         "tools_state_id": STATE},
    ]  # fmt: skip
    assert stored.calls == {f"call_{STATE}": "get_weather"}
    assert (stored.thread_id, stored.thread_system, stored.body) == ("thread-9", "Rules.", b"{...}")
    # Without GigaChat storage (v1, store: false) a thread id means nothing.
    assert output.record(turn(V1, None, input="x"), r, b"", "t").thread_id is None


@pytest.mark.parametrize("arguments", ['{"city": "Oslo"}', {"city": "Oslo"}])
def test_the_next_turn_sends_gigachat_arguments_as_an_object_however_they_came(
    arguments: object,
) -> None:
    # Met by the fake GigaChat sending arguments as JSON text (the SDK's `Any`): the
    # stored turn sent that text back, where GigaChat reads a function call's
    # arguments as an object.
    t = turn(V2, None, input="weather?", store=True)
    r = reply(calls=[answer.Call(f"call_{STATE}", "get_weather", arguments)])
    stored = output.record(t, r, b"{}", None)
    assert plain(stored.messages)[-1]["content"] == [call("get_weather", {"city": "Oslo"})]


def test_failed_response_carries_an_sdk_error_code() -> None:
    for err, code in [
        (errors.RateLimited("slow down"), "rate_limit_exceeded"),
        (errors.BadRequest("bad"), "invalid_prompt"),
        (errors.UpstreamError("broke"), "server_error"),
    ]:
        resp = validated(output.failed(base(), [], err))
        assert resp.status == "failed"
        assert resp.error is not None and (resp.error.code, resp.error.message) == (
            code,
            err.message,
        )


def test_unknown_fields_of_namespaced_tools_are_named_where_they_sit() -> None:
    inner = {**DOCS["tools"][0], "defer_loading": True}
    docs = {**DOCS, "tools": [inner, DOCS["tools"][1]], "origin": "mcp"}
    t = turn(tools=[docs], input="x")
    assert t.prepared.ignored == [
        "store", "tools[].origin", "tools[].tools[].defer_loading", "tools.custom",
    ]  # fmt: skip
    assert sent(t)["tools"] == [
        {"functions": {"specifications": [
            {"name": "mcp__docs__search", "parameters": {"type": "object", "properties": {}}},
        ]}},
    ]  # fmt: skip
