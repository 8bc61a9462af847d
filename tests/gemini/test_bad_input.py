"""Bad input on every Gemini route: a 400 INVALID_ARGUMENT in Google's shape, nothing sent.

One table: each case goes through the whole app to the fake GigaChat and must
come back as `{"error": {"code": 400, "message", "status": "INVALID_ARGUMENT"}}`
naming the field, while GigaChat sees no request at all: no chat, no token
count, no embedding, no upload. The generation cases run on generateContent,
both stream framings and countTokens, which read the same request.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.bad_input import Case, body, edge_cases, send

MODEL = "/v1beta/models/GigaChat-2-Max"
GENERATE = f"{MODEL}:generateContent"
SSE = f"{MODEL}:streamGenerateContent?alt=sse"
ARRAY = f"{MODEL}:streamGenerateContent"
COUNT = f"{MODEL}:countTokens"
EMBED = "/v1beta/models/Embeddings:embedContent"
BATCH = "/v1beta/models/Embeddings:batchEmbedContents"
GENERATION = (GENERATE, SSE, ARRAY, COUNT)

USER = {"role": "user", "parts": [{"text": "Привет"}]}
VALID = {"contents": [USER]}
TEXT = {"parts": [{"text": "Привет"}]}


def generate(**fields: Any) -> bytes:
    return body({**VALID, **fields})


def parts(*items: dict[str, Any]) -> bytes:
    return body({"contents": [{"role": "user", "parts": list(items)}]})


def declare(**fields: Any) -> bytes:
    return generate(tools=[{"functionDeclarations": [{"name": "f", **fields}]}])


def config(**fields: Any) -> bytes:
    return generate(generationConfig=fields)


def blob(data: str, mime: str = "image/png") -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime, "data": data}}


# Bad in any request that carries `contents` (generation and countTokens alike).
GENERATION_CASES = [
    ("contents-empty", body({"contents": []}), "`contents` must not be empty"),
    ("contents-a-string", body({"contents": "hi"}), "at `$.contents`"),
    (
        "role-unknown",
        body({"contents": [{"role": "bot", "parts": [{"text": "x"}]}]}),
        "at `$.contents[0].role`",
    ),
    ("content-without-parts", body({"contents": [{"role": "user"}]}), "`parts`"),
    (
        "parts-empty",
        body({"contents": [{"role": "user", "parts": []}]}),
        "length >= 1 - at `$.contents[0].parts`",
    ),
    (
        "part-without-data",
        parts({}),
        "contents[0].parts[0]: a part needs one of text, functionCall",
    ),
    (
        "part-with-a-signature-only",
        parts({"text": "x"}, {"thoughtSignature": "c2ln"}),
        "contents[0].parts[1]: a part needs one of",
    ),
    (
        "part-with-two-kinds-of-data",
        parts({"text": "look", **blob("iVBORw0KGgo=")}),
        "contents[0].parts[0]: a part holds one kind of data, not text and inlineData",
    ),
    (
        "part-with-text-and-a-call",
        body(
            {
                "contents": [
                    USER,
                    {"role": "model", "parts": [{"text": "x", "functionCall": {"name": "f"}}]},
                ]
            }
        ),
        "contents[1].parts[0]: a part holds one kind of data, not text and functionCall",
    ),
    ("text-a-number", parts({"text": 1}), "at `$.contents[0].parts[0].text`"),
    (
        "system-instruction-without-data",
        generate(systemInstruction={"parts": [{"thought": True}]}),
        "systemInstruction.parts[0]: a part needs one of",
    ),
    (
        "system-instruction-parts-empty",
        generate(systemInstruction={"parts": []}),
        "at `$.systemInstruction.parts`",
    ),
    # --- tools
    ("tool-empty", generate(tools=[{}]), "tools[0] names no tool"),
    (
        "tool-of-unknown-kind",
        generate(tools=[{"webBrowser": {}}]),
        "unknown field `webBrowser` - at `$.tools[0]`",
    ),
    (
        "tool-of-unknown-kind-in-snake-case",
        generate(tools=[{"web_browser": {}}], system_instruction={"parts": [{"text": "x"}]}),
        "unknown field `web_browser` - at `$.tools[0]`",
    ),
    *[
        (
            f"parameters-{kind.split()[-1]}",
            declare(parameters=value),
            f"tools[0].functionDeclarations[0].parameters must be a JSON Schema object, not {kind}",
        )
        for kind, value in (
            ("a string", "OBJECT"),
            ("a number", 0),
            ("a boolean", True),
            ("an array", [{"type": "OBJECT"}]),
        )
    ],
    (
        "parameters-json-schema-a-string",
        declare(parametersJsonSchema='{"type": "object"}'),
        "tools[0].functionDeclarations[0].parametersJsonSchema must be a JSON Schema object",
    ),
    (
        "declaration-name-empty",
        declare(name=""),
        "at `$.tools[0].functionDeclarations[0].name`",
    ),
    (
        "two-declarations-of-one-name",
        generate(
            tools=[
                {"functionDeclarations": [{"name": "f"}]},
                {"functionDeclarations": [{"name": "f"}]},
            ]
        ),
        "Two tools are named 'f'",
    ),
    (
        "declaration-without-name",
        generate(tools=[{"functionDeclarations": [{"description": "x"}]}]),
        "missing required field `name` - at `$.tools[0].functionDeclarations[0]`",
    ),
    (
        "behavior-unknown",
        declare(behavior="EVENTUALLY"),
        "Invalid enum value 'EVENTUALLY' - at `$.tools[0].functionDeclarations[0].behavior`",
    ),
    (
        "calling-mode-unknown",
        generate(toolConfig={"functionCallingConfig": {"mode": "SOMETIMES"}}),
        "at `$.toolConfig.functionCallingConfig.mode`",
    ),
    (
        "calling-mode-lower-case",
        generate(toolConfig={"functionCallingConfig": {"mode": "auto"}}),
        "at `$.toolConfig.functionCallingConfig.mode`",
    ),
    (
        "mode-any-of-several",
        generate(
            toolConfig={"functionCallingConfig": {"mode": "ANY"}},
            tools=[{"functionDeclarations": [{"name": "a"}, {"name": "b"}]}],
        ),
        "not 'one of several'",
    ),
    (
        "allowed-function-unknown",
        generate(
            toolConfig={"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["b"]}},
            tools=[{"functionDeclarations": [{"name": "a"}]}],
        ),
        "allowedFunctionNames names 'b'",
    ),
    (
        "scheduling-unknown",
        body(
            {
                "contents": [
                    USER,
                    {"role": "model", "parts": [{"functionCall": {"name": "f"}}]},
                    {
                        "role": "user",
                        "parts": [
                            {"functionResponse": {"name": "f", "response": {}, "scheduling": "NOW"}}
                        ],
                    },
                ]
            }
        ),
        "at `$.contents[2].parts[0].functionResponse.scheduling`",
    ),
    # --- generation config
    ("temperature-negative", config(temperature=-3), "at `$.generationConfig.temperature`"),
    ("temperature-over-2", config(temperature=2.5), "at `$.generationConfig.temperature`"),
    ("top-p-over-1", config(topP=1.5), "at `$.generationConfig.topP`"),
    ("max-tokens-negative", config(maxOutputTokens=-4), "at `$.generationConfig.maxOutputTokens`"),
    (
        "max-tokens-past-int32",
        config(maxOutputTokens=2**31),
        "at `$.generationConfig.maxOutputTokens`",
    ),
    ("candidate-count-zero", config(candidateCount=0), "at `$.generationConfig.candidateCount`"),
    ("candidate-count-several", config(candidateCount=3), "candidateCount above 1"),
    ("top-k-negative", config(topK=-1), "at `$.generationConfig.topK`"),
    (
        "thinking-level-unknown",
        config(thinkingConfig={"thinkingLevel": "EXTREME"}),
        "at `$.generationConfig.thinkingConfig.thinkingLevel`",
    ),
    (
        "media-resolution-unknown",
        config(mediaResolution="MEDIA_RESOLUTION_8K"),
        "at `$.generationConfig.mediaResolution`",
    ),
    (
        "response-modality-unknown",
        config(responseModalities=["TEXT", "SMELL"]),
        "at `$.generationConfig.responseModalities[1]`",
    ),
    (
        "response-schema-a-string",
        config(responseMimeType="application/json", responseSchema="OBJECT"),
        "generationConfig.responseSchema must be a JSON Schema object, not a string",
    ),
    (
        "response-json-schema-an-array",
        config(responseMimeType="application/json", responseJsonSchema=[]),
        "generationConfig.responseJsonSchema must be a JSON Schema object, not an array",
    ),
    (
        "json-without-a-schema",
        config(responseMimeType="application/json"),
        "no schema-less JSON mode",
    ),
    (
        "safety-category-unknown",
        generate(safetySettings=[{"category": "HARM_CATEGORY_RUDENESS", "threshold": "OFF"}]),
        "at `$.safetySettings[0].category`",
    ),
    (
        "safety-threshold-unknown",
        generate(
            safetySettings=[
                {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_SOMETIMES"}
            ]
        ),
        "at `$.safetySettings[0].threshold`",
    ),
    ("service-tier-unknown", generate(serviceTier="gold"), "at `$.serviceTier`"),
    # --- media: refused before anything is fetched or uploaded
    (
        "media-of-unknown-type",
        parts({"inlineData": {"data": "AA=="}}),
        "contents[0].parts[0]: Files of an unknown type are not supported",
    ),
    (
        "gs-uri",
        parts({"fileData": {"fileUri": "gs://bucket/a.png"}}),
        "contents[0].parts[0]: the URL is refused: only https URLs are fetched, not gs ones",
    ),
    (
        "inline-data-that-does-not-decode",
        parts({"text": "look"}, blob("iVBORw0KGgo#AAAANSUhEUg")),
        "contents[0].parts[1]: the data is not valid base64",
    ),
    (
        "inline-data-empty",
        parts(blob("")),
        "contents[0].parts[0]: inlineData needs data",
    ),
]

# Bad in generateContent and its streams only: countTokens has no toolConfig,
# safetySettings or serviceTier, and reads media as listed, never fetched or decoded.
GENERATE_ONLY = {
    "calling-mode-unknown", "calling-mode-lower-case", "mode-any-of-several",
    "allowed-function-unknown", "safety-category-unknown", "safety-threshold-unknown",
    "service-tier-unknown", "media-of-unknown-type", "gs-uri", "inline-data-that-does-not-decode",
}  # fmt: skip

# Bad in embedContent; each also sent as the one request of a batch.
EMBEDDING_CASES = [
    ("content-missing", {}, "missing required field `content`"),
    ("parts-empty", {"content": {"parts": []}}, "length >= 1 - at `$.{}content.parts`"),
    ("part-without-data", {"content": {"parts": [{}]}}, "{}content.parts[0]: a part needs"),
    ("text-empty", {"content": {"parts": [{"text": ""}]}}, "{}content has no text to embed"),
    (
        "media",
        {"content": {"parts": [blob("iVBORw0KGgo=")]}},
        "{}content.parts[0]: only text parts can be embedded",
    ),
    ("task-type-unknown", {"content": TEXT, "taskType": "SUMMARY"}, "at `$.{}taskType`"),
    (
        "output-dimensionality-zero",
        {"content": TEXT, "outputDimensionality": 0},
        "at `$.{}outputDimensionality`",
    ),
]


def _cases() -> list[Any]:
    cases = [*edge_cases(GENERATE, VALID), *edge_cases(COUNT, VALID)]
    cases += [*edge_cases(EMBED, {"content": TEXT}), *edge_cases(BATCH, {"requests": []})]
    for path in GENERATION:
        cases += [
            pytest.param(Case(path, raw, says), id=f"{path}:{name}")
            for name, raw, says in GENERATION_CASES
            if path != COUNT or name not in GENERATE_ONLY
        ]
    for name, request, says in EMBEDDING_CASES:
        cases.append(pytest.param(Case(EMBED, body(request), says.format("")), id=f"embed:{name}"))
        batch = body({"requests": [{"content": TEXT}, request]})
        cases.append(
            pytest.param(Case(BATCH, batch, says.format("requests[1].")), id=f"batch:{name}")
        )
    cases.append(
        pytest.param(
            Case(BATCH, body({"requests": []}), "`requests` must not be empty"), id="batch:empty"
        )
    )
    return cases


@pytest.mark.parametrize("case", _cases())
async def test_bad_input_is_a_400_naming_the_field_and_gigachat_sees_nothing(case: Case) -> None:
    for prefix in ("", "/v2"):  # both GigaChat contracts: the checks come before either
        r, reached = await send(prefix + case.path, case.body)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/json"
        message = r.json()["error"]["message"]
        assert r.json() == {
            "error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}
        }
        assert case.says in message
        assert reached == []


async def test_oversize_body_is_400_invalid_argument_as_google_says() -> None:
    big = body({"contents": [{"parts": [{"text": "x" * 2048}]}]})
    r, reached = await send(GENERATE, big, GPT2GIGA_MAX_REQUEST_BODY_BYTES="1024")
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "code": 400,
            "message": "Request body is larger than the gateway's limit of 1024 bytes",
            "status": "INVALID_ARGUMENT",
        }
    }
    assert reached == []


@pytest.mark.parametrize(
    ("ours", "sdk"),
    [
        ("ThinkingLevel", "ThinkingLevel"), ("Behavior", "Behavior"),
        ("Scheduling", "FunctionResponseScheduling"), ("MediaResolution", "MediaResolution"),
        ("Modality", "Modality"), ("ServiceTier", "ServiceTier"),
        ("HarmCategory", "HarmCategory"), ("HarmBlockMethod", "HarmBlockMethod"),
        ("HarmBlockThreshold", "HarmBlockThreshold"),
    ],
)  # fmt: skip
def test_every_enum_value_google_genai_sends_is_accepted(ours: str, sdk: str) -> None:
    """The enums are refused outside their set, so the set is google-genai's own, whole."""
    import typing

    from google.genai import types as genai_types

    from gpt2giga.gemini import wire as gem_wire

    assert set(typing.get_args(getattr(gem_wire, ours))) == {
        e.value for e in getattr(genai_types, sdk)
    }
