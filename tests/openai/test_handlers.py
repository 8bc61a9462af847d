"""The OpenAI routes through the whole app (httpx.ASGITransport), respx standing in for GigaChat.

Every chat test asserts the exact JSON GigaChat receives; answers come from the
recorded bodies in `tests/fixtures/gigachat/`.
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import respx
from openai.types import CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gpt2giga.gigachat.fake.server import FakeGigaChat
from tests.conftest import (
    AUTH,
    BASE,
    FILES,
    V1_CHAT,
    V2_CHAT,
    form_fields,
    sent_json,
    sse_events,
    uploaded,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gigachat"
STATE = "3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15"
MODELS = BASE + "/models"
EMBEDDINGS = BASE + "/embeddings"
SSE = {"content-type": "text/event-stream"}
USER = {"role": "user", "content": "Привет"}
CHAT = {"model": "GigaChat-2-Max", "messages": [USER]}

App = Callable[..., httpx.AsyncClient]


def recorded(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def answer(fixture: str) -> httpx.Response:
    return httpx.Response(
        200, content=recorded(fixture), headers={"content-type": "application/json"}
    )


def streamed(fixture: str) -> httpx.Response:
    return httpx.Response(200, content=recorded(fixture), headers=SSE)


def chat_route(upstream: respx.MockRouter, contract: str, response: httpx.Response) -> respx.Route:
    return upstream.post(V1_CHAT if contract == "v1" else V2_CHAT).mock(return_value=response)


def stream_events(r: httpx.Response) -> list[Any]:
    return [
        data.decode() if data == b"[DONE]" else msgspec.json.decode(data)
        for _, data in sse_events(r.content)
    ]


def without_identity(body: dict[str, Any]) -> dict[str, Any]:
    """A completion minus its fresh id and timestamp, after checking their form."""
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{24}", body["id"])
    assert isinstance(body["created"], int)
    return {k: v for k, v in body.items() if k not in ("id", "created")}


def error_of(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


# --- chat: the contract a route picks, and the exact upstream payload ------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
RICH_CHAT = {
    "model": "GigaChat-2-Max",
    "messages": [{"role": "system", "content": "Be brief."}, USER],
    "tools": [WEATHER],
    "tool_choice": "auto",
    "temperature": 0.3,
    "max_tokens": 64,
}
V1_BODY = {
    "model": "GigaChat-2-Max",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Привет"},
    ],
    "temperature": 0.3,
    "max_tokens": 64,
    "function_call": "auto",
    "functions": [
        {
            "name": "get_weather",
            "description": "Current weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ],
}
V2_BODY = {
    "model": "GigaChat-2-Max",
    "messages": [
        {"role": "system", "content": [{"text": "Be brief."}]},
        {"role": "user", "content": [{"text": "Привет"}]},
    ],
    "model_options": {"temperature": 0.3, "max_tokens": 64},
    "tool_config": {"mode": "auto"},
    "tools": [
        {
            "functions": {
                "specifications": [
                    {
                        "name": "get_weather",
                        "description": "Current weather",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                            "required": ["city"],
                        },
                    }
                ]
            }
        }
    ],
}
TEXT_COMPLETION = {
    "object": "chat.completion",
    "model": "GigaChat-2-Max:2.0.28.2",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Привет! Как дела?", "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 5,
        "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}


@pytest.mark.parametrize(
    ("path", "env", "contract"),
    [
        ("/chat/completions", {}, "v1"),
        ("/chat/completions", {"GPT2GIGA_GIGACHAT_API_MODE": "v2"}, "v2"),
        ("/v1/chat/completions", {}, "v1"),
        ("/v1/chat/completions", {"GPT2GIGA_GIGACHAT_API_MODE": "v2"}, "v1"),
        ("/v2/chat/completions", {}, "v2"),
        ("/v2/v1/chat/completions", {}, "v2"),
    ],
)
async def test_chat_goes_to_the_contract_its_route_names(
    upstream: respx.MockRouter, respx_app: App, path: str, env: dict[str, str], contract: str
) -> None:
    route = chat_route(upstream, contract, answer(f"chat_text_{contract}.json"))
    other = upstream.post(V2_CHAT if contract == "v1" else V1_CHAT)
    async with respx_app(**env) as c:
        r = await c.post(path, json=RICH_CHAT)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert sent_json(route) == (V1_BODY if contract == "v1" else V2_BODY)
    assert route.calls.last.request.headers["authorization"] == "Bearer tok-1"
    assert not other.called
    assert without_identity(r.json()) == TEXT_COMPLETION
    ChatCompletion.model_validate(r.json())


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_parallel_tool_calls_answer_round_trips_with_state(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    fixture = "chat_function_calls_v2.json" if contract == "v2" else "chat_function_call_v1.json"
    route = chat_route(upstream, contract, answer(fixture))
    async with respx_app() as c:
        first = await c.post(f"/{contract}/chat/completions", json={**CHAT, "tools": [WEATHER]})
        message = first.json()["choices"][0]["message"]
        assert first.json()["choices"][0]["finish_reason"] == "tool_calls"
        results = [
            {"role": "tool", "tool_call_id": tc["id"], "content": f"result {n}"}
            for n, tc in enumerate(message["tool_calls"])
        ]
        await c.post(
            f"/{contract}/chat/completions",
            json={**CHAT, "tools": [WEATHER], "messages": [USER, message, *results]},
        )
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
            {"role": "function", "name": "get_weather", "content": '{"result":"result 0"}'},
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
                "content": [
                    {"function_result": {"name": "get_weather", "result": {"result": "result 0"}}}
                ],
                "tools_state_id": STATE,
            },
            {
                "role": "tool",
                "content": [
                    {"function_result": {"name": "get_time", "result": {"result": "result 1"}}}
                ],
                "tools_state_id": STATE,
            },
        ]


# --- chat: streams -------------------------------------------------------------------------


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_stream_relays_the_text_and_ends_with_done(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    route = chat_route(upstream, contract, streamed(f"chat_text_{contract}.sse"))
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    async with respx_app() as c:
        r = await c.post(f"/{contract}/chat/completions", json=body)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream"
    assert "x-gpt2giga-ignored" not in r.headers
    sent = sent_json(route)
    assert sent["stream"] is True
    assert route.calls.last.request.headers["accept"] == "text/event-stream"
    events = stream_events(r)
    assert events[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate(e) for e in events[:-1]]
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Привет! Как дела?"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 17


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_streamed_tool_call_round_trip(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    route = chat_route(upstream, contract, streamed(f"chat_function_call_{contract}.sse"))
    async with respx_app() as c:
        r = await c.post(
            f"/{contract}/chat/completions", json={**CHAT, "tools": [WEATHER], "stream": True}
        )
        deltas = [
            tc
            for e in stream_events(r)[:-1]
            for tc in e["choices"][0]["delta"].get("tool_calls", [])
        ]
        assert deltas == [
            {
                "index": 0,
                "id": f"call_{STATE}",
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "arguments": '{"city":"Москва","unit":"celsius"}',
                },
            }
        ]
        route.mock(return_value=answer(f"chat_text_{contract}.json"))
        call = {k: deltas[0][k] for k in ("id", "type", "function")}
        history = [
            USER,
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "+20"},
        ]
        r = await c.post(
            f"/{contract}/chat/completions", json={**CHAT, "tools": [WEATHER], "messages": history}
        )
    assert r.json()["choices"][0]["message"]["content"] == "Привет! Как дела?"
    sent = sent_json(route)
    assert "stream" not in sent
    if contract == "v1":
        assert sent["messages"][1:] == [
            {
                "role": "assistant",
                "content": "",
                "function_call": {
                    "name": "get_weather",
                    "arguments": {"city": "Москва", "unit": "celsius"},
                },
                "functions_state_id": STATE,
            },
            {"role": "function", "name": "get_weather", "content": '{"result":"+20"}'},
        ]
    else:
        assert sent["messages"][1:] == [
            {
                "role": "assistant",
                "content": [
                    {
                        "function_call": {
                            "name": "get_weather",
                            "arguments": {"city": "Москва", "unit": "celsius"},
                        }
                    }
                ],
                "tools_state_id": STATE,
            },
            {
                "role": "tool",
                "content": [
                    {"function_result": {"name": "get_weather", "result": {"result": "+20"}}}
                ],
                "tools_state_id": STATE,
            },
        ]


class BreaksAfterFirstChunk(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield recorded("chat_text_v1.sse").split(b"\n\n")[0] + b"\n\n"
        raise httpx.ReadError("connection reset by giga.test")


async def test_upstream_breaking_mid_stream_is_an_error_event_without_done(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(V1_CHAT).mock(
        return_value=httpx.Response(200, headers=SSE, stream=BreaksAfterFirstChunk())
    )
    async with respx_app() as c:
        r = await c.post("/chat/completions", json={**CHAT, "stream": True})
    assert r.status_code == 200
    events = stream_events(r)
    assert [e["choices"][0]["delta"] for e in events[:-1]] == [
        {"role": "assistant", "content": ""},
        {"content": "Привет"},
    ]
    assert events[-1] == {
        "error": {
            "message": "GigaChat stream broke: ReadError",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
    assert "giga.test" not in r.text


async def test_stream_request_failing_before_the_first_byte_is_a_plain_error(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(V2_CHAT).respond(429, json={"status": 429, "message": "Too many requests"})
    async with respx_app() as c:
        r = await c.post("/v2/chat/completions", json={**CHAT, "stream": True})
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/json"
    assert error_of(r)["type"] == "rate_limit_error"


# --- chat: upstream failures in OpenAI's shape ----------------------------------------------

LEAKY = "upstream https://giga.test/api/v1/chat/completions refused Bearer tok-1"


@pytest.mark.parametrize(
    ("status", "headers", "expected", "kind", "code"),
    [
        (400, {}, 400, "invalid_request_error", None),
        (401, {}, 401, "invalid_request_error", "invalid_api_key"),
        (404, {}, 404, "invalid_request_error", "not_found"),
        (413, {}, 413, "invalid_request_error", "request_too_large"),
        (422, {}, 400, "invalid_request_error", None),
        (429, {"Retry-After": "7"}, 429, "rate_limit_error", "rate_limit_exceeded"),
        (500, {}, 502, "server_error", None),
        (502, {}, 502, "server_error", None),
        (503, {}, 503, "server_error", "overloaded"),
    ],
)
async def test_upstream_error_status_keeps_its_meaning_in_openai_shape(
    upstream: respx.MockRouter,
    respx_app: App,
    status: int,
    headers: dict[str, str],
    expected: int,
    kind: str,
    code: str | None,
) -> None:
    upstream.post(V1_CHAT).respond(
        status, json={"status": status, "message": LEAKY}, headers=headers
    )
    async with respx_app() as c:
        r = await c.post("/chat/completions", json=CHAT)
    assert r.status_code == expected
    error = error_of(r)
    assert (error["type"], error["code"]) == (kind, code)
    assert error["message"].startswith(f"GigaChat answered {status}")
    for secret in ("giga.test", "tok-1", "auth.test"):
        assert secret not in r.text
    assert r.headers.get("retry-after") == headers.get("Retry-After")


@pytest.mark.parametrize(
    ("exc", "status", "kind"),
    [
        (httpx.ReadTimeout("read timed out from giga.test"), 504, "timeout"),
        (httpx.ConnectTimeout("connect timed out"), 504, "timeout"),
        (httpx.ConnectError("no route to giga.test"), 502, "server_error"),
    ],
)
async def test_upstream_transport_failure_is_a_gateway_error(
    upstream: respx.MockRouter, respx_app: App, exc: Exception, status: int, kind: str
) -> None:
    upstream.post(V1_CHAT).mock(side_effect=exc)
    async with respx_app() as c:
        r = await c.post("/chat/completions", json=CHAT)
    assert r.status_code == status
    assert error_of(r)["type"] == kind
    assert "giga.test" not in r.text


# --- chat: GigaChat's own fields, SDK-merged or in a literal extra_body ----------------

GIGA_FIELDS = {
    # What `extra_body={...}` in the openai SDK puts at the top level.
    "repetition_penalty": 1.1,
    "profanity_check": False,
    "unheard_of": 1,
    "extra_body": {
        "flags": ["f1"],
        "update_interval": 0.5,
        "brand_new_knob": {"level": 2},
        "model": "GigaChat-Pro",
        "temperature": 1.5,
    },
}
V1_GIGA = {
    "brand_new_knob": {"level": 2},
    "model": "GigaChat-2-Max",
    "messages": [{"role": "user", "content": "Привет"}],
    "temperature": 0.2,
    "repetition_penalty": 1.1,
    "update_interval": 0.5,
    "profanity_check": False,
    "flags": ["f1"],
}
V2_GIGA = {
    "brand_new_knob": {"level": 2},
    "model": "GigaChat-2-Max",
    "messages": [{"role": "user", "content": [{"text": "Привет"}]}],
    "model_options": {"temperature": 0.2, "repetition_penalty": 1.1, "update_interval": 0.5},
    "disable_filter": True,
    "flags": ["f1"],
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_gigachat_fields_reach_gigachat_in_the_contracts_places(
    upstream: respx.MockRouter, respx_app: App, contract: str, stream: bool
) -> None:
    fixture = f"chat_text_{contract}." + ("sse" if stream else "json")
    route = chat_route(upstream, contract, streamed(fixture) if stream else answer(fixture))
    body = {**CHAT, "temperature": 0.2, "stream": stream, **GIGA_FIELDS}
    async with respx_app() as c:
        r = await c.post(f"/{contract}/chat/completions", json=body)
    assert r.status_code == 200, r.text
    expected = V1_GIGA if contract == "v1" else V2_GIGA
    assert sent_json(route) == {**expected, **({"stream": True} if stream else {})}
    # The client's own model and temperature stand; the unknown top-level field is not sent.
    assert r.headers["x-gpt2giga-ignored"] == (
        "unheard_of, extra_body.model, extra_body.temperature"
    )


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("repetition_penalty", "strong", "repetition_penalty"),
        ("extra_body", {"flags": "f1"}, "extra_body.flags"),
        ("extra_body", [1], "extra_body"),
    ],
)
async def test_a_mistyped_gigachat_field_is_a_400_in_openai_shape(
    upstream: respx.MockRouter, respx_app: App, field: str, value: Any, param: str
) -> None:
    routes = [upstream.post(V1_CHAT), upstream.post(V2_CHAT)]
    async with respx_app() as c:
        r = await c.post("/chat/completions", json={**CHAT, field: value})
    assert r.status_code == 400
    error = error_of(r)
    assert error["param"] == param
    assert f"`$.{param}`" in error["message"]
    assert not any(route.called for route in routes)


async def test_unknown_nested_fields_are_named(upstream: respx.MockRouter, respx_app: App) -> None:
    route = chat_route(upstream, "v1", answer("chat_text_v1.json"))
    body = {
        **CHAT,
        "messages": [{**USER, "cache_control": {"type": "ephemeral"}}],
        "stream_options": {"include_usage": True, "chunk_size": 3},
    }
    async with respx_app() as c:
        r = await c.post("/chat/completions", json=body)
    assert r.status_code == 200
    assert r.headers["x-gpt2giga-ignored"] == (
        "messages[].cache_control, stream_options.chunk_size"
    )
    assert sent_json(route) == {
        "model": "GigaChat-2-Max",
        "messages": [{"role": "user", "content": "Привет"}],
    }


# --- chat: the ignored-fields header, settings that shape the payload -------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_ignored_fields_are_named_in_a_header(
    upstream: respx.MockRouter, respx_app: App, stream: bool
) -> None:
    route = chat_route(
        upstream, "v1", streamed("chat_text_v1.sse") if stream else answer("chat_text_v1.json")
    )
    body = {**CHAT, "stream": stream, "n": 1, "seed": 42, "user": "u-1", "logprobs": False}
    async with respx_app() as c:
        r = await c.post("/chat/completions", json=body)
    assert r.status_code == 200
    assert r.headers["x-gpt2giga-ignored"] == "n, logprobs, seed, user"
    assert set(sent_json(route)) == {"model", "messages"} | ({"stream"} if stream else set())


@pytest.mark.parametrize(
    ("env", "body", "v1_fields", "v2_options"),
    [
        ({"GPT2GIGA_DEFAULT_MAX_TOKENS": "512"}, {}, {"max_tokens": 512}, {"max_tokens": 512}),
        (
            {"GPT2GIGA_DEFAULT_MAX_TOKENS": "512"},
            {"max_completion_tokens": 20},
            {"max_tokens": 20},
            {"max_tokens": 20},
        ),
        (
            {"GPT2GIGA_ENABLE_REASONING": "true"},
            {},
            {"reasoning_effort": "high"},
            {"reasoning": {"effort": "high"}},
        ),
        (
            {"GPT2GIGA_ENABLE_REASONING": "true"},
            {"reasoning_effort": "low"},
            {"reasoning_effort": "low"},
            {"reasoning": {"effort": "low"}},
        ),
        ({"GPT2GIGA_DISABLE_REASONING": "true"}, {"reasoning_effort": "high"}, {}, None),
        (
            {},
            {"reasoning_effort": "medium"},
            {"reasoning_effort": "medium"},
            {"reasoning": {"effort": "medium"}},
        ),
    ],
)
async def test_settings_shape_the_upstream_payload(
    upstream: respx.MockRouter,
    respx_app: App,
    env: dict[str, str],
    body: dict[str, Any],
    v1_fields: dict[str, Any],
    v2_options: dict[str, Any] | None,
) -> None:
    v1 = chat_route(upstream, "v1", answer("chat_text_v1.json"))
    v2 = chat_route(upstream, "v2", answer("chat_text_v2.json"))
    async with respx_app(**env) as c:
        await c.post("/v1/chat/completions", json={**CHAT, **body})
        await c.post("/v2/chat/completions", json={**CHAT, **body})
    assert sent_json(v1) == {
        "model": "GigaChat-2-Max",
        "messages": [{"role": "user", "content": "Привет"}],
        **v1_fields,
    }
    assert sent_json(v2).get("model_options") == v2_options


async def test_reasoning_answer_carries_reasoning_content(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    chat_route(upstream, "v2", answer("chat_reasoning_v2.json"))
    async with respx_app() as c:
        r = await c.post("/v2/chat/completions", json={**CHAT, "reasoning_effort": "high"})
    message = r.json()["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("4", "2+2 is 4.")


async def test_model_alias_resolves_for_chat(upstream: respx.MockRouter, respx_app: App) -> None:
    route = chat_route(upstream, "v1", answer("chat_text_v1.json"))
    async with respx_app(GPT2GIGA_MODEL_ALIASES='{"gpt-4o*": "GigaChat-2-Max"}') as c:
        await c.post("/chat/completions", json={**CHAT, "model": "gpt-4o-mini"})
    assert sent_json(route)["model"] == "GigaChat-2-Max"


async def test_model_setting_wins_when_pass_model_is_off(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    route = chat_route(upstream, "v1", answer("chat_text_v1.json"))
    async with respx_app(GPT2GIGA_PASS_MODEL="false", GIGACHAT_MODEL="GigaChat-2-Pro") as c:
        await c.post("/chat/completions", json={**CHAT, "model": "gpt-4o"})
    assert sent_json(route)["model"] == "GigaChat-2-Pro"


async def test_answer_without_a_model_names_the_requested_one(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    nameless = msgspec.json.decode(recorded("chat_text_v2.json"))
    del nameless["model"]
    upstream.post(V2_CHAT).respond(json=nameless)
    async with respx_app() as c:
        r = await c.post("/v2/chat/completions", json=CHAT)
    assert r.json()["model"] == "GigaChat-2-Max"


CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city"],
}


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_structured_output_is_emulated_with_a_forced_function(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    route = chat_route(upstream, contract, answer(f"chat_structured_{contract}.json"))
    fmt = {"type": "json_schema", "json_schema": {"name": "city_info", "schema": CITY_SCHEMA}}
    async with respx_app() as c:
        r = await c.post(f"/{contract}/chat/completions", json={**CHAT, "response_format": fmt})
    spec = {
        "name": "city_info",
        "description": "Give the final answer as data matching this schema.",
        "parameters": CITY_SCHEMA,
    }
    sent = sent_json(route)
    if contract == "v1":
        assert (sent["functions"], sent["function_call"]) == ([spec], {"name": "city_info"})
    else:
        assert sent["tools"] == [{"functions": {"specifications": [spec]}}]
        assert sent["tool_config"] == {"mode": "forced", "function_name": "city_info"}
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]
    assert msgspec.json.decode(choice["message"]["content"]) == {
        "city": "Москва",
        "population": 13010112,
    }


async def test_structured_output_natively_is_a_response_format(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    route = chat_route(upstream, "v2", answer("chat_text_v2.json"))
    fmt = {"type": "json_schema", "json_schema": {"name": "city_info", "schema": CITY_SCHEMA}}
    async with respx_app(GPT2GIGA_STRUCTURED_OUTPUT_MODE="native") as c:
        await c.post("/v2/chat/completions", json={**CHAT, "response_format": fmt})
    assert sent_json(route)["model_options"] == {
        "response_format": {"type": "json_schema", "schema": CITY_SCHEMA}
    }
    assert "tools" not in sent_json(route)


AGENT_TURN = {
    "model": "GigaChat-2-Max",
    "temperature": 0,
    "max_completion_tokens": 50,
    "reasoning_effort": "high",
    "stop": ["<|end|>"],
    "tools": [
        WEATHER,
        {
            "type": "function",
            "function": {
                "name": "web_search",
                "parameters": {
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object",
                    "properties": {
                        "q": {"type": "string"},
                        "limit": {"type": "integer", "enum": [5, 10]},
                        "site": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    },
                    "required": ["q"],
                    "additionalProperties": False,
                },
            },
        },
    ],
    "messages": [
        {"role": "system", "content": "You are an agent."},
        USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": f"call_{STATE}",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Москва"}'},
                },
                {
                    "id": f"call_{STATE}__1",
                    "type": "function",
                    "function": {"name": "web_search", "arguments": '{"q":"погода"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": f"call_{STATE}", "content": "+20"},
        {
            "role": "tool",
            "tool_call_id": f"call_{STATE}__1",
            "content": [{"type": "text", "text": "ok"}],
        },
        {"role": "developer", "content": "Use tools when needed."},
        {"role": "user", "content": "А завтра?"},
    ],
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_agent_turn_is_accepted_by_the_gigachat_sdk_models(
    gateway: App, fake: FakeGigaChat, contract: str, stream: bool
) -> None:
    """The fake GigaChat validates every request with the gigachat SDK's own models."""
    async with gateway() as c:
        r = await c.post(f"/{contract}/chat/completions", json={**AGENT_TURN, "stream": stream})
    assert r.status_code == 200, r.text
    assert [used for used, _ in fake.requests] == [contract]
    if stream:
        names = [
            tc["function"]["name"]
            for e in stream_events(r)[:-1]
            for tc in e["choices"][0]["delta"].get("tool_calls", [])
        ]
    else:
        names = [tc["function"]["name"] for tc in r.json()["choices"][0]["message"]["tool_calls"]]
    assert names == ["get_weather"]


