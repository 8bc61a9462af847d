"""GigaChat's own fields past a dialect: typed, placed per contract, never over the gateway's."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import pytest

from gpt2giga import errors, fields
from gpt2giga.anthropic import wire as ant
from gpt2giga.gigachat import native
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.request import Options, Prepared
from gpt2giga.gigachat.upstream import build_pool
from tests.conftest import make_settings

BASE: dict[str, Any] = {
    "model": "GigaChat-2-Max",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hi"}],
}


def hub() -> giga.ChatCompletionRequest:
    """What a translator built: its own model options set."""
    return giga.ChatCompletionRequest(
        model="GigaChat-2-Max",
        messages=[giga.ChatMessage(role="user", content=[giga.ChatContentPart(text="hi")])],
        model_options=giga.ChatModelOptions(max_tokens=100, temperature=0.5),
    )


def sent(body: dict[str, Any], contract: str, **opts: Any) -> tuple[dict[str, Any], list[str]]:
    """The upstream body and the ignored names for an Anthropic body with extra fields."""
    prepared = Prepared(request=hub(), structured=opts.pop("structured", None))
    options = Options(contract=contract, model="GigaChat-2-Max", **opts)  # type: ignore[arg-type]
    scan = fields.scan(msgspec.json.encode({**BASE, **body}), ant.MessagesRequest)
    native.apply(prepared, scan, options)
    settings = make_settings().gigachat
    client = GigaChatClient(settings, build_pool(settings, httpx.AsyncHTTPTransport()))
    encoded = client.encode_chat(prepared.request, contract, False, prepared.extra)  # type: ignore[arg-type]
    payload = msgspec.json.decode(encoded)
    payload.pop("messages")
    payload.pop("model")
    return payload, prepared.ignored


KNOBS: dict[str, Any] = {
    "repetition_penalty": 1.1,
    "update_interval": 0.2,
    "profanity_check": False,
    "flags": ["f1"],
    "function_ranker": {"enabled": True, "top_n": 3},
}


@pytest.mark.parametrize("where", ["top", "extra_body"])
def test_sdk_merged_and_literal_fields_reach_v1_as_the_sdk_spells_them(where: str) -> None:
    body = KNOBS if where == "top" else {"extra_body": KNOBS}
    payload, ignored = sent(body, "v1")
    assert payload == {
        "temperature": 0.5,
        "max_tokens": 100,
        "repetition_penalty": 1.1,
        "update_interval": 0.2,
        "profanity_check": False,
        "flags": ["f1"],
        "function_ranker": {"enabled": True, "top_n": 3},
    }
    assert ignored == []


@pytest.mark.parametrize("where", ["top", "extra_body"])
def test_the_same_fields_take_their_v2_places(where: str) -> None:
    body = KNOBS if where == "top" else {"extra_body": KNOBS}
    payload, ignored = sent(body, "v2")
    assert payload == {
        "model_options": {
            "temperature": 0.5,
            "max_tokens": 100,
            "repetition_penalty": 1.1,
            "update_interval": 0.2,
        },
        "ranker_options": {"enabled": True, "top_n": 3},
        "disable_filter": True,
        "flags": ["f1"],
    }
    assert ignored == []


V2_ONLY: dict[str, Any] = {
    "filter_config": {"request_content": {"neuro": False}},
    "user_info": {"timezone": "Europe/Moscow"},
    "ranker_options": {"enabled": True, "embeddings_model": "Embeddings"},
    "model_options": {"preset": "creative", "top_logprobs": 2, "repetition_penalty": 1.2},
    "disable_filter": True,
}


def test_v2_fields_pass_on_v2() -> None:
    payload, ignored = sent(V2_ONLY, "v2")
    assert payload == {
        "model_options": {
            "preset": "creative",
            "temperature": 0.5,
            "max_tokens": 100,
            "repetition_penalty": 1.2,
            "top_logprobs": 2,
        },
        "filter_config": {"request_content": {"neuro": False}},
        "ranker_options": {"enabled": True, "embeddings_model": "Embeddings"},
        "user_info": {"timezone": "Europe/Moscow"},
        "disable_filter": True,
    }
    assert ignored == []


def test_what_v1_cannot_say_is_named_and_the_rest_applied() -> None:
    payload, ignored = sent(V2_ONLY, "v1")
    assert payload == {
        "temperature": 0.5,
        "max_tokens": 100,
        "repetition_penalty": 1.2,
        "profanity_check": False,
        "function_ranker": {"enabled": True},
    }
    assert ignored == [
        "filter_config",
        "user_info",
        "model_options.preset",
        "model_options.top_logprobs",
        "ranker_options.embeddings_model",
    ]


@pytest.mark.parametrize("contract", ["v1", "v2"])
def test_the_gateways_own_fields_and_the_translators_are_never_overridden(contract: str) -> None:
    extra = {
        "model": "GigaChat-Pro",
        "messages": [{"role": "user", "content": "injected"}],
        "stream": True,
        "tools": [{"web_search": {}}],
        "storage": {"thread_id": "someone-elses"},
        "temperature": 1.5,
        "model_options": {"max_tokens": 5, "top_p": 0.3},
    }
    payload, ignored = sent({"extra_body": extra}, contract)
    options = {"temperature": 0.5, "max_tokens": 100, "top_p": 0.3}
    assert payload == (options if contract == "v1" else {"model_options": options})
    assert ignored == [
        "extra_body.model",
        "extra_body.messages",
        "extra_body.stream",
        "extra_body.tools",
        "extra_body.storage",
        "extra_body.temperature",
        "extra_body.model_options.max_tokens",
    ]


@pytest.mark.parametrize("contract", ["v1", "v2"])
def test_unknown_extra_body_keys_go_to_gigachat_like_additional_fields(contract: str) -> None:
    body = {
        "extra_body": {
            "brand_new_knob": {"level": 2},
            "additional_fields": {"another": 1, "model": "x"},
        },
        "additional_fields": {"third": True},
    }
    payload, ignored = sent(body, contract)
    assert {k: payload[k] for k in ("brand_new_knob", "another", "third")} == {
        "brand_new_knob": {"level": 2},
        "another": 1,
        "third": True,
    }
    assert ignored == ["extra_body.additional_fields.model"]


def test_a_top_level_field_nobody_knows_is_named_not_sent() -> None:
    payload, ignored = sent({"brand_new_knob": 1, "storage": {"thread_id": "t"}}, "v2")
    assert payload == {"model_options": {"temperature": 0.5, "max_tokens": 100}}
    assert ignored == ["brand_new_knob", "storage"]


def test_both_spellings_the_first_wins_and_the_other_is_named() -> None:
    payload, ignored = sent(
        {"disable_filter": False, "profanity_check": False, "extra_body": {"flags": ["b"]}}
        | {"flags": ["a"]},
        "v2",
    )
    assert payload["disable_filter"] is False
    assert payload["flags"] == ["a"]
    assert ignored == ["profanity_check", "extra_body.flags"]


def test_native_reasoning_and_format_respect_the_gateways_settings() -> None:
    body = {"reasoning_effort": "high", "response_format": {"type": "json_schema", "schema": {}}}
    payload, ignored = sent(body, "v2", disable_reasoning=True, structured="answer")
    assert payload == {"model_options": {"temperature": 0.5, "max_tokens": 100}}
    assert ignored == ["reasoning_effort", "response_format"]
    payload, ignored = sent(body, "v1")
    assert payload["reasoning_effort"] == "high"
    assert payload["response_format"] == {"type": "json_schema", "schema": {}}
    assert ignored == []


def test_nested_unknown_keys_of_gigachat_fields_are_named() -> None:
    _, ignored = sent({"model_options": {"zz": 1}, "extra_body": {"filter_config": {"q": 1}}}, "v2")
    assert ignored == ["model_options.zz", "extra_body.filter_config.q"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"repetition_penalty": "high"}, "repetition_penalty"),
        ({"extra_body": {"flags": "f1"}}, "extra_body.flags"),
        (
            {"extra_body": {"model_options": {"top_logprobs": 1.5}}},
            "extra_body.model_options.top_logprobs",
        ),
        ({"reasoning_effort": "maximal"}, "reasoning_effort"),
        ({"extra_body": "not an object"}, "extra_body"),
    ],
)
def test_a_mistyped_field_is_a_400_naming_it(body: dict[str, Any], param: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        sent(body, "v2")
    assert caught.value.param == param
    assert param in caught.value.message


@pytest.mark.parametrize(
    "model", ["gigachat.models.chat:Chat", "gigachat.models.chat_completions:ChatCompletionRequest"]
)
def test_every_field_of_the_sdks_request_models_is_known(model: str) -> None:
    import importlib

    module, _, name = model.partition(":")
    cls = getattr(importlib.import_module(module), name)
    assert set(cls.model_fields) <= native.KNOWN
