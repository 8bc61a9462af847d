"""The fake GigaChat, driven by the gigachat SDK's own request builders and parsers.

Whatever the fake answers must parse with the SDK's response models and map
to the SDK's exceptions, so that a test passing against the fake means
something for the real GigaChat.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from gigachat import exceptions as sdk_errors
from gigachat.api import auth as sdk_auth
from gigachat.api import chat as sdk_chat
from gigachat.api import chat_completions as sdk_chat_v2
from gigachat.api import embeddings as sdk_embeddings
from gigachat.api import files as sdk_files
from gigachat.api import models as sdk_models
from gigachat.api import tools as sdk_tools
from gigachat.api.utils import _iter_event_chunks, _raise_for_status, parse_data_chunk
from gigachat.models.auth import AccessToken, Token
from gigachat.models.chat import Chat, ChatCompletion
from gigachat.models.chat import ChatCompletionChunk as SdkChunkV1
from gigachat.models.chat_completions import (
    ChatCompletionChunk as SdkChunkV2,
)
from gigachat.models.chat_completions import (
    ChatCompletionRequest,
    ChatCompletionResponse,
)
from gigachat.models.embeddings import Embeddings
from gigachat.models.files import UploadedFile
from gigachat.models.models import Model, Models
from gigachat.models.tools import TokensCount

from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.fake.frames import shape_for
from gpt2giga.gigachat.fake.model import answer, example_for
from gpt2giga.gigachat.fake.server import DEMO_CREDENTIALS, FakeConfig, FakeGigaChat, app_from_env
from tests.conftest import chunks_of, make_client, make_settings

BASE = "https://giga.test/api/v1"
OAUTH = "https://giga.test/api/v2/oauth"
SCOPE = "GIGACHAT_API_PERS"
ECHO = "Hello from the fake GigaChat! You said: "
VERSION = ":2.0.28.2"


class Giga:
    """A fake GigaChat behind httpx, as the SDK's own functions reach it."""

    def __init__(self, config: FakeConfig, raise_app_exceptions: bool = True) -> None:
        self.app = FakeGigaChat(config)
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=raise_app_exceptions)
        self.http = httpx.AsyncClient(transport=transport, base_url=BASE)
        self._token: str | None = None

    async def token(self) -> str:
        if self._token is None:
            answer = await sdk_auth.auth_async(
                self.http, url=OAUTH, credentials=DEMO_CREDENTIALS, scope=SCOPE
            )
            self._token = answer.access_token
        return self._token

    async def chat(self, body: dict[str, Any]) -> ChatCompletion:
        chat = Chat.model_validate(body)
        return await sdk_chat.chat_async(self.http, chat=chat, access_token=await self.token())

    async def chat_v2(self, body: dict[str, Any]) -> ChatCompletionResponse:
        chat = ChatCompletionRequest.model_validate(body)
        return await sdk_chat_v2.chat_async(self.http, chat=chat, access_token=await self.token())

    async def stream(self, body: dict[str, Any]) -> list[SdkChunkV1]:
        chat = Chat.model_validate(body)
        chunks = sdk_chat.stream_async(self.http, chat=chat, access_token=await self.token())
        return [chunk async for chunk in chunks]

    async def stream_v2(self, body: dict[str, Any]) -> list[SdkChunkV2]:
        chat = ChatCompletionRequest.model_validate(body)
        token = await self.token()
        return [c async for c in sdk_chat_v2.stream_async(self.http, chat=chat, access_token=token)]

    async def raw(self, contract: str, body: dict[str, Any] | bytes) -> httpx.Response:
        """POST a chat body as is (even one the SDK would refuse to build)."""
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {await self.token()}"}
        url = f"https://giga.test/api/{contract}/chat/completions"
        return await self.http.post(url, content=content, headers=headers)


@pytest.fixture
async def fakes() -> AsyncIterator[Callable[..., Giga]]:
    """`fakes(raise_app_exceptions=True, **config)`: a validating fake and its httpx client."""
    made: list[Giga] = []

    def build(raise_app_exceptions: bool = True, **config: Any) -> Giga:
        giga_ = Giga(FakeConfig(**{"validate": True, **config}), raise_app_exceptions)
        made.append(giga_)
        return giga_

    yield build
    for giga_ in made:
        await giga_.http.aclose()


@pytest.fixture
def fake_giga(fakes: Callable[..., Giga]) -> Giga:
    return fakes()


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def v2_user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def v2_text(resp: ChatCompletionResponse | SdkChunkV2, role: str = "assistant") -> str:
    return "".join(
        part.text or ""
        for message in resp.messages or ()
        if message.role == role
        for part in message.content or ()
    )


def v2_stream_text(chunks: list[SdkChunkV2], role: str = "assistant") -> str:
    """A stream's text of one role, as a client reads it: a role-less delta goes on in the
    role its message named on its first delta (the SDK's ChatMessageChunk)."""
    current, text = "assistant", ""
    for chunk in chunks:
        for message in chunk.messages or ():
            current = message.role or current
            if current == role:
                text += "".join(part.text or "" for part in message.content or ())
    return text


def v2_calls(resp: ChatCompletionResponse) -> list[tuple[str, Any]]:
    """Name and arguments of each call; JSON text arguments (the SDK's `Any`) read as JSON."""
    return [
        (part.function_call.name, _json_value(part.function_call.arguments))
        for message in resp.messages
        for part in message.content or ()
        if part.function_call is not None
    ]


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# --- a tiny JSON Schema validator (the subset the fake claims to satisfy) ---------------

FORMAT_CHECKS: dict[str, Callable[[str], object]] = {
    "date": lambda v: datetime.strptime(v, "%Y-%m-%d"),
    "date-time": lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")),
    "email": lambda v: re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v) or 1 / 0,
    "uri": lambda v: re.fullmatch(r"[a-z][a-z0-9+.-]*://\S+", v) or 1 / 0,
    "uuid": uuid.UUID,
}
TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def violations(value: Any, schema: Any, root: Any = None, at: str = "$") -> list[str]:
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        target: Any = root
        for key in schema["$ref"].removeprefix("#/").split("/") if schema["$ref"] != "#" else ():
            target = target[key]
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return violations(value, target, root, at) + violations(value, rest, root, at)
    found = [f"{at}: {problem}" for problem in _local(value, schema, root)]
    for sub in schema.get("allOf", ()):
        found += violations(value, sub, root, at)
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                found += violations(value[name], sub, root, f"{at}.{name}")
    if isinstance(value, list):
        for i, item in enumerate(value):
            found += violations(item, schema.get("items"), root, f"{at}[{i}]")
    return found