# --- proxy API key --------------------------------------------------------------------------

KEY_ENV = {"GPT2GIGA_ENABLE_API_KEY_AUTH": "true", "GPT2GIGA_API_KEY": "sk-gateway-secret"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": "Bearer sk-gateway-secret"}, 200),
        ({"x-api-key": "sk-gateway-secret"}, 200),
        ({"Authorization": "Bearer sk-wrong"}, 401),
        ({"x-api-key": "sk-gateway-secret-and-more"}, 401),
        ({"Authorization": "sk-gateway-secret"}, 200),
        ({}, 401),
    ],
)
async def test_proxy_api_key_guards_the_openai_routes(
    upstream: respx.MockRouter, respx_app: App, headers: dict[str, str], status: int
) -> None:
    route = chat_route(upstream, "v1", answer("chat_text_v1.json"))
    async with respx_app(**KEY_ENV) as c:
        r = await c.post("/chat/completions", json=CHAT, headers=headers)
    assert r.status_code == status
    if status == 401:
        assert error_of(r) == {
            "message": "Invalid or missing API key",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
        assert not route.called


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/health"), ("GET", "/ping"), ("POST", "/ping")]
)
async def test_health_and_ping_need_no_key(respx_app: App, method: str, path: str) -> None:
    async with respx_app(**KEY_ENV) as c:
        r = await c.request(method, path)
    assert r.status_code == 200


