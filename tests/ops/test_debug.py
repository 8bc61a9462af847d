"""ops/debug.py: debug translate against the routes themselves, with respx standing in for GigaChat.

The central check is that debug translate cannot drift from the routes: for
each dialect, contract and stream mode, its GigaChat payload is byte for byte
what the route really sends upstream, and its answers are what the route
really returns. Every test also shows that debug translate itself never
reaches GigaChat (respx would refuse an unmocked call; the calls are counted).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic.types
import httpx
import openai.types.chat
import openai.types.responses
import pytest
import respx
from google.genai import types as genai

from gpt2giga.ops import debug
from tests.conftest import V1_CHAT, V2_CHAT

App = Callable[..., httpx.AsyncClient]
FIXTURES = Path(__file__).parent.parent / "fixtures" / "gigachat"
ADMIN = {"x-admin-api-key": "adm-1"}
ON = {"GPT2GIGA_DEBUG_TRANSLATE_ENABLED": "true", "GPT2GIGA_ADMIN_API_KEY": "adm-1"}
MODEL = "GigaChat-2-Max"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
ASK = "Weather in Paris?"
FROM_ONE_OF = (
    "Expected from to be one of: anthropic, gemini, gigachat, normalized, openai, responses"
)

REQUESTS: dict[str, dict[str, Any]] = {
    "openai": {
        "model": MODEL,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": ASK}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}],
        "temperature": 0.2,
        "max_tokens": 200,
        "stop": ["\n\n"],
    },
    "responses": {
        "model": MODEL,
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": ASK}],
        "tools": [{"type": "function", "name": "get_weather", "parameters": SCHEMA}],
        "max_output_tokens": 200,
    },
    "anthropic": {
        "model": MODEL,
        "max_tokens": 200,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": ASK}],
        "tools": [{"name": "get_weather", "input_schema": SCHEMA}],
    },
    "gemini": {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": ASK}]}],
        "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": SCHEMA}]}],
        "generationConfig": {"temperature": 0.2, "maxOutputTokens": 200},
    },
}


def route_path(dialect: str, contract: str, stream: bool) -> str:
    if dialect == "gemini":
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"/{contract}/v1beta/models/{MODEL}:{method}"
    return {"openai": "/chat/completions", "responses": "/responses", "anthropic": "/messages"}[
        dialect
    ].join([f"/{contract}", ""])


def recorded(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def mock_chat(upstream: respx.MockRouter, contract: str, stream: bool) -> respx.Route:
    url = V1_CHAT if contract == "v1" else V2_CHAT
    if stream:
        body = recorded(f"chat_text_{contract}.sse")
        return upstream.post(url).respond(
            200, content=body, headers={"content-type": "text/event-stream"}
        )
    return upstream.post(url).respond(200, content=recorded(f"chat_text_{contract}.json"))


async def translate(
    app: httpx.AsyncClient, path: str = "/_debug/translate", **body: Any
) -> httpx.Response:
    return await app.post(path, json=body, headers=ADMIN)


# --- the same bytes as the routes ----------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("contract", ["v1", "v2"])
@pytest.mark.parametrize("dialect", list(REQUESTS))
async def test_the_gigachat_payload_is_what_the_route_sends(
    respx_app: App, upstream: respx.MockRouter, dialect: str, contract: str, stream: bool
) -> None:
    payload = REQUESTS[dialect] | ({"stream": True} if stream and dialect != "gemini" else {})
    chat = mock_chat(upstream, contract, stream)
    async with respx_app(**ON) as app:
        routed = await app.post(route_path(dialect, contract, stream), json=payload)
        calls = len(upstream.calls)
        out = await translate(
            app,
            **{"from": dialect, "to": "gigachat", "payload": payload, "contract": contract},
            requested_model=MODEL,
            stream=stream,
        )
    assert routed.status_code == 200, routed.text
    assert len(upstream.calls) == calls, "debug translate called GigaChat"
    assert out.status_code == 200, out.text
    result = out.json()
    assert result["from"] == dialect and result["to"] == "gigachat"
    assert result["contract"] == contract and result["stream"] is stream
    sent = chat.calls[-1].request.content
    assert b'"payload":' + sent + b"," in out.content  # the very bytes, verbatim
    assert json.loads(sent) == result["payload"]
    assert result["attachments"] == []


@pytest.mark.parametrize("contract", ["v1", "v2"])
@pytest.mark.parametrize("dialect", ["openai", "responses", "anthropic"])
async def test_gigachat_fields_and_extra_body_are_in_the_payload_too(
    respx_app: App, upstream: respx.MockRouter, dialect: str, contract: str
) -> None:
    extra = {"repetition_penalty": 1.1, "extra_body": {"flags": ["f1"], "new_knob": 1}}
    payload = REQUESTS[dialect] | extra
    chat = mock_chat(upstream, contract, False)
    async with respx_app(**ON) as app:
        routed = await app.post(route_path(dialect, contract, False), json=payload)
        out = await translate(
            app,
            **{"from": dialect, "to": "gigachat", "payload": payload, "contract": contract},
            requested_model=MODEL,
        )
    assert routed.status_code == 200, routed.text
    assert out.status_code == 200, out.text
    sent = json.loads(chat.calls[-1].request.content)
    assert out.json()["payload"] == sent
    assert (sent["new_knob"], sent["flags"]) == (1, ["f1"])


@pytest.mark.parametrize(
    ("path", "env", "contract"),
    [
        ("/_debug/translate", {}, "v1"),
        ("/_debug/translate", {"GPT2GIGA_GIGACHAT_API_MODE": "v2"}, "v2"),
        ("/v2/_debug/translate", {}, "v2"),
        ("/v1/_debug/translate", {"GPT2GIGA_GIGACHAT_API_MODE": "v2"}, "v1"),
    ],
)
async def test_the_contract_defaults_to_the_routes_own(
    respx_app: App, upstream: respx.MockRouter, path: str, env: dict[str, str], contract: str
) -> None:
    async with respx_app(**ON, **env) as app:
        out = await translate(
            app, path, **{"from": "openai", "to": "gigachat"}, payload=REQUESTS["openai"]
        )
    result = out.json()
    assert result["contract"] == contract
    system = result["payload"]["messages"][0]
    # v1 carries text content and `functions`; v2 content parts and `tools`
    if contract == "v1":
        assert system == {"role": "system", "content": "Be brief."}
        assert result["payload"]["functions"][0]["name"] == "get_weather"
    else:
        assert system["content"] == [{"text": "Be brief."}]
        assert (
            result["payload"]["tools"][0]["functions"]["specifications"][0]["name"] == "get_weather"
        )
    assert upstream.calls.call_count == 0


async def test_a_contract_field_overrides_the_route(
    respx_app: App, upstream: respx.MockRouter
) -> None:
    async with respx_app(**ON) as app:
        out = await translate(
            app,
            "/v1/_debug/translate",
            **{"from": "anthropic", "to": "gigachat"},
            payload=REQUESTS["anthropic"],
            contract="v2",
        )
    assert out.json()["contract"] == "v2"
    assert out.json()["payload"]["messages"][0]["content"] == [{"text": "Be brief."}]


# --- answers back to each dialect ----------------------------------------------------------


def sdk_parse(dialect: str, body: dict[str, Any]) -> Any:
    if dialect == "openai":
        return openai.types.chat.ChatCompletion.model_validate(body)
    if dialect == "responses":
        return openai.types.responses.Response.model_validate(body)
    if dialect == "anthropic":
        return anthropic.types.Message.model_validate(body)
    return genai.GenerateContentResponse.model_validate(body)


def text_of(dialect: str, parsed: Any) -> str:
    if dialect == "openai":
        return str(parsed.choices[0].message.content)
    if dialect == "responses":
        return str(parsed.output_text)
    if dialect == "anthropic":
        return "".join(b.text for b in parsed.content if b.type == "text")
    return str(parsed.text)


def without_ids(value: Any) -> Any:
    """An answer with its per-request ids and clock readings blanked."""
    if isinstance(value, dict):
        return {
            k: "*"
            if k in {"id", "created", "created_at", "responseId", "call_id", "tool_use_id"}
            else without_ids(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


@pytest.mark.parametrize("contract", ["v1", "v2"])
@pytest.mark.parametrize("dialect", list(REQUESTS))
async def test_an_answer_is_what_the_route_returns(
    respx_app: App, upstream: respx.MockRouter, dialect: str, contract: str
) -> None:
    answer = recorded(f"chat_text_{contract}.json")
    request = REQUESTS[dialect] | ({"store": False} if dialect == "responses" else {})
    mock_chat(upstream, contract, stream=False)
    async with respx_app(**ON) as app:
        routed = await app.post(route_path(dialect, contract, False), json=request)
        calls = len(upstream.calls)
        out = await translate(
            app,
            **{"from": "gigachat", "to": dialect},
            payload=json.loads(answer),
            contract=contract,
            request=request,
            requested_model=MODEL,
        )
    assert len(upstream.calls) == calls
    assert out.status_code == 200, out.text
    translated = out.json()["payload"]
    assert without_ids(translated) == without_ids(routed.json())
    assert text_of(dialect, sdk_parse(dialect, translated)) == "Привет! Как дела?"


@pytest.mark.parametrize("dialect", list(REQUESTS))
async def test_an_answer_needs_no_request(
    respx_app: App, upstream: respx.MockRouter, dialect: str
) -> None:
    async with respx_app(**ON) as app:
        out = await translate(
            app,
            **{"from": "gigachat", "to": dialect},
            payload=json.loads(recorded("chat_function_call_v2.json")),
            contract="v2",
        )
    assert out.status_code == 200, out.text
    parsed = sdk_parse(dialect, out.json()["payload"])
    if dialect == "openai":
        [call] = parsed.choices[0].message.tool_calls
        name, arguments = call.function.name, json.loads(call.function.arguments)
        assert call.id.endswith("3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15")  # GigaChat's state id
    elif dialect == "responses":
        [call] = [item for item in parsed.output if item.type == "function_call"]
        name, arguments = call.name, json.loads(call.arguments)
    elif dialect == "anthropic":
        [call] = [b for b in parsed.content if b.type == "tool_use"]
        name, arguments = call.name, call.input
    else:
        [call] = parsed.function_calls
        name, arguments = call.name, call.args
    assert (name, arguments) == ("get_weather", {"city": "Москва", "unit": "celsius"})
    assert upstream.calls.call_count == 0


async def test_the_clients_request_shapes_the_answer(respx_app: App) -> None:
    """Structured output rides a forced function: the client's request says to unwrap it."""
    request = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Moscow?"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "city_info", "schema": SCHEMA},
        },
    }
    answer = json.loads(recorded("chat_structured_v1.json"))
    async with respx_app(**ON) as app:
        shaped = await translate(
            app, **{"from": "gigachat", "to": "openai"}, payload=answer, request=request
        )
        bare = await translate(app, **{"from": "gigachat", "to": "openai"}, payload=answer)
    message = shaped.json()["payload"]["choices"][0]["message"]
    assert json.loads(message["content"]) == {"city": "Москва", "population": 13010112}
    assert "tool_calls" not in message
    assert (
        bare.json()["payload"]["choices"][0]["message"]["tool_calls"][0]["function"]["name"]
        == "city_info"
    )


