"""Hypothesis strategies for what GigaChat may send: documents the gigachat SDK's models accept.

Built from the SDK models' own fields (`model_fields`), so a field the SDK adds
or makes optional is generated without touching this file. A field the SDK
calls optional is sometimes missing and sometimes null; unknown fields ride
along; and the shapes the SDK's validators normalize are generated as sent
(message content as text, one part, or a list of parts and texts; the state id
under any of its three names; `created` for `created_at`). Well-known words
(roles, finish reasons, event names, built-in tool names) are drawn more often
than random text, so that translators meet them. Every document is checked
with the SDK's model before use (`sdk_valid`).
"""

from __future__ import annotations

import enum
import json
import types
import typing
from typing import Any

import httpx
from gigachat.api.utils import _iter_event_chunks, parse_data_chunk
from gigachat.models import chat as sdk_v1
from gigachat.models import chat_completions as sdk_v2
from hypothesis import strategies as st
from pydantic import BaseModel

Doc = dict[str, Any]

# Text with what breaks naive code: quotes, backslashes, newlines, non-ASCII, astral characters.
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12
) | st.sampled_from(["", " ", "Привет", '{"a": 1}', "\\n", "END", "</s>", "🙂"])
KEY = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEY, inner, max_size=3),
    max_leaves=6,
)
UUID = st.uuids().map(str)
_SPLITS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# Counts are ints in the SDK, any size and sign; the usual ones are small.
COUNT = st.integers(0, 5000) | st.integers()


def words(*known: str) -> st.SearchStrategy[str]:
    """A well-known word most of the time, any text otherwise."""
    return st.sampled_from(known) | TEXT


ROLE = st.sampled_from(["assistant", "reasoning"]) | words(
    "assistant", "reasoning", "user", "system", "tool", "function_in_progress"
)
FINISH = words("stop", "length", "function_call", "blacklist", "error", "tool_calls")
EVENT = words(
    "response.message.delta",
    "response.message.done",
    "response.tool.started",
    "response.tool.in_progress",
    "response.tool.completed",
    "response.tool.failed",
)
TOOL = words("web_search", "image_generate", "code_interpreter", "url_content_extraction")
TOOL_STATUS = words("in_progress", "success", "completed", "done", "failed", "error", "censored")
# What GigaChat sends as function arguments: an object, JSON text, or anything at all.
ARGUMENTS = (
    st.dictionaries(KEY, JSON, max_size=3)
    | st.dictionaries(KEY, JSON, max_size=3).map(lambda v: json.dumps(v, ensure_ascii=False))
    | JSON
)

# Names GigaChat may call: plain, a built-in's renamed twin, a Codex namespace, the
# structured-output function.
CALL_NAMES = ("get_weather", "user_code_interpreter", "mcp__docs__search", "answer")
CALL_NAME = words(*CALL_NAMES)

# Field overrides by (model, field), then by field name alone.
FIELD: dict[tuple[type[BaseModel], str], st.SearchStrategy[Any]] = {
    (sdk_v2.ChatToolExecution, "name"): TOOL,
    (sdk_v2.ChatToolExecution, "status"): TOOL_STATUS,
    (sdk_v2.ChatFunctionCall, "name"): CALL_NAME,
    (sdk_v1.FunctionCall, "name"): CALL_NAME,
    (sdk_v1.FunctionCall, "arguments"): st.none() | st.dictionaries(KEY, JSON, max_size=3),
    (sdk_v2.ChatFunctionCall, "arguments"): ARGUMENTS,
    (sdk_v2.ChatFunctionResult, "result"): JSON,
    (sdk_v2.ChatCompletionChunk, "event"): EVENT,
}
NAMED: dict[str, st.SearchStrategy[Any]] = {
    "role": ROLE,
    "finish_reason": FINISH,
    "tools_state_id": UUID | TEXT,
    "functions_state_id": UUID | TEXT,
    "message_id": UUID | TEXT,
    "thread_id": UUID | TEXT,
    "model": words("GigaChat-2-Max:2.0.28.2", "GigaChat", "Embeddings"),
    "url": words("https://example.com/a", "http://x.test"),
}
# Filled by the SDK from response headers, never part of a body.
SKIPPED = frozenset({"x_headers"})
MESSAGES = (sdk_v2.ChatMessage, sdk_v2.ChatMessageChunk)
# The SDK folds these into `tools_state_id` / `created_at` before validating.
ALIASES = {
    "tools_state_id": ("tool_state_id", "functions_state_id"),
    "created_at": ("created",),
}
ALIASED = (sdk_v2.ChatMessage, sdk_v2.ChatMessageChunk, sdk_v2.ChatCompletionResponse)
ALIASED += (sdk_v2.ChatCompletionChunk,)