def _local(value: Any, schema: dict[str, Any], root: Any) -> list[str]:
    problems = []
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if kinds and not any(TYPES[k](value) for k in kinds):
        problems.append(f"{value!r} is not {kinds}")
    if "const" in schema and value != schema["const"]:
        problems.append(f"{value!r} != const")
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{value!r} not in enum")
    for key in ("anyOf", "oneOf"):
        if key in schema:
            passing = [b for b in schema[key] if not violations(value, b, root)]
            if not passing or (key == "oneOf" and len(passing) > 1):
                problems.append(f"{value!r} fails {key}")
    if isinstance(value, dict):
        problems += [f"missing {r}" for r in schema.get("required", ()) if r not in value]
        if schema.get("additionalProperties") is False:
            problems += [f"extra {k}" for k in value if k not in schema.get("properties", {})]
    if isinstance(value, list) and not (
        schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", 1e9)
    ):
        problems.append(f"{len(value)} items")
    if TYPES["number"](value):
        problems += _bounds(value, schema)
    if isinstance(value, str):
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 1e9):
            problems.append(f"length {len(value)}")
        if schema.get("format") in FORMAT_CHECKS:
            try:
                FORMAT_CHECKS[schema["format"]](value)
            except (ValueError, ZeroDivisionError):
                problems.append(f"{value!r} is not a {schema['format']}")
    return problems


def _bounds(value: float, schema: dict[str, Any]) -> list[str]:
    checks = [
        ("minimum", lambda b: value >= b),
        ("maximum", lambda b: value <= b),
        ("exclusiveMinimum", lambda b: value > b),
        ("exclusiveMaximum", lambda b: value < b),
        ("multipleOf", lambda b: value % b == 0),
    ]
    return [f"{value} breaks {k}" for k, ok in checks if k in schema and not ok(schema[k])]


def test_the_validator_catches_what_it_claims_to() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 2}, "s": {"format": "email"}},
        "required": ["n", "x"],
        "additionalProperties": False,
    }
    assert violations({"n": 1, "s": "nope", "y": True}, schema) == [
        "$: missing x",
        "$: extra y",
        "$.n: 1 breaks minimum",
        "$.s: 'nope' is not a email",
    ]


# --- example_for -------------------------------------------------------------------------

SCHEMAS = {
    "plain-object": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "metric": {"type": "boolean"},
            "unit": {"type": "string", "enum": ["c", "f"]},
            "ratio": {"type": "number"},
            "nothing": {"type": "null"},
        },
        "required": ["city"],
    },
    "nested-arrays": {
        "type": "object",
        "properties": {
            "rows": {
                "type": "array",
                "items": {"type": "object", "properties": {"cells": {"items": {"type": "number"}}}},
            }
        },
    },
    "nullable-lists": {
        "properties": {"a": {"type": ["string", "null"]}, "b": {"type": ["null", "integer"]}}
    },
    "any-of-null-first": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 5}]},
    "one-of": {"oneOf": [{"type": "string", "maxLength": 2}, {"type": "integer"}]},
    "refs-and-defs": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"to": {"$ref": "#/$defs/address"}, "cc": {"$ref": "#/$defs/list"}},
        "required": ["to"],
        "$defs": {
            "address": {
                "type": "object",
                "properties": {"email": {"type": "string", "format": "email"}},
                "required": ["email"],
                "additionalProperties": False,
            },
            "list": {"type": "array", "items": {"$ref": "#/$defs/address"}, "minItems": 2},
        },
    },
    "all-of": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"b": {"const": "fixed"}}, "required": ["b"]},
        ]
    },
    "integer-bounds": {
        "type": "object",
        "properties": {
            "half": {"type": "integer", "minimum": 0.5},
            "non-positive": {"type": "integer", "maximum": 0},
            "above-ten": {"type": "integer", "exclusiveMinimum": 10},
            "negative": {"type": "integer", "exclusiveMaximum": 0},
            "fives": {"type": "integer", "minimum": 7, "multipleOf": 5},
            "pinned": {"type": "integer", "minimum": 3, "maximum": 3},
        },
    },
    "number-bounds": {
        "type": "object",
        "properties": {
            "open-unit": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "below": {"type": "number", "maximum": -3},
            "above": {"type": "number", "minimum": 100},
        },
    },
    "strings": {
        "type": "object",
        "properties": {
            "long": {"type": "string", "minLength": 12},
            "short": {"type": "string", "maxLength": 3},
            "when": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "id": {"type": "string", "format": "uuid"},
            "site": {"type": "string", "format": "uri"},
        },
    },
    "item-counts": {
        "type": "object",
        "properties": {
            "three": {"type": "array", "items": {"type": "string"}, "minItems": 3},
            "none": {"type": "array", "items": {"type": "string"}, "maxItems": 0},
        },
    },
    "recursive-tree": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#"}},
            "parent": {"$ref": "#"},
        },
        "required": ["name"],
    },
    "const-root": {"const": {"ok": True}},
    "empty": {},
}


@pytest.mark.parametrize("name", SCHEMAS)
def test_example_for_satisfies_the_schema(name: str) -> None:
    value = example_for(SCHEMAS[name])
    assert violations(value, SCHEMAS[name]) == []


def test_example_for_fills_every_property_near_the_top() -> None:
    value = example_for(SCHEMAS["plain-object"])
    assert value == {
        "city": "example",
        "days": 1,
        "metric": True,
        "unit": "c",
        "ratio": 1.5,
        "nothing": None,
    }


# --- every endpoint parses with the SDK -------------------------------------------------


