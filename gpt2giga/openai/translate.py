"""OpenAI Chat Completions <-> GigaChat, both directions, as pure functions.

`to_giga` builds the v2 hub request (the client module turns it into v1 when
the route asks for v1); `from_giga` builds the `chat.completion` object;
`error_body` renders the gateway's errors in OpenAI's shape. No I/O, no clock:
ids and timestamps come in as arguments.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from gpt2giga import errors
from gpt2giga.gigachat import answer, files
from gpt2giga.gigachat import request as build
from gpt2giga.gigachat import wire as giga
from gpt2giga.openai import wire as oai

_encode = msgspec.json.Encoder().encode

# GigaChat finish_reason -> OpenAI finish_reason.
FINISH_REASON = {
    "stop": "stop",
    "length": "length",
    "function_call": "tool_calls",
    "blacklist": "content_filter",
    "error": "stop",
}

# Request fields GigaChat cannot apply: accepted, reported, never sent.
IGNORED = (
    "n", "logprobs", "top_logprobs", "logit_bias", "seed", "user", "metadata", "service_tier",
    "parallel_tool_calls", "frequency_penalty", "presence_penalty", "store", "modalities",
    "prediction", "audio", "web_search_options", "verbosity", "prompt_cache_key",
    "safety_identifier",
)  # fmt: skip


def to_giga(req: oai.ChatCompletionRequest, opts: build.Options) -> build.Prepared:
    if not req.messages:
        raise errors.BadRequest("`messages` must contain at least one message", param="messages")
    if req.n is not None and req.n > 1:
        raise errors.Unsupported(
            "n: GigaChat returns one choice per request; n greater than 1 is not supported",
            param="n",
        )
    specs = _function_specs(req, opts)
    client_names = [s.name for s in specs]
    fmt, config, structured_name = _response_format(req, opts, specs)
    if config is None:
        config = _tool_config(req, client_names)
        if structured_name is not None and config is not None and config.mode == "none":
            # No client tool may be called, but the answer must still be the schema's JSON.
            config = giga.ChatToolConfig(mode="forced", function_name=structured_name)
    max_tokens = (
        req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
    )
    found: list[files.Attachment] = []
    request = giga.ChatCompletionRequest(
        model=opts.model,
        messages=messages(req.messages, found),
        model_options=build.model_options(
            opts,
            temperature=req.temperature,
            top_p=req.top_p,
            max_tokens=max_tokens,
            reasoning=build.effort(_effort(req), opts),
            response_format=fmt,
        ),
        tools=build.tools(specs),
        tool_config=config,
    )
    stops = [req.stop] if isinstance(req.stop, str) else list(req.stop or ())
    return build.Prepared(
        request=request,
        structured=structured_name,
        stops=[s for s in stops if s],
        ignored=ignored_fields(req),
        attachments=found,
    )


def _effort(req: oai.ChatCompletionRequest) -> str | None:
    """The client's reasoning wish as one effort word (None: it expressed none)."""
    reasoning = req.reasoning
    if reasoning is not None and reasoning.enabled is False:
        return "none"
    effort = req.reasoning_effort or (reasoning.effort if reasoning else None)
    if effort is None and reasoning is not None:
        # OpenRouter's `reasoning: {max_tokens}` / `{enabled: true}` ask for reasoning
        # without naming an effort.
        effort = build.effort_for_budget(reasoning.max_tokens)
        if effort is None and reasoning.enabled:
            effort = "medium"
    return effort


def ignored_fields(req: oai.ChatCompletionRequest) -> list[str]:
    ignored = [name for name in IGNORED if getattr(req, name) is not None]
    if req.stream_options is not None and req.stream_options.include_obfuscation:
        # OpenAI pads stream chunks against length side channels; nothing here pads.
        ignored.append("stream_options.include_obfuscation")
    if any(isinstance(t, oai.CustomTool) for t in req.tools or ()):
        ignored.append("tools.custom")
    return ignored