def document(model: type[BaseModel], depth: int = 0) -> st.SearchStrategy[Doc]:
    """A JSON object the SDK's `model` accepts, as GigaChat could send it."""
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    hints = typing.get_type_hints(model)  # forward references resolved
    for name, field in model.model_fields.items():
        if name in SKIPPED:
            continue
        key = field.alias or name
        if field.is_required():
            required[key] = _value(model, name, hints[name], depth)
        elif depth < 3:  # deeper down only what is required: recursive models end
            value = _value(model, name, hints[name], depth)
            nullable = type(None) in typing.get_args(hints[name]) or hints[name] is Any
            optional[key] = st.none() | value if nullable else value
    known = set(required) | set(optional) | {n for n in ALIASES for n in ALIASES[n]}
    unknown = st.dictionaries(KEY.filter(lambda k: k not in known), JSON, max_size=2)
    doc = st.fixed_dictionaries(required, optional=optional)
    built = st.tuples(doc, unknown).map(lambda pair: {**pair[1], **pair[0]})
    return built.flatmap(_aliased) if model in ALIASED else built


def _aliased(doc: Doc) -> st.SearchStrategy[Doc]:
    """The doc, or with a field under a name the SDK folds into it."""
    options = [doc]
    for field, names in ALIASES.items():
        if doc.get(field) is not None:
            rest = {k: v for k, v in doc.items() if k != field}
            options += [{**rest, name: doc[field]} for name in names]
    return st.sampled_from(options)


def _value(model: type[BaseModel], name: str, annotation: Any, depth: int) -> Any:
    if (model, name) in FIELD:
        return FIELD[(model, name)]
    if issubclass(model, MESSAGES) and name == "content":
        return content(depth)
    if name in NAMED and _base(annotation) is str:
        return NAMED[name]
    return of_type(annotation, depth + 1)


def content(depth: int) -> st.SearchStrategy[Any]:
    """Message content as the SDK takes it: text, one part, or a list of parts and texts."""
    part = document(sdk_v2.ChatContentPart, depth + 1)
    return TEXT | part | st.lists(part | TEXT, max_size=3)


def _base(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if _is_union(annotation) and len(args) == 1 else annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def of_type(annotation: Any, depth: int) -> st.SearchStrategy[Any]:
    """Any JSON value pydantic accepts for `annotation`, in its plain JSON type."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return JSON
    if _is_union(annotation):
        return st.one_of([of_type(a, depth) for a in args])
    if annotation is type(None):
        return st.none()
    if origin is list:
        return st.lists(of_type(args[0], depth), max_size=3)
    if origin is dict:
        return st.dictionaries(KEY, of_type(args[1], depth), max_size=3)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from([m.value for m in annotation])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return document(annotation, depth)
    simple = {str: TEXT, int: COUNT, float: st.floats(allow_nan=False, allow_infinity=False)}
    if annotation in simple:
        return simple[annotation]
    if annotation is bool:
        return st.booleans()
    raise TypeError(f"no strategy for {annotation!r}")


def sdk_valid(model: type[BaseModel], doc: Any) -> Any:
    """`doc`, after checking that the SDK's model accepts it as it comes off the wire."""
    model.model_validate_json(json.dumps(doc, ensure_ascii=False))
    return doc


# --- whole answers and streams -------------------------------------------------------------
#
# Two kinds of each: any document the SDK's model accepts (odd shapes, mostly
# empty), and an answer shaped as GigaChat gives one (text, reasoning, calls,
# a finish, usage at the end) with odd parts mixed in, so that the rules on
# text (stop sequences, structured output) are reached often.


def _with(
    generic: st.SearchStrategy[Doc], fields: st.SearchStrategy[Doc]
) -> st.SearchStrategy[Doc]:
    """A generic document (unknown fields and all) with `fields` laid over it."""
    return st.tuples(generic, fields).map(lambda pair: {**pair[0], **pair[1]})


TEXT_PART = st.fixed_dictionaries({"text": TEXT})
CALL = st.fixed_dictionaries({"name": CALL_NAME, "arguments": ARGUMENTS})
CALL_PART = st.fixed_dictionaries({"function_call": CALL})
USAGE = st.fixed_dictionaries(
    {"input_tokens": COUNT, "output_tokens": COUNT, "total_tokens": COUNT},
    optional={"input_tokens_details": st.fixed_dictionaries({"cached_tokens": COUNT})},
)
V2_USAGE = USAGE | document(sdk_v2.ChatUsage)


def _message(roles: st.SearchStrategy[Any]) -> st.SearchStrategy[Doc]:
    parts = st.lists(TEXT_PART | CALL_PART | document(sdk_v2.ChatContentPart, 1), max_size=3)
    return st.fixed_dictionaries(
        {"content": parts | parts | TEXT},
        optional={"role": roles, "tools_state_id": UUID, "message_id": UUID},
    )


def _finish_fields() -> st.SearchStrategy[Doc]:
    return st.fixed_dictionaries({"finish_reason": FINISH}, optional={"usage": V2_USAGE})


V2_SHAPED = _with(
    document(sdk_v2.ChatCompletionResponse),
    st.tuples(st.lists(_message(ROLE), min_size=1, max_size=3), _finish_fields()).map(
        lambda pair: {"messages": [{"role": "assistant", **m} for m in pair[0]], **pair[1]}
    ),
)
V2_ANSWER = document(sdk_v2.ChatCompletionResponse) | V2_SHAPED | V2_SHAPED
V2_CHUNK = document(sdk_v2.ChatCompletionChunk)
V2_DELTA = _with(
    V2_CHUNK, st.fixed_dictionaries({"messages": st.lists(_message(ROLE), min_size=1, max_size=1)})
)
V2_DONE = _with(V2_CHUNK, _finish_fields())

V1_USAGE = st.fixed_dictionaries(
    {"prompt_tokens": COUNT, "completion_tokens": COUNT, "total_tokens": COUNT},
    optional={"precached_prompt_tokens": COUNT},
)
V1_DELTA_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "role": st.just("assistant"),
        "content": TEXT,
        "reasoning_content": TEXT,
        "function_call": st.fixed_dictionaries(
            {"name": CALL_NAME}, optional={"arguments": st.dictionaries(KEY, JSON, max_size=3)}
        ),
        "functions_state_id": UUID,
    },
)
V1_SHAPED = _with(
    document(sdk_v1.ChatCompletion),
    st.tuples(V1_DELTA_FIELDS, FINISH, V1_USAGE).map(
        lambda t: {
            "choices": [
                {"message": {**t[0], "role": "assistant"}, "index": 0, "finish_reason": t[1]}
            ],
            "usage": t[2],
        }
    ),
)
V1_ANSWER = document(sdk_v1.ChatCompletion) | V1_SHAPED | V1_SHAPED
V1_CHUNK = document(sdk_v1.ChatCompletionChunk)