async def test_oauth_answer_is_the_sdks_access_token(fake_giga: Giga) -> None:
    token = await sdk_auth.auth_async(
        fake_giga.http, url=OAUTH, credentials=DEMO_CREDENTIALS, scope=SCOPE
    )
    assert isinstance(token, AccessToken)
    assert token.access_token in fake_giga.app.tokens
    # milliseconds, about token_ttl_s ahead
    assert token.expires_at == int(fake_giga.app.tokens[token.access_token] * 1000)
    assert token.expires_at > 1_700_000_000_000


async def test_password_token_is_the_sdks_token(fake_giga: Giga) -> None:
    token = await sdk_auth.token_async(fake_giga.http, user="demo", password="demo")
    assert isinstance(token, Token)
    assert token.tok in fake_giga.app.tokens
    assert token.exp > 1_700_000_000_000
    assert fake_giga.app.auth_calls == 1


async def test_v1_answer_is_the_sdks_chat_completion(fake_giga: Giga) -> None:
    resp = await fake_giga.chat({"model": "GigaChat", "messages": [user("Привет, мир")]})
    assert isinstance(resp, ChatCompletion)
    choice = resp.choices[0]
    assert (choice.message.role, choice.message.content) == ("assistant", ECHO + "Привет, мир")
    assert (choice.index, choice.finish_reason) == (0, "stop")
    assert (resp.model, resp.object_) == ("GigaChat" + VERSION, "chat.completion")
    usage = resp.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (5, 9, 14)
    assert usage.precached_prompt_tokens == 0


async def test_v1_stream_lines_are_the_sdks_chunks(fake_giga: Giga) -> None:
    chunks = await fake_giga.stream({"model": "GigaChat", "messages": [user("hi")]})
    assert all(isinstance(c, SdkChunkV1) for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ECHO + "hi"
    assert [c.choices[0].finish_reason for c in chunks] == [None, None, None, "stop"]
    assert [c.usage is not None for c in chunks] == [False, False, False, True]
    assert {c.object_ for c in chunks} == {"chat.completion"}


async def test_v2_answer_is_the_sdks_chat_completion_response(fake_giga: Giga) -> None:
    resp = await fake_giga.chat_v2({"model": "GigaChat-2-Max", "messages": [v2_user("hi")]})
    assert isinstance(resp, ChatCompletionResponse)
    assert v2_text(resp) == ECHO + "hi"
    assert (resp.model, resp.finish_reason) == ("GigaChat-2-Max" + VERSION, "stop")
    assert resp.usage is not None
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.total_tokens) == (
        4,
        8,
        12,
    )
    assert resp.created_at is not None


async def test_v2_stream_events_are_the_sdks_chunks(fake_giga: Giga) -> None:
    chunks = await fake_giga.stream_v2({"model": "GigaChat", "messages": [v2_user("hi")]})
    assert all(isinstance(c, SdkChunkV2) for c in chunks)
    assert [c.event for c in chunks] == ["response.message.delta"] * 3 + ["response.message.done"]
    assert v2_stream_text(chunks) == ECHO + "hi"
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 12


async def test_v2_storage_starts_a_thread_that_the_next_request_continues(
    fake_giga: Giga,
) -> None:
    first = await fake_giga.chat_v2(
        {"model": "GigaChat", "messages": [v2_user("one two three")], "storage": True}
    )
    assert first.thread_id is not None and uuid.UUID(first.thread_id)
    second = await fake_giga.chat_v2(
        {
            "model": "GigaChat",
            "messages": [v2_user("four")],
            "storage": {"thread_id": first.thread_id},
        }
    )
    assert second.thread_id == first.thread_id
    assert v2_text(second) == ECHO + "four"
    # The model read the stored turn too: its words count as input.
    assert second.usage is not None and first.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens + 1
    kept = fake_giga.app.threads[first.thread_id]
    assert [m.role for m in kept] == ["user", "assistant", "user", "assistant"]


async def test_v2_thread_id_rides_on_the_first_and_last_stream_events(fake_giga: Giga) -> None:
    chunks = await fake_giga.stream_v2(
        {"model": "GigaChat", "messages": [v2_user("hi")], "storage": {}}
    )
    threads = {c.thread_id for c in chunks} - {None}
    assert len(threads) == 1
    assert chunks[0].thread_id == chunks[-1].thread_id == threads.pop()


# --- shapes: varied within the contract, the same for the same request ---------------------


def prompts(n: int) -> list[dict[str, Any]]:
    """Requests alike but for their words: each gets a shape of its own."""
    weather = {**WEATHER, "name": "get_weather"}
    return [
        {
            "model": "GigaChat",
            "messages": [v2_user(f"weather number {i}")],
            "tools": v2_tools(weather),
            "model_options": {"reasoning": {"effort": "low"}},
        }
        for i in range(n)
    ]


async def test_streams_name_the_role_on_a_messages_first_delta_only(fake_giga: Giga) -> None:
    chunks = await fake_giga.stream_v2(
        {
            "model": "GigaChat",
            "messages": [v2_user("a b c d e f g")],
            "model_options": {"reasoning": {"effort": "low"}},
        }
    )
    roles = [m.role for c in chunks for m in c.messages or ()]
    assert roles == ["reasoning", None, None, "assistant", None, None, None, None]
    assert v2_stream_text(chunks, "reasoning") == "The user wrote 7 words; I answer plainly."
    assert v2_stream_text(chunks) == ECHO + "a b c d e f g"
    v1 = await fake_giga.stream({"model": "GigaChat", "messages": [user("a b c d e f g")]})
    assert [c.choices[0].delta.role for c in v1] == ["assistant"] + [None] * 5


async def test_optional_fields_come_and_go_by_the_request_and_the_sdk_reads_them_all(
    fakes: Callable[..., Giga],
) -> None:
    # validate=True: every answer and stream is read by the SDK's models before it is sent.
    fake = fakes()
    seen: dict[str, set[bool]] = {"model": set(), "details": set(), "text": set(), "plain": set()}
    for body in prompts(24):
        chunks = await fake.stream_v2(body)
        seen["model"].add(all(c.model for c in chunks))
        usage = chunks[-1].usage
        assert usage is not None and usage.total_tokens == usage.input_tokens + usage.output_tokens
        seen["details"].add(usage.input_tokens_details is not None)
        calls = [p.function_call for c in chunks for m in c.messages or () for p in m.content or ()]
        seen["text"].add(any(isinstance(f.arguments, str) for f in calls if f))
        whole = await fake.raw("v2", body)
        messages = whole.json()["messages"]
        seen["plain"].add(isinstance(messages[0]["content"], str))
        # Whatever the shape, the same answer: the call and its arguments as an object.
        assert [(n, a) for n, a in v2_calls(ChatCompletionResponse(**whole.json()))] == [
            ("get_weather", example_for(WEATHER["parameters"]))
        ]
    assert all(found == {True, False} for found in seen.values()), seen