async def test_the_fastapi_versions_answer_envelope_and_model(respx_app: App) -> None:
    answer = json.loads(recorded("chat_text_v2.json"))
    del answer["model"]  # v2 answers may leave it out
    envelope = {"from": "gigachat", "to": "openai", "contract": "v2"}
    async with respx_app(**ON) as app:
        wrapped = await translate(
            app, **envelope, payload={"response": answer, "requested_model": "GigaChat-Pro"}
        )
        outside = await translate(app, **envelope, payload=answer, requested_model="GigaChat-Pro")
        plain = await translate(app, **envelope, payload=answer)
        named = await translate(app, **envelope, payload=json.loads(recorded("chat_text_v2.json")))
    assert wrapped.json()["payload"]["model"] == "GigaChat-Pro"
    assert outside.json()["payload"]["model"] == "GigaChat-Pro"
    assert plain.json()["payload"]["model"] == "GigaChat"  # GIGACHAT_MODEL
    assert named.json()["payload"]["model"] == "GigaChat-2-Max:2.0.28.2"


async def test_a_responses_answer_is_stored_nowhere(respx_app: App) -> None:
    answer = json.loads(recorded("chat_text_v1.json"))
    async with respx_app(**ON) as app:
        out = await translate(
            app,
            **{"from": "gigachat", "to": "responses"},
            payload=answer,
            request={"model": MODEL, "input": "hi"},
        )
        response_id = out.json()["payload"]["id"]
        stored = await app.get(f"/responses/{response_id}")
    assert out.json()["payload"]["store"] is True
    assert stored.status_code == 404


