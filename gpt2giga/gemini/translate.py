"""Gemini generateContent <-> GigaChat, both directions, as pure functions.

`to_giga` builds the v2 hub request (the client module turns it into v1 when
the route asks for v1); `from_giga` builds the `GenerateContentResponse`;
`error_body` renders the gateway's errors in Google's shape. No I/O, no
clock: ids come in as arguments.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET

from gpt2giga import errors
from gpt2giga.gemini import contents
from gpt2giga.gemini import wire as gem
from gpt2giga.gigachat import answer, files
from gpt2giga.gigachat import request as build
from gpt2giga.gigachat import schema as json_schema
from gpt2giga.gigachat import wire as giga

_encode = msgspec.json.Encoder().encode

# GigaChat finish_reason -> Gemini finishReason; a function call ends a turn normally.
FINISH_REASON = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "blacklist": "SAFETY",
    "function_call": "STOP",
}

# HTTP status -> google.rpc status name, as Google's error bodies carry it.
STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# The forced function that carries a responseSchema in function_call mode.
STRUCTURED_NAME = "json_response"
CALL_PREFIX = "call_"

# Built-in Gemini tools -> the GigaChat v2 tool that does the same (v1 has none).
BUILTIN = (
    ("google_search", "googleSearch", "web_search"),
    ("google_search_retrieval", "googleSearchRetrieval", "web_search"),
    ("url_context", "urlContext", "url_content_extraction"),
    ("code_execution", "codeExecution", "code_interpreter"),
)
GIGA_TOOL = {
    "web_search": giga.ChatTool(web_search=giga.ChatWebSearchTool()),
    "url_content_extraction": giga.ChatTool(url_content_extraction={}),
    "code_interpreter": giga.ChatTool(code_interpreter={}),
}
# Request fields GigaChat cannot apply: accepted, reported, never sent.
IGNORED_TOOLS = (
    ("retrieval", "retrieval"), ("google_maps", "googleMaps"), ("computer_use", "computerUse"),
    ("file_search", "fileSearch"), ("enterprise_web_search", "enterpriseWebSearch"),
    ("mcp_servers", "mcpServers"),
)  # fmt: skip
IGNORED_CONFIG = (
    ("candidate_count", "candidateCount"), ("top_k", "topK"), ("seed", "seed"),
    ("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty"),
    ("response_logprobs", "responseLogprobs"), ("logprobs", "logprobs"),
    ("response_modalities", "responseModalities"), ("media_resolution", "mediaResolution"),
    ("speech_config", "speechConfig"), ("image_config", "imageConfig"),
    ("enable_enhanced_civic_answers", "enableEnhancedCivicAnswers"),
)  # fmt: skip
IGNORED_REQUEST = (
    ("safety_settings", "safetySettings"), ("cached_content", "cachedContent"),
    ("labels", "labels"), ("service_tier", "serviceTier"), ("store", "store"),
)  # fmt: skip


def model_name(name: str) -> str:
    """Gemini names models `models/X`; clients send that or plain `X`."""
    return name.removeprefix("models/")


def to_giga(req: gem.GenerateContentRequest, opts: build.Options) -> build.Prepared:
    if not req.contents:
        raise errors.BadRequest("`contents` must not be empty", param="contents")
    gen = req.generation_config or gem.GenerationConfig()
    if gen.candidate_count is not None and gen.candidate_count > 1:
        raise errors.Unsupported(
            "candidateCount above 1 is not supported: GigaChat gives one answer per request",
            param="generationConfig.candidateCount",
        )
    schema = _response_schema(gen)
    specs, fmt, config, structured_name = _functions(req, schema, opts)
    builtins, ignored = _builtins(req.tools or [], opts)
    found: list[files.Attachment] = []
    request = giga.ChatCompletionRequest(
        model=opts.model,
        messages=contents.messages(req.contents, req.system_instruction, found),
        model_options=build.model_options(
            opts,
            temperature=gen.temperature,
            top_p=gen.top_p,
            max_tokens=gen.max_output_tokens,
            reasoning=build.effort(_effort(gen.thinking_config), opts),
            response_format=fmt,
        ),
        tools=build.tools(specs, builtins),
        tool_config=config,
    )
    return build.Prepared(
        request=request,
        structured=structured_name,
        unwrap=json_schema.WRAP_KEY if schema is not None and json_schema.wraps(schema) else None,
        stops=[s for s in gen.stop_sequences or () if s],
        ignored=ignored_fields(req) + ignored,
        attachments=found,
    )


def _functions(
    req: gem.GenerateContentRequest, schema: bytes | None, opts: build.Options
) -> tuple[
    list[giga.ChatFunctionSpecification],
    giga.ChatResponseFormat | None,
    giga.ChatToolConfig | None,
    str | None,
]:
    """Function specs, response format, tool config and the structured function's name."""
    calling = req.tool_config.function_calling_config if req.tool_config else None
    declared = _offered(_declarations(req.tools), calling)
    specs = [
        build.function_spec(d.name, d.description, _parameters(d, where), opts)
        for where, d in declared
    ]
    client_names = [s.name for s in specs]
    fmt, config, structured_name = (
        build.structured(opts, STRUCTURED_NAME, schema, None, specs)
        if schema is not None
        else (None, None, None)
    )
    if config is None:
        config = _tool_config(calling, client_names)
        if structured_name is not None and config is not None and config.mode == "none":
            # No client function may be called, but the answer must still be the schema's JSON.
            config = giga.ChatToolConfig(mode="forced", function_name=structured_name)
    return specs, fmt, config, structured_name