async def test_the_same_request_gets_the_same_shape_and_the_seed_another(
    fakes: Callable[..., Giga],
) -> None:
    body = prompts(1)[0]
    one, same, other = fakes(), fakes(), fakes(seed=1)
    first = (await one.raw("v2", body)).json()
    assert (await same.raw("v2", body)).json() | {"created_at": 0} == first | {"created_at": 0}
    shapes = {shape_for(json.dumps(b).encode(), seed) for b in prompts(8) for seed in (0, 1)}
    assert len(shapes) > 4
    assert other.app.config.seed == 1


async def test_unknown_thread_is_404_and_no_storage_means_no_thread(fake_giga: Giga) -> None:
    with pytest.raises(sdk_errors.NotFoundError):
        await fake_giga.chat_v2(
            {"model": "GigaChat", "messages": [v2_user("hi")], "storage": {"thread_id": "gone"}}
        )
    plain = await fake_giga.chat_v2({"model": "GigaChat", "messages": [v2_user("hi")]})
    assert plain.thread_id is None
    assert fake_giga.app.threads == {}


async def test_models_are_the_sdks_models(fake_giga: Giga) -> None:
    models = await sdk_models.get_models_async(fake_giga.http, access_token=await fake_giga.token())
    assert isinstance(models, Models)
    assert [m.id_ for m in models.data] == [
        "GigaChat",
        "GigaChat-2",
        "GigaChat-2-Pro",
        "GigaChat-2-Max",
        "Embeddings",
        "EmbeddingsGigaR",
    ]
    assert {(m.object_, m.owned_by) for m in models.data} == {("model", "salutedevices")}


async def test_one_model_is_the_sdks_model_or_404(fake_giga: Giga) -> None:
    headers = {"Authorization": f"Bearer {await fake_giga.token()}"}
    found = await fake_giga.http.get("/models/GigaChat-2-Max", headers=headers)
    assert Model.model_validate(found.json()).id_ == "GigaChat-2-Max"
    missing = await fake_giga.http.get("/models/GPT-5", headers=headers)
    assert (missing.status_code, missing.json()) == (
        404,
        {"status": 404, "message": "No such model"},
    )


async def test_embeddings_are_the_sdks_embeddings(fake_giga: Giga) -> None:
    result = await sdk_embeddings.embeddings_async(
        fake_giga.http,
        input_=["one two", "three"],
        model="Embeddings",
        access_token=await fake_giga.token(),
    )
    assert isinstance(result, Embeddings)
    assert [(e.index, len(e.embedding), e.usage.prompt_tokens) for e in result.data] == [
        (0, 8, 3),
        (1, 8, 2),
    ]
    again = await sdk_embeddings.embeddings_async(
        fake_giga.http, input_=["one two"], model="Embeddings", access_token=await fake_giga.token()
    )
    assert again.data[0].embedding == result.data[0].embedding


async def test_tokens_count_is_a_list_of_the_sdks_tokens_count(fake_giga: Giga) -> None:
    counts = await sdk_tools.tokens_count_async(
        fake_giga.http,
        input_=["one two three", ""],
        model="GigaChat",
        access_token=await fake_giga.token(),
    )
    assert all(isinstance(c, TokensCount) for c in counts)
    assert [(c.tokens, c.characters, c.object_) for c in counts] == [
        (4, 13, "tokens"),
        (1, 0, "tokens"),
    ]


async def test_uploaded_file_is_the_sdks_uploaded_file(fake_giga: Giga) -> None:
    uploaded = await sdk_files.upload_file_async(
        fake_giga.http,
        file=("notes.txt", b"hello file", "text/plain"),
        purpose="assistant",
        access_token=await fake_giga.token(),
    )
    assert isinstance(uploaded, UploadedFile)
    assert (uploaded.filename, uploaded.bytes_, uploaded.purpose, uploaded.object_) == (
        "notes.txt",
        10,
        "assistant",
        "file",
    )
    assert fake_giga.app.files[uploaded.id_].filename == "notes.txt"
    assert uuid.UUID(uploaded.id_)


async def test_upload_without_a_form_is_400(fake_giga: Giga) -> None:
    headers = {"Authorization": f"Bearer {await fake_giga.token()}"}
    not_form = await fake_giga.http.post("/files", content=b"raw", headers=headers)
    no_file = await fake_giga.http.post(
        "/files", data={"purpose": "general"}, files={"x": b""}, headers=headers
    )
    assert [r.status_code for r in (not_form, no_file)] == [400, 400]
    assert no_file.json()["message"] == "No file in the form"


async def test_upload_refuses_a_type_gigachat_does_not_take(fake_giga: Giga) -> None:
    r = await fake_giga.http.post(
        "/files",
        files={"file": ("a.gif", b"GIF89a", "image/gif")},
        data={"purpose": "general"},
        headers={"Authorization": f"Bearer {await fake_giga.token()}"},
    )
    assert (r.status_code, r.json()["message"]) == (400, "Unsupported file type image/gif")


async def upload(fake_giga: Giga, data: bytes = b"\x89PNG", mime: str = "image/png") -> str:
    found = await sdk_files.upload_file_async(
        fake_giga.http, file=("a", data, mime), access_token=await fake_giga.token()
    )
    return found.id_


async def test_the_answer_names_the_files_a_v1_request_attached(fake_giga: Giga) -> None:
    image, text = await upload(fake_giga), await upload(fake_giga, b"notes", "text/plain")
    answer = await fake_giga.chat(
        {
            "model": "GigaChat",
            "messages": [
                {"role": "user", "content": "first", "attachments": [image]},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "Look", "attachments": [text]},
            ],
        }
    )
    assert answer.choices[0].message.content == (
        f"Hello from the fake GigaChat! You said: Look [files: {image}, {text}]"
    )


