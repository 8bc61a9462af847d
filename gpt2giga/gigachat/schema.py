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
# Annotations that carry no constraint for the model; `$ref` is here because
# one still present after inlining points outside the schema.
DROPPED = frozenset(
    {
        "$schema", "$id", "$ref", "$comment", "$anchor", "$defs", "definitions", "title",
        "examples", "readOnly", "writeOnly", "deprecated", "additionalProperties",
        "propertyNames", "unevaluatedProperties", "nullable", "propertyOrdering",
        "x-google-enum-descriptions",
    }
)  # fmt: skip
# Zod's `.int()` (Claude Code's tool schemas) bounds every integer by
# JavaScript's safe-integer range: no constraint for the model, only noise.
SAFE_INTEGER = 2**53 - 1
BOUNDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
# Gemini marks a string enum with `format: "enum"`; the enum itself says it.
GEMINI_ENUM_FORMAT = ("format", "enum")
# Gemini's Schema as google-genai dumps it (and as Google's parser also takes
# it) spells its keywords in snake_case.
SNAKE_KEYWORDS = {
    "any_of": "anyOf", "max_items": "maxItems", "min_items": "minItems",
    "max_length": "maxLength", "min_length": "minLength", "max_properties": "maxProperties",
    "min_properties": "minProperties", "property_ordering": "propertyOrdering",
    "additional_properties": "additionalProperties", "defs": "$defs", "ref": "$ref",
}  # fmt: skip
MAX_DEPTH = 24
# Nodes written per schema: a schema that reuses `$defs` many times over can
# expand exponentially once inlined; past this, subtrees become plain objects.
MAX_NODES = 4096
CACHE_SIZE = 1024
EMPTY: Schema = {"type": "object", "properties": {}}
# GigaChat's parameters are always an object: a bare schema becomes this one field.
WRAP_KEY = "value"

_cache: dict[tuple[str, bytes], Schema] = {}
_encode = msgspec.json.Encoder(order="deterministic").encode
_decode = msgspec.json.Decoder().decode


def normalize(schema: Schema | bytes | None, contract: Literal["v1", "v2"]) -> Schema:
    """Function parameters GigaChat accepts, meaning kept where it can be.

    The result is shared between calls: callers must not mutate it.
    """
    if schema is None or schema == b"null":
        return EMPTY
    raw = schema if isinstance(schema, bytes) else _encode(schema)
    key = (contract, raw)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    value = _decode(raw) if isinstance(schema, bytes) else schema
    result = _Walk(value, contract).node(value, 0) if isinstance(value, dict) else {}
    if result.get("type", "object") != "object":
        result = {"type": "object", "properties": {WRAP_KEY: result}, "required": [WRAP_KEY]}
    result = {"type": "object", **result}
    result.setdefault("properties", {})
    if len(_cache) >= CACHE_SIZE:
        _cache.pop(next(iter(_cache)))
    _cache[key] = result
    return result


def wraps(schema: Schema | bytes | None) -> bool:
    """Whether `normalize` puts this schema under `WRAP_KEY` (its root is not an object)."""
    value = _decode(schema) if isinstance(schema, bytes) else schema
    if not isinstance(value, dict):
        return False
    root, _ = _Walk(value, "v2").expand(value, frozenset(), [])
    return _type(root.get("type")) not in (None, "object")


