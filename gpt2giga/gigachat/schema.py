"""One JSON Schema normaliser for function parameters, shared by every dialect.

Agents send JSON Schema draft 2020-12 (Claude Code: `$schema`, `$ref`/`$defs`,
`anyOf` with null, `exclusiveMinimum`), Gemini's OpenAPI subset (`OBJECT`,
`nullable`) or nothing at all. GigaChat's v1 `Function` model keeps only
`type`, `description`, `properties`, `items`, `enum`, `required`; v2 takes a
JSON Schema. What GigaChat would not read is folded into the description as
plain words instead of being lost. Pure and memoised: agents resend the same
tools on every turn.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Schema = dict[str, Any]

# Kept as structure on each contract; every other constraint becomes words.
STRUCTURAL = frozenset({"type", "description", "properties", "items", "enum", "required"})
V2_KEPT = STRUCTURAL | frozenset(
    {"format", "minimum", "maximum", "minLength", "maxLength", "pattern", "minItems", "maxItems"}
)
# Annotations that carry no constraint for the model.
DROPPED = frozenset(
    {
        "$schema", "$id", "$comment", "$anchor", "$defs", "definitions", "title", "examples",
        "readOnly", "writeOnly", "deprecated", "additionalProperties", "propertyNames",
        "unevaluatedProperties", "nullable", "propertyOrdering", "x-google-enum-descriptions",
    }
)  # fmt: skip
MAX_DEPTH = 24
CACHE_SIZE = 1024

_cache: dict[tuple[str, bytes], Schema] = {}
_encode = msgspec.json.Encoder(order="deterministic").encode
_decode = msgspec.json.Decoder().decode


def normalize(schema: Schema | bytes | None, contract: Literal["v1", "v2"]) -> Schema:
    """Function parameters GigaChat accepts, meaning kept where it can be.

    The result is shared between calls: callers must not mutate it.
    """
    if schema is None or schema == b"null":
        return {"type": "object", "properties": {}}
    raw = schema if isinstance(schema, bytes) else _encode(schema)
    key = (contract, raw)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    value = _decode(raw) if isinstance(schema, bytes) else schema
    result = _node(value, value, contract, 0) if isinstance(value, dict) else {}
    if result.get("type") != "object":
        result = {"type": "object", "properties": {"value": result}, "required": ["value"]}
    result.setdefault("properties", {})
    if len(_cache) >= CACHE_SIZE:
        _cache.pop(next(iter(_cache)))
    _cache[key] = result
    return result


def _node(node: Any, root: Schema, contract: str, depth: int) -> Schema:
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return {"type": "object"} if depth > MAX_DEPTH else {}
    node = _resolve(node, root, depth)
    notes: list[str] = []
    node = _collapse_variants(node, notes)
    kept = STRUCTURAL if contract == "v1" else V2_KEPT
    out: Schema = {}
    for key, value in node.items():
        if key == "type":
            out["type"] = _type(value)
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {
                name: _node(sub, root, contract, depth + 1) for name, sub in value.items()
            }
        elif key == "items":
            out["items"] = (
                _node(value, root, contract, depth + 1) if isinstance(value, dict) else {}
            )
        elif key == "enum" and isinstance(value, list):
            _enum(value, contract, out, notes)
        elif key == "const":
            _enum([value], contract, out, notes)
        elif key == "required" and isinstance(value, list):
            names = node.get("properties") or {}
            out["required"] = [r for r in value if isinstance(r, str) and r in names]
        elif key in kept and key != "description":
            out[key] = value
        elif key not in DROPPED and key != "description" and not isinstance(value, (dict, list)):
            notes.append(f"{key}: {_words(value)}")
    _describe(node.get("description"), notes, out)
    if "properties" in out:
        out.setdefault("type", "object")
    if not out.get("required"):
        out.pop("required", None)
    return out


def _resolve(node: Schema, root: Schema, depth: int) -> Schema:
    """Inline `$ref` to `#/$defs/...` or `#/definitions/...` (GigaChat has no refs)."""
    seen = 0
    while isinstance(node.get("$ref"), str) and seen < MAX_DEPTH - depth:
        target: Any = root
        for step in node["$ref"].removeprefix("#/").split("/"):
            target = target.get(step) if isinstance(target, dict) else None
        rest = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **rest} if isinstance(target, dict) else rest
        seen += 1
    return node


def _collapse_variants(node: Schema, notes: list[str]) -> Schema:
    """Fold `anyOf`/`oneOf` (nullable unions, alternatives) and `allOf` into one schema."""
    for key in ("anyOf", "oneOf"):
        variants = node.get(key)
        if not isinstance(variants, list):
            continue
        real = [v for v in variants if isinstance(v, dict) and _type(v.get("type")) != "null"]
        rest = {k: v for k, v in node.items() if k != key}
        if not real:
            return rest
        others = [_words(v.get("type", "value")) for v in real[1:]]
        if others:
            notes.append("may also be " + " or ".join(others))
        node = {**real[0], **rest}
    all_of = node.get("allOf")
    if isinstance(all_of, list):
        merged: Schema = {k: v for k, v in node.items() if k != "allOf"}
        for part in all_of:
            if isinstance(part, dict):
                props = {**part.get("properties", {}), **merged.get("properties", {})}
                required = [*merged.get("required", []), *part.get("required", [])]
                merged = {**part, **merged, "properties": props, "required": required}
        node = merged
    return node


def _type(value: Any) -> Any:
    if isinstance(value, list):
        real = [t for t in value if isinstance(t, str) and t.lower() != "null"]
        value = real[0] if real else "string"
    if isinstance(value, str):
        value = value.lower()
        return "string" if value == "type_unspecified" else value
    return value


def _enum(values: list[Any], contract: str, out: Schema, notes: list[str]) -> None:
    # The v1 SDK types enum as a list of strings; other values are said in words.
    if contract == "v1" and not all(isinstance(v, str) for v in values):
        notes.append("one of " + ", ".join(_words(v) for v in values))
    else:
        out["enum"] = values


def _words(value: Any) -> str:
    if isinstance(value, str):
        return value
    return _encode(value).decode()


def _describe(description: Any, notes: list[str], out: Schema) -> None:
    text = description if isinstance(description, str) else ""
    if notes:
        text = f"{text} ({'; '.join(notes)})" if text else "; ".join(notes).capitalize()
    if text:
        out["description"] = text
