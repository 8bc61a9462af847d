"""The Gemini routes through the whole app (httpx.ASGITransport), respx standing in for GigaChat.

Every chat test asserts the exact JSON GigaChat receives; answers come from the
recorded bodies in `tests/fixtures/gigachat/`. The Gemini-CLI-shaped request in
`tests/fixtures/gemini/cli_request.json` round-trips through the in-process fake.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import respx
from google.genai import models as genai_models
from google.genai import types

from gpt2giga.gemini import handlers, stream
from gpt2giga.gigachat.fake.server import FakeGigaChat
from tests.conftest import (
    BASE,
    FILES,
    V1_CHAT,
    V2_CHAT,
    form_fields,
    sent_json,
    sse_events,
    uploaded,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
STATE = "3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15"
SSE = {"content-type": "text/event-stream"}
MODEL = "GigaChat-2-Max"
GENERATE = f"/v1beta/models/{MODEL}:generateContent"
STREAM = f"/v1beta/models/{MODEL}:streamGenerateContent"
USER = {"role": "user", "parts": [{"text": "Привет"}]}
HELLO = {"contents": [USER]}
CITY = {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}
WEATHER = {"name": "get_weather", "description": "Current weather", "parameters": CITY}

App = Callable[..., httpx.AsyncClient]


def recorded(name: str) -> bytes:
    return (FIXTURES / "gigachat" / name).read_bytes()


def answer(fixture: str) -> httpx.Response:
    return httpx.Response(
        200, content=recorded(fixture), headers={"content-type": "application/json"}
    )


def streamed(fixture: str) -> httpx.Response:
    return httpx.Response(200, content=recorded(fixture), headers=SSE)


def chat_route(upstream: respx.MockRouter, contract: str, response: httpx.Response) -> respx.Route:
    return upstream.post(V1_CHAT if contract == "v1" else V2_CHAT).mock(return_value=response)


def events(r: httpx.Response) -> list[Any]:
    assert r.headers["content-type"] == "text/event-stream"
    out = []
    for event, data in sse_events(r.content):
        assert event is None
        out.append(msgspec.json.decode(data))
    return out


def checked(body: Any) -> Any:
    """A GenerateContentResponse minus its fresh id, after checking it with google-genai's type."""
    types.GenerateContentResponse.model_validate(body)
    assert len(body.pop("responseId")) == 24
    return body


def error_of(r: httpx.Response, code: int, status: str) -> str:
    assert r.status_code == code
    body = r.json()
    assert set(body) == {"error"}
    assert (body["error"]["code"], body["error"]["status"]) == (code, status)
    message: str = body["error"]["message"]
    return message


