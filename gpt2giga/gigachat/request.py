"""What every dialect needs to build a GigaChat request: options, effort, tools, structured output.

Pure functions over GigaChat's v2 structs; each dialect's `translate.to_giga`
uses them so that a rule (temperature 0, reserved function names, the
structured-output emulation) is written once.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from gpt2giga import errors
from gpt2giga.config import Settings
from gpt2giga.gigachat import schema as json_schema
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.contract import result_object
from gpt2giga.gigachat.files import Attachment

_decode_any = msgspec.json.Decoder().decode

Contract = Literal["v1", "v2"]
Effort = Literal["low", "medium", "high"]

# GigaChat's own built-in tools: a client function of the same name would
# collide with them upstream, so it travels under another name.
BUILTIN_NAMES = frozenset(
    {
        "web_search",
        "code_interpreter",
        "image_generate",
        "url_content_extraction",
        "model_3d_generate",
    }
)
RENAMED_PREFIX = "user_"

# Client effort words -> the levels GigaChat knows (v1 accepts only these).
EFFORT: dict[str, Effort | None] = {
    "none": None,
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}


class Options(msgspec.Struct, frozen=True, kw_only=True):
    """The per-request translation settings, resolved once from Settings and the route."""

    contract: Contract
    model: str
    default_max_tokens: int | None = None
    structured_mode: Literal["function_call", "native"] = "function_call"
    enable_reasoning: bool = False
    disable_reasoning: bool = False
    map_builtin_tools: bool = True

    @property
    def builtins(self) -> bool:
        """Whether provider tools (web search, code execution, ...) become GigaChat's built-ins.

        Only v2 has built-in tools; GPT2GIGA_DISABLE_BUILTIN_TOOL_MAPPING keeps
        them from being mapped at all (accepted and named ignored).
        """
        return self.contract == "v2" and self.map_builtin_tools

    @classmethod
    def build(cls, settings: Settings, contract: Contract, requested_model: str | None) -> Options:
        p = settings.proxy
        return cls(
            contract=contract,
            model=settings.resolve_model(requested_model),
            default_max_tokens=p.default_max_tokens,
            structured_mode=p.structured_output_mode,
            enable_reasoning=p.enable_reasoning,
            disable_reasoning=p.disable_reasoning,
            map_builtin_tools=not p.disable_builtin_tool_mapping,
        )


class Prepared(msgspec.Struct, kw_only=True):
    """A translated request plus what the answer's translation must know about it."""

    request: giga.ChatCompletionRequest
    structured: str | None = None
    # The JSON answer is an object holding the client's value under this key: a
    # schema whose root is not an object was wrapped for GigaChat (`schema.wraps`).
    unwrap: str | None = None
    stops: list[str] = []
    ignored: list[str] = []
    # Images and documents the request carries; their `files` entries get
    # GigaChat ids from `uploads.Uploader.resolve` before the request is sent.
    attachments: list[Attachment] = []
    # Fields for GigaChat the gateway has no struct for (a literal `extra_body`'s
    # unknown keys), merged into the body as the SDK merges `additional_fields`.
    extra: dict[str, Any] = {}


def to_giga_name(name: str) -> str:
    return RENAMED_PREFIX + name if name in BUILTIN_NAMES else name


def from_giga_name(name: str) -> str:
    base = name.removeprefix(RENAMED_PREFIX)
    return base if base != name and base in BUILTIN_NAMES else name


def effort(value: str | None, opts: Options) -> giga.ChatReasoning | None:
    """GigaChat reasoning for a client's effort word; unknown words never fail a request."""
    if opts.disable_reasoning:
        return None
    word = value.strip().lower() if value is not None else ""
    level = EFFORT.get(word, "medium") if word else None
    if not word and opts.enable_reasoning:
        level = "high"
    return giga.ChatReasoning(effort=level) if level else None


def effort_for_budget(budget: int | None) -> str | None:
    """A thinking budget in tokens as an effort word (Anthropic, Gemini)."""
    if budget is None:
        return None
    if budget == 0:
        return "none"
    if budget < 0:  # Gemini: -1 means "dynamic"
        return "medium"
    return "low" if budget < 2048 else "medium" if budget < 16384 else "high"


def model_options(
    opts: Options,
    *,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    reasoning: giga.ChatReasoning | None = None,
    response_format: giga.ChatResponseFormat | None = None,
) -> giga.ChatModelOptions | None:
    if temperature is not None and temperature <= 0:
        # GigaChat wants temperature > 0; greedy decoding is asked with top_p 0.
        temperature, top_p = None, 0.0
    max_tokens = max_tokens if max_tokens is not None else opts.default_max_tokens
    values = (temperature, top_p, max_tokens, reasoning, response_format)
    if all(v is None for v in values):
        return None
    return giga.ChatModelOptions(
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        reasoning=reasoning,
        response_format=response_format,
    )


# The first byte of a JSON value that is not an object, as a client would name it.
JSON_KIND = {b'"': "a string", b"[": "an array", b"t": "a boolean", b"f": "a boolean"}


def client_schema(raw: msgspec.Raw | bytes, where: str) -> bytes | None:
    """A client's JSON Schema as raw JSON (function parameters, a response schema).

    None when it is absent or null. A schema document is a JSON object (one
    describing an array is still an object); a string, number, boolean or
    array in its place is refused, naming where it was.
    """
    value = bytes(raw)
    if not value or value == b"null":
        return None
    if value[:1] != b"{":
        kind = JSON_KIND.get(value[:1], "a number")
        raise errors.BadRequest(f"{where} must be a JSON Schema object, not {kind}", param=where)
    return value


