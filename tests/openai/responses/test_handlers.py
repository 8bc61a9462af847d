"""The Responses routes through the whole app (httpx.ASGITransport), respx standing in for GigaChat.

Every create test asserts the exact JSON GigaChat receives; answers come from
the recorded bodies in `tests/fixtures/gigachat/` and are checked with the
openai SDK's own `Response` and stream event types.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pydantic
import pytest
import respx
from openai.types.responses import Response, ResponseStreamEvent

from tests.conftest import FILES, V1_CHAT, V2_CHAT, form_fields, sent_json, sse_events, uploaded

FIXTURES = Path(__file__).parents[2] / "fixtures"
STATE = "3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15"
THREAD = "5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
SSE = {"content-type": "text/event-stream"}
MODEL = "GigaChat-2-Max"
EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)
ALIASES = '{"gpt-*": "GigaChat-2-Max"}'

App = Callable[..., httpx.AsyncClient]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def recorded(name: str) -> bytes:
    return (FIXTURES / "gigachat" / name).read_bytes()


def answer(fixture: str | dict[str, Any], status: int = 200) -> httpx.Response:
    if isinstance(fixture, dict):
        return httpx.Response(status, json=fixture)
    return httpx.Response(
        status, content=recorded(fixture), headers={"content-type": "application/json"}
    )


def streamed(fixture: str) -> httpx.Response:
    return httpx.Response(200, content=recorded(fixture), headers=SSE)


def chat_route(
    upstream: respx.MockRouter, contract: str, *responses: httpx.Response
) -> respx.Route:
    route = upstream.post(V1_CHAT if contract == "v1" else V2_CHAT)
    return route.mock(side_effect=list(responses))


def events(r: httpx.Response) -> list[dict[str, Any]]:
    """A streamed body as the client reads it, each event checked with the SDK's types."""
    assert r.headers["content-type"] == "text/event-stream"
    out = []
    for name, data in sse_events(r.content):
        event = msgspec.json.decode(data)
        assert name == event["type"]
        EVENTS.validate_python(event)
        out.append(event)
    return out