RICH = {
    "systemInstruction": {"parts": [{"text": "Be brief."}]},
    "contents": [USER],
    "tools": [{"functionDeclarations": [WEATHER]}],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {"temperature": 0.3, "maxOutputTokens": 64},
}
SPEC = {
    "name": "get_weather",
    "description": "Current weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
V1_BODY = {
    "model": MODEL,
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Привет"}],
    "temperature": 0.3,
    "max_tokens": 64,
    "function_call": "auto",
    "functions": [SPEC],
}
V2_BODY = {
    "model": MODEL,
    "messages": [
        {"role": "system", "content": [{"text": "Be brief."}]},
        {"role": "user", "content": [{"text": "Привет"}]},
    ],
    "model_options": {"temperature": 0.3, "max_tokens": 64},
    "tool_config": {"mode": "auto"},
    "tools": [{"functions": {"specifications": [SPEC]}}],
}
TEXT = {
    "candidates": [
        {
            "content": {"parts": [{"text": "Привет! Как дела?"}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 12,
        "candidatesTokenCount": 5,
        "totalTokenCount": 17,
        "cachedContentTokenCount": 4,
    },
    "modelVersion": "GigaChat-2-Max:2.0.28.2",
}


@pytest.mark.parametrize(
    ("path", "env", "contract"),
    [
        (GENERATE, {}, "v1"),
        (GENERATE, {"GPT2GIGA_GIGACHAT_API_MODE": "v2"}, "v2"),
        (f"/models/{MODEL}:generateContent", {}, "v1"),
        (f"/v1/models/{MODEL}:generateContent", {"GPT2GIGA_GIGACHAT_API_MODE": "v2"}, "v1"),
        (f"/v2/models/{MODEL}:generateContent", {}, "v2"),
        (f"/v1/v1beta/models/{MODEL}:generateContent", {"GPT2GIGA_GIGACHAT_API_MODE": "v2"}, "v1"),
        (f"/v2/v1beta/models/{MODEL}:generateContent", {}, "v2"),
        (f"/v2/v1/models/models/{MODEL}:generateContent", {}, "v2"),
    ],
)
async def test_generate_content_goes_to_the_contract_its_route_names(
    upstream: respx.MockRouter, respx_app: App, path: str, env: dict[str, str], contract: str
) -> None:
    route = chat_route(upstream, contract, answer(f"chat_text_{contract}.json"))
    other = upstream.post(V2_CHAT if contract == "v1" else V1_CHAT)
    async with respx_app(**env) as c:
        r = await c.post(path, json=RICH)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert sent_json(route) == (V1_BODY if contract == "v1" else V2_BODY)
    assert not other.called
    assert checked(r.json()) == TEXT


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_function_calls_round_trip_with_their_ids_and_state(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    fixture = "chat_function_calls_v2.json" if contract == "v2" else "chat_function_call_v1.json"
    route = chat_route(upstream, contract, answer(fixture))
    body = {"contents": [USER], "tools": [{"functionDeclarations": [WEATHER]}]}
    async with respx_app() as c:
        first = (await c.post(f"/{contract}{GENERATE}", json=body)).json()
        content = first["candidates"][0]["content"]
        calls = [p["functionCall"] for p in content["parts"]]
        assert calls[0] == {
            "id": f"call_{STATE}",
            "name": "get_weather",
            "args": {"city": "Москва"}
            if contract == "v2"
            else {"city": "Москва", "unit": "celsius"},
        }
        results = [
            {"functionResponse": {"id": c["id"], "name": c["name"], "response": {"n": n}}}
            for n, c in enumerate(calls)
        ]
        history = [USER, content, {"role": "user", "parts": results}]
        await c.post(f"/{contract}{GENERATE}", json={**body, "contents": history})
    sent = sent_json(route)["messages"][1:]
    if contract == "v1":
        assert sent == [
            {
                "role": "assistant",
                "content": "",
                "function_call": {
                    "name": "get_weather",
                    "arguments": {"city": "Москва", "unit": "celsius"},
                },
                "functions_state_id": STATE,
            },
            {"role": "function", "name": "get_weather", "content": '{"n":0}'},
        ]
    else:
        assert sent == [
            {
                "role": "assistant",
                "content": [
                    {"function_call": {"name": "get_weather", "arguments": {"city": "Москва"}}},
                    {"function_call": {"name": "get_time", "arguments": {"tz": "Europe/Moscow"}}},
                ],
                "tools_state_id": STATE,
            },
            {
                "role": "tool",
                "content": [{"function_result": {"name": "get_weather", "result": {"n": 0}}}],
                "tools_state_id": STATE,
            },
            {
                "role": "tool",
                "content": [{"function_result": {"name": "get_time", "result": {"n": 1}}}],
                "tools_state_id": STATE,
            },
        ]


# --- streams ----------------------------------------------------------------------------------


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_alt_sse_stream_relays_the_text_and_ends_with_finish_and_usage(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    route = chat_route(upstream, contract, streamed(f"chat_text_{contract}.sse"))
    async with respx_app() as c:
        r = await c.post(f"/{contract}{STREAM}?alt=sse", json=HELLO)
    assert r.status_code == 200
    assert sent_json(route)["stream"] is True
    assert route.calls.last.request.headers["accept"] == "text/event-stream"
    chunks = [types.GenerateContentResponse.model_validate(e) for e in events(r)]
    assert "".join(c.text or "" for c in chunks) == "Привет! Как дела?"
    assert len({c.response_id for c in chunks}) == 1
    assert [c.candidates[0].finish_reason for c in chunks if c.candidates] == [None, None, "STOP"]
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata.total_token_count == 17


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_stream_without_alt_sse_is_one_json_array(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    chat_route(upstream, contract, streamed(f"chat_text_{contract}.sse"))
    async with respx_app() as c:
        r = await c.post(f"/{contract}{STREAM}", json=HELLO)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    chunks = [types.GenerateContentResponse.model_validate(e) for e in r.json()]
    assert "".join(c.text or "" for c in chunks) == "Привет! Как дела?"
    assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason == "STOP"


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_streamed_function_call_arrives_whole_with_its_id(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    chat_route(upstream, contract, streamed(f"chat_function_call_{contract}.sse"))
    body = {"contents": [USER], "tools": [{"functionDeclarations": [WEATHER]}]}
    async with respx_app() as c:
        r = await c.post(f"/{contract}{STREAM}?alt=sse", json=body)
    [chunk] = events(r)
    assert chunk["candidates"][0]["content"]["parts"] == [
        {
            "functionCall": {
                "id": f"call_{STATE}",
                "name": "get_weather",
                "args": {"city": "Москва", "unit": "celsius"},
            }
        }
    ]
    assert chunk["candidates"][0]["finishReason"] == "STOP"


class BreaksAfterSecondChunk(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in recorded("chat_text_v1.sse").split(b"\n\n")[:2]:
            yield frame + b"\n\n"
        raise httpx.ReadError("connection reset by giga.test")


async def test_upstream_breaking_mid_stream_is_an_error_event_with_an_integer_code(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(V1_CHAT).mock(
        return_value=httpx.Response(200, headers=SSE, stream=BreaksAfterSecondChunk())
    )
    async with respx_app() as c:
        r = await c.post(f"{STREAM}?alt=sse", json=HELLO)
    assert r.status_code == 200
    received = events(r)
    assert [e["candidates"][0]["content"]["parts"] for e in received[:-1]] == [
        [{"text": "Привет"}],
        [{"text": "! Как"}],
    ]
    assert received[-1] == {
        "error": {
            "code": 502,
            "message": "GigaChat stream broke: ReadError",
            "status": "UNAVAILABLE",
        }
    }
    assert "giga.test" not in r.text


async def test_stream_failing_before_the_first_byte_is_a_plain_error(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(V2_CHAT).respond(
        429, json={"status": 429, "message": "Too many requests"}, headers={"Retry-After": "3"}
    )
    async with respx_app() as c:
        r = await c.post(f"/v2{STREAM}?alt=sse", json=HELLO)
    assert r.headers["content-type"] == "application/json"
    assert r.headers["retry-after"] == "3"
    assert "Too many requests" in error_of(r, 429, "RESOURCE_EXHAUSTED")


async def test_a_json_array_closed_early_still_closes_the_relay() -> None:
    closed = []

    async def relay() -> AsyncIterator[bytes]:
        try:
            yield b'[{"n":1}'
            yield b',\r\n{"n":2}'
        finally:
            closed.append(True)

    chunks = handlers._array(relay(), stream.ArrayFrame())
    assert await anext(chunks) == b'[{"n":1}'
    await chunks.aclose()  # type: ignore[attr-defined]
    assert closed == [True]


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_unknown_fields_are_named_and_never_sent(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    route = chat_route(upstream, contract, answer(f"chat_text_{contract}.json"))
    body = {
        "contents": [{**USER, "parts": [{"text": "Привет", "video_metadata": {}}]}],
        "generationConfig": {"temperature": 0.5, "routingConfig": {"auto": {}}},
        "repetition_penalty": 1.1,
    }
    async with respx_app() as c:
        r = await c.post(f"/{contract}" + GENERATE.removeprefix("/v1beta"), json=body)
    assert r.status_code == 200, r.text
    assert r.headers["x-gpt2giga-ignored"] == (
        "repetition_penalty, contents[].parts[].video_metadata, generationConfig.routingConfig"
    )
    sent = sent_json(route)
    assert "repetition_penalty" not in sent and "repetition_penalty" not in str(sent)


@pytest.mark.parametrize(
    ("method", "path", "code", "status"),
    [
        ("GET", GENERATE, 405, "UNIMPLEMENTED"),
        ("GET", "/v1beta/tunedModels", 404, "NOT_FOUND"),
    ],
)
async def test_unknown_routes_answer_in_google_shape(
    respx_app: App, method: str, path: str, code: int, status: str
) -> None:
    async with respx_app() as c:
        r = await c.request(method, path)
    error_of(r, code, status)


async def test_the_proxy_key_is_read_where_google_clients_send_it(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    chat_route(upstream, "v1", answer("chat_text_v1.json"))
    async with respx_app(GPT2GIGA_ENABLE_API_KEY_AUTH="true", GPT2GIGA_API_KEY="s3cret") as c:
        by_header = await c.post(GENERATE, json=HELLO, headers={"x-goog-api-key": "s3cret"})
        by_query = await c.post(GENERATE, json=HELLO, params={"key": "s3cret"})
        wrong = await c.post(GENERATE, json=HELLO, headers={"x-goog-api-key": "nope"})
    assert by_header.status_code == by_query.status_code == 200
    error_of(wrong, 401, "UNAUTHENTICATED")
    assert "s3cret" not in wrong.text


# --- upstream failures in Google's shape -----------------------------------------------------

LEAKY = "upstream https://giga.test/api/v1/chat/completions refused Bearer tok-1"


@pytest.mark.parametrize(
    ("upstream_status", "code", "status"),
    [
        (400, 400, "INVALID_ARGUMENT"),
        (401, 401, "UNAUTHENTICATED"),
        (404, 404, "NOT_FOUND"),
        (413, 400, "INVALID_ARGUMENT"),
        (422, 400, "INVALID_ARGUMENT"),
        (429, 429, "RESOURCE_EXHAUSTED"),
        (500, 502, "UNAVAILABLE"),
        (503, 503, "UNAVAILABLE"),
        (504, 504, "DEADLINE_EXCEEDED"),
    ],
)
async def test_upstream_error_status_keeps_its_meaning_in_google_shape(
    upstream: respx.MockRouter, respx_app: App, upstream_status: int, code: int, status: str
) -> None:
    upstream.post(V1_CHAT).respond(
        upstream_status, json={"status": upstream_status, "message": LEAKY}
    )
    async with respx_app() as c:
        r = await c.post(GENERATE, json=HELLO)
    assert error_of(r, code, status).startswith(f"GigaChat answered {upstream_status}")
    for secret in ("giga.test", "tok-1", "auth.test"):
        assert secret not in r.text


async def test_an_empty_gigachat_answer_is_an_error(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    empty = {"model": MODEL, "messages": [{"role": "assistant", "content": [{"text": ""}]}]}
    upstream.post(V2_CHAT).respond(json={**empty, "finish_reason": "stop"})
    async with respx_app() as c:
        r = await c.post(f"/v2{GENERATE}", json=HELLO)
    assert error_of(r, 502, "UNAVAILABLE") == "GigaChat returned an empty answer"


# --- the ignored-fields header --------------------------------------------------------------


async def test_ignored_fields_are_named_in_a_header(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    route = chat_route(upstream, "v1", streamed("chat_text_v1.sse"))
    body = {
        **HELLO,
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "generationConfig": {"topK": 3, "seed": 1},
        "tools": [{"googleSearch": {}}],
    }
    async with respx_app() as c:
        r = await c.post(f"{STREAM}?alt=sse", json=body)
        plain = await c.post(f"{STREAM}?alt=sse", json=HELLO)
    assert r.headers["x-gpt2giga-ignored"] == (
        "safetySettings, generationConfig.topK, generationConfig.seed, tools.googleSearch"
    )
    assert "x-gpt2giga-ignored" not in plain.headers
    assert sent_json(route, 0) == sent_json(route, 1)


# --- countTokens ----------------------------------------------------------------------------


async def test_count_tokens_counts_what_the_model_would_read(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    route = upstream.post(BASE + "/tokens/count").mock(return_value=answer("tokens_count.json"))
    chat = upstream.post(V1_CHAT)
    nested = {"generateContentRequest": {"model": f"models/{MODEL}", **RICH}}
    async with respx_app() as c:
        plain = await c.post(f"/v1beta/models/{MODEL}:countTokens", json=HELLO)
        whole = await c.post(f"/v1beta/models/{MODEL}:countTokens", json=nested)
    assert plain.json() == whole.json() == {"totalTokens": 9}
    types.CountTokensResponse.model_validate(plain.json())
    assert sent_json(route, 0) == {"model": MODEL, "input": ["Привет"]}
    assert sent_json(route, 1) == {
        "model": MODEL,
        "input": [
            "Be brief.",
            "Привет",
            json.dumps(SPEC, ensure_ascii=False, separators=(",", ":")),
        ],
    }
    assert not chat.called


@pytest.mark.parametrize(
    ("body", "ignored"),
    [
        (
            {
                "contents": [{**USER, "foo": 1}],
                "generationConfig": {"topK": 3, "bar": True},
                "repetition_penalty": 1.1,
            },
            "generationConfig.topK, repetition_penalty, contents[].foo, generationConfig.bar",
        ),
        (
            {
                "generateContentRequest": {
                    "model": f"models/{MODEL}",
                    "contents": [USER],
                    "safetySettings": [
                        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}
                    ],
                    "cachedContnt": "typo",
                }
            },
            "generateContentRequest.safetySettings, generateContentRequest.cachedContnt",
        ),
        ({"contents": [USER], "generationConfig": {"temperature": 0.3}}, None),
    ],
)
async def test_count_tokens_names_what_it_does_not_apply(
    upstream: respx.MockRouter, respx_app: App, body: dict[str, Any], ignored: str | None
) -> None:
    route = upstream.post(BASE + "/tokens/count").mock(return_value=answer("tokens_count.json"))
    async with respx_app() as c:
        r = await c.post(f"/v1beta/models/{MODEL}:countTokens", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"totalTokens": 9}
    assert r.headers.get("x-gpt2giga-ignored") == ignored
    assert sent_json(route) == {"model": MODEL, "input": ["Привет"]}


# --- embeddings -----------------------------------------------------------------------------


def embeddings_route(upstream: respx.MockRouter) -> respx.Route:
    return upstream.post(BASE + "/embeddings").mock(return_value=answer("embeddings.json"))


async def test_batch_embed_contents_embeds_each_request_in_order(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    route = embeddings_route(upstream)
    body = {
        "requests": [
            {"model": "models/Embeddings", "content": {"parts": [{"text": "alpha"}]}},
            {
                "model": "models/Embeddings",
                "content": {"parts": [{"text": "beta"}, {"text": "gamma"}]},
                "outputDimensionality": 3,
            },
        ]
    }
    async with respx_app() as c:
        r = await c.post("/v1beta/models/Embeddings:batchEmbedContents", json=body)
    assert sent_json(route) == {"model": "Embeddings", "input": ["alpha", "beta\ngamma"]}
    assert r.json() == {
        "embeddings": [{"values": [0.0123, -0.0456, 0.0789]}, {"values": [-0.5, 0.25, 0.125]}]
    }
    assert r.headers["x-gpt2giga-ignored"] == "outputDimensionality"


ONE_EMBEDDING = {
    "object": "list",
    "model": "EmbeddingsGigaR",
    "data": [
        {
            "object": "embedding",
            "embedding": [0.0123, -0.0456, 0.0789],
            "index": 0,
            "usage": {"prompt_tokens": 3},
        }
    ],
}


async def test_embed_content_embeds_one_text(upstream: respx.MockRouter, respx_app: App) -> None:
    route = upstream.post(BASE + "/embeddings").respond(json=ONE_EMBEDDING)
    body = {
        "content": {"parts": [{"text": "alpha"}]},
        "task_type": "RETRIEVAL_QUERY",
        "embedding_config": {},
    }
    async with respx_app(GPT2GIGA_MODEL_ALIASES='{"gemini-embedding-*": "EmbeddingsGigaR"}') as c:
        r = await c.post("/v1beta/models/gemini-embedding-001:embedContent", json=body)
    assert sent_json(route) == {"model": "EmbeddingsGigaR", "input": ["alpha"]}
    assert r.json() == {"embedding": {"values": [0.0123, -0.0456, 0.0789]}}
    assert r.headers["x-gpt2giga-ignored"] == "taskType, embedding_config"


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        (":batchEmbedContents", {"requests": []}, "must not be empty"),
        (":embedContent", {"content": {"parts": [{"inlineData": {"data": "AA=="}}]}}, "only text"),
        (":embedContent", {"content": {"parts": [{"text": ""}]}}, "no text to embed"),
    ],
)
async def test_embeddings_of_nothing_or_media_are_refused(
    upstream: respx.MockRouter, respx_app: App, path: str, body: Any, words: str
) -> None:
    route = embeddings_route(upstream)
    async with respx_app() as c:
        r = await c.post(f"/v1beta/models/Embeddings{path}", json=body)
    assert words in error_of(r, 400, "INVALID_ARGUMENT")
    assert not route.called


# --- models -----------------------------------------------------------------------------------

GIGACHAT = {
    "name": "models/GigaChat",
    "baseModelId": "GigaChat",
    "displayName": "GigaChat",
    "description": "GigaChat chat model GigaChat",
    "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
}
EMBEDDINGS = {
    "name": "models/Embeddings",
    "baseModelId": "Embeddings",
    "displayName": "Embeddings",
    "description": "GigaChat embeddings model Embeddings",
    "supportedGenerationMethods": ["embedContent", "batchEmbedContents"],
}


@pytest.mark.parametrize(
    ("path", "headers", "params"),
    [
        ("/v1beta/models", {}, {}),
        ("/models", {"x-goog-api-key": "k"}, {}),
        ("/v1/models", {"x-goog-api-client": "google-genai-sdk/3.6.1"}, {}),
        ("/models", {}, {"key": "k"}),
    ],
)
async def test_models_list_pages_in_gemini_shape(
    upstream: respx.MockRouter,
    respx_app: App,
    path: str,
    headers: dict[str, str],
    params: dict[str, str],
) -> None:
    upstream.get(BASE + "/models").mock(return_value=answer("models.json"))
    async with respx_app() as c:
        first = await c.get(path, headers=headers, params={**params, "pageSize": "2"})
        token = first.json()["nextPageToken"]
        rest = await c.get(path, headers=headers, params={**params, "pageToken": token})
        everything = await c.get(path, headers=headers, params=params)
    assert [m["name"] for m in first.json()["models"]] == [
        "models/GigaChat",
        "models/GigaChat-2-Max",
    ]
    assert rest.json() == {"models": [EMBEDDINGS]}
    assert everything.json()["models"][0] == GIGACHAT
    assert "nextPageToken" not in everything.json()
    for model in everything.json()["models"]:
        sdk = types.Model._from_response(
            response=genai_models._Model_from_mldev(copy.deepcopy(model)), kwargs={}
        )
        assert sdk.name == model["name"]
        assert sdk.supported_actions == model["supportedGenerationMethods"]


@pytest.mark.parametrize("query", ["pageSize=many", "pageToken=-1"])
async def test_bad_page_arguments_are_400(
    upstream: respx.MockRouter, respx_app: App, query: str
) -> None:
    upstream.get(BASE + "/models").mock(return_value=answer("models.json"))
    async with respx_app() as c:
        r = await c.get(f"/v1beta/models?{query}")
    error_of(r, 400, "INVALID_ARGUMENT")


async def test_get_model_by_name_alias_or_not_at_all(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.get(BASE + "/models").mock(return_value=answer("models.json"))
    async with respx_app(GPT2GIGA_MODEL_ALIASES='{"gemini-*": "GigaChat"}') as c:
        direct = await c.get("/v1beta/models/Embeddings")
        alias = await c.get("/v1beta/models/gemini-2.5-pro")
        missing = await c.get("/v1beta/models/nope")
    assert direct.json() == EMBEDDINGS
    assert alias.json() == {
        **GIGACHAT,
        "name": "models/gemini-2.5-pro",
        "baseModelId": "gemini-2.5-pro",
        "displayName": "gemini-2.5-pro",
    }
    assert "models/nope" in error_of(missing, 404, "NOT_FOUND")


# --- a Gemini CLI turn, through the fake GigaChat --------------------------------------------
# Recorded from Gemini CLI 0.61 (system prompt shortened, 8 of its 15 tools kept).

CLI = json.loads((FIXTURES / "gemini" / "cli_request.json").read_text(encoding="utf-8"))
CLI_PATH = "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse"
ALIASES = '{"gemini-*": "GigaChat-2-Max"}'
PLACEHOLDER_STATE = "5a95fc3a-8e44-3f65-d95a-43eaf4f95e16"
ACTIVATE_SKILL = {
    "name": "activate_skill",
    "description": CLI["tools"][0]["functionDeclarations"][-1]["description"],
    "parameters": {
        "type": "object",
        "properties": {
            "name": {
                "type": "string",
                "enum": ["skill-creator", "antigravity-support"],
                "description": "The name of the skill to activate.",
            }
        },
        "required": ["name"],
    },
}


def parts(received: list[Any], thought: bool) -> list[Any]:
    return [
        p
        for e in received
        for p in e["candidates"][0]["content"]["parts"]
        if bool(p.get("thought")) is thought
    ]


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_gemini_cli_turn_round_trips(gateway: App, fake: FakeGigaChat, contract: str) -> None:
    first_turn = {**CLI, "contents": CLI["contents"][:1]}
    async with gateway(GPT2GIGA_MODEL_ALIASES=ALIASES, GPT2GIGA_GIGACHAT_API_MODE=contract) as c:
        r = await c.post(CLI_PATH, json=first_turn)
        assert r.headers["x-gpt2giga-ignored"] == "generationConfig.topK"
        received = events(r)
        [call] = parts(received, thought=False)
        thought = "".join(p["text"] for p in parts(received, thought=True))  # as it streamed
        assert call["functionCall"]["name"] == "list_directory"
        assert thought.startswith("The user wrote ")
        assert received[-1]["candidates"][0]["finishReason"] == "STOP"
        state = call["functionCall"]["id"].removeprefix("call_")
        # Gemini CLI echoes the call (with a thought signature of its own), then the output.
        turn = json.loads(json.dumps(CLI).replace(PLACEHOLDER_STATE, state))
        r = await c.post(CLI_PATH, json=turn)
    text = "".join(p["text"] for p in parts(events(r), thought=False))
    assert text == (
        'Done: list_directory returned {"output":"Directory listing for '
        '/home/user/project/src:\\nmain.py\\nutils.py"}.'
    )
    sent_contract, sent = fake.requests[-1]
    assert sent_contract == contract
    upstream = msgspec.json.decode(sent)
    assert b"skip_thought_signature_validator" not in sent
    result = CLI["contents"][2]["parts"][0]["functionResponse"]["response"]
    if contract == "v2":
        assert upstream["messages"][2:] == [
            {
                "role": "assistant",
                "content": [
                    {
                        "function_call": {
                            "name": "list_directory",
                            "arguments": {"dir_path": "/home/user/project/src"},
                        }
                    }
                ],
                "tools_state_id": state,
            },
            {
                "role": "tool",
                "content": [{"function_result": {"name": "list_directory", "result": result}}],
                "tools_state_id": state,
            },
        ]
        specs = upstream["tools"][0]["functions"]["specifications"]
        assert (len(specs), specs[-1]) == (8, ACTIVATE_SKILL)
        assert upstream["model_options"] == {
            "temperature": 1.0,
            "top_p": 0.95,
            "reasoning": {"effort": "high"},
        }
    else:
        assert upstream["messages"][2]["functions_state_id"] == state
        assert upstream["messages"][3] == {
            "role": "function",
            "name": "list_directory",
            "content": json.dumps(result, ensure_ascii=False, separators=(",", ":")),
        }
        assert (len(upstream["functions"]), upstream["functions"][-1]) == (8, ACTIVATE_SKILL)
        assert (upstream["top_p"], upstream["reasoning_effort"]) == (0.95, "high")


# --- media ------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
# google-genai sends bytes as URL-safe base64.
PICTURE = {"inlineData": {"mimeType": "image/png", "data": base64.urlsafe_b64encode(PNG).decode()}}
LOOK = {"contents": [{"role": "user", "parts": [{"text": "Что это?"}, PICTURE]}]}


@pytest.mark.parametrize("path", [GENERATE, f"{STREAM}?alt=sse", STREAM])
async def test_inline_data_is_uploaded_and_sent_by_its_id(
    upstream: respx.MockRouter, respx_app: App, path: str
) -> None:
    files = upstream.post(FILES).respond(json=uploaded("file-png"))
    reply = answer("chat_text_v1.json") if path == GENERATE else streamed("chat_text_v1.sse")
    chat = chat_route(upstream, "v1", reply)
    async with respx_app() as c:
        r = await c.post(path, json=LOOK)
    assert r.status_code == 200, r.text
    assert form_fields(files.calls[0].request)["file"][1:] == ("image/png", PNG)
    assert sent_json(chat)["messages"] == [
        {"role": "user", "content": "Что это?", "attachments": ["file-png"]}
    ]


async def test_media_a_function_returned_is_uploaded_and_follows_the_result(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(FILES).respond(json=uploaded("file-png"))
    chat = chat_route(upstream, "v2", answer("chat_text_v2.json"))
    body = {
        "contents": [
            USER,
            {"role": "model", "parts": [{"functionCall": {"name": "read_file", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {
                "name": "read_file", "response": {"output": "image read"}, "parts": [PICTURE],
            }}]},
        ]
    }  # fmt: skip
    async with respx_app() as c:
        r = await c.post(f"/v2{GENERATE}", json=body)
    assert r.status_code == 200, r.text
    assert sent_json(chat)["messages"][2:] == [
        {"role": "tool", "content": [
            {"function_result": {"name": "read_file", "result": {"output": "image read"}}},
        ]},
        {"role": "user", "content": [{"text": ""}, {"files": [{"id": "file-png"}]}]},
    ]  # fmt: skip


async def test_an_upload_failure_is_a_google_error(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(FILES).respond(413, json={"status": 413, "message": "file too big"})
    chat = chat_route(upstream, "v1", answer("chat_text_v1.json"))
    async with respx_app() as c:
        r = await c.post(GENERATE, json=LOOK)
    assert error_of(r, 400, "INVALID_ARGUMENT") == (
        "contents[0].parts[1]: uploading the file to GigaChat failed: "
        "GigaChat answered 413: file too big"
    )
    assert not chat.called


async def test_count_tokens_never_uploads(upstream: respx.MockRouter, respx_app: App) -> None:
    files = upstream.post(FILES)
    count = upstream.post(BASE + "/tokens/count").mock(return_value=answer("tokens_count.json"))
    async with respx_app() as c:
        r = await c.post(f"/v1beta/models/{MODEL}:countTokens", json=LOOK)
    assert r.status_code == 200
    assert sent_json(count)["input"] == ["Что это?"]
    assert not files.called