async def test_the_answer_names_the_files_a_v2_request_attached(fake_giga: Giga) -> None:
    image = await upload(fake_giga)
    message = {"role": "user", "content": [{"text": "Look"}, {"files": [{"id": image}]}]}
    answer = await fake_giga.chat_v2({"model": "GigaChat", "messages": [message]})
    assert v2_text(answer) == f"Hello from the fake GigaChat! You said: Look [files: {image}]"


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_a_file_never_uploaded_is_400(fake_giga: Giga, contract: str) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    message: dict[str, Any] = (
        {"role": "user", "content": "x", "attachments": [missing]}
        if contract == "v1"
        else {"role": "user", "content": [{"text": "x"}, {"files": [{"id": missing}]}]}
    )
    r = await fake_giga.raw(contract, {"model": "GigaChat", "messages": [message]})
    assert (r.status_code, r.json()["message"]) == (400, f"File {missing} not found")


# --- errors map to the SDK's exceptions ---------------------------------------------------

SDK_ERRORS = [
    (400, sdk_errors.BadRequestError),
    (401, sdk_errors.AuthenticationError),
    (403, sdk_errors.ForbiddenError),
    (404, sdk_errors.NotFoundError),
    (413, sdk_errors.RequestEntityTooLargeError),
    (422, sdk_errors.UnprocessableEntityError),
    (429, sdk_errors.RateLimitError),
    (500, sdk_errors.ServerError),
    (503, sdk_errors.ServerError),
]


@pytest.mark.parametrize(("status", "error"), SDK_ERRORS)
async def test_injected_errors_map_to_the_sdks_exceptions(
    fake_giga: Giga, status: int, error: type[sdk_errors.ResponseError]
) -> None:
    raw = await fake_giga.raw("v1", {"model": f"error-{status}", "messages": [user("hi")]})
    assert raw.json() == {"status": status, "message": f"Injected error {status}"}
    assert raw.headers["content-type"] == "application/json"
    with pytest.raises(error) as caught:
        _raise_for_status(raw.url, raw.status_code, raw.content, raw.headers)
    assert type(caught.value) is error
    with pytest.raises(error):
        await fake_giga.chat_v2({"model": f"error-{status}", "messages": [v2_user("hi")]})


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_error_429_carries_retry_after(fake_giga: Giga, contract: str) -> None:
    with pytest.raises(sdk_errors.RateLimitError) as caught:
        if contract == "v1":
            await fake_giga.stream({"model": "error-429", "messages": [user("hi")]})
        else:
            await fake_giga.stream_v2({"model": "error-429", "messages": [v2_user("hi")]})
    assert caught.value.retry_after == 1.0


@pytest.mark.parametrize("model", ["GPT-5", "error-abc", "error-200", "Embeddings"])
async def test_unknown_chat_model_is_404_no_such_model(fake_giga: Giga, model: str) -> None:
    raw = await fake_giga.raw("v2", {"model": model, "messages": [v2_user("hi")]})
    assert (raw.status_code, raw.json()) == (404, {"status": 404, "message": "No such model"})
    with pytest.raises(sdk_errors.NotFoundError):
        await fake_giga.chat({"model": model, "messages": [user("hi")]})


async def test_unknown_embeddings_model_is_404(fake_giga: Giga) -> None:
    with pytest.raises(sdk_errors.NotFoundError):
        await sdk_embeddings.embeddings_async(
            fake_giga.http, input_=["x"], model="GigaChat", access_token=await fake_giga.token()
        )


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/embeddings", b"not json", 400),
        ("/embeddings", b'{"model": "Embeddings"}', 422),
        ("/tokens/count", b'{"model": "GigaChat", "input": "one string"}', 422),
        ("/chat/completions", b"{", 400),
        ("/chat/completions", b'{"model": "GigaChat"}', 422),
    ],
)
async def test_malformed_bodies_are_gigachat_errors_not_crashes(
    fakes: Callable[..., Giga], path: str, body: bytes, status: int
) -> None:
    fake_giga = fakes(validate=False)
    headers = {"Authorization": f"Bearer {await fake_giga.token()}"}
    resp = await fake_giga.http.post(path, content=body, headers=headers)
    assert resp.status_code == status
    assert resp.json()["status"] == status


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer fake-forged", "Basic " + DEMO_CREDENTIALS, "Bearer "],
)
async def test_bad_tokens_are_401(fake_giga: Giga, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    resp = await fake_giga.http.get("/models", headers=headers)
    assert (resp.status_code, resp.json()) == (401, {"status": 401, "message": "Token has expired"})
    with pytest.raises(sdk_errors.AuthenticationError):
        await sdk_models.get_models_async(fake_giga.http, access_token="fake-forged")


async def test_expired_tokens_are_401(fakes: Callable[..., Giga]) -> None:
    fake_giga = fakes(token_ttl_s=-1)
    with pytest.raises(sdk_errors.AuthenticationError):
        await fake_giga.chat({"model": "GigaChat", "messages": [user("hi")]})


async def test_static_token_is_accepted(fakes: Callable[..., Giga]) -> None:
    fake_giga = fakes(static_token="static-jwe")
    models = await sdk_models.get_models_async(fake_giga.http, access_token="static-jwe")
    assert len(models.data) == 6
    assert fake_giga.app.auth_calls == 0


async def test_wrong_credentials_are_401(fake_giga: Giga) -> None:
    with pytest.raises(sdk_errors.AuthenticationError):
        await sdk_auth.auth_async(
            fake_giga.http, url=OAUTH, credentials="d3Jvbmc6d3Jvbmc=", scope=SCOPE
        )
    with pytest.raises(sdk_errors.AuthenticationError):
        await sdk_auth.token_async(fake_giga.http, user="demo", password="wrong")
    assert fake_giga.app.tokens == {}


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({"RqUID": "not-a-uuid"}, {"scope": SCOPE}, "Invalid RqUID"),
        ({}, {"scope": SCOPE}, "Invalid RqUID"),
        ({"RqUID": str(uuid.uuid4())}, {"scope": "EVERYTHING"}, "scope is not valid"),
    ],
)
async def test_oauth_rejects_what_gigachat_rejects(
    fake_giga: Giga, headers: dict[str, str], body: dict[str, str], message: str
) -> None:
    resp = await fake_giga.http.post(
        OAUTH, data=body, headers={"Authorization": f"Basic {DEMO_CREDENTIALS}", **headers}
    )
    assert (resp.status_code, resp.json()["message"]) == (400, message)
    with pytest.raises(sdk_errors.BadRequestError):
        _raise_for_status(resp.url, resp.status_code, resp.content, resp.headers)


