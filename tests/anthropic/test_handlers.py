"""The Anthropic routes through the whole app (httpx.ASGITransport), respx standing in for GigaChat.

Every messages test asserts the exact JSON GigaChat receives; answers come from
the recorded bodies in `tests/fixtures/gigachat/`, and the Claude-Code-shaped
request in `tests/fixtures/anthropic/` goes through the fake GigaChat, which
checks it with the gigachat SDK's own models.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import respx
from anthropic.types import Message, MessageTokensCount, ModelInfo

from gpt2giga.gigachat.fake.server import FakeGigaChat
from tests.anthropic.test_stream import assemble
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

FIXTURES = Path(__file__).parent.parent / "fixtures"
STATE = "3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15"
MODELS = BASE + "/models"
TOKENS = BASE + "/tokens/count"
SSE = {"content-type": "text/event-stream"}
ANTHROPIC = {"anthropic-version": "2023-06-01"}
USER = {"role": "user", "content": "Привет"}
MESSAGES = {"model": "GigaChat-2-Max", "max_tokens": 64, "messages": [USER]}
WEATHER = {
    "name": "get_weather",
    "description": "Current weather",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}

App = Callable[..., httpx.AsyncClient]


def recorded(name: str) -> bytes:
    return (FIXTURES / "gigachat" / name).read_bytes()


def claude_code_request() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        (FIXTURES / "anthropic" / "claude_code_request.json").read_text()
    )
    return body


def answer(fixture: str) -> httpx.Response:
    return httpx.Response(
        200, content=recorded(fixture), headers={"content-type": "application/json"}
    )


def streamed(fixture: str) -> httpx.Response:
    return httpx.Response(200, content=recorded(fixture), headers=SSE)


def chat_route(upstream: respx.MockRouter, contract: str, response: httpx.Response) -> respx.Route:
    return upstream.post(V1_CHAT if contract == "v1" else V2_CHAT).mock(return_value=response)


def events_of(r: httpx.Response) -> list[dict[str, Any]]:
    events = []
    for name, data in sse_events(r.content):
        event = msgspec.json.decode(data)
        assert name == event["type"]
        events.append(event)
    return events


def without_id(body: dict[str, Any]) -> dict[str, Any]:
    """A message minus its fresh id, after checking its form."""
    assert re.fullmatch(r"msg_[0-9a-f]{24}", body["id"])
    return {k: v for k, v in body.items() if k != "id"}


def error_of(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"type", "error"} and body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}
    error: dict[str, Any] = body["error"]
    return error


# --- messages: the contract a route picks, and the exact upstream payload ---------------

RICH = {
    **MESSAGES,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "tools": [WEATHER],
    "tool_choice": {"type": "auto"},
    "temperature": 0.3,
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
    "model": "GigaChat-2-Max",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Привет"},
    ],
    "temperature": 0.3,
    "max_tokens": 64,
    "function_call": "auto",
    "functions": [SPEC],
}
V2_BODY = {
    "model": "GigaChat-2-Max",
    "messages": [
        {"role": "system", "content": [{"text": "Be brief."}]},
        {"role": "user", "content": [{"text": "Привет"}]},
    ],
    "model_options": {"temperature": 0.3, "max_tokens": 64},
    "tools": [{"functions": {"specifications": [SPEC]}}],
    "tool_config": {"mode": "auto"},
}
TEXT_MESSAGE = {
    "type": "message",
    "role": "assistant",
    "model": "GigaChat-2-Max:2.0.28.2",
    "content": [{"type": "text", "text": "Привет! Как дела?"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 8,
        "output_tokens": 5,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 4,
    },
}


@pytest.mark.parametrize(
    ("path", "env", "contract"),
    [
        ("/messages", {}, "v1"),
        ("/messages", {"GPT2GIGA_GIGACHAT_API_MODE": "v2"}, "v2"),
        ("/v1/messages", {}, "v1"),
        ("/v1/messages?beta=true", {"GPT2GIGA_GIGACHAT_API_MODE": "v2"}, "v1"),
        ("/v2/messages", {}, "v2"),
        ("/v2/v1/messages?beta=true", {}, "v2"),
        ("/v1/v1/messages", {"GPT2GIGA_GIGACHAT_API_MODE": "v2"}, "v1"),
    ],
)
async def test_messages_go_to_the_contract_the_route_names(
    upstream: respx.MockRouter, respx_app: App, path: str, env: dict[str, str], contract: str
) -> None:
    route = chat_route(upstream, contract, answer(f"chat_text_{contract}.json"))
    other = upstream.post(V2_CHAT if contract == "v1" else V1_CHAT)
    async with respx_app(**env) as c:
        r = await c.post(path, json=RICH, headers=ANTHROPIC)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert "x-gpt2giga-ignored" not in r.headers
    assert sent_json(route) == (V1_BODY if contract == "v1" else V2_BODY)
    assert route.calls.last.request.headers["authorization"] == "Bearer tok-1"
    assert not other.called
    assert without_id(r.json()) == TEXT_MESSAGE
    Message.model_validate(r.json())


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_tool_use_round_trips_with_gigachat_state(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    fixture = "chat_function_calls_v2.json" if contract == "v2" else "chat_function_call_v1.json"
    route = chat_route(upstream, contract, answer(fixture))
    body = {**MESSAGES, "tools": [WEATHER]}
    async with respx_app() as c:
        first = (await c.post(f"/{contract}/v1/messages", json=body)).json()
        assert first["stop_reason"] == "tool_use"
        uses = [b for b in first["content"] if b["type"] == "tool_use"]
        assert uses[0]["id"] == f"toolu_{STATE}"
        results = [
            {"type": "tool_result", "tool_use_id": u["id"], "content": f"result {n}"}
            for n, u in enumerate(uses)
        ]
        history = [
            USER,
            {"role": "assistant", "content": first["content"]},
            {"role": "user", "content": results},
        ]
        await c.post(f"/{contract}/v1/messages", json={**body, "messages": history})
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


async def test_reasoning_answer_leads_with_a_signed_thinking_block(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    route = chat_route(upstream, "v2", answer("chat_reasoning_v2.json"))
    body = {**MESSAGES, "thinking": {"type": "enabled", "budget_tokens": 20000}}
    async with respx_app() as c:
        r = await c.post("/v2/messages", json=body)
    assert sent_json(route)["model_options"] == {"max_tokens": 64, "reasoning": {"effort": "high"}}
    assert r.json()["content"] == [
        {"type": "thinking", "thinking": "2+2 is 4.", "signature": "gpt2giga"},
        {"type": "text", "text": "4"},
    ]


# --- messages: streams -------------------------------------------------------------------


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_stream_relays_the_event_sequence(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    route = chat_route(upstream, contract, streamed(f"chat_text_{contract}.sse"))
    async with respx_app() as c:
        r = await c.post(f"/{contract}/v1/messages?beta=true", json={**MESSAGES, "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream"
    assert sent_json(route)["stream"] is True
    assert route.calls.last.request.headers["accept"] == "text/event-stream"
    events = events_of(r)
    assert [e["type"] for e in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    final = assemble(events)
    assert re.fullmatch(r"msg_[0-9a-f]{24}", final.id)
    assert final.content[0].type == "text" and final.content[0].text == "Привет! Как дела?"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (8, 5)
    assert final.usage.cache_read_input_tokens == 4


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_streamed_tool_use_round_trip(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    route = chat_route(upstream, contract, streamed(f"chat_function_call_{contract}.sse"))
    body = {**MESSAGES, "tools": [WEATHER]}
    async with respx_app() as c:
        r = await c.post(f"/{contract}/messages", json={**body, "stream": True})
        final = assemble(events_of(r))
        assert final.stop_reason == "tool_use"
        use = final.content[0]
        assert use.type == "tool_use"
        assert (use.id, use.name) == (f"toolu_{STATE}", "get_weather")
        assert use.input == {"city": "Москва", "unit": "celsius"}
        route.mock(return_value=answer(f"chat_text_{contract}.json"))
        history = [
            USER,
            {"role": "assistant", "content": [use.model_dump(exclude_none=True)]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "+20"}],
            },
        ]
        r = await c.post(f"/{contract}/messages", json={**body, "messages": history})
    assert r.json()["content"] == [{"type": "text", "text": "Привет! Как дела?"}]
    sent = sent_json(route)
    assert "stream" not in sent
    state_key = "functions_state_id" if contract == "v1" else "tools_state_id"
    assert sent["messages"][1][state_key] == STATE
    assert sent["messages"][2]["role"] == ("function" if contract == "v1" else "tool")


class BreaksAfterFirstChunk(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield recorded("chat_text_v1.sse").split(b"\n\n")[0] + b"\n\n"
        raise httpx.ReadError("connection reset by giga.test")


async def test_upstream_breaking_mid_stream_is_an_error_event_without_message_stop(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(V1_CHAT).mock(
        return_value=httpx.Response(200, headers=SSE, stream=BreaksAfterFirstChunk())
    )
    async with respx_app() as c:
        r = await c.post("/messages", json={**MESSAGES, "stream": True})
    assert r.status_code == 200
    events = events_of(r)
    assert [e["type"] for e in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "error",
    ]
    assert events[3]["delta"] == {"type": "text_delta", "text": "Привет"}
    assert events[-1] == {
        "type": "error",
        "error": {"type": "api_error", "message": "GigaChat stream broke: ReadError"},
    }
    assert "giga.test" not in r.text


@pytest.mark.parametrize(
    ("status", "anthropic_status", "kind"),
    [(429, 429, "rate_limit_error"), (503, 529, "overloaded_error")],
)
async def test_stream_failing_before_the_first_byte_is_a_plain_error(
    upstream: respx.MockRouter, respx_app: App, status: int, anthropic_status: int, kind: str
) -> None:
    upstream.post(V2_CHAT).respond(
        status, json={"status": status, "message": "Busy"}, headers={"retry-after": "3"}
    )
    async with respx_app() as c:
        r = await c.post("/v2/messages", json={**MESSAGES, "stream": True})
    assert r.status_code == anthropic_status
    assert r.headers["content-type"] == "application/json"
    assert r.headers["retry-after"] == "3"
    assert error_of(r)["type"] == kind


@pytest.mark.parametrize(
    ("status", "anthropic_status", "kind"),
    [
        (400, 400, "invalid_request_error"),
        (401, 401, "authentication_error"),
        (404, 404, "not_found_error"),
        (413, 413, "request_too_large"),
        (422, 400, "invalid_request_error"),
        (429, 429, "rate_limit_error"),
        (500, 502, "api_error"),
        (503, 529, "overloaded_error"),
    ],
)
async def test_upstream_error_status_keeps_its_meaning_in_anthropic_shape(
    upstream: respx.MockRouter, respx_app: App, status: int, anthropic_status: int, kind: str
) -> None:
    upstream.post(V1_CHAT).respond(status, json={"status": status, "message": "Nope"})
    async with respx_app() as c:
        r = await c.post("/v1/messages", json=MESSAGES)
    assert r.status_code == anthropic_status
    assert error_of(r)["type"] == kind


async def test_ignored_fields_and_betas_are_named_in_a_header(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    route = chat_route(upstream, "v1", answer("chat_text_v1.json"))
    body = {
        **MESSAGES,
        "top_k": 40,
        "metadata": {"user_id": '{"device_id":"d","session_id":"s"}'},
        "tools": [WEATHER, {"type": "bash_20250124", "name": "bash"}],
    }
    headers = {"anthropic-beta": "claude-code-20250219, fine-grained-tool-streaming-2025-05-14"}
    async with respx_app() as c:
        r = await c.post("/v1/messages", json=body, headers=headers)
    assert r.status_code == 200
    assert r.headers["x-gpt2giga-ignored"] == (
        "tools.bash_20250124, top_k, metadata, anthropic-beta:claude-code-20250219, "
        "anthropic-beta:fine-grained-tool-streaming-2025-05-14"
    )
    assert set(sent_json(route)) == {"model", "messages", "max_tokens", "functions"}


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_gigachat_fields_reach_gigachat_and_the_gateways_stay(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    route = chat_route(upstream, contract, answer(f"chat_text_{contract}.json"))
    body = {
        **MESSAGES,
        "repetition_penalty": 1.1,
        "extra_body": {
            "profanity_check": True,
            "filter_config": {"request_content": {"neuro": False}},
            "messages": [],
            "max_tokens": 9,
            "brand_new_knob": "on",
        },
    }
    async with respx_app() as c:
        r = await c.post(f"/{contract}/messages", json=body, headers=ANTHROPIC)
    assert r.status_code == 200, r.text
    if contract == "v1":
        assert sent_json(route) == {
            "brand_new_knob": "on",
            "model": "GigaChat-2-Max",
            "messages": [{"role": "user", "content": "Привет"}],
            "max_tokens": 64,
            "repetition_penalty": 1.1,
            "profanity_check": True,
        }
        # v1 has no filter_config: named, as are the fields the gateway owns.
        ignored = "extra_body.messages, extra_body.filter_config, extra_body.max_tokens"
    else:
        assert sent_json(route) == {
            "brand_new_knob": "on",
            "model": "GigaChat-2-Max",
            "messages": [{"role": "user", "content": [{"text": "Привет"}]}],
            "model_options": {"max_tokens": 64, "repetition_penalty": 1.1},
            "filter_config": {"request_content": {"neuro": False}},
            "disable_filter": False,
        }
        ignored = "extra_body.messages, extra_body.max_tokens"
    assert r.headers["x-gpt2giga-ignored"] == ignored


async def test_a_mistyped_gigachat_field_is_a_400_in_anthropic_shape(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    routes = [upstream.post(V1_CHAT), upstream.post(V2_CHAT)]
    body = {**MESSAGES, "extra_body": {"update_interval": "soon"}}
    async with respx_app() as c:
        r = await c.post("/v1/messages", json=body, headers=ANTHROPIC)
    assert r.status_code == 400
    error = error_of(r)
    assert error["type"] == "invalid_request_error"
    assert "`$.extra_body.update_interval`" in error["message"]
    assert not any(route.called for route in routes)


# --- Claude Code --------------------------------------------------------------------------


async def test_claude_code_request_reaches_gigachat_as_one_clean_conversation(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    route = chat_route(upstream, "v2", streamed("chat_text_v2.sse"))
    body = claude_code_request()
    aliases = '{"claude-*": "GigaChat-2-Max"}'
    async with respx_app(GPT2GIGA_MODEL_ALIASES=aliases) as c:
        r = await c.post(
            "/v2/v1/messages?beta=true",
            json=body,
            headers={
                **ANTHROPIC,
                "x-api-key": "sk-ant-unused",
                "anthropic-beta": "claude-code-20250219",
            },
        )
    assert r.status_code == 200
    assert assemble(events_of(r)).content[0].type == "text"
    sent = sent_json(route)
    assert sent["model"] == "GigaChat-2-Max"
    assert sent["model_options"] == {"max_tokens": 32000, "reasoning": {"effort": "medium"}}
    system, user, assistant, read, grep = sent["messages"]
    assert system == {
        "role": "system",
        "content": [
            {
                "text": "You are Claude Code, Anthropic's official CLI for Claude.\n\n"
                "You are an interactive CLI tool that helps users with software engineering "
                "tasks.\n\nWorking directory: /repo\n\nThe user is in default permission mode."
            }
        ],
    }
    assert user["content"][0]["text"].endswith(
        "</system-reminder>\n\nFix the syntax error in main.py"
    )
    assert assistant == {
        "role": "assistant",
        "content": [
            {"text": "I'll read the file and search for callers."},
            {"function_call": {"name": "Read", "arguments": {"file_path": "/repo/main.py"}}},
            {
                "function_call": {
                    "name": "Grep",
                    "arguments": {"pattern": "main\\(", "output_mode": "files_with_matches"},
                }
            },
        ],
        "tools_state_id": STATE,
    }
    listing = body["messages"][3]["content"][0]["content"]
    assert read["content"] == [{"function_result": {"name": "Read", "result": {"result": listing}}}]
    assert grep["content"][0]["function_result"]["name"] == "Grep"
    assert read["tools_state_id"] == grep["tools_state_id"] == STATE
    specs = sent["tools"][0]["functions"]["specifications"]
    assert [s["name"] for s in specs] == [t["name"] for t in body["tools"]]
    assert "$schema" not in json.dumps(specs) and "$ref" not in json.dumps(specs)
    assert r.headers["x-gpt2giga-ignored"] == (
        "metadata, context_management, anthropic-beta:claude-code-20250219"
    )


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_claude_code_request_round_trips_through_the_gigachat_sdk_models(
    gateway: App, fake: FakeGigaChat, contract: str, stream: bool
) -> None:
    """The fake GigaChat validates every request with the gigachat SDK's own models."""
    body = {**claude_code_request(), "stream": stream}
    async with gateway(GPT2GIGA_MODEL_ALIASES='{"claude-*": "GigaChat-2-Max"}') as c:
        r = await c.post(f"/{contract}/v1/messages?beta=true", json=body, headers=ANTHROPIC)
        assert r.status_code == 200, r.text
        final = assemble(events_of(r)) if stream else Message.model_validate(r.json())
        assert [b.type for b in final.content] == ["thinking", "text"]
        text = final.content[1]
        assert text.type == "text"
        assert text.text == 'Done: Grep returned {"result":"Found 1 file\\n/repo/main.py"}.'
        assert final.stop_reason == "end_turn"
        # Claude Code's next turn sends the thinking block back; it is dropped again.
        history = [
            *body["messages"],
            {
                "role": "assistant",
                "content": [b.model_dump(exclude_none=True) for b in final.content],
            },
            {"role": "user", "content": "Thanks. Now list the files."},
        ]
        r = await c.post(f"/{contract}/v1/messages", json={**body, "messages": history})
        assert r.status_code == 200, r.text
    assert [used for used, _ in fake.requests] == [contract, contract]


