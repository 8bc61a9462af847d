"""Both spellings of Gemini's field names: bytes in, a wire struct out.

Google's JSON parser takes proto field names (`system_instruction`) as well
as camelCase (`systemInstruction`); Google's own curl examples use the first,
and google-genai sends some objects as plain pydantic dumps
(`"thinkingConfig": {"include_thoughts": true}`, `parameters_json_schema`).
A body without any snake_case field name decodes in one msgspec pass; only
one that has one is renamed first. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from gpt2giga.gemini import wire as gem

T = TypeVar("T")

# Values that are the client's own data (function arguments and results, JSON
# schemas, labels): their keys are never renamed.
OPAQUE = frozenset(
    {"args", "response", "parameters", "parametersJsonSchema", "responseSchema",
     "responseJsonSchema", "labels"}
)  # fmt: skip

_decode_any = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


# snake_case -> camelCase for every request field whose two spellings differ.
CAMEL = {
    field.name: field.encode_name
    for struct in vars(gem).values()
    if isinstance(struct, type) and issubclass(struct, gem.In)
    for field in msgspec.structs.fields(struct)
    if field.name != field.encode_name
}
_NAMES = frozenset(name.encode() for name in CAMEL)
# Scanning for the last word of a name is about ten times faster than an
# alternation of whole names (the scan is anchored on `_`); a hit is checked whole.
_ENDINGS = sorted({name.rsplit(b"_", 1)[1] for name in _NAMES}, key=len, reverse=True)
_SNAKE_END = re.compile(rb"_(?:" + b"|".join(_ENDINGS) + rb')(?="\s*:)')


def has_snake_names(body: bytes) -> bool:
    """Whether the body uses a proto (snake_case) field name anywhere as a key."""
    for found in _SNAKE_END.finditer(body):
        start = body.rfind(b'"', 0, found.start()) + 1
        if body[start : found.end()] in _NAMES:
            return True
    return False


def _rename(value: Any) -> Any:
    if isinstance(value, list):
        return [_rename(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        key = CAMEL.get(key, key)
        out[key] = item if key in OPAQUE else _rename(item)
    return out


def decoder(kind: type[T]) -> Callable[[bytes], T]:
    """A decoder for `kind` that takes either spelling of every field name."""
    decode = msgspec.json.Decoder(kind).decode

    def read(body: bytes) -> T:
        if not has_snake_names(body):
            return decode(body)
        try:
            value = _decode_any(body)
        except msgspec.DecodeError:
            return decode(body)  # the same error, with msgspec's own message
        return decode(_encode(_rename(value)))

    return read