def wants_thoughts(req: gem.GenerateContentRequest) -> bool:
    """Gemini returns thought parts only to a client that asked with `includeThoughts`."""
    gen = req.generation_config
    thinking = gen.thinking_config if gen else None
    return bool(thinking and thinking.include_thoughts)


def _effort(thinking: gem.ThinkingConfig | None) -> str | None:
    """The client's thinking wish as one effort word (None: it expressed none)."""
    if thinking is None:
        return None
    if thinking.thinking_budget is not None:
        return build.effort_for_budget(thinking.thinking_budget)
    level = (thinking.thinking_level or "").lower()
    if level and level != "thinking_level_unspecified":
        return level
    return "medium" if thinking.include_thoughts else None


def ignored_fields(req: gem.GenerateContentRequest) -> list[str]:
    ignored = [wire for attr, wire in IGNORED_REQUEST if getattr(req, attr) is not None]
    gen = req.generation_config
    if gen is not None:
        ignored += [
            f"generationConfig.{wire}"
            for attr, wire in IGNORED_CONFIG
            if getattr(gen, attr) is not None
        ]
    for tool in req.tools or ():
        ignored += [
            f"tools.{wire}" for attr, wire in IGNORED_TOOLS if getattr(tool, attr) is not None
        ]
    if req.tool_config is not None and req.tool_config.retrieval_config is not None:
        # Location hints for Google's grounding tools: GigaChat's search takes none.
        ignored.append("toolConfig.retrievalConfig")
    return list(dict.fromkeys(ignored))


# --- tools ----------------------------------------------------------------------------


def _declarations(tools: list[gem.Tool] | None) -> list[tuple[str, gem.FunctionDeclaration]]:
    """Every function declaration with its place in the request; a tool naming none is refused."""
    declared = []
    for i, tool in enumerate(tools or ()):
        if not any(getattr(tool, name) is not None for name in tool.__struct_fields__):
            raise errors.BadRequest(f"tools[{i}] names no tool", param=f"tools[{i}]")
        where = f"tools[{i}].functionDeclarations"
        declared += [(f"{where}[{j}]", d) for j, d in enumerate(tool.function_declarations or ())]
    return declared


def _parameters(decl: gem.FunctionDeclaration, where: str) -> bytes | None:
    plain = build.client_schema(decl.parameters, f"{where}.parameters")
    standard = build.client_schema(decl.parameters_json_schema, f"{where}.parametersJsonSchema")
    if plain is not None and standard is not None:
        raise errors.BadRequest(
            f"function {decl.name!r}: set `parameters` or `parametersJsonSchema`, not both",
            param="tools.functionDeclarations",
        )
    return standard if standard is not None else plain


def _offered(
    declared: list[tuple[str, gem.FunctionDeclaration]], calling: gem.FunctionCallingConfig | None
) -> list[tuple[str, gem.FunctionDeclaration]]:
    """The declarations the model may call: `allowedFunctionNames` narrows them."""
    allowed = calling.allowed_function_names if calling and calling.mode != "NONE" else None
    if not allowed:
        return declared
    known = {d.name for _, d in declared}
    for name in allowed:
        if name not in known:
            raise errors.BadRequest(
                f"allowedFunctionNames names {name!r}, which is not among the functionDeclarations",
                param="toolConfig.functionCallingConfig.allowedFunctionNames",
            )
    return [(where, d) for where, d in declared if d.name in allowed]


def _tool_config(
    calling: gem.FunctionCallingConfig | None, names: list[str]
) -> giga.ChatToolConfig | None:
    mode = calling.mode if calling else None
    if mode is None or mode == "MODE_UNSPECIFIED":
        return None
    if not names:
        if mode == "ANY":
            raise errors.BadRequest(
                "functionCallingConfig mode ANY needs functionDeclarations",
                param="toolConfig.functionCallingConfig.mode",
            )
        return None
    if mode == "NONE":
        return build.tool_config("none")
    if mode == "ANY":
        try:
            name = build.require_one(names, "functionCallingConfig mode ANY")
        except errors.GatewayError as exc:
            exc.param = "toolConfig.functionCallingConfig.allowedFunctionNames"
            raise
        return build.tool_config("forced", name)
    return build.tool_config("auto")  # AUTO, and VALIDATED: calls or text, the model decides