# --- models ------------------------------------------------------------------------------------

GIGA_MODELS = {
    "object": "list",
    "data": [
        {"id": "GigaChat-2", "object": "model", "owned_by": "salutedevices", "type": "chat"},
        {"id": "GigaChat-2-Max", "object": "model", "owned_by": "salutedevices", "type": "chat"},
        {
            "id": "EmbeddingsGigaR",
            "object": "model",
            "owned_by": "salutedevices",
            "type": "embedder",
        },
    ],
}


async def test_models_need_the_key_too(upstream: respx.MockRouter, respx_app: App) -> None:
    route = upstream.get(MODELS).respond(json=GIGA_MODELS)
    async with respx_app(**KEY_ENV) as c:
        r = await c.get("/v1/models")
    assert r.status_code == 401
    assert not route.called


def oai_model(model_id: str, kind: str) -> dict[str, Any]:
    return {
        "object": "model",
        "id": model_id,
        "created": 0,
        "owned_by": "salutedevices",
        "metadata": {"type": kind},
    }


@pytest.mark.parametrize("path", ["/models", "/v1/models", "/v2/models"])
async def test_models_list(upstream: respx.MockRouter, respx_app: App, path: str) -> None:
    upstream.get(MODELS).respond(json=GIGA_MODELS)
    async with respx_app() as c:
        r = await c.get(path)
    assert r.json() == {
        "object": "list",
        "data": [
            oai_model("GigaChat-2", "chat"),
            oai_model("GigaChat-2-Max", "chat"),
            oai_model("EmbeddingsGigaR", "embedder"),
        ],
    }
    for item in r.json()["data"]:
        Model.model_validate(item)


