"""How the fake GigaChat says an answer on each contract's wire, in shapes varied within the SDK.

`model.py` decides what the model says; this module says it: the whole
answer (v1 `ChatCompletion`, v2 `ChatCompletionResponse`) and the stream (v1
`data:` lines ending `[DONE]`, v2 named events). A streamed message names its
role on its first delta only, as GigaChat does; and each answer takes a
`Shape` of its own, drawn from the request's bytes (so a test sees the same
shape every run): the optional fields the SDK lets GigaChat leave out are
sometimes left out, and the forms the SDK normalizes are sometimes used. No
shape changes what a correct gateway tells its client. `sdk_check` reads what
is sent with the SDK's own models and SSE readers (imported only then).
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import msgspec

from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.fake.model import MODEL_VERSION, Answer, words

_encode = msgspec.json.Encoder().encode


class Shape(msgspec.Struct, frozen=True, kw_only=True):
    """Which optional parts and alternative forms one answer uses."""

    # `model`, `created_at` and `thread_id` on every stream event, not on the first and last alone.
    every_event: bool = True
    # `input_tokens_details` (v2) and `precached_prompt_tokens` (v1) in the usage.
    details: bool = True
    # Function arguments as JSON text (the SDK's `Any`), not an object.
    text_arguments: bool = False
    # A whole answer's text-only message content as a string (the SDK makes it a part).
    plain_content: bool = False


FULL = Shape()


def shape_for(body: bytes, seed: int = 0) -> Shape:
    """The shape of the answer to the request `body`: the same body, the same shape."""
    bits = hashlib.sha256(seed.to_bytes(8, "big") + body).digest()[0]
    return Shape(
        every_event=bool(bits & 1),
        details=bool(bits & 2),
        text_arguments=bool(bits & 4),
        plain_content=bool(bits & 8),
    )


def pieces(text: str, size: int = 3) -> list[str]:
    tokens = re.findall(r"\S+\s*|\s+", text)
    return ["".join(tokens[i : i + size]) for i in range(0, len(tokens), size)] or [""]


def usage(ans: Answer, shape: Shape = FULL) -> giga.ChatUsage:
    out = words(ans.text) + words(ans.reasoning) + 5 * len(ans.calls)
    details = giga.ChatUsageInputTokensDetails(prompt_tokens=ans.input_tokens, cached_tokens=0)
    return giga.ChatUsage(
        input_tokens=ans.input_tokens,
        input_tokens_details=details if shape.details else None,
        output_tokens=out,
        total_tokens=ans.input_tokens + out,
    )


def _call(call: giga.ChatFunctionCall, shape: Shape) -> giga.ChatFunctionCall:
    if not shape.text_arguments:
        return call
    return giga.ChatFunctionCall(name=call.name, arguments=_encode(call.arguments).decode())


def _parts(ans: Answer, shape: Shape) -> list[giga.ChatContentPart | str]:
    parts: list[giga.ChatContentPart | str] = (
        [giga.ChatContentPart(text=ans.text)] if ans.text else []
    )
    parts += [giga.ChatContentPart(function_call=_call(c, shape)) for c in ans.calls]
    return parts


# --- whole answers ------------------------------------------------------------------------


def v2_messages(ans: Answer, state: str, shape: Shape = FULL) -> list[giga.ChatAnswerMessage]:
    messages = []
    if ans.reasoning:
        reasoning = _content([giga.ChatContentPart(text=ans.reasoning)], shape)
        messages.append(giga.ChatAnswerMessage(role="reasoning", content=reasoning))
    content = _content(_parts(ans, shape), shape)
    state_ = state if ans.calls else None
    messages.append(giga.ChatAnswerMessage(role="assistant", content=content, tool_state_id=state_))
    return messages


def _content(parts: list[giga.ChatContentPart | str], shape: Shape) -> giga.AnswerContent:
    only = parts[0] if len(parts) == 1 else None
    if shape.plain_content and isinstance(only, giga.ChatContentPart) and only.text is not None:
        return only.text
    return parts


def v2_answer(
    ans: Answer, model: str, state: str, thread: str | None, shape: Shape = FULL
) -> giga.ChatCompletionResponse:
    return giga.ChatCompletionResponse(
        model=model + MODEL_VERSION,
        created_at=int(time.time()) if shape.every_event else None,
        messages=v2_messages(ans, state, shape),
        thread_id=thread,
        finish_reason=ans.finish,
        usage=usage(ans, shape),
    )


def thread_message(ans: Answer, state: str) -> giga.ChatMessage:
    """The answer as a thread keeps it: what the model said, not its reasoning."""
    parts = [p for p in _parts(ans, FULL) if not isinstance(p, str)]
    return giga.ChatMessage(
        role="assistant", content=parts, tools_state_id=state if ans.calls else None
    )


def v1_usage(ans: Answer, shape: Shape = FULL) -> giga1.UsageV1:
    u = usage(ans)
    return giga1.UsageV1(
        prompt_tokens=u.tokens_in,
        completion_tokens=u.tokens_out,
        total_tokens=u.tokens_total,
        precached_prompt_tokens=0 if shape.details else None,
    )


def v1_answer(ans: Answer, model: str, state: str, shape: Shape = FULL) -> giga1.ChatCompletionV1:
    call = ans.calls[0] if ans.calls else None
    message = giga1.MessageV1(
        role="assistant",
        content=ans.text,
        function_call=giga1.FunctionCallV1(name=call.name, arguments=call.arguments)
        if call
        else None,
        functions_state_id=state if call else None,
        reasoning_content=ans.reasoning or None,
    )
    return giga1.ChatCompletionV1(
        choices=[giga1.ChoiceV1(message=message, index=0, finish_reason=ans.finish)],
        created=int(time.time()),
        model=model + MODEL_VERSION,
        usage=v1_usage(ans, shape),
        object="chat.completion",
    )


# --- streams --------------------------------------------------------------------------------


def frames_v1(ans: Answer, model: str, state: str, shape: Shape = FULL) -> list[bytes]:
    """`data:` lines: reasoning, text in pieces, the call with the end, then `[DONE]`."""
    now = int(time.time())
    deltas = [giga1.MessageChunkV1(reasoning_content=ans.reasoning)] if ans.reasoning else []
    deltas += [giga1.MessageChunkV1(content=p) for p in (pieces(ans.text) if ans.text else [])]
    call = ans.calls[0] if ans.calls else None
    last = giga1.MessageChunkV1(content="")
    if call is not None:
        last.function_call = giga1.FunctionCallV1(name=call.name, arguments=call.arguments)
        last.functions_state_id = state
    deltas.append(last)
    deltas[0].role = "assistant"  # on the first chunk only
    frames = []
    for n, delta in enumerate(deltas):
        end = n == len(deltas) - 1
        body = giga1.ChatCompletionChunkV1(
            choices=[
                giga1.ChoiceChunkV1(delta=delta, index=0, finish_reason=ans.finish if end else None)
            ],
            created=now,
            model=model + MODEL_VERSION,
            usage=v1_usage(ans, shape) if end else None,
            object="chat.completion",
        )
        frames.append(b"data: " + _encode(body) + b"\n\n")
    return [*frames, b"data: [DONE]\n\n"]


def frames_v2(
    ans: Answer, model: str, state: str, thread: str | None = None, shape: Shape = FULL
) -> list[bytes]:
    """Named events: a delta per piece (the role on each message's first), then `done`."""
    deltas = [
        giga.ChatMessageChunk(
            role="reasoning" if n == 0 else None, content=[giga.ChatContentPart(text=piece)]
        )
        for n, piece in enumerate(pieces(ans.reasoning) if ans.reasoning else [])
    ]
    for n, piece in enumerate(pieces(ans.text) if ans.text else []):
        role = "assistant" if n == 0 else None
        deltas.append(giga.ChatMessageChunk(role=role, content=[giga.ChatContentPart(text=piece)]))
    if ans.calls:
        parts: list[giga.ChatContentPart | str] = [
            giga.ChatContentPart(function_call=_call(c, shape)) for c in ans.calls
        ]
        role = None if ans.text else "assistant"
        deltas.append(giga.ChatMessageChunk(role=role, content=parts, tool_state_id=state))
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.message.delta", {"messages": [d]}) for d in deltas
    ]
    events.append(
        ("response.message.done", {"finish_reason": ans.finish, "usage": usage(ans, shape)})
    )
    head: dict[str, Any] = {
        "model": model + MODEL_VERSION,
        "created_at": int(time.time()),
        "thread_id": thread,
    }
    frames = []
    for n, (kind, fields) in enumerate(events):
        edge = n in (0, len(events) - 1)
        body = giga.ChatCompletionChunk(**(head if edge or shape.every_event else {}), **fields)
        frames.append(b"event: " + kind.encode() + b"\ndata: " + _encode(body) + b"\n\n")
    return frames


def sdk_check(frames: list[bytes], contract_: str, stream: bool) -> None:
    """What the fake sends must be what the SDK reads, with the SDK's own readers.

    A failure is the fake's own bug: it raises, and the test that met it fails.
    """
    from gigachat.api.utils import _iter_event_chunks, parse_data_chunk
    from gigachat.models import chat, chat_completions

    if not stream:
        model = (
            chat.ChatCompletion if contract_ == "v1" else chat_completions.ChatCompletionResponse
        )
        model.model_validate_json(frames[0])
        return
    # httpx's line reader, which the SDK reads streams with, splits as `splitlines` does.
    lines = b"".join(frames).decode().splitlines()
    if contract_ == "v1":
        read = [parse_data_chunk(line, chat.ChatCompletionChunk) for line in lines]
        assert len([c for c in read if c is not None]) == len(frames) - 1  # all but [DONE]
    else:
        read_v2 = list(_iter_event_chunks(lines, chat_completions.ChatCompletionChunk))
        assert len(read_v2) == len(frames)