def error_of(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


def text(role: str, value: str) -> dict[str, Any]:
    return {"role": role, "content": [{"text": value}]}


V2_TEXT_WITH_THREAD = {
    "model": "GigaChat-2-Max:2.0.28.2",
    "created_at": 1735689600,
    "thread_id": THREAD,
    "messages": [{"role": "assistant", "content": [{"text": "Привет! Как дела?"}]}],
    "finish_reason": "stop",
    "usage": {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17},
}


# --- create: the contract a route picks, and the exact upstream payload -------------------

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
BODY = {
    "model": MODEL,
    "instructions": "Be brief.",
    "input": "Привет",
    "tools": [WEATHER],
    "tool_choice": "auto",
    "temperature": 0.3,
    "max_output_tokens": 64,
    "store": False,
}
SPEC = {
    "name": "get_weather",
    "description": "Current weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
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
    "messages": [text("system", "Be brief."), text("user", "Привет")],
    "model_options": {"temperature": 0.3, "max_tokens": 64},
    "tool_config": {"mode": "auto"},
    "tools": [{"functions": {"specifications": [SPEC]}}],
}


@pytest.mark.parametrize(
    ("path", "env", "contract", "payload"),
    [
        ("/v1/responses", {}, "v1", V1_BODY),
        ("/v2/responses", {}, "v2", V2_BODY),
        ("/responses", {}, "v1", V1_BODY),
        ("/responses", {"GPT2GIGA_GIGACHAT_API_MODE": "v2"}, "v2", V2_BODY),
        ("/v2/v1/responses", {}, "v2", V2_BODY),
    ],
)
async def test_create_goes_to_the_contract_its_route_names(
    upstream: respx.MockRouter,
    respx_app: App,
    path: str,
    env: dict[str, str],
    contract: str,
    payload: dict[str, Any],
) -> None:
    route = chat_route(upstream, contract, answer(f"chat_text_{contract}.json"))
    async with respx_app(**env) as client:
        r = await client.post(path, json=BODY)
    assert r.status_code == 200, r.text
    assert sent_json(route) == payload
    resp = Response.model_validate(r.json())
    assert resp.output_text == "Привет! Как дела?"
    assert re.fullmatch(r"resp_[0-9a-f]{24}", resp.id)
    assert resp.instructions == "Be brief." and resp.max_output_tokens == 64
    assert resp.usage is not None and resp.usage.input_tokens_details.cached_tokens == 4
    assert r.headers["x-gpt2giga-ignored"] == "store"


async def test_function_calls_answer_with_state_in_their_call_ids(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    chat_route(upstream, "v2", answer("chat_function_calls_v2.json"))
    async with respx_app() as client:
        r = await client.post("/v2/responses", json={**BODY, "store": True})
    resp = Response.model_validate(r.json())
    calls = [(o.call_id, o.name, o.arguments) for o in resp.output if o.type == "function_call"]
    assert calls == [
        (f"call_{STATE}", "get_weather", '{"city":"Москва"}'),
        (f"call_{STATE}__1", "get_time", '{"tz":"Europe/Moscow"}'),
    ]
    assert [o.type for o in resp.output] == ["function_call", "function_call"]


async def test_web_search_run_is_reported_as_an_item(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    route = chat_route(upstream, "v2", answer("chat_web_search_v2.json"))
    body = {"model": MODEL, "input": "Курс доллара?", "tools": [{"type": "web_search"}]}
    async with respx_app() as client:
        r = await client.post("/v2/responses", json=body)
    assert sent_json(route)["tools"] == [{"web_search": {}}]
    assert sent_json(route)["storage"] == {}
    resp = Response.model_validate(r.json())
    assert resp.output[0].model_dump(exclude_none=True) == {
        "type": "web_search_call",
        "id": resp.output[0].id,
        "status": "completed",
        "action": {"type": "search", "sources": [{"type": "url", "url": "https://cbr.ru"}]},
    }
    assert resp.output_text == "Курс: 90 ₽."


# --- streams -----------------------------------------------------------------------------------


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_stream_relays_the_full_event_sequence(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    route = chat_route(upstream, contract, streamed(f"chat_reasoning_{contract}.sse"))
    body = {"model": MODEL, "input": "2+2?", "stream": True, "reasoning": {"effort": "low"}}
    async with respx_app() as client:
        r = await client.post(f"/{contract}/responses", json=body)
        stored = await client.get(f"/responses/{events(r)[0]['response']['id']}")
    seen = events(r)
    assert [e["type"] for e in seen][:3] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
    ]
    assert seen[-1]["type"] == "response.completed"
    assert [i["type"] for i in seen[-1]["response"]["output"]] == ["reasoning", "message"]
    sent = sent_json(route)
    assert sent["stream"] is True
    assert (sent.get("reasoning_effort") or sent["model_options"]["reasoning"]["effort"]) == "low"
    # The finished response was stored before its last event went out.
    assert stored.json() == seen[-1]["response"]


async def test_upstream_breaking_mid_stream_fails_the_response(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    chat_route(upstream, "v2", streamed("chat_truncated_v2.sse"))
    async with respx_app() as client:
        r = await client.post("/v2/responses", json={"model": MODEL, "input": "x", "stream": True})
        failed_id = events(r)[0]["response"]["id"]
        stored = await client.get(f"/responses/{failed_id}")
    seen = events(r)
    assert [e["type"] for e in seen][-2:] == ["response.failed", "error"]
    assert "response.completed" not in [e["type"] for e in seen]
    assert seen[-1]["message"] == "GigaChat ended the stream before the answer was complete"
    assert stored.status_code == 404  # a failed response is not kept


async def test_stream_request_failing_before_the_first_byte_is_a_plain_error(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    limited = httpx.Response(
        429, json={"status": 429, "message": "Too many requests"}, headers={"retry-after": "3"}
    )
    chat_route(upstream, "v2", limited)
    async with respx_app() as client:
        r = await client.post("/v2/responses", json={"model": MODEL, "input": "x", "stream": True})
    assert r.status_code == 429
    assert r.headers["retry-after"] == "3"
    assert error_of(r) == {
        "message": "GigaChat answered 429: Too many requests",
        "type": "rate_limit_error",
        "param": None,
        "code": "rate_limit_exceeded",
    }


async def test_upstream_error_status_keeps_its_meaning(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    chat_route(upstream, "v2", answer({"status": 404, "message": "No such model"}, status=404))
    async with respx_app() as client:
        r = await client.post("/v2/responses", json={"model": "nope", "input": "x"})
    assert r.status_code == 404
    assert error_of(r)["message"] == "GigaChat answered 404: No such model"


# --- stored responses: previous_response_id, retrieve, delete -------------------------------------


async def test_v1_previous_response_rebuilds_the_conversation(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    route = chat_route(
        upstream, "v1", answer("chat_function_call_v1.json"), answer("chat_text_v1.json")
    )
    async with respx_app() as client:
        first = (await client.post("/v1/responses", json={**BODY, "store": True})).json()
        call = first["output"][0]
        follow = {
            "model": MODEL,
            "instructions": "Answer in Russian.",
            "previous_response_id": first["id"],
            "input": [{"type": "function_call_output", "call_id": call["call_id"], "output": "+5"}],
            "tools": [WEATHER],
        }
        second = await client.post("/v1/responses", json=follow)
    assert second.status_code == 200, second.text
    assert Response.model_validate(second.json()).previous_response_id == first["id"]
    assert sent_json(route)["messages"] == [
        # The earlier `instructions` are not carried over, as OpenAI documents.
        {"role": "system", "content": "Answer in Russian."},
        {"role": "user", "content": "Привет"},
        {
            "role": "assistant",
            "content": "",
            "function_call": {
                "name": "get_weather", "arguments": {"city": "Москва", "unit": "celsius"}
            },
            "functions_state_id": STATE,
        },
        {"role": "function", "name": "get_weather", "content": '{"result":"+5"}'},
    ]  # fmt: skip


async def test_v2_previous_response_continues_the_gigachat_thread(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    route = chat_route(upstream, "v2", answer(V2_TEXT_WITH_THREAD), answer("chat_text_v2.json"))
    body = {"model": MODEL, "instructions": "Be brief.", "input": "Привет"}
    async with respx_app() as client:
        first = (await client.post("/v2/responses", json=body)).json()
        follow = {**body, "input": "Ещё", "previous_response_id": first["id"]}
        second = await client.post("/v2/responses", json=follow)
    assert second.status_code == 200
    assert sent_json(route, 0) == {
        "model": MODEL,
        "messages": [text("system", "Be brief."), text("user", "Привет")],
        "storage": {},
    }
    assert sent_json(route, 1) == {
        "model": MODEL,
        "messages": [text("user", "Ещё")],
        "storage": {"thread_id": THREAD},
    }


async def test_v2_thread_gigachat_lost_is_replaced_by_the_whole_conversation(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    gone = answer({"status": 404, "message": "Thread not found"}, status=404)
    route = chat_route(
        upstream, "v2", answer(V2_TEXT_WITH_THREAD), gone, answer("chat_text_v2.json")
    )
    async with respx_app() as client:
        first = (await client.post("/v2/responses", json={"model": MODEL, "input": "a"})).json()
        follow = {"model": MODEL, "input": "b", "previous_response_id": first["id"]}
        second = await client.post("/v2/responses", json=follow)
    assert second.status_code == 200
    assert sent_json(route, 1)["storage"] == {"thread_id": THREAD}
    assert sent_json(route, 2) == {
        "model": MODEL,
        "messages": [text("user", "a"), text("assistant", "Привет! Как дела?"), text("user", "b")],
        "storage": {},
    }


async def test_gigachat_fields_go_with_the_lost_threads_replacement_too(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    gone = answer({"status": 404, "message": "Thread not found"}, status=404)
    route = chat_route(
        upstream, "v2", answer(V2_TEXT_WITH_THREAD), gone, answer("chat_text_v2.json")
    )
    fields = {"flags": ["f1"], "extra_body": {"repetition_penalty": 1.2, "new_knob": 1}}
    async with respx_app() as client:
        first = (await client.post("/v2/responses", json={"model": MODEL, "input": "a"})).json()
        follow = {"model": MODEL, "input": "b", "previous_response_id": first["id"], **fields}
        second = await client.post("/v2/responses", json=follow)
    assert second.status_code == 200
    assert "x-gpt2giga-ignored" not in second.headers
    extra = {"new_knob": 1, "model_options": {"repetition_penalty": 1.2}, "flags": ["f1"]}
    assert sent_json(route, 1) == {
        "new_knob": 1,
        "model": MODEL,
        "messages": [text("user", "b")],
        "model_options": {"repetition_penalty": 1.2},
        "storage": {"thread_id": THREAD},
        "flags": ["f1"],
    }
    assert {k: sent_json(route, 2)[k] for k in extra} == extra


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_gigachat_fields_from_a_responses_body(
    upstream: respx.MockRouter, respx_app: App, contract: str
) -> None:
    route = chat_route(upstream, contract, answer(f"chat_text_{contract}.json"))
    body = {
        "model": MODEL,
        "input": "Привет",
        "store": False,
        # The Responses API has no max_tokens: GigaChat's own fills the gap.
        "max_tokens": 32,
        "extra_body": {"update_interval": 0.3, "tools_state_id": "x"},
    }
    async with respx_app() as client:
        r = await client.post(f"/{contract}/responses", json=body)
    assert r.status_code == 200, r.text
    sent = sent_json(route)
    if contract == "v1":
        assert (sent["max_tokens"], sent["update_interval"]) == (32, 0.3)
    else:
        assert sent["model_options"] == {"max_tokens": 32, "update_interval": 0.3}
    assert r.headers["x-gpt2giga-ignored"] == "store, extra_body.tools_state_id"


async def test_v2_lost_thread_on_a_stream_is_replaced_too(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    gone = answer({"status": 404, "message": "Thread not found"}, status=404)
    route = chat_route(
        upstream, "v2", answer(V2_TEXT_WITH_THREAD), gone, streamed("chat_text_v2.sse")
    )
    async with respx_app() as client:
        first = (await client.post("/v2/responses", json={"model": MODEL, "input": "a"})).json()
        follow = {"model": MODEL, "input": "b", "previous_response_id": first["id"], "stream": True}
        second = await client.post("/v2/responses", json=follow)
    assert events(second)[-1]["type"] == "response.completed"
    assert len(sent_json(route, 2)["messages"]) == 3


async def test_store_false_keeps_nothing(upstream: respx.MockRouter, respx_app: App) -> None:
    chat_route(upstream, "v2", answer("chat_text_v2.json"))
    async with respx_app() as client:
        made = (await client.post("/v2/responses", json={"input": "x", "store": False})).json()
        got = await client.get(f"/v1/responses/{made['id']}")
        follow = await client.post(
            "/v2/responses", json={"input": "y", "previous_response_id": made["id"]}
        )
    assert got.status_code == 404 and error_of(got)["code"] == "not_found"
    assert follow.status_code == 404 and error_of(follow)["param"] == "previous_response_id"


async def test_retrieve_and_delete_a_stored_response(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    chat_route(upstream, "v1", answer("chat_text_v1.json"))
    async with respx_app() as client:
        made = await client.post("/responses", json={"input": "x"})
        response_id = made.json()["id"]
        got = await client.get(f"/responses/{response_id}")
        replay = await client.get(f"/responses/{response_id}?stream=true")
        deleted = await client.delete(f"/v1/responses/{response_id}")
        again = await client.delete(f"/responses/{response_id}")
        after = await client.get(f"/responses/{response_id}")
    assert got.content == made.content
    assert replay.status_code == 400 and error_of(replay)["code"] == "unsupported"
    assert deleted.json() == {"object": "response", "id": response_id, "deleted": True}
    assert again.status_code == 404 and after.status_code == 404
    assert error_of(after)["message"] == f"Response with id '{response_id}' not found"


async def test_store_is_bounded_by_count(upstream: respx.MockRouter, respx_app: App) -> None:
    chat_route(upstream, "v1", *[answer("chat_text_v1.json") for _ in range(3)])
    async with respx_app(GPT2GIGA_RESPONSES_STORE_SIZE="2") as client:
        made = [
            (await client.post("/responses", json={"input": "x"})).json()["id"] for _ in range(3)
        ]
        found = [(await client.get(f"/responses/{i}")).status_code for i in made]
    assert found == [404, 200, 200]


async def test_unknown_route_under_responses_is_an_openai_404(respx_app: App) -> None:
    async with respx_app() as client:
        r = await client.post("/responses/resp_1/cancel")
        wrong = await client.put("/responses/resp_1")
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, DELETE"


# --- Codex ---------------------------------------------------------------------------------------

CODEX: dict[str, Any] = json.loads((FIXTURES / "openai" / "codex_request.json").read_text())


def without_additional_properties(schema: Any) -> Any:
    """A Codex schema as the normaliser sends it (`additionalProperties` is dropped)."""
    if isinstance(schema, dict):
        return {
            k: without_additional_properties(v)
            for k, v in schema.items()
            if k != "additionalProperties"
        }
    if isinstance(schema, list):
        return [without_additional_properties(v) for v in schema]
    return schema  # fmt: skip


def codex_specs() -> list[dict[str, Any]]:
    tools = CODEX["tools"]
    flat = [(t["name"], t) for t in tools if t["type"] == "function"]
    flat += [(f"mcp__docs__{t['name']}", t) for t in tools[7]["tools"]]
    return [
        {
            "name": name,
            "description": t["description"],
            "parameters": without_additional_properties(t["parameters"]),
        }
        for name, t in flat
    ]


CODEX_SYSTEM = (
    "You are Codex, a coding agent. You and the user share the same workspace and collaborate "
    "to achieve the user's goals.\n\n<permissions instructions>\nFilesystem sandboxing: "
    "workspace-write. Approval policy: on-request.\n</permissions instructions>"
)
CODEX_MESSAGES = [
    text("system", CODEX_SYSTEM),
    text("user", "\n".join(part["text"] for part in CODEX["input"][2]["content"])),
    text("user", "List the files in the repo."),
    {
        "role": "assistant",
        "content": [{"function_call": {"name": "shell_command",
                                       "arguments": {"command": "ls", "workdir": "/work/app"}}}],
        "tools_state_id": STATE,
    },
    {
        "role": "tool",
        "content": [{"function_result": {"name": "shell_command",
                                         "result": {"result": CODEX["input"][6]["output"]}}}],
        "tools_state_id": STATE,
    },
]  # fmt: skip
CODEX_IGNORED = (
    "include, store, prompt_cache_key, client_metadata, parallel_tool_calls, text.verbosity, "
    "reasoning.summary"
)


async def test_codex_request_round_trips_on_v2(upstream: respx.MockRouter, respx_app: App) -> None:
    route = chat_route(upstream, "v2", streamed("chat_namespaced_call_v2.sse"))
    async with respx_app(GPT2GIGA_MODEL_ALIASES=ALIASES) as client:
        r = await client.post("/v2/responses", json=CODEX)
    assert r.status_code == 200
    # Codex's web_search asks for cached results only; GigaChat's search takes no setting.
    assert r.headers["x-gpt2giga-ignored"] == CODEX_IGNORED + ", tools[].external_web_access"
    assert sent_json(route) == {
        "model": MODEL,
        "messages": CODEX_MESSAGES,
        "tool_config": {"mode": "auto"},
        "tools": [{"functions": {"specifications": codex_specs()}}, {"web_search": {}}],
        "stream": True,
    }
    seen = events(r)
    done = [e["item"] for e in seen if e["type"] == "response.output_item.done"]
    assert done == [
        {
            "type": "function_call",
            "id": done[0]["id"],
            "call_id": f"call_{STATE}",
            "name": "search",
            "arguments": '{"query":"gpt2giga"}',
            "status": "completed",
            "namespace": "mcp__docs__",
        }
    ]
    final = seen[-1]["response"]
    assert (final["status"], final["store"], final["reasoning"]) == (
        "completed",
        False,
        {"effort": "none", "summary": "auto"},
    )
    assert final["tools"] == CODEX["tools"]


async def test_codex_request_round_trips_on_v1(upstream: respx.MockRouter, respx_app: App) -> None:
    route = chat_route(upstream, "v1", streamed("chat_namespaced_call_v1.sse"))
    async with respx_app(GPT2GIGA_MODEL_ALIASES=ALIASES) as client:
        r = await client.post("/v1/responses", json=CODEX)
    assert r.headers["x-gpt2giga-ignored"] == CODEX_IGNORED + ", tools.web_search"
    sent = sent_json(route)
    assert sent["functions"] == codex_specs()
    assert sent["function_call"] == "auto" and "reasoning_effort" not in sent
    assert [m["role"] for m in sent["messages"]] == [
        "system",
        "user",
        "user",
        "assistant",
        "function",
    ]
    assert sent["messages"][3]["functions_state_id"] == STATE
    item = next(e["item"] for e in events(r) if e["type"] == "response.output_item.done")
    assert (item["name"], item["namespace"]) == ("search", "mcp__docs__")


async def test_codex_next_turn_sends_the_namespaced_call_back_flat(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    route = chat_route(upstream, "v2", streamed("chat_text_v2.sse"))
    turn = copy.deepcopy(CODEX)
    turn["input"] += [
        {"type": "function_call", "name": "search", "namespace": "mcp__docs__",
         "arguments": '{"query":"gpt2giga"}', "call_id": f"call_{STATE}__1"},
        {"type": "function_call_output", "call_id": f"call_{STATE}__1", "output": '{"hits": 3}'},
    ]  # fmt: skip
    async with respx_app(GPT2GIGA_MODEL_ALIASES=ALIASES) as client:
        r = await client.post("/v2/responses", json=turn)
    assert events(r)[-1]["response"]["output"][0]["content"][0]["text"] == "Привет! Как дела?"
    last_two = sent_json(route)["messages"][-2:]
    assert last_two == [
        {"role": "assistant",
         "content": [{"function_call": {"name": "mcp__docs__search",
                                        "arguments": {"query": "gpt2giga"}}}],
         "tools_state_id": STATE},
        {"role": "tool",
         "content": [{"function_result": {"name": "mcp__docs__search", "result": {"hits": 3}}}],
         "tools_state_id": STATE},
    ]  # fmt: skip


# --- images and files ------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
PDF = b"%PDF-1.7\n%%EOF"
LOOK = {
    "role": "user",
    "content": [
        {"type": "input_text", "text": "Что на картинке?"},
        {"type": "input_image", "image_url": "data:image/png;base64," + b64(PNG)},
        {"type": "input_file", "filename": "spec.pdf", "file_data": b64(PDF)},
    ],
}


async def test_v1_previous_response_keeps_the_file_ids_without_uploading_again(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    ids = iter(["file-png", "file-pdf"])
    files = upstream.post(FILES).mock(
        side_effect=lambda request: httpx.Response(200, json=uploaded(next(ids)))
    )
    route = chat_route(upstream, "v1", answer("chat_text_v1.json"), answer("chat_text_v1.json"))
    async with respx_app() as client:
        first = await client.post("/v1/responses", json={"model": MODEL, "input": [LOOK]})
        follow = {
            "model": MODEL,
            "input": "А подробнее?",
            "previous_response_id": first.json()["id"],
        }
        second = await client.post("/v1/responses", json=follow)
    assert (first.status_code, second.status_code) == (200, 200), first.text
    sent = [form_fields(call.request)["file"] for call in files.calls]
    assert [(mime, data) for _, mime, data in sent] == [
        ("image/png", PNG),
        ("application/pdf", PDF),
    ]
    assert sent[1][0] == "spec.pdf"
    [looked, _, again] = sent_json(route, 1)["messages"]
    assert looked == sent_json(route, 0)["messages"][0] == {
        "role": "user", "content": "Что на картинке?", "attachments": ["file-png", "file-pdf"],
    }  # fmt: skip
    assert again == {"role": "user", "content": "А подробнее?"}


async def test_an_upload_failure_is_a_responses_error(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(FILES).respond(
        429, json={"status": 429, "message": "slow down"}, headers={"retry-after": "3"}
    )
    route = chat_route(upstream, "v2", answer("chat_text_v2.json"))
    async with respx_app() as client:
        r = await client.post("/v2/responses", json={"model": MODEL, "input": [LOOK]})
    assert r.status_code == 429
    assert r.headers["retry-after"] == "3"
    error = error_of(r)
    assert error["type"] == "rate_limit_error"
    assert error["param"] == "input[0].content[1]"
    assert error["message"].startswith("input[0].content[1]: uploading the file to GigaChat failed")
    assert not route.called


async def test_a_streamed_response_with_an_image_sends_the_files_part(
    upstream: respx.MockRouter, respx_app: App
) -> None:
    upstream.post(FILES).mock(
        side_effect=lambda request: httpx.Response(
            200, json=uploaded("file-" + form_fields(request)["file"][1].split("/")[1])
        )
    )
    route = chat_route(upstream, "v2", streamed("chat_text_v2.sse"))
    async with respx_app() as client:
        body = {"model": MODEL, "input": [LOOK], "stream": True, "store": False}
        r = await client.post("/v2/responses", json=body)
    assert events(r)[-1]["type"] == "response.completed"
    assert sent_json(route)["messages"] == [
        {
            "role": "user",
            "content": [
                {"text": "Что на картинке?"},
                {"files": [{"id": "file-png"}, {"id": "file-pdf"}]},
            ],
        }
    ]


def _history(unknown: bool) -> dict[str, Any]:
    """A conversation with an earlier answer echoed back (its ids, status and annotations)."""
    extra: Callable[[dict[str, Any], str], dict[str, Any]] = lambda d, key: (  # noqa: E731
        {**d, key: True} if unknown else d
    )
    weather = {"type": "object", "properties": {"city": {"type": "string"}}}
    return {
        "model": MODEL,
        "input": [
            extra({"role": "user", "content": [
                extra({"type": "input_text", "text": "Weather in Paris?"}, "cache_hint"),
            ]}, "foo"),
            {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": "Checking.", "annotations": [],
                          "logprobs": []}]},
            extra({"type": "function_call", "id": "fc_1", "status": "completed",
                   "call_id": "call_1", "name": "weather", "arguments": '{"city":"Paris"}'},
                  "origin"),
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
        "tools": [extra({"type": "function", "name": "weather", "parameters": weather},
                        "defer_loading")],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("unknown", "ignored"),
    [
        (
            True,
            "tools[].defer_loading, input[].foo, input[].content[].cache_hint, input[].origin",
        ),
        (False, None),
    ],
)
async def test_unknown_fields_in_input_items_and_tools_are_named(
    upstream: respx.MockRouter, respx_app: App, unknown: bool, ignored: str | None
) -> None:
    route = chat_route(upstream, "v2", answer("chat_text_v2.json"))
    async with respx_app() as client:
        r = await client.post("/v2/responses", json=_history(unknown))
    assert r.status_code == 200, r.text
    assert r.headers.get("x-gpt2giga-ignored") == ignored
    # Echoed ids, statuses and annotations say nothing to apply, and are not named.
    assert sent_json(route) == {
        "model": MODEL,
        "messages": [
            {"role": "user", "content": [{"text": "Weather in Paris?"}]},
            {"role": "assistant", "content": [
                {"text": "Checking."},
                {"function_call": {"name": "weather", "arguments": {"city": "Paris"}}},
            ]},
            {"role": "tool", "content": [
                {"function_result": {"name": "weather", "result": {"result": "sunny"}}},
            ]},
        ],
        "storage": {},
        "tools": [{"functions": {"specifications": [{
            "name": "weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }]}}],
    }  # fmt: skip