def _builtins(tools: list[gem.Tool], opts: build.Options) -> tuple[list[giga.ChatTool], list[str]]:
    """GigaChat's built-in tools for Gemini's, once each; on v1 (or when not mapped) ignored."""
    found: dict[str, str] = {}
    for tool in tools:
        for attr, wire, kind in BUILTIN:
            if getattr(tool, attr) is not None:
                found.setdefault(wire, kind)
    if not opts.builtins:
        return [], [f"tools.{wire}" for wire in found]
    return [GIGA_TOOL[kind] for kind in dict.fromkeys(found.values())], []


def _response_schema(gen: gem.GenerationConfig) -> bytes | None:
    """The schema the answer's JSON must match, or None for a text answer."""
    plain = build.client_schema(gen.response_schema, "generationConfig.responseSchema")
    standard = build.client_schema(gen.response_json_schema, "generationConfig.responseJsonSchema")
    if plain is not None and standard is not None:
        raise errors.BadRequest(
            "set `responseSchema` or `responseJsonSchema`, not both",
            param="generationConfig.responseJsonSchema",
        )
    schema = standard if standard is not None else plain
    mime = (gen.response_mime_type or "text/plain").lower()
    if mime == "application/json":
        if schema is None:
            raise errors.Unsupported(
                "responseMimeType application/json needs a responseSchema or "
                "responseJsonSchema: GigaChat has no schema-less JSON mode",
                param="generationConfig.responseSchema",
            )
        return schema
    if mime != "text/plain":
        raise errors.Unsupported(
            f"responseMimeType {gen.response_mime_type!r} is not supported; "
            "use text/plain or application/json",
            param="generationConfig.responseMimeType",
        )
    if schema is not None:
        raise errors.BadRequest(
            "a response schema needs responseMimeType application/json",
            param="generationConfig.responseMimeType",
        )
    return None


def count_request(req: gem.CountTokensRequest) -> gem.GenerateContentRequest:
    if req.generate_content_request is not None:
        return req.generate_content_request
    return gem.GenerateContentRequest(
        contents=req.contents or [],
        system_instruction=req.system_instruction,
        tools=req.tools,
        generation_config=req.generation_config,
    )


# --- answers --------------------------------------------------------------------------


def usage(u: giga.ChatUsage) -> gem.UsageMetadata:
    return gem.UsageMetadata(
        prompt_token_count=u.tokens_in,
        candidates_token_count=u.tokens_out,
        total_token_count=u.tokens_total,
        cached_content_token_count=u.cached_tokens or UNSET,
    )


def call_part(call: answer.Call) -> gem.PartOut:
    args = answer.arguments_object(call.arguments)
    return gem.PartOut(function_call=gem.FunctionCallOut(id=call.id, name=call.name, args=args))


def empty_answer(finish: str) -> errors.GatewayError:
    """GigaChat answered with nothing a client could use: an error, never an empty candidate."""
    if finish == "length":
        why = "reached maxOutputTokens before any text"
    elif finish == "blacklist":
        why = "withheld the answer (content filter)"
    else:
        why = "returned an empty answer"
    return errors.UpstreamError(f"GigaChat {why}")


def from_giga(reply: answer.Reply, response_id: str, thoughts: bool) -> gem.GenerateContentResponse:
    if not reply.text and not reply.calls:
        raise empty_answer(reply.finish)
    parts = (
        [gem.PartOut(text=reply.reasoning, thought=True)] if thoughts and reply.reasoning else []
    )
    if reply.text:
        parts.append(gem.PartOut(text=reply.text))
    parts += [call_part(c) for c in reply.calls]
    candidate = gem.Candidate(
        content=gem.ContentOut(parts=parts),
        finish_reason=FINISH_REASON.get(reply.finish, "OTHER"),
    )
    return gem.GenerateContentResponse(
        candidates=[candidate],
        usage_metadata=usage(reply.usage),
        model_version=reply.model,
        response_id=response_id,
    )


# --- errors -----------------------------------------------------------------------------


def error_status(err: errors.GatewayError) -> int:
    # Google answers an oversized request with 400 INVALID_ARGUMENT, not 413.
    return 400 if err.status == 413 else err.status


def error_detail(err: errors.GatewayError) -> gem.ErrorDetail:
    code = error_status(err)
    return gem.ErrorDetail(code=code, message=err.message, status=STATUS.get(code, "UNKNOWN"))


def error_body(err: errors.GatewayError) -> bytes:
    return _encode(gem.ErrorBody(error=error_detail(err)))