@pytest.mark.parametrize(
    ("contract", "body"),
    [
        ("v1", {"model": "GigaChat", "messages": [{"role": "tool", "content": "x"}]}),
        ("v1", {"model": "GigaChat", "messages": [user("hi")], "reasoning_effort": "max"}),
        ("v1", {"model": "GigaChat", "messages": [user("hi")], "function_call": "forced"}),
        ("v2", {"model": "GigaChat", "messages": [{"content": [{"text": "no role"}]}]}),
        ("v2", {"model": "GigaChat", "messages": [{"role": "user", "content": 5}]}),
    ],
)
async def test_validation_rejects_what_the_sdk_rejects(
    fakes: Callable[..., Giga], contract: str, body: dict[str, Any]
) -> None:
    resp = await fakes(validate=True).raw(contract, body)
    assert resp.status_code == 422
    assert resp.json()["message"].startswith("gigachat SDK rejects the request")
    lenient = await fakes(validate=False).raw(contract, body)
    assert "SDK" not in lenient.text


# --- deterministic answers ---------------------------------------------------------------

WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}
TIME = {
    "name": "get_time",
    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
}
RICH = {
    "name": "send_mail",
    "parameters": {
        "type": "object",
        "properties": {
            "to": {"$ref": "#/$defs/who"},
            "at": {"type": "string", "format": "date-time"},
        },
        "required": ["to"],
        "$defs": {
            "who": {
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "properties": {"email": {"type": "string", "format": "email"}},
                    },
                ]
            }
        },
    },
}


def v2_tools(*specs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"functions": {"specifications": list(specs)}}]


async def test_offered_functions_are_called_with_schema_valid_arguments(fake_giga: Giga) -> None:
    v1 = await fake_giga.chat(
        {"model": "GigaChat", "messages": [user("what's the weather?")], "functions": [WEATHER]}
    )
    message = v1.choices[0].message
    assert v1.choices[0].finish_reason == "function_call"
    assert message.function_call is not None
    assert message.function_call.name == "get_weather"
    assert violations(message.function_call.arguments, WEATHER["parameters"]) == []
    assert uuid.UUID(message.functions_state_id or "")

    v2 = await fake_giga.chat_v2(
        {"model": "GigaChat", "messages": [v2_user("mail it")], "tools": v2_tools(RICH)}
    )
    assert v2.finish_reason == "function_call"
    [(name, arguments)] = v2_calls(v2)
    assert name == "send_mail"
    assert violations(arguments, RICH["parameters"]) == []
    assert uuid.UUID(v2.messages[-1].tools_state_id or "")


async def test_forced_function_is_honoured(fake_giga: Giga) -> None:
    prompt = "what's the weather in get_weather terms?"
    v1 = await fake_giga.chat(
        {
            "model": "GigaChat",
            "messages": [user(prompt)],
            "functions": [WEATHER, TIME],
            "function_call": {"name": "get_time"},
        }
    )
    assert v1.choices[0].message.function_call is not None
    assert v1.choices[0].message.function_call.name == "get_time"
    v2 = await fake_giga.chat_v2(
        {
            "model": "GigaChat",
            "messages": [v2_user(prompt)],
            "tools": v2_tools(WEATHER, TIME),
            "tool_config": {"mode": "forced", "function_name": "get_time"},
        }
    )
    assert [name for name, _ in v2_calls(v2)] == ["get_time"]


async def test_function_call_none_answers_in_text(fake_giga: Giga) -> None:
    v1 = await fake_giga.chat(
        {
            "model": "GigaChat",
            "messages": [user("hi")],
            "functions": [WEATHER],
            "function_call": "none",
        }
    )
    assert (v1.choices[0].message.content, v1.choices[0].finish_reason) == (ECHO + "hi", "stop")


async def test_functions_named_in_the_prompt_are_all_called_on_v2_and_once_on_v1(
    fake_giga: Giga,
) -> None:
    prompt = "call get_time and get_weather please"
    v2 = await fake_giga.chat_v2(
        {"model": "GigaChat", "messages": [v2_user(prompt)], "tools": v2_tools(RICH, WEATHER, TIME)}
    )
    assert [name for name, _ in v2_calls(v2)] == ["get_weather", "get_time"]
    v1 = await fake_giga.chat(
        {"model": "GigaChat", "messages": [user(prompt)], "functions": [RICH, WEATHER, TIME]}
    )
    assert v1.choices[0].message.function_call is not None
    assert v1.choices[0].message.function_call.name == "get_weather"


async def test_a_function_result_is_answered_in_text_that_mentions_it(fake_giga: Giga) -> None:
    v1 = await fake_giga.chat(
        {
            "model": "GigaChat",
            "functions": [WEATHER],
            "messages": [
                user("weather?"),
                {
                    "role": "assistant",
                    "content": "",
                    "function_call": {"name": "get_weather", "arguments": {"city": "Paris"}},
                },
                {"role": "function", "name": "get_weather", "content": '{"temp": 21}'},
            ],
        }
    )
    assert v1.choices[0].message.content == 'Done: get_weather returned {"temp":21}.'
    v2 = await fake_giga.chat_v2(
        {
            "model": "GigaChat",
            "tools": v2_tools(WEATHER),
            "messages": [
                v2_user("weather?"),
                {
                    "role": "assistant",
                    "content": [{"function_call": {"name": "get_weather", "arguments": {}}}],
                },
                {
                    "role": "tool",
                    "content": [
                        {"function_result": {"name": "get_weather", "result": {"temp": 21}}}
                    ],
                },
            ],
        }
    )
    assert v2_text(v2) == 'Done: get_weather returned {"temp":21}.'
    assert v2.finish_reason == "stop"


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 2},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age"],
}