async def test_a_continuation_reads_the_stored_conversation(
    respx_app: App, upstream: respx.MockRouter
) -> None:
    mock_chat(upstream, "v1", stream=False)
    async with respx_app(**ON) as app:
        first = await app.post("/responses", json={"model": MODEL, "input": "Remember 42."})
        calls = len(upstream.calls)
        follow = {
            "model": MODEL,
            "input": "What number?",
            "previous_response_id": first.json()["id"],
        }
        out = await translate(app, **{"from": "responses", "to": "gigachat"}, payload=follow)
        gone = await translate(
            app,
            **{"from": "responses", "to": "gigachat"},
            payload=follow | {"previous_response_id": "resp_nope"},
        )
    assert len(upstream.calls) == calls
    texts = [m["content"] for m in out.json()["payload"]["messages"]]
    assert texts == ["Remember 42.", "Привет! Как дела?", "What number?"]
    assert gone.status_code == 404
    assert gone.json()["error"]["param"] == "previous_response_id"


async def test_attachments_get_placeholders_and_nothing_is_uploaded(
    respx_app: App, upstream: respx.MockRouter
) -> None:
    image = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
        "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    payload = {
        "model": MODEL,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is it?"},
                    {"type": "image_url", "image_url": {"url": image}},
                ],
            }
        ],
    }
    async with respx_app(**ON) as app:
        out = await translate(
            app, **{"from": "openai", "to": "gigachat"}, payload=payload, contract="v2"
        )
    result = out.json()
    [attachment] = result["attachments"]
    assert attachment == {
        "where": "messages[0].content[1]",
        "id": "<upload: messages[0].content[1]>",
        "source": "data",
        "mime": "image/png",
    }
    assert result["payload"]["messages"][0]["content"][-1] == {"files": [{"id": attachment["id"]}]}
    assert upstream.calls.call_count == 0