@pytest.mark.parametrize(
    ("path", "env", "expected"),
    [
        ("/models/GigaChat-2-Max", {}, oai_model("GigaChat-2-Max", "chat")),
        ("/v1/models/EmbeddingsGigaR", {}, oai_model("EmbeddingsGigaR", "embedder")),
        (
            "/v1/models/gpt-4o",
            {"GPT2GIGA_MODEL_ALIASES": '{"gpt-4o": "GigaChat-2-Max"}'},
            oai_model("gpt-4o", "chat"),
        ),
    ],
)
async def test_model_get(
    upstream: respx.MockRouter, respx_app: App, path: str, env: dict[str, str], expected: Any
) -> None:
    upstream.get(MODELS).respond(json=GIGA_MODELS)
    async with respx_app(**env) as c:
        r = await c.get(path)
    assert r.status_code == 200
    assert r.json() == expected


async def test_unknown_model_is_an_openai_404(upstream: respx.MockRouter, respx_app: App) -> None:
    upstream.get(MODELS).respond(json=GIGA_MODELS)
    async with respx_app() as c:
        r = await c.get("/v1/models/gpt-5")
    assert r.status_code == 404
    assert error_of(r) == {
        "message": "The model `gpt-5` does not exist",
        "type": "invalid_request_error",
        "param": "model",
        "code": "not_found",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "",
            [("GigaChat-2", "chat"), ("GigaChat-2-Max", "chat"), ("EmbeddingsGigaR", "embedding")],
        ),
        ("?model=EmbeddingsGigaR", [("EmbeddingsGigaR", "embedding")]),
    ],
)
async def test_model_info_is_litellm_shaped(
    upstream: respx.MockRouter, respx_app: App, query: str, expected: list[tuple[str, str]]
) -> None:
    upstream.get(MODELS).respond(json=GIGA_MODELS)
    async with respx_app() as c:
        r = await c.get("/model/info" + query)
    assert r.json() == {
        "data": [
            {"model_name": m, "litellm_params": {"model": m}, "model_info": {"id": m, "mode": mode}}
            for m, mode in expected
        ]
    }


