"""The v1 contract expressed through the v2 hub: pure conversions both ways.

Dialects only ever build and read v2 structs; `client.py` calls `to_v1` before
sending to `/v1/chat/completions` and `from_v1` / `chunk_from_v1` on what comes
back. Everything v1 cannot express (built-in tools, thread storage, several
function calls in one message) is resolved here, in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import msgspec

from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1

_json_decode = msgspec.json.Decoder().decode
_json_encode = msgspec.json.Encoder().encode
M = TypeVar("M", bound=giga.ChatMessageChunk)


def result_object(output: Any) -> dict[str, Any]:
    """A tool's output as the JSON object GigaChat wants as a function result.

    Agents send plain text, numbered file listings or JSON; GigaChat reads a
    function result as a JSON object, so anything else is wrapped as
    `{"result": ...}` rather than sent as something it would reject.
    """
    if isinstance(output, dict):
        return output
    if isinstance(output, str):
        text = output.strip()
        if text.startswith("{"):
            try:
                value = _json_decode(text)
            except msgspec.DecodeError:
                pass
            else:
                if isinstance(value, dict):
                    return value
    return {"result": output}


def text_of(message: giga.ChatMessage) -> str:
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part.text for part in content if part.text is not None)


def function_calls(message: giga.ChatMessage) -> list[giga.ChatFunctionCall]:
    calls = [] if message.function_call is None else [message.function_call]
    if isinstance(message.content, list):
        calls.extend(p.function_call for p in message.content if p.function_call is not None)
    return calls


def files_of(message: giga.ChatMessage) -> list[str]:
    if not isinstance(message.content, list):
        return []
    return [f.id for part in message.content for f in (part.files or ())]


def state_id(message: giga.ChatMessage) -> str | None:
    return message.tools_state_id or message.tool_state_id


# --- requests: v2 hub -> v1 ----------------------------------------------------


def to_v1(req: giga.ChatCompletionRequest, profanity_check: bool | None = None) -> giga1.ChatV1:
    """`profanity_check` is the operator's default; the request's `disable_filter` wins.

    What v1 cannot say (`filter_config`, `user_info`, the model preset, the
    ranker's embeddings model) is left out: `gigachat/native.py` names it
    ignored when it comes from the client.
    """
    opts = req.model_options or giga.ChatModelOptions()
    functions = _functions_v1(req.tools)
    if req.disable_filter is not None:
        profanity_check = not req.disable_filter
    ranker = req.ranker_options
    return giga1.ChatV1(
        model=req.model,
        messages=list(_messages_v1(req.messages)),
        temperature=opts.temperature,
        top_p=opts.top_p,
        max_tokens=opts.max_tokens,
        repetition_penalty=opts.repetition_penalty,
        update_interval=opts.update_interval,
        profanity_check=profanity_check,
        # Built-in tools have no v1 form: a choice about them alone means nothing there.
        function_call=_function_call_v1(req.tool_config) if functions else None,
        functions=functions,
        flags=req.flags,
        function_ranker=giga1.FunctionRankerV1(enabled=ranker.enabled, top_n=ranker.top_n)
        if ranker is not None
        else None,
        response_format=_response_format_v1(opts.response_format),
        reasoning_effort=_effort_v1(opts.reasoning),
    )


def _effort_v1(reasoning: giga.ChatReasoning | None) -> str | None:
    # v1 knows only these three words and rejects anything else.
    effort = reasoning.effort if reasoning else None
    return effort if effort in ("low", "medium", "high") else None


def _messages_v1(messages: list[giga.ChatMessage]) -> Iterator[giga1.MessageV1]:
    i = 0
    while i < len(messages):
        msg = messages[i]
        calls = function_calls(msg) if msg.role == "assistant" else []
        if len(calls) <= 1:
            yield from _message_v1(msg, calls)
            i += 1
            continue
        j = i + 1
        while j < len(messages) and messages[j].role == "tool":
            j += 1
        yield from _interleave(msg, calls, messages[i + 1 : j])
        i = j


def _interleave(
    msg: giga.ChatMessage, calls: list[giga.ChatFunctionCall], replies: list[giga.ChatMessage]
) -> Iterator[giga1.MessageV1]:
    """v1 has one function call per assistant message: each call, then its result."""
    results = [r for reply in replies for r in _function_results(reply)]
    paired, leftovers = _pair(calls, results)
    state = state_id(msg)
    for n, (call, result) in enumerate(zip(calls, paired, strict=True)):
        yield giga1.MessageV1(
            role="assistant",
            content=text_of(msg) if n == 0 else "",
            function_call=_call_v1(call),
            functions_state_id=state,
        )
        if result is not None:
            # Answered in place of this call, so it carries the call's name.
            yield _result_v1(call.name, result.result)
    for leftover in leftovers:
        yield _result_v1(leftover.name, leftover.result)


def _pair(
    calls: list[giga.ChatFunctionCall], results: list[giga.ChatFunctionResult]
) -> tuple[list[giga.ChatFunctionResult | None], list[giga.ChatFunctionResult]]:
    """Each call's result (the first free one of its name, else the first free one) and the rest."""
    free = list(range(len(results)))
    by_name: list[int | None] = []
    for call in calls:
        k = next((k for k in free if results[k].name == call.name), None)
        if k is not None:
            free.remove(k)
        by_name.append(k)
    paired = [k if k is not None else (free.pop(0) if free else None) for k in by_name]
    return [results[k] if k is not None else None for k in paired], [results[k] for k in free]


def _function_results(msg: giga.ChatMessage) -> list[giga.ChatFunctionResult]:
    if not isinstance(msg.content, list):
        return []
    return [p.function_result for p in msg.content if p.function_result is not None]


def _result_v1(name: str, result: Any) -> giga1.MessageV1:
    content = _json_encode(result_object(result)).decode()
    return giga1.MessageV1(role="function", name=name, content=content)


def _message_v1(
    msg: giga.ChatMessage, calls: list[giga.ChatFunctionCall]
) -> Iterator[giga1.MessageV1]:
    if msg.role == "tool":
        for res in _function_results(msg):
            yield _result_v1(res.name, res.result)
        return
    yield giga1.MessageV1(
        role=msg.role,
        content=text_of(msg),
        function_call=_call_v1(calls[0]) if calls else None,
        attachments=files_of(msg) or None,
        # v2's tools_state_id on the assistant turn is v1's functions_state_id.
        functions_state_id=state_id(msg) if calls else None,
    )


def _call_v1(call: giga.ChatFunctionCall) -> giga1.FunctionCallV1:
    args = call.arguments
    return giga1.FunctionCallV1(name=call.name, arguments=args if isinstance(args, dict) else {})


def _function_call_v1(config: giga.ChatToolConfig | None) -> str | giga1.ChatFunctionCallV1 | None:
    if config is None or config.mode is None:
        return None
    if config.mode == "forced":
        return giga1.ChatFunctionCallV1(name=config.function_name) if config.function_name else None
    return config.mode if config.mode in ("auto", "none") else None


def _functions_v1(tools: list[giga.ChatTool] | None) -> list[giga1.FunctionV1] | None:
    specs = [s for t in tools or () if t.functions for s in t.functions.specifications or ()]
    if not specs:
        return None
    return [
        giga1.FunctionV1(
            name=s.name,
            description=s.description,
            parameters=s.parameters,
            few_shot_examples=[
                giga1.FewShotExampleV1(request=e.request, params=e.params)
                for e in s.few_shot_examples
            ]
            if s.few_shot_examples
            else None,
            return_parameters=s.return_parameters,
        )
        for s in specs
    ]


def _response_format_v1(fmt: giga.ChatResponseFormat | None) -> giga1.ResponseFormatV1 | None:
    if fmt is None or fmt.type != "json_schema" or not isinstance(fmt.schema, dict):
        return None
    return giga1.ResponseFormatV1(type="json_schema", schema=fmt.schema, strict=fmt.strict)


# --- answers: v1 -> v2 hub -----------------------------------------------------


def usage_from_v1(usage: giga1.UsageV1 | None) -> giga.ChatUsage | None:
    if usage is None:
        return None
    details = None
    if usage.precached_prompt_tokens is not None:
        details = giga.ChatUsageInputTokensDetails(cached_tokens=usage.precached_prompt_tokens)
    return giga.ChatUsage(
        input_tokens=usage.prompt_tokens,
        input_tokens_details=details,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def _messages_from_v1(
    kind: type[M],
    content: str | None,
    reasoning: str | None,
    call: giga1.FunctionCallV1 | None,
    state: str | None,
    always: bool = True,
) -> list[M]:
    """A v1 message as hub messages: reasoning first, then the assistant's parts.

    A whole answer always has an assistant message; a stream chunk only when
    it carries something.
    """
    messages: list[M] = []
    if reasoning:
        messages.append(kind(role="reasoning", content=[giga.ChatContentPart(text=reasoning)]))
    parts: list[giga.ChatContentPart | str] = []
    if content:
        parts.append(giga.ChatContentPart(text=content))
    if call is not None:
        fc = giga.ChatFunctionCall(name=call.name, arguments=call.arguments or {})
        parts.append(giga.ChatContentPart(function_call=fc))
    if parts or always:
        messages.append(kind(role="assistant", content=parts, tools_state_id=state))
    return messages


def from_v1(resp: giga1.ChatCompletionV1) -> giga.ChatCompletionResponse:
    choice = resp.choices[0] if resp.choices else None
    messages: list[giga.ChatAnswerMessage] = []
    if choice is not None:
        m = choice.message
        messages = _messages_from_v1(
            giga.ChatAnswerMessage,
            m.content or "",
            m.reasoning_content,
            m.function_call,
            m.functions_state_id,
        )
    return giga.ChatCompletionResponse(
        model=resp.model,
        created_at=resp.created,
        messages=messages,
        message_id=resp.message_id,
        thread_id=resp.thread_id,
        finish_reason=choice.finish_reason if choice else None,
        usage=usage_from_v1(resp.usage),
    )


def chunk_from_v1(chunk: giga1.ChatCompletionChunkV1) -> giga.ChatCompletionChunk:
    choice = chunk.choices[0] if chunk.choices else None
    messages = None
    finish = None
    if choice is not None:
        d = choice.delta
        finish = choice.finish_reason
        messages = _messages_from_v1(
            giga.ChatMessageChunk,
            d.content,
            d.reasoning_content,
            d.function_call,
            d.functions_state_id,
            always=False,
        )
    return giga.ChatCompletionChunk(
        event="response.message.done" if finish else "response.message.delta",
        model=chunk.model,
        created_at=chunk.created,
        messages=messages or None,
        finish_reason=finish,
        usage=usage_from_v1(chunk.usage),
    )