# --- count_tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/messages/count_tokens", "/v2/v1/messages/count_tokens?beta=true"]
)
async def test_count_tokens_counts_what_the_model_reads(
    upstream: respx.MockRouter, respx_app: App, path: str
) -> None:
    route = upstream.post(TOKENS).respond(content=recorded("tokens_count.json"))
    chat = upstream.post(V1_CHAT)
    body = {
        "model": "GigaChat-2-Max",
        "system": "Be brief.",
        "messages": [USER],
        "tools": [WEATHER],
    }
    async with respx_app() as c:
        r = await c.post(path, json=body, headers=ANTHROPIC)
    assert r.status_code == 200, r.text
    assert r.json() == {"input_tokens": 9}
    MessageTokensCount.model_validate(r.json())
    spec = json.dumps(SPEC, ensure_ascii=False, separators=(",", ":"))
    assert sent_json(route) == {"model": "GigaChat-2-Max", "input": ["Be brief.", "Привет", spec]}
    assert not chat.called


@pytest.mark.parametrize(
    ("extra", "headers", "ignored"),
    [
        (
            {
                "metadata": {"user_id": "u1"},
                "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
                # Messages' own, and GigaChat's: neither changes what the model reads.
                "temperature": 0.2,
                "repetition_penalty": 1.1,
                "extra_body": {"profanity_check": False},
                "messages": [{**USER, "foo": 1}],
            },
            {"anthropic-beta": "token-counting-2024-11-01"},
            "metadata, tool_choice.disable_parallel_tool_use, "
            "anthropic-beta:token-counting-2024-11-01, "
            "temperature, repetition_penalty, extra_body, messages[].foo",
        ),
        ({"tool_choice": {"type": "auto"}}, {}, None),
    ],
)
async def test_count_tokens_names_what_it_does_not_apply(
    upstream: respx.MockRouter,
    respx_app: App,
    extra: dict[str, Any],
    headers: dict[str, str],
    ignored: str | None,
) -> None:
    route = upstream.post(TOKENS).respond(content=recorded("tokens_count.json"))
    body = {"model": "GigaChat-2-Max", "system": "Be brief.", "messages": [USER], **extra}
    async with respx_app() as c:
        r = await c.post("/v1/messages/count_tokens", json=body, headers=ANTHROPIC | headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"input_tokens": 9}
    assert r.headers.get("x-gpt2giga-ignored") == ignored
    assert sent_json(route) == {"model": "GigaChat-2-Max", "input": ["Be brief.", "Привет"]}


