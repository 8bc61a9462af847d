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
_SNAKE_KEY = re.compile(rb'"(?:' + b"|".join(n.encode() for n in CAMEL) + rb')"\s*:')


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
        if _SNAKE_KEY.search(body) is None:
            return decode(body)
        try:
            value = _decode_any(body)
        except msgspec.DecodeError:
            return decode(body)  # the same error, with msgspec's own message
        return decode(_encode(_rename(value)))

    return read