class _Walk:
    """One normalisation: the root (for `$ref`), the contract and the node budget."""

    __slots__ = ("contract", "kept", "nodes", "root")

    def __init__(self, root: Schema, contract: str) -> None:
        self.root = root
        self.contract = contract
        self.kept = STRUCTURAL if contract == "v1" else V2_KEPT
        self.nodes = MAX_NODES

    def node(self, node: Schema, depth: int, refs: frozenset[str] = frozenset()) -> Schema:
        if depth > MAX_DEPTH or self.nodes <= 0:
            return {"type": "object"}
        self.nodes -= 1
        notes: list[str] = []
        node, refs = self.expand(node, refs, notes)
        out: Schema = {}
        for key, value in node.items():
            if key == "type":
                if (kind := _type(value)) is not None:
                    out["type"] = kind
            elif key == "properties" and isinstance(value, dict):
                out["properties"] = {n: self.child(s, depth, refs) for n, s in value.items()}
            elif key == "items":
                out["items"] = self.child(value, depth, refs)
            elif key in ("enum", "const"):
                _enum(value if key == "enum" else [value], self.contract, out, notes)
            elif key == "required" and isinstance(value, list):
                names = node.get("properties") or {}
                out["required"] = [r for r in dict.fromkeys(_names(value)) if r in names]
            elif (key in BOUNDS and _no_bound(value)) or (key, value) == GEMINI_ENUM_FORMAT:
                continue
            elif key in self.kept and key != "description":
                out[key] = value
            elif key not in DROPPED and key != "description" and _scalar(value):
                notes.append(f"{key}: {_words(value)}")
        _describe(node.get("description"), notes, out)
        if "properties" in out:
            out.setdefault("type", "object")
        if not out.get("required"):
            out.pop("required", None)
        return out

    def child(self, sub: Any, depth: int, refs: frozenset[str]) -> Schema:
        return self.node(sub, depth + 1, refs) if isinstance(sub, dict) else {}

    def expand(
        self, node: Schema, refs: frozenset[str], notes: list[str]
    ) -> tuple[Schema, frozenset[str]]:
        """Inline `$ref` (GigaChat has no refs) and fold `anyOf`/`oneOf`/`allOf` into one node.

        `refs` are the references inlined on the way here: meeting one again
        means a recursive schema, which ends as a plain object.
        """
        for _ in range(MAX_DEPTH):
            if not SNAKE_KEYWORDS.keys().isdisjoint(node):
                node = {SNAKE_KEYWORDS.get(k, k): v for k, v in node.items()}
            ref = node.get("$ref")
            if isinstance(ref, str):
                rest = {k: v for k, v in node.items() if k != "$ref"}
                if ref in refs:
                    return {"type": "object", **rest}, refs
                target = _pointer(self.root, ref)
                node = {**target, **rest} if isinstance(target, dict) else rest
                refs |= {ref}
            elif isinstance(node.get("anyOf"), list) or isinstance(node.get("oneOf"), list):
                node = _one_of(node, notes)
            elif isinstance(node.get("allOf"), list):
                node = self.all_of(node, refs, notes)
            else:
                break
        return node, refs

    def all_of(self, node: Schema, refs: frozenset[str], notes: list[str]) -> Schema:
        merged: Schema = {k: v for k, v in node.items() if k != "allOf"}
        for part in node["allOf"]:
            if isinstance(part, dict):
                part, _ = self.expand(part, refs, notes)
                joined = {**part, **merged}
                for key in ("properties", "required"):
                    if key in part and key in merged:
                        # Both sides constrain: properties and required names add up.
                        joined[key] = _join(merged[key], part[key])
                merged = joined
        return merged


def _join(base: Any, extra: Any) -> Any:
    """`base` (what is merged so far, which wins) followed by what `extra` adds."""
    if isinstance(base, dict) and isinstance(extra, dict):
        return {**base, **{k: v for k, v in extra.items() if k not in base}}
    if isinstance(base, list) and isinstance(extra, list):
        return [*base, *extra]
    return base


def _pointer(root: Schema, ref: str) -> Any:
    """The target of a local JSON pointer (`#/$defs/Name`), or None."""
    if not ref.startswith("#"):
        return None
    target: Any = root
    for step in ref[1:].lstrip("/").split("/") if ref != "#" else ():
        step = step.replace("~1", "/").replace("~0", "~")
        target = target.get(step) if isinstance(target, dict) else None
    return target


def _one_of(node: Schema, notes: list[str]) -> Schema:
    """An `anyOf`/`oneOf` as its first non-null variant; the others said in words."""
    key = "anyOf" if isinstance(node.get("anyOf"), list) else "oneOf"
    real = [v for v in node[key] if isinstance(v, dict) and _type(v.get("type")) != "null"]
    rest = {k: v for k, v in node.items() if k != key}
    if not real:
        return rest
    others = [_variant(v) for v in real[1:]]
    if others:
        notes.append("may also be " + " or ".join(others))
    return {**real[0], **rest}


def _variant(variant: Schema) -> str:
    ref = variant.get("$ref")
    if isinstance(ref, str) and "type" not in variant:
        return ref.rsplit("/", 1)[-1]
    return _words(_type(variant.get("type")) or "value")


def _type(value: Any) -> str | None:
    if isinstance(value, list):
        real = [t for t in value if isinstance(t, str) and t.lower() != "null"]
        value = real[0] if real else "null" if value else None
    if not isinstance(value, str):
        return None
    value = value.lower()
    # Gemini's OpenAPI subset spells types in capitals and has TYPE_UNSPECIFIED.
    return "string" if value == "type_unspecified" else value


def _scalar(value: Any) -> bool:
    """A value worth a word: `default: null` or a nested schema says nothing useful."""
    return value is not None and not isinstance(value, dict | list)


def _names(values: list[Any]) -> list[str]:
    return [v for v in values if isinstance(v, str)]


def _no_bound(value: Any) -> bool:
    return isinstance(value, int | float) and abs(value) >= SAFE_INTEGER


def _enum(values: Any, contract: str, out: Schema, notes: list[str]) -> None:
    if not isinstance(values, list):
        return
    if contract == "v1":
        # The v1 SDK types enum as a list of strings: null only says "optional",
        # other values are said in words.
        values = [v for v in values if v is not None]
        if not all(isinstance(v, str) for v in values):
            notes.append("one of " + ", ".join(_words(v) for v in values))
            return
    if values:
        out["enum"] = values


def _words(value: Any) -> str:
    if isinstance(value, str):
        return value
    return _encode(value).decode()


def _describe(description: Any, notes: list[str], out: Schema) -> None:
    text = description if isinstance(description, str) else ""
    if notes:
        said = "; ".join(notes)
        # Only the first letter: enum values and formats keep their case.
        text = f"{text} ({said})" if text else said[:1].upper() + said[1:]
    if text:
        out["description"] = text
