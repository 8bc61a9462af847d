"""GigaChat answer -> OpenAI Response object and output items; the stored record of a turn. Pure.

Shared by the whole-answer path (`from_giga`) and the stream translator: both
build the same items, the same usage and the same final status. Ids come in
through `new_id`, the response's identity through its `skeleton`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec
from msgspec import UNSET

from gpt2giga import errors
from gpt2giga.gigachat import answer
from gpt2giga.gigachat import request as build
from gpt2giga.gigachat import wire as giga
from gpt2giga.openai.responses import wire as rsp
from gpt2giga.openai.responses.store import StoredResponse
from gpt2giga.openai.responses.translate import Turn

NewId = Callable[[str], str]
Names = dict[str, tuple[str | None, str]]

# GigaChat finish_reason -> (Response status, incomplete_details.reason); others complete.
STATUS = {
    "length": ("incomplete", "max_output_tokens"),
    "blacklist": ("incomplete", "content_filter"),
}
# GigaChat built-in tool -> the id prefix of the output item that reports its run.
BUILTIN_ITEM = {"web_search": "ws_", "image_generate": "ig_"}
# GigaChat tool_execution.status words that end a run.
TOOL_DONE = {"success": "completed", "completed": "completed", "done": "completed"}
TOOL_FAILED = frozenset({"failed", "error", "censored"})
# Response.error.code is an enum in the SDK: the gateway's errors map onto three of its words.
ERROR_CODE = {400: "invalid_prompt", 429: "rate_limit_exceeded"}


def skeleton(req: rsp.ResponsesRequest, response_id: str, created: int, model: str) -> rsp.Response:
    """The Response as it stands before the answer: the request's settings echoed back."""
    reasoning = req.reasoning or rsp.ReasoningConfig()
    text = req.text or rsp.TextConfig()
    return rsp.Response(
        id=response_id,
        created_at=created,
        status="in_progress",
        instructions=req.instructions,
        max_output_tokens=req.max_output_tokens,
        model=model,
        output=[],
        parallel_tool_calls=req.parallel_tool_calls is not False,
        previous_response_id=req.previous_response_id,
        reasoning=rsp.ReasoningEcho(
            effort=reasoning.effort, summary=reasoning.summary or reasoning.generate_summary
        ),
        store=req.store is not False,
        temperature=req.temperature,
        text=rsp.TextConfig(format=text.format or rsp.TextFormat(), verbosity=text.verbosity),
        tool_choice=req.tool_choice if req.tool_choice is not None else "auto",
        tools=req.tools or [],
        top_p=req.top_p,
        truncation=req.truncation or "disabled",
        user=req.user,
        metadata=req.metadata or {},
    )


def usage(u: giga.ChatUsage) -> rsp.Usage:
    return rsp.Usage(
        input_tokens=u.tokens_in,
        input_tokens_details=rsp.InputTokensDetails(cached_tokens=u.cached_tokens),
        output_tokens=u.tokens_out,
        # GigaChat counts reasoning inside output_tokens and does not say how much.
        output_tokens_details=rsp.OutputTokensDetails(reasoning_tokens=0),
        total_tokens=u.tokens_total,
    )


def item_status(finish: str) -> str:
    return STATUS.get(finish, ("completed", None))[0]


def finished(
    base: rsp.Response, output: list[rsp.OutputItem], finish: str, u: giga.ChatUsage, model: str
) -> rsp.Response:
    status, reason = STATUS.get(finish, ("completed", None))
    return msgspec.structs.replace(
        base,
        status=status,
        incomplete_details=rsp.IncompleteDetails(reason=reason) if reason else None,
        model=model or base.model,
        output=output,
        usage=usage(u),
    )


def failed(
    base: rsp.Response, output: list[rsp.OutputItem], err: errors.GatewayError
) -> rsp.Response:
    error = rsp.ResponseError(code=error_code(err), message=err.message)
    return msgspec.structs.replace(base, status="failed", error=error, output=output)


def error_code(err: errors.GatewayError) -> str:
    return ERROR_CODE.get(err.status, "server_error")


def call_item(call: answer.Call, item_id: str, names: Names, status: str) -> rsp.FunctionCallOut:
    """A function call under the client's own name (and namespace, for Codex's groups)."""
    namespace, name = names.get(call.name, (None, call.name))
    return rsp.FunctionCallOut(
        id=item_id,
        call_id=call.id,
        name=name,
        arguments=answer.arguments_text(call.arguments) if status == "completed" else "",
        status=status,
        namespace=namespace if namespace is not None else UNSET,
    )