# --- models, probe, auth --------------------------------------------------------------------


def model_info(model_id: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": model_id,
        "created_at": "1970-01-01T00:00:00Z",
        "lifecycle": "active",
    }


@pytest.mark.parametrize(
    ("query", "ids", "more"),
    [
        ("", ["GigaChat", "GigaChat-2-Max"], False),
        ("?limit=1", ["GigaChat"], True),
        ("?limit=1&after_id=GigaChat", ["GigaChat-2-Max"], False),
        ("?before_id=GigaChat-2-Max", ["GigaChat"], False),
    ],
)
async def test_models_list_is_anthropic_shaped_chat_models_only(
    upstream: respx.MockRouter, respx_app: App, query: str, ids: list[str], more: bool
) -> None:
    upstream.get(MODELS).respond(content=recorded("models.json"))
    async with respx_app() as c:
        r = await c.get(f"/v1/models{query}", headers=ANTHROPIC)
    assert r.status_code == 200
    assert r.json() == {
        "data": [model_info(i) for i in ids],
        "has_more": more,
        "first_id": ids[0],
        "last_id": ids[-1],
    }
    for item in r.json()["data"]:
        ModelInfo.model_validate(item)


async def test_models_without_anthropic_headers_stay_openai_shaped(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.get(MODELS).respond(content=recorded("models.json"))
    async with respx_app() as c:
        r = await c.get("/v1/models")
    assert r.json()["object"] == "list"


async def test_model_get_and_unknown_model(upstream: respx.MockRouter, respx_app: App) -> None:
    upstream.get(MODELS).respond(content=recorded("models.json"))
    aliases = '{"claude-*": "GigaChat-2-Max"}'
    async with respx_app(GPT2GIGA_MODEL_ALIASES=aliases) as c:
        found = await c.get("/v1/models/claude-sonnet-4-5", headers=ANTHROPIC)
        missing = await c.get("/v1/models/nope", headers=ANTHROPIC)
        bad = await c.get("/v1/models?limit=0", headers=ANTHROPIC)
    assert found.json() == model_info("claude-sonnet-4-5")
    assert missing.status_code == 404
    assert error_of(missing) == {"type": "not_found_error", "message": "model: nope"}
    assert bad.status_code == 400
    assert error_of(bad)["type"] == "invalid_request_error"


KEY_ENV = {"GPT2GIGA_ENABLE_API_KEY_AUTH": "true", "GPT2GIGA_API_KEY": "sk-gateway-secret"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"x-api-key": "sk-gateway-secret"}, 200),
        ({"Authorization": "Bearer sk-gateway-secret"}, 200),
        ({"x-api-key": "sk-wrong"}, 401),
        ({}, 401),
    ],
)
async def test_proxy_api_key_guards_messages(
    upstream: respx.MockRouter, respx_app: App, headers: dict[str, str], status: int
) -> None:
    route = chat_route(upstream, "v1", answer("chat_text_v1.json"))
    async with respx_app(**KEY_ENV) as c:
        r = await c.post("/v1/messages", json=MESSAGES, headers={**ANTHROPIC, **headers})
    assert r.status_code == status
    if status == 401:
        assert error_of(r) == {
            "type": "authentication_error",
            "message": "Invalid or missing API key",
        }
        assert not route.called