def _function_specs(
    req: oai.ChatCompletionRequest, opts: build.Options
) -> list[giga.ChatFunctionSpecification]:
    functions = [
        (f"tools[{i}].function", t.function)
        for i, t in enumerate(req.tools or ())
        if isinstance(t, oai.FunctionTool)
    ]
    functions += [(f"functions[{i}]", f) for i, f in enumerate(req.functions or ())]
    return [
        build.function_spec(
            f.name, f.description, build.client_schema(f.parameters, f"{where}.parameters"), opts
        )
        for where, f in functions
    ]


def _tool_config(req: oai.ChatCompletionRequest, names: list[str]) -> giga.ChatToolConfig | None:
    """`tool_choice` (or legacy `function_call`) over the client's own functions, `names`."""
    choice = req.tool_choice if req.tool_choice is not None else req.function_call
    if choice is None or not names:
        return None
    if isinstance(choice, oai.NamedToolChoice):
        if choice.function is None and choice.type == "function":
            raise errors.BadRequest(
                "tool_choice of type 'function' needs `function`", param="tool_choice.function"
            )
        if choice.function is None:
            raise errors.Unsupported(
                f"tool_choice of type {choice.type!r} is not supported", param="tool_choice"
            )
        return _forced(choice.function.name, names)
    if isinstance(choice, oai.NamedFunction):
        return _forced(choice.name, names)
    if choice == "required":
        name = build.require_one(names, "tool_choice 'required'")
        return giga.ChatToolConfig(mode="forced", function_name=name)
    return build.tool_config(choice)  # "auto" or "none"


def _forced(name: str, names: list[str]) -> giga.ChatToolConfig | None:
    if build.to_giga_name(name) not in names:
        raise errors.BadRequest(
            f"tool_choice names the function {name!r}, which is not among the tools",
            param="tool_choice",
        )
    return build.tool_config("forced", name)


def _response_format(
    req: oai.ChatCompletionRequest, opts: build.Options, specs: list[giga.ChatFunctionSpecification]
) -> tuple[giga.ChatResponseFormat | None, giga.ChatToolConfig | None, str | None]:
    fmt = req.response_format
    if fmt is None or isinstance(fmt, oai.TextFormat):
        return None, None, None
    if isinstance(fmt, oai.JSONObjectFormat):
        raise errors.Unsupported(
            "response_format json_object is not supported: GigaChat has no schema-less JSON mode; "
            "use json_schema with a schema",
            param="response_format",
        )
    js = fmt.json_schema
    schema = build.client_schema(js.schema, "response_format.json_schema.schema")
    if schema is None:
        raise errors.BadRequest(
            "response_format.json_schema.schema is required", param="response_format"
        )
    return build.structured(opts, js.name, schema, js.strict, specs, js.description)


def messages(items: list[oai.Message], found: list[files.Attachment]) -> list[giga.ChatMessage]:
    """The conversation as hub messages; images and files are listed in `found`."""
    system: list[str] = []
    out: list[giga.ChatMessage] = []
    names: dict[str, str] = {}
    for i, msg in enumerate(items):
        if isinstance(msg, (oai.SystemMessage, oai.DeveloperMessage)):
            system.append(_text(msg.content))
        elif isinstance(msg, oai.UserMessage):
            out.append(_user(msg.content, i, found))
        elif isinstance(msg, oai.AssistantMessage):
            out.append(_assistant(msg, i, names))
        elif isinstance(msg, oai.ToolMessage):
            # An id the history never issued: the latest call is the best guess for its name.
            name = names.get(msg.tool_call_id) or next(reversed(names.values()), "function")
            part = build.result_part(name, _text(msg.content))
            out.append(
                giga.ChatMessage(
                    role="tool", content=[part], tools_state_id=answer.state_of(msg.tool_call_id)
                )
            )
        else:
            out.append(
                giga.ChatMessage(
                    role="tool", content=[build.result_part(msg.name, msg.content or "")]
                )
            )
    return build.merge_system(system) + out


def _user(
    content: str | list[oai.UserPart], i: int, found: list[files.Attachment]
) -> giga.ChatMessage:
    if isinstance(content, str):
        return build.text_message("user", content)
    texts: list[str] = []
    refs: list[giga.ChatContentFile] = []
    for j, part in enumerate(content):
        if isinstance(part, oai.TextPart):
            texts.append(part.text)
            continue
        where = f"messages[{i}].content[{j}]"
        if isinstance(part, oai.ImagePart):
            refs.append(files.attach(found, where, url=part.image_url.url, image=True))
        elif isinstance(part, oai.FilePart):
            refs.append(_file(part.file, where, found))
        else:
            raise errors.Unsupported(
                f"{where}: input_audio content is not supported by this gateway", param=where
            )
    return build.text_message("user", "\n".join(texts), refs)


