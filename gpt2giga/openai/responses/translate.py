"""OpenAI Responses request -> GigaChat v2 hub request, with the stored conversation it continues.

Pure: the previous response comes in as an argument, nothing is read or kept
here. Input items become hub messages (every system/developer text joins the
one leading system message), tools become function specifications (Codex's
`namespace` groups flattened to unique names, mapped back by `Turn.names`) or
v2 built-ins, and `previous_response_id` becomes either a GigaChat v2 thread
continuation or the whole stored conversation.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gpt2giga import errors, fields
from gpt2giga.gigachat import request as build
from gpt2giga.gigachat import wire as giga
from gpt2giga.openai.responses import wire as rsp
from gpt2giga.openai.responses.input import Conversation, convert, flat_name
from gpt2giga.openai.responses.input import decoded as _decoded
from gpt2giga.openai.responses.store import StoredResponse

_decode_tool_type = msgspec.json.Decoder(rsp.ToolType).decode
_decode_function = msgspec.json.Decoder(rsp.FunctionTool).decode
_decode_namespace = msgspec.json.Decoder(rsp.NamespaceTool).decode
_decode_object = msgspec.json.Decoder(dict[str, Any]).decode

# Request fields GigaChat cannot apply: accepted, reported, never sent.
IGNORED = (
    "include", "store", "prompt_cache_key", "client_metadata", "metadata", "truncation",
    "service_tier", "user", "safety_identifier", "prompt_cache_retention", "top_logprobs",
    "max_tool_calls", "stream_options", "parallel_tool_calls",
)  # fmt: skip

# OpenAI hosted tools -> GigaChat v2 built-ins; v1 has none of them.
BUILTIN = {"image_generation": "image_generate", "code_interpreter": "code_interpreter"}
WEB_SEARCH = "web_search"  # every `web_search*` variant (preview, dated, Codex's cached mode)
# The other tool types of the openai SDK's `ToolParam`: the client's or OpenAI's
# to run, nothing GigaChat can use; accepted and reported as ignored. A type
# outside these (and `web_search*`) is a mistake, refused naming the tool.
OTHER_TOOLS = frozenset(
    {
        "file_search", "computer", "computer_use_preview", "mcp", "programmatic_tool_calling",
        "local_shell", "shell", "custom", "tool_search", "apply_patch",
    }
)  # fmt: skip
# What a `namespace` groups (the SDK's `NamespaceToolParam.tools`).
NAMESPACED_TOOLS = frozenset({"function", "custom"})


class Turn(msgspec.Struct, kw_only=True):
    """A translated request plus what the answer side and the store need to know."""

    prepared: build.Prepared
    # The whole conversation with `storage: {}`, when `prepared` continues a GigaChat
    # thread that may be gone: sent instead if GigaChat answers 404.
    full: giga.ChatCompletionRequest | None = None
    names: dict[str, tuple[str | None, str]] = {}  # flat name -> (namespace, client name)
    system: list[str] = []
    history: list[giga.ChatMessage] = []
    calls: dict[str, str] = {}
    thread_system: str = ""
    store: bool = True


class Tools(msgspec.Struct, kw_only=True):
    specs: list[giga.ChatFunctionSpecification] = []
    builtins: list[giga.ChatTool] = []
    names: dict[str, tuple[str | None, str]] = {}
    ignored: list[str] = []


def to_giga(
    req: rsp.ResponsesRequest, opts: build.Options, previous: StoredResponse | None = None
) -> Turn:
    _refuse(req)
    tools = _tools(req.tools or [], opts)
    conversation = convert(req.input, tools.names, previous.calls if previous else {})
    client_names = [s.name for s in tools.specs]  # before a structured-output function joins
    fmt, config, structured = _text_format(req, opts, tools.specs)
    if config is None:
        config = _tool_config(req.tool_choice, client_names, tools, opts)
        if structured is not None and config is not None and config.mode == "none":
            # No client tool may be called, but the answer must still be the schema's JSON.
            config = giga.ChatToolConfig(mode="forced", function_name=structured)
    options = build.model_options(
        opts,
        temperature=req.temperature,
        top_p=req.top_p,
        max_tokens=req.max_output_tokens,
        reasoning=build.effort(req.reasoning.effort if req.reasoning else None, opts),
        response_format=fmt,
    )
    request = giga.ChatCompletionRequest(
        model=opts.model,
        messages=[],
        model_options=options,
        tools=build.tools(tools.specs, tools.builtins),
        tool_config=config,
    )
    ignored = [name for name in IGNORED if getattr(req, name) is not None]
    if req.text is not None and isinstance(req.text.verbosity, str):
        ignored.append("text.verbosity")
    if req.reasoning is not None:
        # GigaChat's reasoning comes back as it is: its summary cannot be asked for.
        ignored += [
            f"reasoning.{name}"
            for name in ("summary", "generate_summary")
            if getattr(req.reasoning, name) is not None
        ]
    ignored += tools.ignored + conversation.ignored
    if _unforced_builtin(req.tool_choice, config):
        ignored.append("tool_choice")
    prepared = build.Prepared(
        request=request,
        structured=structured,
        ignored=ignored,
        attachments=conversation.attachments,
    )
    turn = _continue(req, opts, prepared, conversation, previous)
    turn.names = tools.names
    return turn


def _refuse(req: rsp.ResponsesRequest) -> None:
    for field, what in (
        ("background", "background responses"),
        ("conversation", "the Conversations API"),
        ("prompt", "stored prompt templates"),
    ):
        if getattr(req, field) not in (None, False):
            raise errors.Unsupported(f"{what} are not supported by this gateway", param=field)


def _continue(
    req: rsp.ResponsesRequest,
    opts: build.Options,
    prepared: build.Prepared,
    new: Conversation,
    previous: StoredResponse | None,
) -> Turn:
    """The messages to send: the new turn alone in a known thread, else the whole conversation."""
    system = [*(previous.system if previous else ()), *new.system]
    system_text = _join([req.instructions or "", *system])
    history = [*(previous.messages if previous else ()), *new.messages]
    if not history:
        raise errors.BadRequest("`input` has no message for the model to answer", param="input")
    store = req.store is not False
    whole = build.merge_system([system_text]) + history
    request = prepared.request
    full = None
    if opts.contract == "v2" and store:
        thread = previous.thread_id if previous else None
        if thread and new.messages and previous and previous.thread_system == system_text:
            full = msgspec.structs.replace(request, messages=whole, storage=giga.ChatStorage())
            request.messages = new.messages
            request.storage = giga.ChatStorage(thread_id=thread)
        else:
            request.storage = giga.ChatStorage()  # an empty storage starts a thread
    if full is None:
        request.messages = whole
    return Turn(
        prepared=prepared,
        full=full,
        system=system,
        history=history,
        calls=new.calls,
        thread_system=system_text,
        store=store,
    )


def _join(texts: list[str]) -> str:
    return "\n\n".join(t for t in texts if t)


# --- tools ------------------------------------------------------------------------------


def _builtin(kind: str) -> str | None:
    return WEB_SEARCH if kind.startswith(WEB_SEARCH) else BUILTIN.get(kind)


def _tools(raws: list[msgspec.Raw], opts: build.Options) -> Tools:
    out = Tools()
    for i, raw in enumerate(raws):
        where = f"tools[{i}]"
        kind = _decoded(_decode_tool_type, raw, where).type
        if kind == "function":
            _function(out, _decoded(_decode_function, raw, where), None, where, opts)
            _name(out, fields.within(raw, rsp.FunctionTool, "tools[]"))
        elif kind == "namespace":
            group = _decoded(_decode_namespace, raw, where)
            _name(out, fields.within(raw, rsp.NamespaceTool, "tools[]"))
            for j, inner in enumerate(group.tools):
                at = f"{where}.tools[{j}]"
                inner_kind = _known(
                    _decoded(_decode_tool_type, inner, at).type, NAMESPACED_TOOLS, at
                )
                if inner_kind == "function":
                    _function(out, _decoded(_decode_function, inner, at), group.name, at, opts)
                    _name(out, fields.within(inner, rsp.FunctionTool, "tools[].tools[]"))
                else:
                    _ignore(out, inner_kind)
        elif (name := _builtin(kind)) is not None:
            if not opts.builtins:  # v1 has none; GPT2GIGA_DISABLE_BUILTIN_TOOL_MAPPING
                _ignore(out, kind)
            else:
                # GigaChat's built-in takes no settings: the tool's own (filters,
                # user_location, ...) are accepted and not applied.
                _name(out, [f"tools[].{key}" for key in _decode_object(raw) if key != "type"])
                if all(getattr(t, name) is None for t in out.builtins):
                    out.builtins.append(_builtin_tool(name))
        else:
            _ignore(out, _known(kind, OTHER_TOOLS, where))
    return out


def _known(kind: str, known: frozenset[str], where: str) -> str:
    if kind not in known:
        raise errors.BadRequest(f"{where}: unknown tool type {kind!r}", param=f"{where}.type")
    return kind


def _builtin_tool(name: str) -> giga.ChatTool:
    if name == WEB_SEARCH:
        return giga.ChatTool(web_search=giga.ChatWebSearchTool())
    if name == "image_generate":
        return giga.ChatTool(image_generate={})
    return giga.ChatTool(code_interpreter={})


def _name(out: Tools, paths: list[str]) -> None:
    out.ignored += [path for path in paths if path not in out.ignored]


def _ignore(out: Tools, kind: str) -> None:
    if f"tools.{kind}" not in out.ignored:
        out.ignored.append(f"tools.{kind}")


def _function(
    out: Tools, tool: rsp.FunctionTool, namespace: str | None, where: str, opts: build.Options
) -> None:
    flat = tool.name if namespace is None else flat_name(namespace, tool.name, out.names)
    if flat in out.names:
        raise errors.BadRequest(f"Two tools are named {flat!r}", param="tools")
    out.names[flat] = (namespace, tool.name)
    params = build.client_schema(tool.parameters, f"{where}.parameters")
    out.specs.append(build.function_spec(flat, tool.description, params, opts))


# --- tool_choice and text.format -------------------------------------------------------------


def _tool_config(
    choice: rsp.Choice | rsp.ToolChoice | None,
    names: list[str],
    tools: Tools,
    opts: build.Options,
) -> giga.ChatToolConfig | None:
    if choice is None or not (names or tools.builtins):
        return None
    if not isinstance(choice, rsp.ToolChoice):
        if choice == "required":
            name = build.require_one(names, "tool_choice 'required'")
            return giga.ChatToolConfig(mode="forced", function_name=name)
        return build.tool_config(choice)
    if choice.type == "function" and choice.name:
        return _forced(choice.name, tools)
    if choice.type == "allowed_tools":
        return _allowed(choice, tools)
    builtin = _builtin(choice.type)
    if builtin is not None:
        forced = opts.builtins and any(getattr(t, builtin) for t in tools.builtins)
        return giga.ChatToolConfig(mode="forced", tool_name=builtin) if forced else None
    raise errors.Unsupported(
        f"tool_choice of type {choice.type!r} is not supported", param="tool_choice"
    )


def _unforced_builtin(
    choice: str | rsp.ToolChoice | None, config: giga.ChatToolConfig | None
) -> bool:
    """A choice of a hosted tool that GigaChat is not forced to (v1, unmapped, or not offered)."""
    if not isinstance(choice, rsp.ToolChoice):
        return False
    builtin = _builtin(choice.type)
    return builtin is not None and (config is None or config.tool_name != builtin)


def _forced(name: str, tools: Tools) -> giga.ChatToolConfig | None:
    # The SDK names a namespaced function by its own name; a flat name works too.
    matches = [flat for flat, (_, client) in tools.names.items() if name in (flat, client)]
    if len(matches) != 1:
        raise errors.BadRequest(
            f"tool_choice names the function {name!r}, which is not among the tools",
            param="tool_choice",
        )
    return build.tool_config("forced", matches[0])


def _allowed(choice: rsp.ToolChoice, tools: Tools) -> giga.ChatToolConfig | None:
    allowed = [str(t.get("name")) for t in choice.tools or () if t.get("type") == "function"]
    if choice.mode == "required":
        name = build.require_one(allowed, "tool_choice allowed_tools 'required'")
        return _forced(name, tools)
    return build.tool_config("auto")


def _text_format(
    req: rsp.ResponsesRequest, opts: build.Options, specs: list[giga.ChatFunctionSpecification]
) -> tuple[giga.ChatResponseFormat | None, giga.ChatToolConfig | None, str | None]:
    fmt = req.text.format if req.text is not None else None
    if fmt is None or isinstance(fmt, rsp.TextFormat):
        return None, None, None
    if isinstance(fmt, rsp.JSONObjectFormat):
        raise errors.Unsupported(
            "text.format json_object is not supported: GigaChat has no schema-less JSON mode; "
            "use json_schema with a schema",
            param="text.format",
        )
    schema = build.client_schema(fmt.schema, "text.format.schema")
    if schema is None:
        raise errors.BadRequest("text.format.schema is required", param="text.format.schema")
    return build.structured(opts, fmt.name, schema, fmt.strict, specs, fmt.description)