# --- what is refused, and how ----------------------------------------------------------------


async def test_translation_errors_are_the_routes_own_400s(
    respx_app: App, upstream: respx.MockRouter
) -> None:
    bad = {
        "openai": (
            "/chat/completions",
            {"model": MODEL, "messages": [{"role": "wizard", "content": "x"}]},
        ),
        "anthropic": (
            "/messages",
            {"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
        ),
        "gemini": (f"/v1beta/models/{MODEL}:generateContent", {"contents": "x"}),
        "responses": ("/responses", {"model": MODEL, "input": 5}),
    }
    async with respx_app(**ON) as app:
        for dialect, (path, payload) in bad.items():
            routed = await app.post(path, json=payload)
            out = await translate(
                app, **{"from": dialect, "to": "gigachat"}, payload=payload, requested_model=MODEL
            )
            assert routed.status_code == 400, routed.text
            assert (out.status_code, out.json()) == (routed.status_code, routed.json()), dialect
    assert upstream.calls.call_count == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "Expected a JSON object"),
        (
            {"to": "gigachat", "payload": {}},
            FROM_ONE_OF,
        ),
        (
            {"from": "  ", "to": "gigachat", "payload": {}},
            FROM_ONE_OF,
        ),
        (
            {"from": 7, "to": "gigachat", "payload": {}},
            FROM_ONE_OF,
        ),
        ({"from": "Klingon", "to": "gigachat", "payload": {}}, "Unsupported from format: Klingon"),
        ({"from": "openai", "to": "cobol", "payload": {}}, "Unsupported to format: cobol"),
        ({"from": "openai", "to": "gigachat", "payload": "hi"}, "Expected payload to be an object"),
        ({"from": "openai", "to": "gigachat"}, "Expected payload to be an object"),
        (
            {"from": "openai", "to": "gigachat", "payload": {}, "contract": "v3"},
            "Expected contract to be one of: v1, v2",
        ),
        ({"from": "openai", "to": "normalized", "payload": {}}, debug.NO_NORMALIZED),
        ({"from": "normalized", "to": "gigachat", "payload": {}}, debug.NO_NORMALIZED),
        (
            {"from": "openai", "to": "anthropic", "payload": {}},
            "Unsupported translation pair: openai -> anthropic (requests translate to gigachat, "
            "and gigachat answers back to each dialect)",
        ),
        ({"from": "gigachat", "to": "openai", "payload": {"choices": "no"}}, None),
        (
            {"from": "gigachat", "to": "openai", "payload": {"response": []}},
            "Expected a GigaChat response object",
        ),
    ],
)
async def test_envelope_errors_are_400s_with_a_detail(
    respx_app: App, upstream: respx.MockRouter, body: Any, message: str | None
) -> None:
    async with respx_app(**ON) as app:
        out = await app.post("/_debug/translate", json=body, headers=ADMIN)
    assert out.status_code == 400
    if message is None:
        assert out.json()["detail"].startswith(
            "Expected a GigaChat response object on the v1 contract: "
        )
    else:
        assert out.json() == {"detail": message}
    assert upstream.calls.call_count == 0