def _v1_chunk(finish: bool) -> st.SearchStrategy[Doc]:
    choice = st.tuples(V1_DELTA_FIELDS, FINISH).map(
        lambda t: {"delta": t[0], "index": 0, **({"finish_reason": t[1]} if finish else {})}
    )
    fields = st.tuples(choice, V1_USAGE).map(
        lambda t: {"choices": [t[0]], **({"usage": t[1]} if finish else {})}
    )
    return _with(V1_CHUNK, fields)


# Line breaks to Python's `splitlines`, which the SDK's line reader (httpx) splits on too:
# raw inside a JSON string they would cut the line. GigaChat escapes them; so do we.
_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}


def _line(chunk: Doc) -> str:
    return json.dumps(chunk, ensure_ascii=False).translate(_BREAKS)


@st.composite
def v2_stream(draw: st.DrawFn) -> bytes:
    """A v2 body: named events, each a chunk the SDK reads (it reads only named events)."""
    deltas = st.lists(V2_DELTA | V2_DELTA | V2_CHUNK, min_size=1, max_size=5)
    shaped = st.tuples(deltas, st.lists(V2_DONE, max_size=1)).map(lambda t: t[0] + t[1])
    kind = st.lists(V2_CHUNK, min_size=1, max_size=5) | shaped | shaped
    chunks = draw(kind.filter(bool))
    body = b""
    for chunk in chunks:
        name = draw(EVENT.filter(lambda e: e.strip() and not set(e) & set(_SPLITS)))
        body += f"event: {name}\ndata: {_line(chunk)}\n\n".encode()
    lines = httpx.Response(200, content=body).iter_lines()
    assert len(list(_iter_event_chunks(lines, sdk_v2.ChatCompletionChunk))) == len(chunks)
    return body


@st.composite
def v1_stream(draw: st.DrawFn) -> bytes:
    """A v1 body: `data:` lines the SDK reads one by one, ending `[DONE]` or not."""
    shaped = st.tuples(
        st.lists(_v1_chunk(False), max_size=5), st.lists(_v1_chunk(True), max_size=1)
    )
    kind = st.lists(V1_CHUNK, min_size=1, max_size=5) | shaped.map(lambda t: t[0] + t[1])
    chunks = draw(kind.filter(bool))
    body = b"".join(f"data: {_line(chunk)}\n\n".encode() for chunk in chunks)
    body += b"data: [DONE]\n\n" if draw(st.booleans()) else b""
    lines = httpx.Response(200, content=body).iter_lines()
    read = [parse_data_chunk(line, sdk_v1.ChatCompletionChunk) for line in lines]
    assert len([c for c in read if c is not None]) == len(chunks)
    return body
