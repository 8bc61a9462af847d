"""Bad input on the OpenAI chat and embeddings routes: a 400 in OpenAI's shape, nothing sent.

One table: each case goes through the whole app to the fake GigaChat and must
come back as `{"error": {message, type, param, code}}` naming the field (or
the depth, or the encoding) while GigaChat sees no request at all.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.bad_input import Case, body, check_openai_refusal, edge_cases, send

CHAT = "/chat/completions"
EMBEDDINGS = "/embeddings"
USER = {"role": "user", "content": "Привет"}
VALID = {"model": "GigaChat", "messages": [USER]}
WEATHER = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
PNG_HEAD = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGAAAAAFAAH/"


def chat(**fields: Any) -> bytes:
    return body({**VALID, **fields})


def user(*parts: dict[str, Any]) -> bytes:
    return chat(messages=[{"role": "user", "content": list(parts)}])


def tool(parameters: Any) -> bytes:
    return chat(tools=[{"type": "function", "function": {"name": "f", "parameters": parameters}}])


def bad(
    name: str,
    raw: bytes,
    says: str,
    param: str | None = None,
    *,
    path: str = CHAT,
    code: str | None = None,
) -> Any:
    return pytest.param(Case(path, raw, says, param, code=code), id=f"{path}:{name}")


CASES = [
    *edge_cases(CHAT, VALID),
    *edge_cases(EMBEDDINGS, {"input": "Привет"}),
    # --- the request's own fields
    bad("string-body", b'"hello"', "Expected `object`, got `str`"),
    bad(
        "no-messages", body({"model": "GigaChat"}), "missing required field `messages`", "messages"
    ),
    bad("messages-not-a-list", chat(messages="hi"), "at `$.messages`", "messages"),
    bad("messages-empty", chat(messages=[]), "at least one message", "messages"),
    bad(
        "unknown-role",
        chat(messages=[{"role": "robot", "content": "x"}]),
        "at `$.messages[0].role`",
        "messages[0].role",
    ),
    bad(
        "content-a-number",
        chat(messages=[{"role": "user", "content": 5}]),
        "at `$.messages[0].content`",
        "messages[0].content",
    ),
    bad(
        "content-missing",
        chat(messages=[{"role": "user"}]),
        "at `$.messages[0]`",
        "messages[0].content",
    ),
    bad(
        "unknown-part-type",
        user({"type": "video", "video": "x"}),
        "at `$.messages[0].content[0].type`",
        "messages[0].content[0].type",
    ),
    bad("temperature-a-word", chat(temperature="hot"), "at `$.temperature`", "temperature"),
    bad("temperature-negative", chat(temperature=-1), "at `$.temperature`", "temperature"),
    bad("temperature-over-2", chat(temperature=2.5), "at `$.temperature`", "temperature"),
    bad("top-p-over-1", chat(top_p=3), "at `$.top_p`", "top_p"),
    bad("max-tokens-negative", chat(max_tokens=-1), "at `$.max_tokens`", "max_tokens"),
    bad("max-tokens-zero", chat(max_tokens=0), "at `$.max_tokens`", "max_tokens"),
    bad(
        "max-completion-tokens-fraction",
        chat(max_completion_tokens=1.5),
        "at `$.max_completion_tokens`",
        "max_completion_tokens",
    ),
    bad("stream-a-word", chat(stream="yes"), "at `$.stream`", "stream"),
    bad("max-tokens-past-int32", chat(max_tokens=2**31), "at `$.max_tokens`", "max_tokens"),
    bad("n-zero", chat(n=0), "at `$.n`", "n"),
    bad("n-several", chat(n=3), "n greater than 1 is not supported", "n", code="unsupported"),
    bad("stop-a-number", chat(stop=[1]), "at `$.stop[0]`", "stop[0]"),
    # --- tools
    bad("tool-without-type", chat(tools=[{"function": {"name": "f"}}]), "`type`", "tools[0].type"),
    bad("tool-empty", chat(tools=[{}]), "`type`", "tools[0].type"),
    bad(
        "tool-of-unknown-type",
        chat(tools=[{"type": "retrieval", "function": {"name": "f"}}]),
        "Invalid value 'retrieval' - at `$.tools[0].type`",
        "tools[0].type",
    ),
    bad(
        "function-tool-without-function",
        chat(tools=[{"type": "function"}]),
        "missing required field `function`",
        "tools[0].function",
    ),
    bad(
        "parameters-a-string",
        tool('{"type": "object"}'),
        "tools[0].function.parameters must be a JSON Schema object, not a string",
        "tools[0].function.parameters",
    ),
    bad(
        "parameters-a-number",
        tool(5),
        "tools[0].function.parameters must be a JSON Schema object, not a number",
        "tools[0].function.parameters",
    ),
    bad(
        "parameters-a-boolean",
        tool(True),
        "tools[0].function.parameters must be a JSON Schema object, not a boolean",
        "tools[0].function.parameters",
    ),
    bad(
        "parameters-an-array",
        tool([{"type": "object"}]),
        "tools[0].function.parameters must be a JSON Schema object, not an array",
        "tools[0].function.parameters",
    ),
    bad(
        "function-name-empty",
        chat(tools=[{"type": "function", "function": {"name": ""}}]),
        "at `$.tools[0].function.name`",
        "tools[0].function.name",
    ),
    bad(
        "two-tools-of-one-name",
        chat(tools=[WEATHER, WEATHER]),
        "Two tools are named 'weather'",
        "tools",
    ),
    bad(
        "a-tool-and-a-legacy-function-of-one-name",
        chat(tools=[WEATHER], functions=[{"name": "weather"}]),
        "Two tools are named 'weather'",
        "tools",
    ),
    bad(
        "legacy-function-parameters-a-string",
        chat(functions=[{"name": "f", "parameters": "x"}]),
        "functions[0].parameters must be a JSON Schema object, not a string",
        "functions[0].parameters",
    ),
    bad(
        "tool-choice-unknown-word",
        chat(tools=[WEATHER], tool_choice="sometimes"),
        "Invalid enum value 'sometimes' - at `$.tool_choice`",
        "tool_choice",
    ),
    bad(
        "tool-choice-unknown-word-without-tools",
        chat(tool_choice="always"),
        "Invalid enum value 'always' - at `$.tool_choice`",
        "tool_choice",
    ),
    bad(
        "tool-choice-unknown-type",
        chat(tools=[WEATHER], tool_choice={"type": "tool", "function": {"name": "weather"}}),
        "at `$.tool_choice.type`",
        "tool_choice.type",
    ),
    bad(
        "tool-choice-function-without-name",
        chat(tools=[WEATHER], tool_choice={"type": "function"}),
        "tool_choice of type 'function' needs `function`",
        "tool_choice.function",
    ),
    bad(
        "legacy-function-call-unknown-word",
        chat(function_call="required"),
        "Invalid enum value 'required' - at `$.function_call`",
        "function_call",
    ),
    bad(
        "response-schema-a-string",
        chat(response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": "s"}}),
        "response_format.json_schema.schema must be a JSON Schema object, not a string",
        "response_format.json_schema.schema",
    ),
    bad(
        "response-format-unknown-type",
        chat(response_format={"type": "xml"}),
        "at `$.response_format.type`",
        "response_format.type",
    ),
    bad(
        "json-object-format",
        chat(response_format={"type": "json_object"}),
        "json_object is not supported",
        "response_format",
        code="unsupported",
    ),
    # --- attachments: refused before anything is fetched or uploaded
    bad(
        "input-audio",
        user({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}),
        "messages[0].content[0]: input_audio content is not supported",
        "messages[0].content[0]",
        code="unsupported",
    ),
    bad(
        "image-url-to-a-private-address",
        user({"type": "image_url", "image_url": {"url": "http://169.254.169.254/latest/"}}),
        "messages[0].content[0]: the URL is refused: only https URLs are fetched",
        "messages[0].content[0]",
    ),
    bad(
        "gif-image",
        user(
            {
                "type": "image_url",
                "image_url": {"url": "data:image/gif;base64,R0lGODlhAQABAAAAACw="},
            }
        ),
        "messages[0].content[0]: image/gif files are not supported; GigaChat accepts JPEG",
        "messages[0].content[0]",
        code="unsupported",
    ),
    bad(
        "image-base64-that-does-not-decode",
        user({"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@@"}}),
        "messages[0].content[0]: the data is not valid base64",
        "messages[0].content[0]",
    ),
    bad(
        "image-base64-with-garbage-inside",
        user(
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_HEAD}!!=="}},
        ),
        "messages[0].content[1]: the data is not valid base64",
        "messages[0].content[1]",
    ),
    bad(
        "file-base64-that-does-not-decode",
        user({"type": "file", "file": {"file_data": "%PDF-1.4 not base64", "filename": "a.pdf"}}),
        "messages[0].content[0]: the data is not valid base64",
        "messages[0].content[0]",
    ),
    bad(
        "file-without-data",
        user({"type": "file", "file": {"filename": "a.pdf"}}),
        "messages[0].content[0]: a file part needs file_data",
        "messages[0].content[0].file",
    ),
    bad(
        "data-url-not-base64",
        user({"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}),
        "only base64 data URLs are accepted",
        "messages[0].content[0]",
    ),
    bad(
        "assistant-arguments-not-json",
        chat(
            messages=[
                USER,
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{"}}
                    ],
                },
            ]
        ),
        "messages[1]: function arguments are not valid JSON",
        "messages[1].tool_calls",
    ),
    # --- embeddings
    bad("input-missing", body({}), "missing required field `input`", "input", path=EMBEDDINGS),
    bad("input-empty-list", body({"input": []}), "must not be empty", "input", path=EMBEDDINGS),
    bad("input-empty-string", body({"input": ""}), "empty strings", "input", path=EMBEDDINGS),
    bad(
        "input-with-an-empty-string",
        body({"input": ["ok", ""]}),
        "empty strings",
        "input",
        path=EMBEDDINGS,
    ),
    bad("input-a-number", body({"input": 5}), "at `$.input`", "input", path=EMBEDDINGS),
    bad(
        "token-ids",
        body({"input": [1, 2, 3]}),
        "token-id input is not supported",
        "input",
        path=EMBEDDINGS,
        code="unsupported",
    ),
    bad(
        "token-id-lists",
        body({"input": [[1, 2], [3]]}),
        "token-id input is not supported",
        "input",
        path=EMBEDDINGS,
        code="unsupported",
    ),
    bad(
        "unknown-encoding-format",
        body({"input": "x", "encoding_format": "hex"}),
        "Invalid enum value 'hex' - at `$.encoding_format`",
        "encoding_format",
        path=EMBEDDINGS,
    ),
    bad(
        "dimensions-negative",
        body({"input": "x", "dimensions": -3}),
        "at `$.dimensions`",
        "dimensions",
        path=EMBEDDINGS,
    ),
]


@pytest.mark.parametrize("case", CASES)
async def test_bad_input_is_a_400_naming_the_field_and_gigachat_sees_nothing(case: Case) -> None:
    await check_openai_refusal(case)


async def test_oversize_body_is_413_and_gigachat_sees_nothing() -> None:
    big = body({**VALID, "messages": [{"role": "user", "content": "x" * 2048}]})
    r, reached = await send(CHAT, big, GPT2GIGA_MAX_REQUEST_BODY_BYTES="1024")
    assert r.status_code == 413
    assert r.json() == {
        "error": {
            "message": "Request body is larger than the gateway's limit of 1024 bytes",
            "type": "invalid_request_error",
            "param": None,
            "code": "request_too_large",
        }
    }
    assert reached == []
    small, reached = await send(CHAT, body(VALID), GPT2GIGA_MAX_REQUEST_BODY_BYTES="1024")
    assert small.status_code == 200
    assert reached == ["POST /api/v1/chat/completions"]