@pytest.mark.parametrize("path", ["/api/hello", "/v1/api/hello"])
async def test_claude_code_probe_answers_without_the_key(respx_app: App, path: str) -> None:
    async with respx_app(**KEY_ENV) as c:
        head = await c.head(path)
        get = await c.get(path)
    assert (head.status_code, head.content) == (200, b"")
    assert (get.status_code, get.json()) == (200, {})


async def test_unknown_route_is_404_in_anthropic_shape(respx_app: App) -> None:
    async with respx_app() as c:
        r = await c.post("/v1/messages/batches", json={}, headers=ANTHROPIC)
    assert r.status_code == 404
    assert error_of(r)["type"] == "not_found_error"


async def test_upstream_auth_failure_is_not_leaked(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(AUTH).respond(401, json={"status": 401, "message": "bad credentials"})
    route = upstream.post(V1_CHAT)
    async with respx_app() as c:
        r = await c.post("/v1/messages", json=MESSAGES)
    assert r.status_code == 401
    assert error_of(r)["type"] == "authentication_error"
    assert not route.called


# --- images and documents -------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
SCREENSHOT = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()},
}
NOTES = {
    "type": "document",
    "source": {"type": "text", "media_type": "text/plain", "data": "Заметки"},
    "title": "notes.txt",
}


