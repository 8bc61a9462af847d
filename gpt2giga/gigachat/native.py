"""GigaChat's own request fields sent past a client's dialect: typed, placed per contract, or named.

A client reaches GigaChat-only knobs two ways: its SDK merges `extra_body`
into the top level (`repetition_penalty`, `flags`, ...), or it sends a literal
`"extra_body": {...}`. Both are typed here (a wrong type is a 400 naming the
field) and put where the hub (v2) keeps them; `contract.to_v1` spells them as
the SDK's v1 `Chat` model does. The gateway's own fields (model, messages,
stream, tools, storage and thread ids) and whatever the translator already set
are never overridden: such a field is named ignored, as is anything v1 cannot
say. Other keys of a literal `extra_body` (and the SDK's `additional_fields`)
go to GigaChat merged into the body, so a new GigaChat parameter works without
a release. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from gpt2giga import errors, fields
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.request import Options, Prepared


class Native(msgspec.Struct, kw_only=True):
    """The fields of the SDK's v1 `Chat` and v2 `ChatCompletionRequest` a client may set."""

    disable_filter: bool | None = None
    profanity_check: bool | None = None
    flags: list[str] | None = None
    ranker_options: giga.ChatRankerOptions | None = None
    function_ranker: giga1.FunctionRankerV1 | None = None
    filter_config: giga.ChatFilterConfig | None = None
    user_info: giga.ChatUserInfo | None = None
    model_options: giga.ChatModelOptions | None = None
    repetition_penalty: float | None = None
    update_interval: float | None = None
    # A dialect sets these too: they fill only what its translator left unset.
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    reasoning: giga.ChatReasoning | None = None
    response_format: giga.ChatResponseFormat | None = None
    # The SDK's own escape hatch: merged into the body, never over a typed field.
    additional_fields: dict[str, Any] | None = None


# GigaChat fields the gateway owns: the translator and the route decide them.
OWN = (
    "model", "messages", "stream", "tools", "functions", "function_call", "tool_config",
    "storage", "tools_state_id", "assistant_id", "n",
)  # fmt: skip


class ExtraBody(Native, kw_only=True):
    """A literal `extra_body` object: GigaChat's fields, the owned ones only to be named."""

    model: Any = None
    messages: Any = None
    stream: Any = None
    tools: Any = None
    functions: Any = None
    function_call: Any = None
    tool_config: Any = None
    storage: Any = None
    tools_state_id: Any = None
    assistant_id: Any = None
    n: Any = None


class Body(Native, kw_only=True):
    """What a body holds beyond its dialect: GigaChat's fields at the top level, `extra_body`."""

    extra_body: ExtraBody | None = None


NAMES = frozenset(f.name for f in msgspec.structs.fields(Body))
KNOWN = frozenset(f.name for f in msgspec.structs.fields(ExtraBody))

# Native field -> where the v2 hub keeps it (`model_options.x`: inside model_options).
# Order matters when a client sends both spellings: the first one set wins, as
# the SDK lets `disable_filter` win over `profanity_check`.
PLACE = (
    ("disable_filter", "disable_filter"),
    ("profanity_check", "disable_filter"),
    ("flags", "flags"),
    ("filter_config", "filter_config"),
    ("user_info", "user_info"),
    ("repetition_penalty", "model_options.repetition_penalty"),
    ("update_interval", "model_options.update_interval"),
    ("temperature", "model_options.temperature"),
    ("top_p", "model_options.top_p"),
    ("max_tokens", "model_options.max_tokens"),
    ("reasoning", "model_options.reasoning"),
    ("reasoning_effort", "model_options.reasoning"),
    ("response_format", "model_options.response_format"),
)
# Objects placed field by field, so that the translator's fields in them stay:
# client field -> hub field (v1's `function_ranker` is v2's `ranker_options`).
GROUPS = (
    ("model_options", "model_options"),
    ("ranker_options", "ranker_options"),
    ("function_ranker", "ranker_options"),
)
GROUP_TYPES: dict[str, type[msgspec.Struct]] = {
    "model_options": giga.ChatModelOptions,
    "ranker_options": giga.ChatRankerOptions,
}
# Hub places the v1 contract has no field for.
NOT_V1 = frozenset(
    {
        "filter_config",
        "user_info",
        "model_options.preset",
        "model_options.unnormalized_history",
        "model_options.top_logprobs",
        "ranker_options.embeddings_model",
    }
)


