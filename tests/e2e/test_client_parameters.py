"""GigaChat's own fields from the official SDKs' `extra_body` to what the fake GigaChat received.

Each SDK sends `extra_body={...}` merged into the top level of its body; a
nested `"extra_body": {...}` reaches the gateway as a literal object. Both go
to GigaChat in the contract's places (v1: the SDK's `Chat`, v2: its
`ChatCompletionRequest`); the fake shows the body it got for the request's
`X-Request-ID`, so every assertion is on GigaChat's side of the wire.
"""

from __future__ import annotations

import uuid
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from tests.e2e.conftest import GatewayFactory, Server, received

MODEL = "GigaChat-2-Max"
# SDK-merged at the top level, plus a literal extra_body inside.
EXTRA: dict[str, Any] = {
    "repetition_penalty": 1.1,
    "profanity_check": False,
    "extra_body": {
        "flags": ["f1"],
        "function_ranker": {"enabled": True, "top_n": 2},
        "brand_new_knob": {"level": 2},
        "model": "GigaChat-Pro",
    },
}
IGNORED = "extra_body.model"
V1_FIELDS = {
    "brand_new_knob": {"level": 2},
    "repetition_penalty": 1.1,
    "profanity_check": False,
    "flags": ["f1"],
    "function_ranker": {"enabled": True, "top_n": 2},
}
V2_FIELDS = {
    "brand_new_knob": {"level": 2},
    "model_options": {"repetition_penalty": 1.1},
    "disable_filter": True,
    "flags": ["f1"],
    "ranker_options": {"enabled": True, "top_n": 2},
}


def fresh_id() -> str:
    return "e2e-" + uuid.uuid4().hex


def check(fake: Server, request_id: str, contract: str, max_tokens: int | None = None) -> None:
    got_contract, body = received(fake, request_id)
    assert got_contract == contract
    assert body.pop("model") == MODEL  # the client's model, not extra_body's
    assert body.pop("messages")
    expected = dict(V1_FIELDS if contract == "v1" else V2_FIELDS)
    if max_tokens is not None:
        if contract == "v1":
            expected["max_tokens"] = max_tokens
        else:
            expected["model_options"] = {"max_tokens": max_tokens, **expected["model_options"]}
    assert body == expected


@pytest.mark.parametrize("contract", ["v1", "v2"])
def test_openai_chat_extra_body_reaches_gigachat(
    gateway_url: str, fake_gigachat: Server, contract: str
) -> None:
    request_id = fresh_id()
    with openai.OpenAI(base_url=f"{gateway_url}/{contract}", api_key="-", max_retries=0) as c:
        raw = c.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Ping?"}],
            extra_body=EXTRA,
            extra_headers={"x-request-id": request_id},
        )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello from the fake GigaChat! You said: Ping?"
    assert raw.headers["x-gpt2giga-ignored"] == IGNORED
    check(fake_gigachat, request_id, contract)


@pytest.mark.parametrize("contract", ["v1", "v2"])
def test_openai_responses_extra_body_reaches_gigachat(
    gateway_url: str, fake_gigachat: Server, contract: str
) -> None:
    request_id = fresh_id()
    with openai.OpenAI(base_url=f"{gateway_url}/{contract}", api_key="-", max_retries=0) as c:
        raw = c.responses.with_raw_response.create(
            model=MODEL,
            input="Ping?",
            store=False,
            stream=True,
            extra_body=EXTRA,
            extra_headers={"x-request-id": request_id},
        )
        events = list(raw.parse())
    assert events[-1].type == "response.completed"
    assert raw.headers["x-gpt2giga-ignored"] == "store, " + IGNORED
    got_contract, body = received(fake_gigachat, request_id)
    assert body.pop("stream") is True
    assert got_contract == contract
    assert {k: v for k, v in body.items() if k not in ("model", "messages")} == (
        V1_FIELDS if contract == "v1" else V2_FIELDS
    )