def function_spec(
    name: str, description: str | None, parameters: json_schema.Schema | bytes | None, opts: Options
) -> giga.ChatFunctionSpecification:
    return giga.ChatFunctionSpecification(
        name=to_giga_name(name),
        description=description,
        parameters=json_schema.normalize(parameters, opts.contract),
    )


def tools(
    specs: list[giga.ChatFunctionSpecification], builtins: list[giga.ChatTool] | None = None
) -> list[giga.ChatTool] | None:
    """The request's `tools`; two functions of one name are refused (every vendor refuses them)."""
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            name = from_giga_name(spec.name)
            raise errors.BadRequest(f"Two tools are named {name!r}", param="tools")
        seen.add(spec.name)
    entries = (
        [giga.ChatTool(functions=giga.ChatFunctionsTool(specifications=specs))] if specs else []
    )
    entries += builtins or []
    return entries or None


def tool_config(
    mode: Literal["auto", "none", "forced"] | None, function_name: str | None = None
) -> giga.ChatToolConfig | None:
    if mode is None:
        return None
    if mode == "forced":
        return giga.ChatToolConfig(mode="forced", function_name=to_giga_name(function_name or ""))
    return giga.ChatToolConfig(mode=mode)


def require_one(names: list[str], what: str) -> str:
    """The function a 'call some tool' choice forces; GigaChat cannot force one of several."""
    if len(names) == 1:
        return names[0]
    if not names:
        raise errors.BadRequest(f"{what} asks for a tool call, but no function tools were given")
    raise errors.Unsupported(
        f"{what} with {len(names)} tools: GigaChat can force one named function, "
        "not 'one of several'; name the function to call or use auto"
    )


def structured(
    opts: Options,
    name: str,
    schema: json_schema.Schema | bytes | None,
    strict: bool | None,
    specs: list[giga.ChatFunctionSpecification],
    description: str | None = None,
) -> tuple[giga.ChatResponseFormat | None, giga.ChatToolConfig | None, str | None]:
    """Ask for JSON matching `schema`: natively, or by forcing a function that carries it.

    Returns (response_format, tool_config, the structured function's name as
    GigaChat sees it). With the emulation the function is appended to `specs`;
    it is forced unless the client offers tools of its own, which the model
    must stay free to call.
    """
    if opts.structured_mode == "native":
        # Only v1's `Function` model is limited to the small schema subset; its
        # `response_format.schema` is a free JSON Schema on both contracts.
        fmt = giga.ChatResponseFormat(
            type="json_schema", schema=json_schema.normalize(schema, "v2"), strict=strict
        )
        return fmt, None, None
    parameters = json_schema.normalize(schema, opts.contract)
    name = to_giga_name(name)
    specs.append(
        giga.ChatFunctionSpecification(
            name=name,
            description=description or "Give the final answer as data matching this schema.",
            parameters=parameters,
        )
    )
    config = None if len(specs) > 1 else giga.ChatToolConfig(mode="forced", function_name=name)
    return None, config, name


def merge_system(texts: list[str]) -> list[giga.ChatMessage]:
    """GigaChat takes one system message, first: every system text joins it, in order."""
    text = "\n\n".join(t for t in texts if t)
    return [text_message("system", text)] if text else []


def text_message(
    role: str, text: str, files: list[giga.ChatContentFile] | None = None
) -> giga.ChatMessage:
    """A message of text, then the files it carries (v1: its `attachments`)."""
    parts = [giga.ChatContentPart(text=text)]
    if files:
        parts.append(giga.ChatContentPart(files=files))
    return giga.ChatMessage(role=role, content=parts)


def call_arguments(arguments: str | dict[str, object], where: str, param: str) -> object:
    """A client's function-call arguments as the object GigaChat wants.

    OpenAI clients send them as JSON text (empty text meaning none); a JSON
    value that is not an object travels as `{"value": ...}`. Invalid JSON is a
    400 naming `where` and `param`.
    """
    if isinstance(arguments, dict):
        return arguments
    try:
        value = _decode_any(arguments) if arguments.strip() else {}
    except msgspec.DecodeError:
        raise errors.BadRequest(
            f"{where}: function arguments are not valid JSON", param=param
        ) from None
    return value if isinstance(value, dict) else {"value": value}


def call_part(name: str, arguments: object) -> giga.ChatContentPart:
    return giga.ChatContentPart(
        function_call=giga.ChatFunctionCall(name=to_giga_name(name), arguments=arguments)
    )


def result_part(name: str, output: object) -> giga.ChatContentPart:
    return giga.ChatContentPart(
        function_result=giga.ChatFunctionResult(
            name=to_giga_name(name), result=result_object(output)
        )
    )


def texts_to_count(req: giga.ChatCompletionRequest) -> list[str]:
    """What the model reads of a translated request, as texts for GigaChat's tokens/count.

    Counting the translated request (not the client's) counts what GigaChat
    will really see: the merged system message, calls, results and the
    normalised function definitions.
    """
    texts: list[str] = []
    for message in req.messages:
        for part in message.content if isinstance(message.content, list) else ():
            if part.text:
                texts.append(part.text)
            if part.function_call is not None:
                texts.append(_json(part.function_call))
            if part.function_result is not None:
                texts.append(_json(part.function_result))
        if isinstance(message.content, str) and message.content:
            texts.append(message.content)
    for tool in req.tools or ():
        if tool.functions is not None:
            texts.extend(_json(spec) for spec in tool.functions.specifications or ())
    return texts or [""]


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()