async def test_claude_codes_screenshot_in_a_tool_result_is_uploaded_and_follows_the_result(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    ids = iter(["file-png", "file-txt"])
    files = upstream.post(FILES).mock(
        side_effect=lambda request: httpx.Response(200, json=uploaded(next(ids)))
    )
    chat = upstream.post(V2_CHAT).mock(return_value=answer("chat_text_v2.json"))
    body = {
        **MESSAGES,
        "messages": [
            USER,
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "a.png"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [SCREENSHOT]},
                NOTES,
            ]},
        ],
    }  # fmt: skip
    async with respx_app() as c:
        r = await c.post("/v2/v1/messages", json=body, headers=ANTHROPIC)
    assert r.status_code == 200, r.text
    assert [form_fields(call.request)["file"] for call in files.calls] == [
        (form_fields(files.calls[0].request)["file"][0], "image/png", PNG),
        ("notes.txt", "text/plain", "Заметки".encode()),
    ]
    assert sent_json(chat)["messages"][2:] == [
        {
            "role": "tool",
            "content": [{"function_result": {"name": "Read", "result": {"result": ""}}}],
        },
        {
            "role": "user",
            "content": [{"text": ""}, {"files": [{"id": "file-png"}, {"id": "file-txt"}]}],
        },
    ]