@pytest.mark.parametrize("contract", ["v1", "v2"])
def test_anthropic_extra_body_reaches_gigachat(
    gateway_url: str, fake_gigachat: Server, contract: str
) -> None:
    request_id = fresh_id()
    base = gateway_url + ("" if contract == "v1" else "/v2")
    with anthropic.Anthropic(base_url=base, api_key="-", max_retries=0) as c:
        raw = c.messages.with_raw_response.create(
            model=MODEL,
            max_tokens=64,
            messages=[{"role": "user", "content": "Ping?"}],
            extra_body=EXTRA,
            extra_headers={"x-request-id": request_id},
        )
    message = raw.parse()
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the fake GigaChat! You said: Ping?"
    assert raw.headers["x-gpt2giga-ignored"] == IGNORED
    check(fake_gigachat, request_id, contract, max_tokens=64)


@pytest.mark.parametrize("contract", ["v1", "v2"])
def test_a_mistyped_field_is_refused_before_gigachat_in_each_sdks_shape(
    gateway_url: str, fake_gigachat: Server, contract: str
) -> None:
    request_id = fresh_id()
    oai = openai.OpenAI(base_url=f"{gateway_url}/{contract}", api_key="-", max_retries=0)
    with oai, pytest.raises(openai.BadRequestError) as oai_error:
        oai.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "x"}],
            extra_body={"extra_body": {"flags": "f1"}},
            extra_headers={"x-request-id": request_id},
        )
    assert oai_error.value.param == "extra_body.flags"
    base = gateway_url + ("" if contract == "v1" else "/v2")
    ant = anthropic.Anthropic(base_url=base, api_key="-", max_retries=0)
    with ant, pytest.raises(anthropic.BadRequestError) as ant_error:
        ant.messages.create(
            model=MODEL,
            max_tokens=8,
            messages=[{"role": "user", "content": "x"}],
            extra_body={"update_interval": "soon"},
            extra_headers={"x-request-id": request_id},
        )
    assert "`$.update_interval`" in ant_error.value.message
    with pytest.raises(KeyError):
        received(fake_gigachat, request_id)


@pytest.mark.parametrize("contract", ["v1", "v2"])
def test_gemini_extra_body_is_named_ignored_and_never_sent(
    gateway_url: str, fake_gigachat: Server, contract: str
) -> None:
    request_id = fresh_id()
    options = types.HttpOptions(
        base_url=f"{gateway_url}/{contract}",
        headers={"x-request-id": request_id},
        extra_body={"repetition_penalty": 1.1},
    )
    with genai.Client(api_key="-", http_options=options) as c:
        response = c.models.generate_content(model=MODEL, contents="Ping?")
    assert response.text == "Hello from the fake GigaChat! You said: Ping?"
    assert response.sdk_http_response and response.sdk_http_response.headers
    assert response.sdk_http_response.headers["x-gpt2giga-ignored"] == "repetition_penalty"
    got_contract, body = received(fake_gigachat, request_id)
    assert got_contract == contract
    assert set(body) == {"model", "messages"}


def test_disabled_builtin_mapping_keeps_provider_tools_from_gigachat(
    start_gateway: GatewayFactory, fake_gigachat: Server
) -> None:
    gateway = start_gateway(GPT2GIGA_DISABLE_BUILTIN_TOOL_MAPPING="true")
    request_id = fresh_id()
    with anthropic.Anthropic(base_url=gateway.url + "/v2", api_key="-", max_retries=0) as c:
        raw = c.messages.with_raw_response.create(
            model=MODEL,
            max_tokens=64,
            messages=[{"role": "user", "content": "Ping?"}],
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
            extra_headers={"x-request-id": request_id},
        )
    assert raw.parse().content[0].type == "text"
    assert raw.headers["x-gpt2giga-ignored"] == "tools.web_search_20250305"
    assert "tools" not in received(fake_gigachat, request_id)[1]