def _file(ref: oai.FileRef, where: str, found: list[files.Attachment]) -> giga.ChatContentFile:
    """A `file` part: base64 `file_data` (a data URL, or bare with a `filename`)."""
    if ref.file_data:
        data = ref.file_data
        if data[:5].lower() == "data:":
            return files.attach(found, where, url=data, filename=ref.filename)
        return files.attach(found, where, data=data, filename=ref.filename)
    if ref.file_id:
        raise errors.Unsupported(
            f"{where}: file_id refers to OpenAI's Files API, which GigaChat does not share; "
            "send the file as file_data",
            param=f"{where}.file.file_id",
        )
    raise errors.BadRequest(f"{where}: a file part needs file_data", param=f"{where}.file")


def _assistant(msg: oai.AssistantMessage, i: int, names: dict[str, str]) -> giga.ChatMessage:
    text = _text(msg.content)
    parts = [giga.ChatContentPart(text=text)] if text else []
    state = None
    calls = [(c.id, c.function) for c in msg.tool_calls or ()]
    if msg.function_call is not None:
        calls.append(("", msg.function_call))
    for call_id, fn in calls:
        names[call_id] = fn.name
        arguments = build.call_arguments(
            fn.arguments, f"messages[{i}]", f"messages[{i}].tool_calls"
        )
        parts.append(build.call_part(fn.name, arguments))
        state = state or answer.state_of(call_id)
    if not parts:
        parts.append(giga.ChatContentPart(text=""))
    return giga.ChatMessage(role="assistant", content=parts, tools_state_id=state)


def _text(content: str | list[oai.TextPart] | list[oai.AssistantPart] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(p.text if isinstance(p, oai.TextPart) else p.refusal for p in content)


# --- answers ------------------------------------------------------------------------


def usage(u: giga.ChatUsage, reasoning_tokens: int = 0) -> oai.Usage:
    return oai.Usage(
        prompt_tokens=u.tokens_in,
        completion_tokens=u.tokens_out,
        total_tokens=u.tokens_total,
        prompt_tokens_details=oai.PromptTokensDetails(cached_tokens=u.cached_tokens),
        completion_tokens_details=oai.CompletionTokensDetails(reasoning_tokens=reasoning_tokens),
    )


def tool_calls(calls: list[answer.Call]) -> list[oai.ToolCallOut] | UnsetType:
    if not calls:
        return UNSET
    return [
        oai.ToolCallOut(
            id=c.id,
            function=oai.FunctionCallOut(name=c.name, arguments=answer.arguments_text(c.arguments)),
        )
        for c in calls
    ]


def from_giga(reply: answer.Reply, completion_id: str, created: int) -> oai.ChatCompletion:
    message = oai.AssistantMessageOut(
        content=reply.text if reply.text or not reply.calls else None,
        tool_calls=tool_calls(reply.calls),
        reasoning_content=reply.reasoning or UNSET,
    )
    finish = FINISH_REASON.get(reply.finish, "stop")
    return oai.ChatCompletion(
        id=completion_id,
        created=created,
        model=reply.model,
        choices=[oai.Choice(index=0, message=message, finish_reason=finish)],
        usage=usage(reply.usage),
    )


# --- errors -----------------------------------------------------------------------------

ERROR_TYPE = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    503: ("server_error", "overloaded"),
    504: ("timeout", "upstream_timeout"),
}


def error_detail(err: errors.GatewayError) -> oai.ErrorDetail:
    kind, code = ERROR_TYPE.get(err.status, ("server_error", None))
    if err.kind in ("unsupported", "state_unavailable"):
        code = err.kind
    return oai.ErrorDetail(message=err.message, type=kind, param=err.param, code=code)


def error_body(err: errors.GatewayError) -> bytes:
    return _encode(oai.ErrorBody(error=error_detail(err)))