class Taken(msgspec.Struct, kw_only=True):
    """A body's GigaChat fields, typed; raw fields for GigaChat; what is already known ignored."""

    body: Body | None = None
    extra: dict[str, Any] = {}
    ignored: list[str] = []


def read(scan: fields.Scan) -> Taken:
    """GigaChat's fields among a body's unknown ones (a 400 if mistyped); the rest is ignored."""
    claimed = {key: scan.top[key] for key in scan.unknown if key in NAMES}
    ignored = [path for path in scan.unknown if path not in claimed]
    if not claimed:
        return Taken(ignored=ignored)
    try:
        body = msgspec.convert(claimed, Body)
    except msgspec.ValidationError as exc:
        param = str(exc).rpartition("at `$.")[2].rstrip("`") or None
        raise errors.BadRequest(f"Invalid request: {exc}", param=param) from None
    literal = claimed.get("extra_body") or {}
    extra: dict[str, Any] = {}
    for path in fields.unknown(claimed, Body):
        key = path.removeprefix("extra_body.")
        if key != path and key in literal and key not in KNOWN:
            extra[key] = literal[key]  # a GigaChat field this gateway does not know yet
        else:
            ignored.append(path)
    for prefix, source in (("", body), ("extra_body.", body.extra_body)):
        for key, value in ((source.additional_fields if source else None) or {}).items():
            if key in KNOWN or key in extra:
                ignored.append(f"{prefix}additional_fields.{key}")
            else:
                extra[key] = value
    return Taken(body=body, extra=extra, ignored=ignored)


def place(
    request: giga.ChatCompletionRequest, taken: Taken, opts: Options, structured: bool = False
) -> list[str]:
    """Put the typed fields into `request` (in place); the paths of those left out."""
    ignored: list[str] = []
    body = taken.body
    if body is None:
        return ignored
    for prefix, source in (("", body), ("extra_body.", body.extra_body)):
        if source is None:
            continue
        if isinstance(source, ExtraBody):
            ignored += [prefix + name for name in OWN if getattr(source, name) is not None]
        for name, target, value in _targets(source):
            if not _allowed(target, value, opts, structured) or not _put(request, target, value):
                ignored.append(prefix + name)
    return ignored


def apply(prepared: Prepared, scan: fields.Scan, opts: Options) -> Taken:
    """`read` and `place` for a translated request; what was taken, for a second request."""
    taken = read(scan)
    prepared.ignored += taken.ignored
    prepared.ignored += place(prepared.request, taken, opts, prepared.structured is not None)
    prepared.extra = taken.extra
    return taken


def _targets(source: Native) -> list[tuple[str, str, Any]]:
    """(client path, hub place, value) for each field set; objects field by field."""
    found = [
        (name, target, _value(source, name))
        for name, target in PLACE
        if getattr(source, name) is not None
    ]
    for name, target in GROUPS:
        group = getattr(source, name)
        for f in msgspec.structs.fields(group) if group is not None else ():
            value = getattr(group, f.name)
            if value is not None:
                found.append((f"{name}.{f.name}", f"{target}.{f.name}", value))
    return found


def _value(source: Native, name: str) -> Any:
    value = getattr(source, name)
    if name == "profanity_check":
        return not value  # v2 says it the other way round, as the SDK's model maps it
    if name == "reasoning_effort":
        return giga.ChatReasoning(effort=value)
    return value


def _allowed(target: str, value: Any, opts: Options, structured: bool) -> bool:
    """Whether a value may go to its place at all: v1 must be able to say it."""
    if target == "model_options.reasoning" and opts.disable_reasoning:
        return False
    if target == "model_options.response_format" and structured:
        return False  # the translator asks for the client's schema through a function
    if opts.contract == "v2":
        return True
    if target in NOT_V1:
        return False
    if target == "model_options.reasoning":
        return value.effort in ("low", "medium", "high")
    if target == "model_options.response_format":
        return value.type == "json_schema" and isinstance(value.schema, dict)
    return True


def _put(request: giga.ChatCompletionRequest, target: str, value: Any) -> bool:
    """Set an unset place; False when the translator (or an earlier field) set it."""
    owner: Any = request
    group, _, name = target.rpartition(".")
    if group:
        owner = getattr(request, group)
        if owner is None:
            owner = GROUP_TYPES[group]()
            setattr(request, group, owner)
    if getattr(owner, name) is not None:
        return False
    setattr(owner, name, value)
    return True