async def test_model_info_for_unknown_model_is_404(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.get(MODELS).respond(json=GIGA_MODELS)
    async with respx_app() as c:
        r = await c.get("/model/info?model=nope")
    assert r.status_code == 404
    assert r.json()["error"] == {
        "message": "The model `nope` does not exist",
        "type": "invalid_request_error",
        "param": "model",
        "code": "not_found",
    }


# --- embeddings ---------------------------------------------------------------------------------

VECTORS = [[0.125, -0.5, 0.1], [1.0, 0.0, -0.2]]


def giga_embeddings(texts: int) -> dict[str, Any]:
    return {
        "object": "list",
        "model": "EmbeddingsGigaR",
        "data": [
            {
                "object": "embedding",
                "embedding": VECTORS[i],
                "index": i,
                "usage": {"prompt_tokens": 3 + i},
            }
            for i in range(texts)
        ],
    }


def float32(values: list[float]) -> list[float]:
    return list(struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values)))


@pytest.mark.parametrize(
    ("given", "texts"),
    [("one", ["one"]), (["one", "two"], ["one", "two"])],
)
@pytest.mark.parametrize("encoding", ["float", "base64", None])
async def test_embeddings(
    upstream: respx.MockRouter,
    respx_app: App,
    given: Any,
    texts: list[str],
    encoding: str | None,
) -> None:
    route = upstream.post(EMBEDDINGS).respond(json=giga_embeddings(len(texts)))
    body = {"model": "EmbeddingsGigaR", "input": given, "encoding_format": encoding}
    async with respx_app() as c:
        r = await c.post("/v1/embeddings", json=body)
    assert sent_json(route) == {"model": "EmbeddingsGigaR", "input": texts}
    out = r.json()
    tokens = sum(3 + i for i in range(len(texts)))
    assert out["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}
    assert out["model"] == "EmbeddingsGigaR"
    assert [(d["object"], d["index"]) for d in out["data"]] == [
        ("embedding", i) for i in range(len(texts))
    ]
    for i, item in enumerate(out["data"]):
        if encoding != "base64":
            assert item["embedding"] == VECTORS[i]
        else:
            raw = base64.b64decode(item["embedding"])
            assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == float32(VECTORS[i])
            item["embedding"] = float32(VECTORS[i])  # what the openai SDK decodes it to
    CreateEmbeddingResponse.model_validate(out)


async def test_base64_embeddings_past_the_float32_range_are_infinite_not_a_500(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    # Found by the conformance property tests: GigaChat's values are doubles, and
    # struct.pack refused one past float32's range (OverflowError, a 500).
    answer = giga_embeddings(1)
    answer["data"][0]["embedding"] = [1e39, -1e39, 0.5]
    upstream.post(EMBEDDINGS).respond(json=answer)
    body = {"model": "EmbeddingsGigaR", "input": "one", "encoding_format": "base64"}
    async with respx_app() as c:
        r = await c.post("/v1/embeddings", json=body)
    raw = base64.b64decode(r.json()["data"][0]["embedding"])
    assert struct.unpack("<3f", raw) == (math.inf, -math.inf, 0.5)


@pytest.mark.parametrize(
    ("env", "body", "model"),
    [
        ({}, {"model": "Embeddings"}, "Embeddings"),
        ({}, {}, "EmbeddingsGigaR"),
        ({"GPT2GIGA_EMBEDDINGS": "Embeddings"}, {}, "Embeddings"),
        (
            {"GPT2GIGA_PASS_MODEL": "false", "GPT2GIGA_EMBEDDINGS": "Embeddings"},
            {"model": "text-embedding-3-small"},
            "Embeddings",
        ),
    ],
)
async def test_embeddings_model_comes_from_the_request_or_the_setting(
    upstream: respx.MockRouter,
    respx_app: App,
    env: dict[str, str],
    body: dict[str, Any],
    model: str,
) -> None:
    route = upstream.post(EMBEDDINGS).respond(json={**giga_embeddings(1), "model": None})
    async with respx_app(**env) as c:
        r = await c.post("/embeddings", json={"input": "one", **body})
    assert sent_json(route)["model"] == model
    assert r.json()["model"] == model


async def test_embeddings_ignored_fields_header(upstream: respx.MockRouter, respx_app: App) -> None:
    upstream.post(EMBEDDINGS).respond(json=giga_embeddings(1))
    async with respx_app() as c:
        body = {"input": "one", "dimensions": 256, "user": "u", "truncate": "END"}
        r = await c.post("/embeddings", json=body)
    assert r.headers["x-gpt2giga-ignored"] == "dimensions, user, truncate"


async def test_upstream_auth_failure_is_not_leaked(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(AUTH).respond(
        401, json={"status": 401, "message": "Can't decode 'Authorization' header"}
    )
    route = upstream.post(V1_CHAT)
    async with respx_app() as c:
        r = await c.post("/chat/completions", json=CHAT)
    assert r.status_code == 401
    assert error_of(r)["message"].startswith("GigaChat authorization answered 401")
    assert "auth.test" not in r.text
    assert not route.called


# --- images and files ------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 28
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
LOOK = {
    "role": "user",
    "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": PNG_URL}},
    ],
}