@pytest.mark.parametrize(
    ("body", "start"),
    [
        (b'{"from": "openai", "to": "gigachat", "payload": ' + b"[" * 2000 + b"]" * 2000 + b"}",
         "Request body is JSON nested too deeply"),
        (b'{"from": "openai", "to": "gigachat", "payload": {"x": "\xc3\x28"}}',
         "Request body is not valid UTF-8"),
    ],
    ids=["depth", "utf-8"],
)  # fmt: skip
async def test_an_envelope_too_deep_or_not_utf8_is_a_400(
    respx_app: App, upstream: respx.MockRouter, body: bytes, start: str
) -> None:
    async with respx_app(**ON) as app:
        out = await app.post(
            "/_debug/translate",
            content=body,
            headers={**ADMIN, "content-type": "application/json"},
        )
    assert out.status_code == 400
    assert out.json()["detail"].startswith(start)
    assert upstream.calls.call_count == 0


async def test_same_format_is_echoed(respx_app: App) -> None:
    async with respx_app(**ON) as app:
        out = await translate(
            app, **{"from": " OpenAI ", "to": "openai"}, payload={"anything": [1]}
        )
    assert out.json() == {
        "from": "openai",
        "to": "openai",
        "contract": "v1",
        "payload": {"anything": [1]},
    }


