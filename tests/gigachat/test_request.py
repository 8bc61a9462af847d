"""request: the rules every dialect applies when it builds a GigaChat request."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from gigachat.models import chat_completions as sdk_v2

from gpt2giga import errors
from gpt2giga.config import GigaChatSettings, ProxySettings, Settings
from gpt2giga.gigachat import request as build
from gpt2giga.gigachat import wire as giga

V1 = build.Options(contract="v1", model="GigaChat")
V2 = build.Options(contract="v2", model="GigaChat")
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string", "format": "email"}}}


def as_json(value: msgspec.Struct | None) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


# --- Options ------------------------------------------------------------------------


def test_options_are_built_from_settings_and_the_route() -> None:
    settings = Settings(
        proxy=ProxySettings(
            default_max_tokens=512,
            structured_output_mode="native",
            enable_reasoning=True,
            model_aliases={"gpt-*": "GigaChat-2-Max"},
        ),
        gigachat=GigaChatSettings(model="GigaChat-2"),
    )
    assert build.Options.build(settings, "v2", "gpt-4o") == build.Options(
        contract="v2",
        model="GigaChat-2-Max",
        default_max_tokens=512,
        structured_mode="native",
        enable_reasoning=True,
        disable_reasoning=False,
    )
    assert build.Options.build(settings, "v1", None).model == "GigaChat-2"


@pytest.mark.parametrize(
    ("contract", "disabled", "builtins"),
    [("v2", False, True), ("v2", True, False), ("v1", False, False)],
)
def test_provider_tools_map_to_builtins_only_on_v2_and_unless_disabled(
    contract: Any, disabled: bool, builtins: bool
) -> None:
    settings = Settings(proxy=ProxySettings(disable_builtin_tool_mapping=disabled))
    assert build.Options.build(settings, contract, None).builtins is builtins


# --- effort ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("none", None),
        ("minimal", "low"),
        ("low", "low"),
        ("medium", "medium"),
        ("high", "high"),
        ("xhigh", "high"),
        ("max", "high"),
        ("HIGH", "high"),
        (" Low ", "low"),
        ("turbo", "medium"),
        (None, None),
        ("", None),
    ],
)
def test_effort_words_map_to_gigachat_levels(word: str | None, expected: str | None) -> None:
    result = build.effort(word, V2)
    assert (result.effort if result else None) == expected


@pytest.mark.parametrize(
    ("word", "enable", "disable", "expected"),
    [
        (None, True, False, "high"),
        ("low", True, False, "low"),
        ("none", True, False, None),
        ("high", False, True, None),
        (None, True, True, None),
    ],
    ids=["enabled-default", "client-wins", "client-none", "disabled", "disable-beats-enable"],
)
def test_reasoning_flags(
    word: str | None, enable: bool, disable: bool, expected: str | None
) -> None:
    opts = build.Options(
        contract="v2", model="m", enable_reasoning=enable, disable_reasoning=disable
    )
    result = build.effort(word, opts)
    assert (result.effort if result else None) == expected


@pytest.mark.parametrize(
    ("budget", "word"),
    [(None, None), (0, "none"), (-1, "medium"), (1024, "low"), (2048, "medium"), (16384, "high")],
)
def test_thinking_budget_becomes_an_effort_word(budget: int | None, word: str | None) -> None:
    assert build.effort_for_budget(budget) == word


# --- model_options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "default_max", "expected"),
    [
        ({}, None, None),
        ({"temperature": 0.7}, None, {"temperature": 0.7}),
        ({"temperature": 0}, None, {"top_p": 0.0}),
        ({"temperature": 0.0, "top_p": 0.9}, None, {"top_p": 0.0}),
        ({"temperature": -1.0}, None, {"top_p": 0.0}),
        ({"top_p": 0.5}, None, {"top_p": 0.5}),
        ({}, 1000, {"max_tokens": 1000}),
        ({"max_tokens": 50}, 1000, {"max_tokens": 50}),
        (
            {"reasoning": giga.ChatReasoning(effort="low")},
            None,
            {"reasoning": {"effort": "low"}},
        ),
    ],
    ids=[
        "nothing", "temperature", "greedy", "greedy-beats-top-p", "negative", "top-p",
        "default-max-tokens", "client-max-tokens", "reasoning",
    ],
)  # fmt: skip
def test_model_options(kwargs: dict[str, Any], default_max: int | None, expected: Any) -> None:
    opts = build.Options(contract="v2", model="m", default_max_tokens=default_max)
    result = build.model_options(opts, **kwargs)
    assert as_json(result) == expected
    if result is not None:
        sdk_v2.ChatModelOptions.model_validate_json(msgspec.json.encode(result))


# --- names and tools --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "giga_name"),
    [
        ("web_search", "user_web_search"),
        ("code_interpreter", "user_code_interpreter"),
        ("image_generate", "user_image_generate"),
        ("url_content_extraction", "user_url_content_extraction"),
        ("model_3d_generate", "user_model_3d_generate"),
        ("get_weather", "get_weather"),
        ("user_profile", "user_profile"),
        ("user_web_search", "user_web_search"),
    ],
)
def test_reserved_names_are_renamed_and_come_back(client: str, giga_name: str) -> None:
    assert build.to_giga_name(client) == giga_name
    if client != "user_web_search":
        assert build.from_giga_name(giga_name) == client


def test_from_giga_name_leaves_ordinary_user_prefixed_names_alone() -> None:
    assert build.from_giga_name("user_profile") == "user_profile"
    assert build.from_giga_name("user_") == "user_"


@pytest.mark.parametrize("opts", [V1, V2], ids=["v1", "v2"])
def test_function_spec_renames_and_normalises(opts: build.Options) -> None:
    spec = build.function_spec("web_search", "Search", None, opts)
    assert as_json(spec) == {
        "name": "user_web_search",
        "description": "Search",
        "parameters": {"type": "object", "properties": {}},
    }
    sdk_v2.ChatFunctionSpecification.model_validate_json(msgspec.json.encode(spec))


def test_function_spec_schema_follows_the_contract() -> None:
    v1 = build.function_spec("f", None, msgspec.json.encode(SCHEMA), V1)
    v2 = build.function_spec("f", None, msgspec.json.encode(SCHEMA), V2)
    assert v1.parameters["properties"]["answer"] == {
        "type": "string",
        "description": "Format: email",
    }
    assert v2.parameters["properties"]["answer"] == {"type": "string", "format": "email"}


def test_tools_puts_functions_first_then_builtins() -> None:
    spec = build.function_spec("f", None, None, V2)
    search = giga.ChatTool(web_search=giga.ChatWebSearchTool())
    assert build.tools([]) is None
    assert build.tools([], [search]) == [search]
    assert build.tools([spec], [search]) == [
        giga.ChatTool(functions=giga.ChatFunctionsTool(specifications=[spec])),
        search,
    ]


@pytest.mark.parametrize(
    ("mode", "name", "expected"),
    [
        (None, None, None),
        ("auto", None, {"mode": "auto"}),
        ("none", None, {"mode": "none"}),
        ("forced", "get_weather", {"mode": "forced", "function_name": "get_weather"}),
        ("forced", "web_search", {"mode": "forced", "function_name": "user_web_search"}),
    ],
)
def test_tool_config(mode: Any, name: str | None, expected: Any) -> None:
    assert as_json(build.tool_config(mode, name)) == expected


def test_require_one_returns_the_only_function() -> None:
    assert build.require_one(["f"], "tool_choice 'required'") == "f"


@pytest.mark.parametrize(
    ("names", "error", "words"),
    [
        ([], errors.BadRequest, "no function tools were given"),
        (["a", "b"], errors.Unsupported, "with 2 tools"),
    ],
)
def test_require_one_refuses_what_gigachat_cannot_force(
    names: list[str], error: type[errors.GatewayError], words: str
) -> None:
    with pytest.raises(error) as caught:
        build.require_one(names, "tool_choice 'required'")
    assert type(caught.value) is error
    assert words in caught.value.message
    assert caught.value.message.startswith("tool_choice 'required'")


# --- structured output ----------------------------------------------------------------------


def test_structured_native_asks_for_a_response_format() -> None:
    opts = build.Options(contract="v1", model="m", structured_mode="native")
    specs: list[giga.ChatFunctionSpecification] = []
    fmt, config, name = build.structured(opts, "answer", SCHEMA, True, specs)
    # response_format.schema is a free JSON Schema even on v1: format survives.
    assert as_json(fmt) == {"type": "json_schema", "schema": SCHEMA, "strict": True}
    assert (config, name, specs) == (None, None, [])


@pytest.mark.parametrize("opts", [V1, V2], ids=["v1", "v2"])
def test_structured_alone_forces_its_function(opts: build.Options) -> None:
    specs: list[giga.ChatFunctionSpecification] = []
    fmt, config, name = build.structured(opts, "answer", SCHEMA, None, specs, "The answer")
    assert (fmt, name) == (None, "answer")
    assert as_json(config) == {"mode": "forced", "function_name": "answer"}
    assert [(s.name, s.description) for s in specs] == [("answer", "The answer")]
    assert specs[0].parameters["properties"]["answer"]["type"] == "string"


def test_structured_beside_client_tools_leaves_the_model_free() -> None:
    specs = [build.function_spec("search", None, None, V2)]
    fmt, config, name = build.structured(V2, "answer", SCHEMA, None, specs)
    assert (fmt, config, name) == (None, None, "answer")
    assert [s.name for s in specs] == ["search", "answer"]
    assert specs[1].description == "Give the final answer as data matching this schema."


def test_structured_function_with_a_reserved_name_is_renamed() -> None:
    specs: list[giga.ChatFunctionSpecification] = []
    _, config, name = build.structured(V2, "web_search", SCHEMA, None, specs)
    assert name == specs[0].name == "user_web_search"
    assert config is not None and config.function_name == "user_web_search"


# --- messages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ([], []),
        ([""], []),
        (["Be brief."], ["Be brief."]),
        (["One.", "", "Two."], ["One.\n\nTwo."]),
    ],
)
def test_merge_system_joins_every_system_text_in_order(
    texts: list[str], expected: list[str]
) -> None:
    merged = build.merge_system(texts)
    assert [as_json(m) for m in merged] == [
        {"role": "system", "content": [{"text": t}]} for t in expected
    ]


def test_text_message_with_files() -> None:
    refs = [giga.ChatContentFile(id="f1"), giga.ChatContentFile(id="f2")]
    assert as_json(build.text_message("user", "See", refs)) == {
        "role": "user",
        "content": [{"text": "See"}, {"files": [{"id": "f1"}, {"id": "f2"}]}],
    }


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("plain", {"result": "plain"}),
        ('{"a": 1}', {"a": 1}),
        ({"a": 1}, {"a": 1}),
        ([1], {"result": [1]}),
    ],
)
def test_result_part_is_a_json_object_under_the_giga_name(output: Any, expected: Any) -> None:
    assert as_json(build.result_part("web_search", output)) == {
        "function_result": {"name": "user_web_search", "result": expected}
    }


def test_call_part_renames_reserved_names() -> None:
    assert as_json(build.call_part("web_search", {"q": "x"})) == {
        "function_call": {"name": "user_web_search", "arguments": {"q": "x"}}
    }


def test_texts_to_count_cover_what_the_model_reads() -> None:
    spec = giga.ChatFunctionSpecification(name="f", parameters={"type": "object", "properties": {}})
    req = giga.ChatCompletionRequest(
        messages=[
            giga.ChatMessage(role="system", content=[giga.ChatContentPart(text="Be brief.")]),
            giga.ChatMessage(
                role="assistant",
                content=[
                    giga.ChatContentPart(text="Calling"),
                    giga.ChatContentPart(
                        function_call=giga.ChatFunctionCall(name="f", arguments={"a": 1})
                    ),
                ],
            ),
            giga.ChatMessage(
                role="tool",
                content=[
                    giga.ChatContentPart(
                        function_result=giga.ChatFunctionResult(name="f", result={"ok": True})
                    )
                ],
            ),
        ],
        tools=[giga.ChatTool(functions=giga.ChatFunctionsTool(specifications=[spec]))],
    )
    assert build.texts_to_count(req) == [
        "Be brief.",
        "Calling",
        '{"name":"f","arguments":{"a":1}}',
        '{"name":"f","result":{"ok":true}}',
        '{"name":"f","parameters":{"type":"object","properties":{}}}',
    ]
