"""The fake GigaChat's model: what it answers, decided by the request alone.

Text echoes the last user message; offered functions are called with
schema-valid example arguments (`example_for`); a JSON schema gets a valid
instance; a function result gets a sentence naming it. `frames.py` says it
on each contract's wire. No I/O: `server.py` serves it.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from typing import Any

import msgspec

from gpt2giga.gigachat import contract
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1

MODEL_VERSION = ":2.0.28.2"
EMBEDDING_SIZE = 8
MAX_DEPTH = 8  # nesting of generated examples before only required parts are kept

_encode = msgspec.json.Encoder().encode


def words(text: str) -> int:
    return len(text.split())


# Values for string formats agents use; anything else gets plain text.
FORMATS = {
    "date": "2025-01-01",
    "date-time": "2025-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
}


def example_for(schema: Any, depth: int = 0, root: Any = None) -> Any:
    """A value that satisfies a function's parameters or a response format schema.

    Covers what agents send: `type` (also as a list), `enum`/`const`, `$ref`
    into `$defs`, `anyOf`/`oneOf` (first non-null branch), `allOf`, numeric
    bounds, string lengths and item counts (not `pattern`).
    """
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 2 * MAX_DEPTH:
        return "example"
    schema = _resolved(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = _kind(schema)
    deep = depth >= MAX_DEPTH  # past it only what is required: recursive schemas end
    if kind == "object":
        props = schema.get("properties") or {}
        needed = schema.get("required") or () if deep else props
        return {k: example_for(v, depth + 1, root) for k, v in props.items() if k in needed}
    if kind == "array":
        count = int(schema.get("minItems", 0 if deep else 1))
        count = min(max(count, 0 if deep else 1), int(schema.get("maxItems", count)))
        return [example_for(schema.get("items") or {}, depth + 1, root) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = FORMATS.get(schema.get("format", ""), "example")
    text = text.ljust(int(schema.get("minLength", 0)), "x")
    return text[: schema["maxLength"]] if "maxLength" in schema else text


def _kind(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        return next((k for k in kind if k != "null"), "null")
    if kind is None:
        return "object" if "properties" in schema else "array" if "items" in schema else "string"
    return kind


def _resolved(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    """`schema` with `$ref`, `anyOf`/`oneOf` and `allOf` replaced by what they point at."""
    for _ in range(8):  # a bound, not a loop count: refs may be circular
        if isinstance(ref := schema.get("$ref"), str):
            target = _pointer(root, ref)
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**(target if isinstance(target, dict) else {}), **rest}
            continue
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf", "allOf")}
        if isinstance(branches := schema.get("anyOf") or schema.get("oneOf"), list):
            dicts = [b for b in branches if isinstance(b, dict)]
            real = [b for b in dicts if b.get("type") != "null"]
            schema = {**rest, **(real or dicts or [{}])[0]}
        elif isinstance(schema.get("allOf"), list):
            for part in schema["allOf"]:
                part = _resolved(part, root) if isinstance(part, dict) else {}
                props = {**rest.get("properties", {}), **part.get("properties", {})}
                rest = {**rest, **part, "properties": props} if props else {**rest, **part}
            schema = rest
        else:
            return schema
    return schema


def _pointer(root: Any, ref: str) -> Any:
    node = root
    for key in ref.removeprefix("#").strip("/").split("/") if ref != "#" else ():
        key = key.replace("~1", "/").replace("~0", "~")
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    def bound(name: str) -> float | None:
        value = schema.get(name)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    low, x_low = bound("minimum"), bound("exclusiveMinimum")
    high, x_high = bound("maximum"), bound("exclusiveMaximum")
    if integer:
        lo = math.ceil(low) if low is not None else None
        lo = math.floor(x_low) + 1 if lo is None and x_low is not None else lo
        hi = math.floor(high) if high is not None else None
        hi = math.ceil(x_high) - 1 if hi is None and x_high is not None else hi
        value = lo if lo is not None else min(1, hi) if hi is not None else 1
        multiple = bound("multipleOf")
        return int(math.ceil(value / multiple) * multiple) if multiple else value
    lo_f = low if low is not None else x_low
    hi_f = high if high is not None else x_high
    if lo_f is not None and hi_f is not None:
        return (lo_f + hi_f) / 2  # inside both inclusive and exclusive bounds
    if lo_f is not None:
        return lo_f + 1.5
    return hi_f - 1.5 if hi_f is not None else 1.5


class Answer(msgspec.Struct):
    """What the fake model 'says', independent of the contract it is said on."""

    text: str = ""
    reasoning: str = ""
    calls: list[giga.ChatFunctionCall] = []
    finish: str = "stop"
    input_tokens: int = 0


def answer(req: giga.ChatCompletionRequest) -> Answer:
    """The deterministic reply to a (v2-shaped) request."""
    msgs = req.messages
    last = msgs[-1] if msgs else giga.ChatMessage(role="user")
    prompt = contract.text_of(last)
    result = Answer(input_tokens=sum(words(contract.text_of(m)) for m in msgs) + 3)
    opts = req.model_options or giga.ChatModelOptions()
    if opts.reasoning and opts.reasoning.effort:
        result.reasoning = f"The user wrote {words(prompt)} words; I answer plainly."
    specs = [s for t in req.tools or () if t.functions for s in t.functions.specifications or ()]
    config = req.tool_config or giga.ChatToolConfig()
    if specs and config.mode != "none" and last.role != "tool":
        chosen = _chosen(specs, config, prompt)
        if chosen:
            result.calls = [
                giga.ChatFunctionCall(name=s.name, arguments=example_for(s.parameters))
                for s in chosen
            ]
            result.finish = "function_call"
            return result
    fmt = opts.response_format
    if fmt is not None and fmt.type == "json_schema" and isinstance(fmt.schema, dict):
        result.text = _encode(example_for(fmt.schema)).decode()
    elif last.role == "tool":
        outputs = [
            f"{p.function_result.name} returned {_encode(p.function_result.result).decode()}"
            for p in last.content or ()
            if not isinstance(p, str) and p.function_result is not None
        ]
        result.text = "Done: " + "; ".join(outputs) + "."
    else:
        result.text = f"Hello from the fake GigaChat! You said: {prompt[:300]}"
        received = [file_id for m in msgs for file_id in contract.files_of(m)]
        if received:
            result.text += f" [files: {', '.join(received)}]"
    if opts.max_tokens is not None and words(result.text) > opts.max_tokens:
        result.text = " ".join(result.text.split()[: opts.max_tokens])
        result.finish = "length"
    return result


def _chosen(
    specs: list[giga.ChatFunctionSpecification], config: giga.ChatToolConfig, prompt: str
) -> list[giga.ChatFunctionSpecification]:
    if config.mode == "forced" and config.function_name:
        return [s for s in specs if s.name == config.function_name][:1]
    named = [s for s in specs if re.search(rf"\b{re.escape(s.name)}\b", prompt)]
    return named or specs[:1]


def state_id(req_body: bytes) -> str:
    return str(uuid.UUID(hashlib.md5(req_body).hexdigest()))


def v2_from_v1(v1: giga1.ChatV1) -> giga.ChatCompletionRequest:
    """Read a v1 request through the same eyes as a v2 one, to answer alike."""
    messages = [_message_from_v1(m) for m in v1.messages]
    forced = v1.function_call
    config = giga.ChatToolConfig(
        mode="forced" if isinstance(forced, giga1.ChatFunctionCallV1) else forced,
        function_name=forced.name if isinstance(forced, giga1.ChatFunctionCallV1) else None,
    )
    specs = [
        giga.ChatFunctionSpecification(name=f.name, parameters=f.parameters or {})
        for f in v1.functions or ()
    ]
    fmt = v1.response_format
    return giga.ChatCompletionRequest(
        model=v1.model,
        messages=messages,
        tools=[giga.ChatTool(functions=giga.ChatFunctionsTool(specifications=specs))]
        if specs
        else None,
        tool_config=config,
        model_options=giga.ChatModelOptions(
            max_tokens=v1.max_tokens,
            reasoning=giga.ChatReasoning(effort=v1.reasoning_effort)
            if v1.reasoning_effort
            else None,
            response_format=giga.ChatResponseFormat(type=fmt.type, schema=fmt.schema)
            if fmt
            else None,
        ),
    )


def _message_from_v1(m: giga1.MessageV1) -> giga.ChatMessage:
    if m.role == "function":
        # GigaChat reads a v1 function result as a JSON object in a string.
        result = giga.ChatFunctionResult(
            name=m.name or "", result=contract.result_object(m.content or "")
        )
        return giga.ChatMessage(role="tool", content=[giga.ChatContentPart(function_result=result)])
    parts = [giga.ChatContentPart(text=m.content or "")]
    if m.attachments:
        refs = [giga.ChatContentFile(id=file_id) for file_id in m.attachments]
        parts.append(giga.ChatContentPart(files=refs))
    return giga.ChatMessage(role=m.role, content=parts)


def vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round((b - 128) / 128, 6) for b in digest[:EMBEDDING_SIZE]]