async def test_json_schema_response_format_gives_valid_json_text(fake_giga: Giga) -> None:
    fmt = {"type": "json_schema", "schema": PERSON, "strict": True}
    v1 = await fake_giga.chat(
        {"model": "GigaChat", "messages": [user("a person")], "response_format": fmt}
    )
    assert violations(json.loads(v1.choices[0].message.content), PERSON) == []
    v2 = await fake_giga.chat_v2(
        {
            "model": "GigaChat",
            "messages": [v2_user("a person")],
            "model_options": {"response_format": fmt},
        }
    )
    assert violations(json.loads(v2_text(v2)), PERSON) == []


async def test_reasoning_effort_gives_reasoning_content(fake_giga: Giga) -> None:
    v1 = await fake_giga.chat(
        {"model": "GigaChat-2-Pro", "messages": [user("think")], "reasoning_effort": "high"}
    )
    assert v1.choices[0].message.reasoning_content == "The user wrote 1 words; I answer plainly."
    assert v1.choices[0].message.content == ECHO + "think"
    v2 = await fake_giga.chat_v2(
        {
            "model": "GigaChat-2-Pro",
            "messages": [v2_user("think")],
            "model_options": {"reasoning": {"effort": "low"}},
        }
    )
    assert v2_text(v2, "reasoning") == "The user wrote 1 words; I answer plainly."
    assert v2_text(v2) == ECHO + "think"
    chunks = await fake_giga.stream(
        {"model": "GigaChat", "messages": [user("x")], "reasoning_effort": "low"}
    )
    assert (
        chunks[0].choices[0].delta.reasoning_content == "The user wrote 1 words; I answer plainly."
    )


async def test_small_max_tokens_stops_with_length(fake_giga: Giga) -> None:
    v1 = await fake_giga.chat({"model": "GigaChat", "messages": [user("hi")], "max_tokens": 3})
    assert (v1.choices[0].message.content, v1.choices[0].finish_reason) == (
        "Hello from the",
        "length",
    )
    v2 = await fake_giga.stream_v2(
        {"model": "GigaChat", "messages": [v2_user("hi")], "model_options": {"max_tokens": 4}}
    )
    assert v2_stream_text(v2) == "Hello from the fake"
    assert v2[-1].finish_reason == "length"


def test_answer_is_a_pure_function_of_the_request() -> None:
    req = giga.ChatCompletionRequest(
        model="GigaChat", messages=[giga.ChatMessage(role="user", content="same")]
    )
    assert answer(req) == answer(req)
    assert answer(req).text == ECHO + "same"


# --- stream framing, byte for byte -------------------------------------------------------


# The whole wire answer to "hi" with every optional field (`vary=False`), `%(c)d` standing
# for the `created` timestamp. The role comes on a message's first delta only.
V1_HI_STREAM = (
    b'data: {"choices":[{"delta":{"role":"assistant","content":"Hello from the "},"index":0}],'
    b'"created":%(c)d,"model":"GigaChat:2.0.28.2","object":"chat.completion"}\n\n'
    b'data: {"choices":[{"delta":{"content":"fake GigaChat! You "},"index":0}],'
    b'"created":%(c)d,"model":"GigaChat:2.0.28.2","object":"chat.completion"}\n\n'
    b'data: {"choices":[{"delta":{"content":"said: hi"},"index":0}],'
    b'"created":%(c)d,"model":"GigaChat:2.0.28.2","object":"chat.completion"}\n\n'
    b'data: {"choices":[{"delta":{"content":""},"index":0,"finish_reason":"stop"}],'
    b'"created":%(c)d,"model":"GigaChat:2.0.28.2","object":"chat.completion",'
    b'"usage":{"prompt_tokens":4,"completion_tokens":8,"total_tokens":12,'
    b'"precached_prompt_tokens":0}}\n\n'
    b"data: [DONE]\n\n"
)
V2_HI_STREAM = (
    b"event: response.message.delta\n"
    b'data: {"model":"GigaChat:2.0.28.2","created_at":%(c)d,'
    b'"messages":[{"role":"assistant","content":[{"text":"Hello from the "}]}]}\n\n'
    b"event: response.message.delta\n"
    b'data: {"model":"GigaChat:2.0.28.2","created_at":%(c)d,'
    b'"messages":[{"content":[{"text":"fake GigaChat! You "}]}]}\n\n'
    b"event: response.message.delta\n"
    b'data: {"model":"GigaChat:2.0.28.2","created_at":%(c)d,'
    b'"messages":[{"content":[{"text":"said: hi"}]}]}\n\n'
    b"event: response.message.done\n"
    b'data: {"model":"GigaChat:2.0.28.2","created_at":%(c)d,"finish_reason":"stop",'
    b'"usage":{"input_tokens":4,"input_tokens_details":{"prompt_tokens":4,"cached_tokens":0},'
    b'"output_tokens":8,"total_tokens":12}}\n\n'
)


async def test_v1_stream_framing_is_exact(fakes: Callable[..., Giga]) -> None:
    resp = await fakes(vary=False).raw(
        "v1", {"model": "GigaChat", "messages": [user("hi")], "stream": True}
    )
    assert resp.headers["content-type"] == "text/event-stream"
    created = json.loads(resp.content.split(b"\n", 1)[0].removeprefix(b"data: "))["created"]
    assert resp.content == V1_HI_STREAM % {b"c": created}
    parsed = [parse_data_chunk(line, SdkChunkV1) for line in resp.text.split("\n") if line]
    assert [c is None for c in parsed] == [False] * 4 + [True]


async def test_v2_stream_framing_is_exact(fakes: Callable[..., Giga]) -> None:
    resp = await fakes(vary=False).raw(
        "v2", {"model": "GigaChat", "messages": [v2_user("hi")], "stream": True}
    )
    assert resp.headers["content-type"] == "text/event-stream"
    created = json.loads(resp.content.split(b"\n")[1].removeprefix(b"data: "))["created_at"]
    assert resp.content == V2_HI_STREAM % {b"c": created}
    events = list(_iter_event_chunks(resp.text.splitlines(), SdkChunkV2))
    assert [e.event for e in events] == ["response.message.delta"] * 3 + ["response.message.done"]


