"""Anthropic Messages <-> GigaChat, both directions, as pure functions.

`to_giga` builds the v2 hub request (the client module turns it into v1 when
the route asks for v1), with the conversation from `input.py`; `from_giga`
builds the `message` object; `error_body` and `error_status` render the
gateway's errors as Anthropic does. No I/O, no clock: ids come in as arguments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec

from gpt2giga import errors
from gpt2giga.anthropic import wire as ant
from gpt2giga.anthropic.input import messages
from gpt2giga.gigachat import answer, files
from gpt2giga.gigachat import request as build
from gpt2giga.gigachat import wire as giga

_encode = msgspec.json.Encoder().encode

# GigaChat finish_reason -> Anthropic stop_reason (a call or a stop sequence wins first).
STOP_REASON = {
    "stop": "end_turn",
    "length": "max_tokens",
    "function_call": "tool_use",
    "blacklist": "refusal",
}

# Anthropic's provider tools that GigaChat runs itself, by type prefix
# (`web_search_20250305`, `web_fetch_20250910`, …). v2 only (v1 has no built-in
# tools), and not with GPT2GIGA_DISABLE_BUILTIN_TOOL_MAPPING. Every other
# provider tool (bash, text editor, computer, memory, tool search, MCP
# toolsets) is the client's to run and means nothing to GigaChat.
BUILTIN_TOOLS = {
    "web_search_": giga.ChatTool(web_search=giga.ChatWebSearchTool()),
    "web_fetch_": giga.ChatTool(url_content_extraction={}),
    "code_execution_": giga.ChatTool(code_interpreter={}),
}

# Every provider tool type of the anthropic SDK (`ToolUnionParam` and the beta
# ones) is a family name and a version date (`bash_20250124`); new dates of a
# known family are accepted as they come. Any other `type` is refused.
PROVIDER_TOOL = re.compile(
    r"(?:(?:bash|text_editor|web_search|web_fetch|code_execution|memory|computer"
    r"|computer_toolset|browser_toolset|advisor|tool_search_tool_bm25|tool_search_tool_regex)"
    r"_\d{8}|mcp_toolset|tool_search_tool_bm25|tool_search_tool_regex)"
)

# Request fields GigaChat cannot apply: accepted, reported, never sent.
IGNORED = (
    "top_k", "metadata", "service_tier", "context_management", "container", "mcp_servers",
    "inference_geo", "speed", "diagnostics", "cache_control", "user_profile_id", "workspace_id",
)  # fmt: skip

# Thinking blocks must carry a signature that clients echo back unchanged;
# GigaChat signs nothing, and thinking blocks sent back are dropped anyway.
SIGNATURE = "gpt2giga"

# The forced function that carries a JSON-schema answer (structured outputs).
STRUCTURED_NAME = "structured_output"


def to_giga(
    req: ant.MessagesRequest, opts: build.Options, betas: Sequence[str] = ()
) -> build.Prepared:
    specs, builtins, ignored = _tools(req.tools, opts)
    names = [s.name for s in specs]
    fmt, config, structured = _output_format(req, opts, specs)
    if config is None:
        config = _tool_config(req.tool_choice, names)
        if structured is not None and config is not None and config.mode == "none":
            # No client tool may be called, but the answer must still be the schema's JSON.
            config = giga.ChatToolConfig(mode="forced", function_name=structured)
    found: list[files.Attachment] = []
    request = giga.ChatCompletionRequest(
        model=opts.model,
        messages=messages(req, found),
        model_options=build.model_options(
            opts,
            temperature=req.temperature,
            top_p=req.top_p,
            max_tokens=req.max_tokens,
            reasoning=build.effort(effort(req), opts),
            response_format=fmt,
        ),
        tools=build.tools(specs, builtins),
        tool_config=config,
    )
    return build.Prepared(
        request=request,
        structured=structured,
        stops=[s for s in req.stop_sequences or () if s],
        ignored=unapplied(req, ignored, betas),
        attachments=found,
    )


def unapplied(
    req: ant.CountTokensRequest, tools_left_out: list[str], betas: Sequence[str]
) -> list[str]:
    """The known fields of `req` accepted and not applied, for the header."""
    ignored = tools_left_out + [name for name in IGNORED if getattr(req, name, None) is not None]
    if req.tool_choice is not None and getattr(req.tool_choice, "disable_parallel_tool_use", None):
        ignored.append("tool_choice.disable_parallel_tool_use")
    return ignored + [f"anthropic-beta:{beta}" for beta in betas]


def texts_to_count(
    req: ant.CountTokensRequest, opts: build.Options, betas: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """What the model would read of `req` after translation, for GigaChat's tokens/count;
    and the fields not applied, named as a Messages request would name them."""
    specs, _, left_out = _tools(req.tools, opts)
    fmt = _format(req)
    if fmt is not None:
        _schema(req, fmt)  # refused here as a Messages request would refuse it
    # Images and documents are not text: they are listed, never uploaded, for a count.
    request = giga.ChatCompletionRequest(messages=messages(req, []), tools=build.tools(specs))
    return build.texts_to_count(request), unapplied(req, left_out, betas)


# Anthropic's thinking controls -> an effort word, which `build.effort` maps to
# GigaChat's low|medium|high (unknown words become medium, never an error):
#   thinking disabled                          -> none (no reasoning)
#   thinking enabled, budget_tokens < 2048     -> low
#   thinking enabled, budget_tokens < 16384    -> medium
#   thinking enabled, budget_tokens >= 16384   -> high
#   thinking adaptive or between_tools         -> output_config.effort, else high
#                                                 (Anthropic's default effort)
#   no thinking                                -> output_config.effort, else the
#                                                 GPT2GIGA_ENABLE_REASONING setting
#   output_config.effort low|medium|high|xhigh|max -> low|medium|high|high|high
def effort(req: ant.CountTokensRequest) -> str | None:
    thinking = req.thinking
    word = req.output_config.effort if req.output_config else None
    if isinstance(thinking, ant.ThinkingDisabled):
        return "none"
    if isinstance(thinking, ant.ThinkingEnabled):
        return build.effort_for_budget(thinking.budget_tokens)
    if thinking is not None:
        return word or "high"
    return word


def _tools(
    tools: list[ant.Tool] | None, opts: build.Options
) -> tuple[list[giga.ChatFunctionSpecification], list[giga.ChatTool], list[str]]:
    """Client functions, GigaChat built-ins, and the provider tools left out (for the header)."""
    specs: list[giga.ChatFunctionSpecification] = []
    builtins: list[giga.ChatTool] = []
    ignored: list[str] = []
    for i, tool in enumerate(tools or ()):
        kind = tool.type or "custom"
        if kind == "custom":
            if not tool.name:
                raise errors.BadRequest(
                    f"tools[{i}]: a tool needs a name", param=f"tools[{i}].name"
                )
            schema = build.client_schema(tool.input_schema, f"tools[{i}].input_schema")
            specs.append(build.function_spec(tool.name, tool.description, schema, opts))
            continue
        if PROVIDER_TOOL.fullmatch(kind) is None:
            raise errors.BadRequest(
                f"tools[{i}]: unknown tool type {kind!r}", param=f"tools[{i}].type"
            )
        builtin = next((t for p, t in BUILTIN_TOOLS.items() if kind.startswith(p)), None)
        if builtin is not None and opts.builtins:
            if builtin not in builtins:
                builtins.append(builtin)
        else:
            ignored.append(f"tools.{kind}")
    return specs, builtins, ignored


def _tool_config(choice: ant.ToolChoice | None, names: list[str]) -> giga.ChatToolConfig | None:
    if choice is None or not names:
        return None
    if isinstance(choice, ant.ToolChoiceTool):
        if build.to_giga_name(choice.name) not in names:
            raise errors.BadRequest(
                f"tool_choice names the tool {choice.name!r}, which is not among the tools",
                param="tool_choice.name",
            )
        return build.tool_config("forced", choice.name)
    if isinstance(choice, ant.ToolChoiceAny):
        try:
            name = build.require_one(names, "tool_choice 'any'")
        except errors.BadRequest as exc:
            exc.param = "tool_choice"
            raise
        return giga.ChatToolConfig(mode="forced", function_name=name)
    return build.tool_config("none" if isinstance(choice, ant.ToolChoiceNone) else "auto")


def _output_format(
    req: ant.CountTokensRequest, opts: build.Options, specs: list[giga.ChatFunctionSpecification]
) -> tuple[giga.ChatResponseFormat | None, giga.ChatToolConfig | None, str | None]:
    fmt = _format(req)
    if fmt is None:
        return None, None, None
    return build.structured(opts, STRUCTURED_NAME, _schema(req, fmt), None, specs)


def _format(req: ant.CountTokensRequest) -> ant.JSONOutputFormat | None:
    config = req.output_config
    return config.format if config is not None and config.format is not None else req.output_format


def _schema(req: ant.CountTokensRequest, fmt: ant.JSONOutputFormat) -> bytes | None:
    where = "output_config.format" if fmt is not req.output_format else "output_format"
    return build.client_schema(fmt.schema, f"{where}.schema")


# --- answers ------------------------------------------------------------------------


def stop_reason(finish: str, stop_sequence: str | None, called: bool) -> str:
    if called:
        return "tool_use"
    if stop_sequence is not None:
        return "stop_sequence"
    return STOP_REASON.get(finish, "end_turn")


def usage(u: giga.ChatUsage) -> ant.Usage:
    # Anthropic counts cache reads apart: its input_tokens excludes them.
    cached = u.cached_tokens
    return ant.Usage(
        input_tokens=max(u.tokens_in - cached, 0),
        output_tokens=u.tokens_out,
        cache_creation_input_tokens=0,
        cache_read_input_tokens=cached,
    )


def from_giga(reply: answer.Reply, message_id: str) -> ant.MessageOut:
    content: list[ant.ContentBlock] = []
    if reply.reasoning:
        content.append(ant.ThinkingOut(thinking=reply.reasoning, signature=SIGNATURE))
    if reply.text:
        content.append(ant.TextOut(text=reply.text))
    content += [
        ant.ToolUseOut(id=c.id, name=c.name, input=answer.arguments_object(c.arguments))
        for c in reply.calls
    ]
    return ant.MessageOut(
        id=message_id,
        model=reply.model,
        content=content,
        stop_reason=stop_reason(reply.finish, reply.stop_sequence, bool(reply.calls)),
        stop_sequence=reply.stop_sequence,
        usage=usage(reply.usage),
    )


# --- errors -----------------------------------------------------------------------------

ERROR_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def error_status(err: errors.GatewayError) -> int:
    # Anthropic's own overload status, which its SDK and Claude Code retry on.
    return 529 if err.status == 503 else err.status


def error_detail(err: errors.GatewayError) -> ant.ErrorDetail:
    return ant.ErrorDetail(type=ERROR_TYPE.get(err.status, "api_error"), message=err.message)


def error_body(err: errors.GatewayError) -> bytes:
    return _encode(ant.ErrorBody(error=error_detail(err)))