async def test_an_upload_failure_is_an_anthropic_error(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(FILES).respond(503, json={"status": 503, "message": "maintenance"})
    chat = upstream.post(V1_CHAT)
    body = {**MESSAGES, "messages": [{"role": "user", "content": [SCREENSHOT]}]}
    async with respx_app() as c:
        r = await c.post("/v1/messages", json=body, headers=ANTHROPIC)
    assert r.status_code == 529
    assert r.json() == {
        "type": "error",
        "error": {
            "type": "overloaded_error",
            "message": "messages[0].content[0]: uploading the file to GigaChat failed: "
            "GigaChat answered 503: maintenance",
        },
    }
    assert not chat.called


async def test_a_streamed_message_with_an_image_sends_its_id(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(FILES).respond(json=uploaded("file-png"))
    chat = upstream.post(V1_CHAT).mock(return_value=streamed("chat_text_v1.sse"))
    body = {
        **MESSAGES,
        "stream": True,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Что это?"}, SCREENSHOT]}
        ],
    }
    async with respx_app() as c:
        r = await c.post("/v1/messages", json=body, headers=ANTHROPIC)
    assert r.status_code == 200
    assert sse_events(r.content)[-1][0] == "message_stop"
    assert sent_json(chat)["messages"] == [
        {"role": "user", "content": "Что это?", "attachments": ["file-png"]}
    ]


async def test_count_tokens_never_uploads(upstream: respx.MockRouter, respx_app: App) -> None:
    files = upstream.post(FILES)
    count = upstream.post(TOKENS).respond(json=[{"object": "tokens", "tokens": 3, "characters": 8}])
    body = {"model": "GigaChat", "messages": [{"role": "user", "content": [SCREENSHOT, NOTES]}]}
    async with respx_app() as c:
        r = await c.post("/v1/messages/count_tokens", json=body, headers=ANTHROPIC)
    assert r.json() == {"input_tokens": 3}
    assert sent_json(count)["input"] == [""]
    assert not files.called
