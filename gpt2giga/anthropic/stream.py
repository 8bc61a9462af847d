"""GigaChat stream -> Anthropic Messages stream events, sans-IO.

The sequence the anthropic SDK and Claude Code assemble: `message_start`
(empty content, zero usage), `ping`, then per block `content_block_start`,
deltas and `content_block_stop` with consecutive indexes (reasoning is a
`thinking` block closed by a `signature_delta`; each tool call is one block
with its whole input as one `input_json_delta`), then `message_delta` (stop
reason, real usage) and `message_stop`. Every frame is named by its `type`:
the SDK skips unnamed ones. A failure becomes `event: error` and the stream
ends.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from gpt2giga import errors, sse
from gpt2giga.anthropic import translate
from gpt2giga.anthropic import wire as ant
from gpt2giga.gigachat import answer
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.request import Prepared

Event = (
    ant.MessageStart
    | ant.ContentBlockStart
    | ant.ContentBlockDelta
    | ant.ContentBlockStop
    | ant.MessageDelta
    | ant.MessageStop
    | ant.Ping
    | ant.ErrorBody
)

_encode = msgspec.json.Encoder().encode


def frame(events: list[Event]) -> bytes:
    return b"".join(sse.frame(_encode(e), str(e.__struct_config__.tag)) for e in events)


# The keep-alive `sse.relay` sends while GigaChat is silent; the SDK skips it.
PING_FRAME = frame([ant.Ping()])
ZERO_USAGE = ant.Usage(
    input_tokens=0, output_tokens=0, cache_creation_input_tokens=0, cache_read_input_tokens=0
)


class StreamTranslator:
    def __init__(self, prepared: Prepared, message_id: str) -> None:
        self._reader = answer.ChunkReader(prepared, "toolu_", message_id.removeprefix("msg_"))
        self._id = message_id
        # GigaChat names the model it answered with; until it does, the one asked for.
        self._asked_model = prepared.request.model or ""
        self._started = False
        self._index = -1
        self._open: Literal["text", "thinking"] | None = None
        self._called = False
        self.done = False

    def feed(self, chunk: giga.ChatCompletionChunk) -> list[Event]:
        events: list[Event] = []
        pieces = self._reader.feed(chunk)
        if not self._started:
            self._started = True
            message = ant.MessageOut(
                id=self._id,
                model=self._reader.model or self._asked_model,
                content=[],
                stop_reason=None,
                stop_sequence=None,
                usage=ZERO_USAGE,
            )
            events += [ant.MessageStart(message=message), ant.Ping()]
        for piece in pieces:
            self._piece(piece, events)
        return events

    def _piece(self, piece: answer.Piece, events: list[Event]) -> None:
        if isinstance(piece, answer.TextDelta):
            self._open_block("text", events)
            events.append(
                ant.ContentBlockDelta(index=self._index, delta=ant.TextDelta(text=piece.text))
            )
        elif isinstance(piece, answer.ReasoningDelta):
            self._open_block("thinking", events)
            thought = ant.ThinkingDelta(thinking=piece.text)
            events.append(ant.ContentBlockDelta(index=self._index, delta=thought))
        elif isinstance(piece, answer.Call):
            self._close(events)
            self._index += 1
            self._called = True
            block = ant.ToolUseOut(id=piece.id, name=piece.name, input={})
            arguments = answer.arguments_text(piece.arguments)
            events += [
                ant.ContentBlockStart(index=self._index, content_block=block),
                ant.ContentBlockDelta(
                    index=self._index, delta=ant.InputJSONDelta(partial_json=arguments)
                ),
                ant.ContentBlockStop(index=self._index),
            ]
        else:
            self._close(events)
            self.done = True
            reason = translate.stop_reason(piece.reason, piece.stop_sequence, self._called)
            delta = ant.StopDelta(stop_reason=reason, stop_sequence=piece.stop_sequence)
            usage = translate.usage(piece.usage)
            events += [ant.MessageDelta(delta=delta, usage=usage), ant.MessageStop()]

    def _open_block(self, kind: Literal["text", "thinking"], events: list[Event]) -> None:
        if self._open == kind:
            return
        self._close(events)
        self._index += 1
        self._open = kind
        block: ant.ContentBlock = (
            ant.TextOut(text="") if kind == "text" else ant.ThinkingOut(thinking="", signature="")
        )
        events.append(ant.ContentBlockStart(index=self._index, content_block=block))

    def _close(self, events: list[Event]) -> None:
        if self._open is None:
            return
        if self._open == "thinking":
            # Anthropic sends a thinking block's signature last, just before its stop.
            delta = ant.SignatureDelta(signature=translate.SIGNATURE)
            events.append(ant.ContentBlockDelta(index=self._index, delta=delta))
        events.append(ant.ContentBlockStop(index=self._index))
        self._open = None

    def error(self, err: errors.GatewayError) -> list[Event]:
        self.done = True
        return [ant.ErrorBody(error=translate.error_detail(err))]