@pytest.mark.parametrize(
    ("prefix", "fixture", "expected"),
    [
        (
            "/v1",
            "chat_text_v1.json",
            {"role": "user", "content": "What is this?", "attachments": ["file-png"]},
        ),
        (
            "/v2",
            "chat_text_v2.json",
            {
                "role": "user",
                "content": [{"text": "What is this?"}, {"files": [{"id": "file-png"}]}],
            },
        ),
    ],
)
async def test_an_image_is_uploaded_then_sent_by_its_id(
    upstream: respx.MockRouter,
    respx_app: App,
    prefix: str,
    fixture: str,
    expected: dict[str, Any],
) -> None:
    files = upstream.post(FILES).respond(json=uploaded("file-png"))
    chat = chat_route(upstream, prefix[1:], answer(fixture))
    async with respx_app() as c:
        r = await c.post(f"{prefix}/chat/completions", json={**CHAT, "messages": [LOOK]})
    assert r.status_code == 200, r.text
    assert sent_json(chat)["messages"] == [expected]
    [(name, mime, data)] = [form_fields(call.request)["file"] for call in files.calls]
    assert (mime, data) == ("image/png", PNG)
    assert name is not None and name.endswith(".png")


async def test_a_screenshot_resent_every_turn_is_uploaded_once(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    files = upstream.post(FILES).respond(json=uploaded("file-png"))
    chat = chat_route(upstream, "v1", answer("chat_text_v1.json"))
    history: list[dict[str, Any]] = [LOOK]
    async with respx_app() as c:
        for turn in range(3):
            r = await c.post("/v1/chat/completions", json={**CHAT, "messages": history})
            assert r.status_code == 200, r.text
            history += [{"role": "assistant", "content": f"answer {turn}"}, LOOK]
    assert files.call_count == 1
    assert [m.get("attachments") for m in sent_json(chat)["messages"]] == [
        ["file-png"], None, ["file-png"], None, ["file-png"],
    ]  # fmt: skip


async def test_the_images_of_one_request_upload_at_the_same_time(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    both_in_flight = asyncio.Event()
    arrived: list[bytes] = []

    async def upload(request: httpx.Request) -> httpx.Response:
        data = form_fields(request)["file"][2]
        arrived.append(data)
        if len(arrived) == 2:
            both_in_flight.set()
        await both_in_flight.wait()  # one upload at a time would wait here forever
        return httpx.Response(200, json=uploaded("file-png" if data == PNG else "file-jpeg"))

    upstream.post(FILES).mock(side_effect=upload)
    chat = chat_route(upstream, "v1", answer("chat_text_v1.json"))
    jpeg = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
    two = {**LOOK, "content": [*LOOK["content"], {"type": "image_url", "image_url": {"url": jpeg}}]}
    async with respx_app() as c, asyncio.timeout(5):
        r = await c.post("/v1/chat/completions", json={**CHAT, "messages": [two]})
    assert r.status_code == 200, r.text
    assert sorted(arrived) == sorted([PNG, JPEG])
    assert sent_json(chat)["messages"][0]["attachments"] == ["file-png", "file-jpeg"]


async def test_a_streamed_chat_with_an_image_sends_its_id(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(FILES).respond(json=uploaded("file-png"))
    chat = chat_route(upstream, "v2", streamed("chat_text_v2.sse"))
    async with respx_app() as c:
        body = {**CHAT, "messages": [LOOK], "stream": True}
        r = await c.post("/v2/chat/completions", json=body)
    assert r.status_code == 200
    assert stream_events(r)[-1] == "[DONE]"
    assert sent_json(chat)["messages"][0]["content"][1] == {"files": [{"id": "file-png"}]}


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [(500, 502, "server_error"), (413, 413, "invalid_request_error"), (401, 401, None)],
)
async def test_an_upload_failure_is_an_openai_error_and_the_chat_is_never_sent(
    upstream: respx.MockRouter, respx_app: App, status: int, code: int, kind: str | None
) -> None:
    upstream.post(FILES).respond(status, json={"status": status, "message": "no files today"})
    chat = upstream.post(V1_CHAT)
    async with respx_app() as c:
        r = await c.post("/v1/chat/completions", json={**CHAT, "messages": [LOOK]})
    assert r.status_code == code
    error = error_of(r)
    assert error["message"] == (
        f"messages[0].content[1]: uploading the file to GigaChat failed: "
        f"GigaChat answered {status}: no files today"
    )
    assert error["param"] == "messages[0].content[1]"
    assert error["type"] == (kind or "invalid_request_error")
    assert not chat.called


async def test_images_switched_off_are_a_clear_400(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    files, chat = upstream.post(FILES), upstream.post(V1_CHAT)
    async with respx_app(GPT2GIGA_ENABLE_IMAGES="false") as c:
        r = await c.post("/v1/chat/completions", json={**CHAT, "messages": [LOOK]})
    assert r.status_code == 400
    assert error_of(r) == {
        "message": "messages[0].content[1]: images are turned off on this gateway "
        "(GPT2GIGA_ENABLE_IMAGES)",
        "type": "invalid_request_error",
        "param": "messages[0].content[1]",
        "code": None,
    }
    assert not files.called and not chat.called


async def test_the_fake_gigachat_names_the_files_it_received(
    gateway: Callable[..., httpx.AsyncClient], fake: FakeGigaChat
) -> None:
    async with gateway() as c:
        r = await c.post("/v2/chat/completions", json={**CHAT, "messages": [LOOK]})
    assert r.status_code == 200, r.text
    [file_id] = fake.files
    assert fake.files[file_id].bytes == len(PNG)
    assert r.json()["choices"][0]["message"]["content"] == (
        f"Hello from the fake GigaChat! You said: What is this? [files: {file_id}]"
    )