@pytest.mark.parametrize(
    ("env", "headers", "status", "detail"),
    [
        ({"GPT2GIGA_DEBUG_TRANSLATE_ENABLED": "true"}, ADMIN, 403, "Admin API key is required"),
        (ON, {}, 403, "Invalid admin API key"),
        (ON, {"x-admin-api-key": "adm-2"}, 403, "Invalid admin API key"),
        (ON, {"authorization": "Bearer adm-2"}, 403, "Invalid admin API key"),
        (
            ON,
            {"x-admin-api-key": "   ", "authorization": "Bearer adm-1"},
            403,
            "Invalid admin API key",
        ),
        (ON, {"authorization": "bearer  adm-1 "}, 200, None),
        (ON, {"x-admin-api-key": "", "authorization": "Bearer adm-1"}, 200, None),
        (ON, {"x-admin-api-key": " adm-1 "}, 200, None),
        # the proxy's key never stands in for the admin key, and is not needed here
        (
            ON | {"GPT2GIGA_ENABLE_API_KEY_AUTH": "true", "GPT2GIGA_API_KEY": "px"},
            {"x-api-key": "px"},
            403,
            "Invalid admin API key",
        ),
        (
            ON | {"GPT2GIGA_ENABLE_API_KEY_AUTH": "true", "GPT2GIGA_API_KEY": "px"},
            {"authorization": "Bearer px"},
            403,
            "Invalid admin API key",
        ),
        (ON | {"GPT2GIGA_ENABLE_API_KEY_AUTH": "true", "GPT2GIGA_API_KEY": "px"}, ADMIN, 200, None),
    ],
)
async def test_the_admin_key_guards_debug_translate(
    respx_app: App, env: dict[str, str], headers: dict[str, str], status: int, detail: str | None
) -> None:
    body = {"from": "openai", "to": "gigachat", "payload": REQUESTS["openai"]}
    async with respx_app(**env) as app:
        out = await app.post("/_debug/translate", json=body, headers=headers)
        short = await app.post(
            "/_debug/translate/openai-to-gigachat", json=body["payload"], headers=headers
        )
    assert out.status_code == status == short.status_code
    if detail is not None:
        assert out.json() == short.json() == {"detail": detail}


async def test_debug_translate_is_absent_unless_enabled(respx_app: App) -> None:
    async with respx_app(GPT2GIGA_ADMIN_API_KEY="adm-1") as app:
        out = await translate(
            app, **{"from": "openai", "to": "gigachat"}, payload=REQUESTS["openai"]
        )
    assert out.status_code == 404


# --- short routes ----------------------------------------------------------------------------


async def test_short_routes(respx_app: App, upstream: respx.MockRouter) -> None:
    answer = json.loads(recorded("chat_text_v2.json"))
    async with respx_app(**ON) as app:
        request = await app.post(
            "/_debug/translate/openai-to-gigachat?contract=v2",
            json=REQUESTS["openai"],
            headers=ADMIN,
        )
        back = await app.post(
            "/_debug/translate/gigachat-to-openai?contract=v2",
            json={"response": answer, "requested_model": "GigaChat-Pro"},
            headers=ADMIN,
        )
        normalized = await app.post(
            "/_debug/translate/openai-to-normalized", json=REQUESTS["openai"], headers=ADMIN
        )
        nonsense = await app.post("/_debug/translate/openai-into-gigachat", json={}, headers=ADMIN)
        not_object = await app.post(
            "/_debug/translate/openai-to-gigachat", content=b"[]", headers=ADMIN
        )
    out = request.json()
    assert (out["source"], out["target"], out["contract"]) == ("openai", "gigachat", "v2")
    assert out["gigachat_payload"]["model"] == MODEL and out["stream"] is False
    completion = openai.types.chat.ChatCompletion.model_validate(back.json()["openai"])
    assert completion.choices[0].message.content == "Привет! Как дела?"
    assert back.json()["source"] == "gigachat"
    assert normalized.status_code == 400 and normalized.json() == {"detail": debug.NO_NORMALIZED}
    assert nonsense.json() == {"detail": "Unsupported translation route: openai-into-gigachat"}
    assert not_object.json() == {"detail": "Expected a JSON object"}
    assert upstream.calls.call_count == 0