async def test_v2_stream_sends_all_calls_in_one_delta_with_the_state_id(fake_giga: Giga) -> None:
    chunks = await fake_giga.stream_v2(
        {
            "model": "GigaChat",
            "messages": [v2_user("get_time get_weather")],
            "tools": v2_tools(WEATHER, TIME),
        }
    )
    assert [c.event for c in chunks] == ["response.message.delta", "response.message.done"]
    message = (chunks[0].messages or [])[0]
    assert [p.function_call.name for p in message.content or () if p.function_call] == [
        "get_weather",
        "get_time",
    ]
    assert uuid.UUID(message.tools_state_id or "")
    assert chunks[1].finish_reason == "function_call"


async def test_v1_stream_ends_with_the_function_call_and_usage(fake_giga: Giga) -> None:
    chunks = await fake_giga.stream(
        {"model": "GigaChat", "messages": [user("weather")], "functions": [WEATHER]}
    )
    [last] = chunks
    assert last.choices[0].finish_reason == "function_call"
    assert last.choices[0].delta.function_call is not None
    assert last.choices[0].delta.function_call.arguments == {
        "city": "example",
        "days": 1,
        "unit": "celsius",
    }
    assert last.usage is not None


async def test_stream_break_drops_the_connection_after_the_first_frame(
    fakes: Callable[..., Giga],
) -> None:
    quiet = fakes(raise_app_exceptions=False)
    for contract, message in (("v1", user("hi")), ("v2", v2_user("hi"))):
        resp = await quiet.raw(
            contract, {"model": "stream-break", "messages": [message], "stream": True}
        )
        assert resp.status_code == 200
        assert resp.content.count(b"\n\n") == 1
        assert b"stream-break" + VERSION.encode() in resp.content
    loud = fakes()
    with pytest.raises(RuntimeError, match="drops the connection"):
        await loud.raw("v1", {"model": "stream-break", "messages": [user("hi")], "stream": True})


async def test_stream_break_answers_normally_without_stream(fake_giga: Giga) -> None:
    resp = await fake_giga.chat({"model": "stream-break", "messages": [user("hi")]})
    assert resp.choices[0].message.content == ECHO + "hi"


# --- the gateway's own client against the fake ---------------------------------------------


async def test_the_gateway_client_and_the_fake_agree() -> None:
    fake = FakeGigaChat(FakeConfig(validate=True))
    client = make_client(
        make_settings(GIGACHAT_BASE_URL=BASE, GIGACHAT_AUTH_URL=OAUTH),
        httpx.ASGITransport(app=fake),
    )
    req = giga.ChatCompletionRequest(
        model="GigaChat",
        messages=[giga.ChatMessage(role="user", content=[giga.ChatContentPart(text="hi")])],
    )
    try:
        for contract in ("v1", "v2"):
            resp = await client.chat(req, contract)  # type: ignore[arg-type]
            assert resp.finish_reason == "stop"
            stream = await client.stream(req, contract)  # type: ignore[arg-type]
            chunks = [c async for c in chunks_of(stream)]
            await stream.aclose()
            assert chunks[-1].event == "response.message.done"
            assert chunks[-1].usage is not None
        assert [c.tokens for c in await client.tokens_count("GigaChat", ["a b"])] == [3]
        assert fake.auth_calls == 1
        assert [contract for contract, _ in fake.requests] == ["v1", "v1", "v2", "v2"]
    finally:
        await client.aclose()


# --- ASGI plumbing ------------------------------------------------------------------------------


async def test_lifespan_starts_and_stops() -> None:
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await FakeGigaChat()({"type": "lifespan"}, receive, send)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


async def test_unknown_paths_are_404(fake_giga: Giga) -> None:
    headers = {"Authorization": f"Bearer {await fake_giga.token()}"}
    resp = await fake_giga.http.delete("/chat/completions", headers=headers)
    assert (resp.status_code, resp.json()) == (404, {"status": 404, "message": "Not found"})


def test_app_from_env_reads_fake_gigachat_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_GIGACHAT_TTFB_MS", "5")
    monkeypatch.setenv("FAKE_GIGACHAT_CHUNK_MS", "2.5")
    monkeypatch.setenv("FAKE_GIGACHAT_VALIDATE", "1")
    monkeypatch.setenv("FAKE_GIGACHAT_STATIC_TOKEN", "bench")
    config = app_from_env().config
    assert (config.ttfb_ms, config.chunk_ms, config.validate, config.static_token) == (
        5.0,
        2.5,
        True,
        "bench",
    )
    assert (config.vary, config.seed) == (True, 0)  # shapes vary unless told not to
    monkeypatch.setenv("FAKE_GIGACHAT_VARY", "0")
    monkeypatch.setenv("FAKE_GIGACHAT_SEED", "7")
    config = app_from_env().config
    assert (config.vary, config.seed) == (False, 7)


# --- what the fake received, for tests in another process ------------------------------


async def test_kept_bodies_are_shown_by_request_id_and_bounded(fakes: Callable[..., Giga]) -> None:
    giga_ = fakes(keep_received=2)
    token = await giga_.token()
    bodies = [
        ("v1", {"model": "GigaChat", "messages": [user("one")], "flags": ["a"]}),
        ("v2", {"model": "GigaChat", "messages": [v2_user("two")]}),
        ("v1", {"model": "GigaChat", "messages": [user("three")]}),
    ]
    for n, (contract, body) in enumerate(bodies):
        headers = {"Authorization": f"Bearer {token}", "X-Request-ID": f"r-{n}"}
        url = f"https://giga.test/api/{contract}/chat/completions"
        assert (await giga_.http.post(url, json=body, headers=headers)).status_code == 200
    shown = await giga_.http.get("https://giga.test/api/_fake/received/r-1")
    assert shown.json() == {"contract": "v2", "body": bodies[1][1]}
    gone = await giga_.http.get("https://giga.test/api/_fake/received/r-0")
    assert gone.status_code == 404


async def test_nothing_is_kept_unless_asked(fake_giga: Giga) -> None:
    await fake_giga.chat({"model": "GigaChat", "messages": [user("x")]})
    assert fake_giga.app.received == {}
    shown = await fake_giga.http.get("https://giga.test/api/_fake/received/")
    assert shown.status_code == 404