def message_item(item_id: str, text: str, status: str) -> rsp.MessageOut:
    return rsp.MessageOut(id=item_id, status=status, content=[rsp.OutputTextOut(text=text)])


def reasoning_item(item_id: str, text: str) -> rsp.ReasoningOut:
    return rsp.ReasoningOut(id=item_id, summary=[rsp.SummaryText(text=text)] if text else [])


# --- GigaChat's built-in tools (v2) ----------------------------------------------------


class ToolRun(msgspec.Struct, kw_only=True):
    """A built-in tool GigaChat reports running: `tool_execution` and, for search, sources."""

    name: str
    status: str = "in_progress"
    sources: list[str] = []


def tool_runs(
    top: giga.ChatToolExecution | None, messages: Sequence[giga.ChatMessageChunk]
) -> dict[str, ToolRun]:
    runs: dict[str, ToolRun] = {}
    executions = [top] + [m.tool_execution for m in messages]
    executions += [p.tool_execution for m in messages for p in m.parts]
    for ex in executions:
        if ex is not None and ex.name in BUILTIN_ITEM:
            run = runs.setdefault(ex.name, ToolRun(name=ex.name))
            run.status = "failed" if ex.censored else ex.status or run.status
    datas = [m.inline_data for m in messages] + [p.inline_data for m in messages for p in m.parts]
    urls = [s.url for d in datas if d and d.sources for s in d.sources.values() if s.url]
    if urls:
        # Sources are what a web search found: they report one even without its execution.
        runs.setdefault("web_search", ToolRun(name="web_search")).sources.extend(urls)
    return runs


def tool_status(status: str, final: bool) -> str:
    if status in TOOL_FAILED:
        return "failed"
    return TOOL_DONE.get(status, "completed" if final else "in_progress")


def tool_item(run: ToolRun, item_id: str, status: str) -> rsp.OutputItem:
    if run.name == "image_generate":
        # The picture stays in GigaChat's file storage; the gateway does not fetch it.
        return rsp.ImageGenerationCallOut(id=item_id, status=status)
    sources = [rsp.SearchSource(url=url) for url in run.sources] or UNSET
    return rsp.WebSearchCallOut(id=item_id, status=status, action=rsp.SearchAction(sources=sources))


# --- whole answers ----------------------------------------------------------------------


def from_giga(
    reply: answer.Reply,
    runs: dict[str, ToolRun],
    base: rsp.Response,
    names: Names,
    new_id: NewId,
) -> rsp.Response:
    output: list[rsp.OutputItem] = []
    if reply.reasoning:
        output.append(reasoning_item(new_id("rs_"), reply.reasoning))
    output.extend(
        tool_item(run, new_id(BUILTIN_ITEM[run.name]), tool_status(run.status, True))
        for run in runs.values()
    )
    if reply.text or not reply.calls:
        output.append(message_item(new_id("msg_"), reply.text, item_status(reply.finish)))
    output.extend(call_item(c, new_id("fc_"), names, "completed") for c in reply.calls)
    return finished(base, output, reply.finish, reply.usage, reply.model)


def assistant_message(reply: answer.Reply) -> giga.ChatMessage:
    """The answer as the next turn sends it back to GigaChat."""
    parts = [giga.ChatContentPart(text=reply.text)] if reply.text or not reply.calls else []
    # GigaChat may answer with JSON text arguments, but reads them only as an object.
    parts += [build.call_part(c.name, answer.arguments_object(c.arguments)) for c in reply.calls]
    state = next((s for c in reply.calls if (s := answer.state_of(c.id))), None)
    return giga.ChatMessage(role="assistant", content=parts, tools_state_id=state)


def record(turn: Turn, reply: answer.Reply, body: bytes, thread_id: str | None) -> StoredResponse:
    return StoredResponse(
        body=body,
        system=turn.system,
        messages=[*turn.history, assistant_message(reply)],
        calls={**turn.calls, **{c.id: c.name for c in reply.calls}},
        thread_id=thread_id if turn.prepared.request.storage is not None else None,
        thread_system=turn.thread_system,
    )
