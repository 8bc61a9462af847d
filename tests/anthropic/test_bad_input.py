"""Bad input on Anthropic's messages and count_tokens: a 400 in Anthropic's shape, nothing sent.

One table: each case goes through the whole app to the fake GigaChat and must
come back as `{"type": "error", "error": {"type": "invalid_request_error",
"message"}}` naming the field (Anthropic's errors carry no `param`), while
GigaChat sees no request at all: no chat, no token count, no upload.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.bad_input import Case, body, edge_cases, send

MESSAGES = "/v1/messages"
COUNT = "/v1/messages/count_tokens"
USER = {"role": "user", "content": "Привет"}
VALID = {"model": "GigaChat", "max_tokens": 64, "messages": [USER]}


def create(**fields: Any) -> bytes:
    return body({**VALID, **fields})


def blocks(*content: dict[str, Any]) -> bytes:
    return create(messages=[{"role": "user", "content": list(content)}])


def image(data: str, media_type: str = "image/png") -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def bad(name: str, raw: bytes, says: str, *, path: str = MESSAGES) -> Any:
    return pytest.param(Case(path, raw, says), id=f"{path}:{name}")


# Bad in a Messages request and in a count_tokens one alike (max_tokens is ignored by the count).
BOTH = [
    ("no-model", body({"max_tokens": 5, "messages": [USER]}), "missing required field `model`"),
    ("messages-empty", create(messages=[]), "at least one message"),
    ("messages-a-string", create(messages="hi"), "at `$.messages`"),
    (
        "role-unknown",
        create(messages=[{"role": "robot", "content": "x"}]),
        "Invalid value 'robot' - at `$.messages[0].role`",
    ),
    (
        "role-tool",
        create(messages=[{"role": "tool", "content": "x"}]),
        "Invalid value 'tool' - at `$.messages[0].role`",
    ),
    (
        "role-missing",
        create(messages=[{"content": "x"}]),
        "missing required field `role` - at `$.messages[0]`",
    ),
    (
        "unknown-block",
        blocks({"type": "video", "url": "x"}),
        "at `$.messages[0].content[0].type`",
    ),
    (
        "tool-result-from-the-assistant",
        create(
            messages=[
                {"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}
            ]
        ),
        "at `$.messages[0].content[0].type`",
    ),
    ("tool-empty", create(tools=[{}]), "tools[0]: a tool needs a name"),
    (
        "two-tools-of-one-name",
        create(tools=[{"name": "read"}, {"name": "read", "input_schema": {"type": "object"}}]),
        "Two tools are named 'read'",
    ),
    (
        "tool-of-unknown-type",
        create(tools=[{"type": "retrieval_20250101", "name": "r"}]),
        "tools[0]: unknown tool type 'retrieval_20250101'",
    ),
    (
        "provider-tool-without-a-date",
        create(tools=[{"type": "web_search", "name": "web_search"}]),
        "tools[0]: unknown tool type 'web_search'",
    ),
    *[
        (
            f"input-schema-{kind.split()[-1]}",
            create(tools=[{"name": "f", "input_schema": value}]),
            f"tools[0].input_schema must be a JSON Schema object, not {kind}",
        )
        for kind, value in (
            ("a string", '{"type": "object"}'),
            ("a number", 3),
            ("a boolean", True),
            ("an array", [{"type": "object"}]),
        )
    ],
    (
        "output-schema-a-string",
        create(output_config={"format": {"type": "json_schema", "schema": "s"}}),
        "output_config.format.schema must be a JSON Schema object, not a string",
    ),
    (
        "beta-output-schema-an-array",
        create(output_format={"type": "json_schema", "schema": []}),
        "output_format.schema must be a JSON Schema object, not an array",
    ),
    (
        "thinking-without-budget",
        create(thinking={"type": "enabled"}),
        "`budget_tokens`",
    ),
    (
        "thinking-budget-under-1024",
        create(thinking={"type": "enabled", "budget_tokens": 10}),
        "at `$.thinking.budget_tokens`",
    ),
    (
        "tool-choice-of-unknown-type",
        create(tool_choice={"type": "function", "name": "f"}),
        "at `$.tool_choice.type`",
    ),
]

CASES = [
    *edge_cases(MESSAGES, VALID),
    *edge_cases(COUNT, VALID),
    *[bad(name, raw, says, path=path) for path in (MESSAGES, COUNT) for name, raw, says in BOTH],
    # --- Messages only
    bad("no-max-tokens", body({"model": "G", "messages": [USER]}), "`max_tokens`"),
    bad("max-tokens-a-word", create(max_tokens="many"), "at `$.max_tokens`"),
    bad("max-tokens-negative", create(max_tokens=-5), "at `$.max_tokens`"),
    bad("max-tokens-past-int32", create(max_tokens=10**12), "at `$.max_tokens`"),
    bad("max-tokens-zero", create(max_tokens=0), "Expected `int` >= 1 - at `$.max_tokens`"),
    bad("temperature-over-1", create(temperature=1.5), "at `$.temperature`"),
    bad("temperature-negative", create(temperature=-1), "at `$.temperature`"),
    bad("top-p-over-1", create(top_p=7), "at `$.top_p`"),
    bad("top-k-negative", create(top_k=-1), "at `$.top_k`"),
    bad("stop-sequences-a-string", create(stop_sequences="END"), "at `$.stop_sequences`"),
    bad(
        "any-of-several-tools",
        create(tools=[{"name": "a"}, {"name": "b"}], tool_choice={"type": "any"}),
        "not 'one of several'",
    ),
    bad(
        "tool-choice-names-an-unknown-tool",
        create(tools=[{"name": "a"}], tool_choice={"type": "tool", "name": "b"}),
        "tool_choice names the tool 'b'",
    ),
    # --- attachments: refused before anything is fetched or uploaded
    bad(
        "image-url-with-credentials",
        blocks({"type": "image", "source": {"type": "url", "url": "https://me:pw@x.test/a.png"}}),
        "messages[0].content[0]: the URL is refused: URLs with credentials are not fetched",
    ),
    bad(
        "webp-image",
        blocks(image("UklGRg==", "image/webp")),
        "messages[0].content[0]: image/webp files are not supported",
    ),
    bad(
        "image-base64-that-does-not-decode",
        blocks(image("iVBORw0KGgo@@AAAANSUhEUg==")),
        "messages[0].content[0]: the data is not valid base64",
    ),
    bad(
        "image-base64-empty",
        blocks(image("")),
        "messages[0].content[0]: the data is empty",
    ),
    bad(
        "document-base64-that-does-not-decode",
        blocks(
            {"type": "text", "text": "read this"},
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": "%PDF-1.7"},
            },
        ),
        "messages[0].content[1]: the data is not valid base64",
    ),
    bad(
        "tool-result-image-that-does-not-decode",
        create(
            messages=[
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t", "name": "shot", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t", "content": [image("a")]}
                    ],
                },
            ]
        ),
        "messages[1].content[0].content[0]: the data is not valid base64",
    ),
]


@pytest.mark.parametrize("case", CASES)
async def test_bad_input_is_a_400_naming_the_field_and_gigachat_sees_nothing(case: Case) -> None:
    for prefix in ("", "/v2"):  # both GigaChat contracts: the checks come before either
        r, reached = await send(prefix + case.path, case.body)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/json"
        message = r.json()["error"]["message"]
        assert r.json() == {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": message},
        }
        assert case.says in message
        assert reached == []


async def test_oversize_body_is_413_request_too_large_and_gigachat_sees_nothing() -> None:
    big = create(messages=[{"role": "user", "content": "x" * 2048}])
    r, reached = await send(MESSAGES, big, GPT2GIGA_MAX_REQUEST_BODY_BYTES="1024")
    assert r.status_code == 413
    assert r.json() == {
        "type": "error",
        "error": {
            "type": "request_too_large",
            "message": "Request body is larger than the gateway's limit of 1024 bytes",
        },
    }
    assert reached == []
