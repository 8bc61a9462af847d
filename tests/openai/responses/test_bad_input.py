"""Bad input on `POST /responses`: a 4xx in OpenAI's shape naming the field, nothing sent.

One table: each case goes through the whole app to the fake GigaChat and must
come back as `{"error": {message, type, param, code}}` while GigaChat sees no
request at all (no chat, no upload).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.bad_input import Case, body, check_openai_refusal, edge_cases

PATH = "/responses"
VALID = {"model": "GigaChat", "input": "Привет"}


def create(**fields: Any) -> bytes:
    return body({**VALID, **fields})


def content(*parts: dict[str, Any]) -> bytes:
    return create(input=[{"role": "user", "content": list(parts)}])


def tool(**fields: Any) -> bytes:
    return create(tools=[fields])


def bad(
    name: str,
    raw: bytes,
    says: str,
    param: str | None = None,
    *,
    status: int = 400,
    code: str | None = None,
) -> Any:
    return pytest.param(Case(PATH, raw, says, param, status, code), id=name)


CASES = [
    *edge_cases(PATH, VALID),
    bad(
        "deep-inside-an-input-item",  # items stay raw at first: the depth is checked all the same
        b'{"input": [{"role": "user", "content": "x", "meta": '
        + b"[" * 1500
        + b"]" * 1500
        + b"}]}",
        "JSON nested too deeply",
    ),
    bad("no-input", body({"model": "GigaChat"}), "missing required field `input`", "input"),
    bad("input-a-number", create(input=5), "Expected `str | array`", "input"),
    bad("input-empty", create(input=[]), "`input` must not be empty", "input"),
    bad("stream-a-word", create(stream="yes"), "at `$.stream`", "stream"),
    bad(
        "content-a-number",
        create(input=[{"role": "user", "content": 1}]),
        "at `$.input[0].content`",
        "input[0].content",
    ),
    bad(
        "unknown-role",
        create(input=[{"role": "robot", "content": "x"}]),
        "at `$.input[0].role`",
        "input[0].role",
    ),
    bad(
        "unknown-item-type",
        create(input=[{"type": "telepathy"}]),
        "input[0]: unknown item type 'telepathy'",
        "input[0].type",
    ),
    bad(
        "unknown-content-part",
        content({"type": "input_video", "url": "x"}),
        "at `$.input[0].content[0].type`",
        "input[0].content[0].type",
    ),
    bad(
        "call-arguments-not-json",
        create(input=[{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{"}]),
        "input[0]: function arguments are not valid JSON",
        "input[0].arguments",
    ),
    bad("temperature-negative", create(temperature=-0.5), "at `$.temperature`", "temperature"),
    bad("top-p-over-1", create(top_p=1.5), "at `$.top_p`", "top_p"),
    bad(
        "max-output-tokens-negative",
        create(max_output_tokens=-1),
        "at `$.max_output_tokens`",
        "max_output_tokens",
    ),
    bad("background", create(background=True), "not supported", "background", code="unsupported"),
    bad(
        "previous-response-unknown",
        create(previous_response_id="resp_gone"),
        "resp_gone",
        "previous_response_id",
        status=404,
        code="not_found",
    ),
    # --- tools
    bad("tool-without-type", tool(name="f"), "`type`", "tools[0].type"),
    bad("tool-empty", create(tools=[{}]), "`type`", "tools[0].type"),
    bad(
        "tool-of-unknown-type",
        tool(type="retrieval"),
        "tools[0]: unknown tool type 'retrieval'",
        "tools[0].type",
    ),
    bad(
        "namespaced-tool-of-unknown-type",
        tool(type="namespace", name="mcp", tools=[{"type": "file_search"}]),
        "tools[0].tools[0]: unknown tool type 'file_search'",
        "tools[0].tools[0].type",
    ),
    bad(
        "function-name-empty",
        tool(type="function", name=""),
        "at `$.tools[0].name`",
        "tools[0].name",
    ),
    bad(
        "two-functions-of-one-name",
        create(tools=[{"type": "function", "name": "f"}, {"type": "function", "name": "f"}]),
        "Two tools are named 'f'",
        "tools",
    ),
    bad(
        "max-output-tokens-past-int32",
        create(max_output_tokens=2**40),
        "at `$.max_output_tokens`",
        "max_output_tokens",
    ),
    bad(
        "function-without-name",
        tool(type="function", parameters={}),
        "missing required field `name`",
        "tools[0].name",
    ),
    *[
        bad(
            f"parameters-{kind}",
            tool(type="function", name="f", parameters=value),
            f"tools[0].parameters must be a JSON Schema object, not {kind}",
            "tools[0].parameters",
        )
        for kind, value in (
            ("a string", "{}"),
            ("a number", 1),
            ("a boolean", False),
            ("an array", []),
        )
    ],
    bad(
        "namespaced-parameters-a-string",
        tool(
            type="namespace",
            name="mcp",
            tools=[{"type": "function", "name": "f", "parameters": "x"}],
        ),
        "tools[0].tools[0].parameters must be a JSON Schema object, not a string",
        "tools[0].tools[0].parameters",
    ),
    bad(
        "tool-choice-unknown-word",
        create(tool_choice="sometimes"),
        "Invalid enum value 'sometimes' - at `$.tool_choice`",
        "tool_choice",
    ),
    bad(
        "format-schema-a-string",
        create(text={"format": {"type": "json_schema", "name": "r", "schema": "s"}}),
        "text.format.schema must be a JSON Schema object, not a string",
        "text.format.schema",
    ),
    bad(
        "format-unknown-type",
        create(text={"format": {"type": "yaml"}}),
        "at `$.text.format.type`",
        "text.format.type",
    ),
    # --- attachments: refused before anything is fetched or uploaded
    bad(
        "image-url-plain-http",
        content({"type": "input_image", "image_url": "x"}),
        "input[0].content[0]: the URL is refused: only https URLs are fetched",
        "input[0].content[0]",
    ),
    bad(
        "image-base64-that-does-not-decode",
        content({"type": "input_image", "image_url": "data:image/png;base64,@@@"}),
        "input[0].content[0]: the data is not valid base64",
        "input[0].content[0]",
    ),
    bad(
        "file-base64-that-does-not-decode",
        content({"type": "input_file", "file_data": "JVBERi0x$$", "filename": "a.pdf"}),
        "input[0].content[0]: the data is not valid base64",
        "input[0].content[0]",
    ),
    bad(
        "second-file-bad-after-a-good-one",
        content(
            {"type": "input_file", "file_data": "aGVsbG8=", "filename": "a.txt"},
            {"type": "input_file", "file_data": "aGVsbG8=*", "filename": "b.txt"},
        ),
        "input[0].content[1]: the data is not valid base64",
        "input[0].content[1]",
    ),
    bad(
        "file-without-data",
        content({"type": "input_file", "filename": "a.pdf"}),
        "input[0].content[0]: input_file needs file_data or file_url",
        "input[0].content[0]",
    ),
]


@pytest.mark.parametrize("case", CASES)
async def test_bad_input_is_named_and_gigachat_sees_nothing(case: Case) -> None:
    await check_openai_refusal(case)
