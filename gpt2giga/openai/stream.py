"""GigaChat stream -> OpenAI `chat.completion.chunk` events, sans-IO.

The first chunk carries the assistant role, text and reasoning go out as they
come, each function call is one `tool_calls` delta with its whole arguments,
then a finish chunk, an optional usage chunk (`stream_options.include_usage`)
and `[DONE]`. A failure becomes `data: {"error": ...}` and no `[DONE]`: the
openai SDK raises it as an APIError instead of ending normally.
"""

from __future__ import annotations

import msgspec

from gpt2giga import errors, sse
from gpt2giga.gigachat import answer
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.request import Prepared
from gpt2giga.openai import translate
from gpt2giga.openai import wire as oai


class Done(msgspec.Struct):
    """The `data: [DONE]` sentinel."""


DONE = Done()
Event = oai.ChatCompletionChunk | oai.ErrorBody | Done

_encode = msgspec.json.Encoder().encode


def frame(events: list[Event]) -> bytes:
    return b"".join(sse.DONE_FRAME if e is DONE else sse.frame(_encode(e)) for e in events)


class StreamTranslator:
    def __init__(
        self, prepared: Prepared, completion_id: str, created: int, include_usage: bool = False
    ) -> None:
        self._reader = answer.ChunkReader(
            prepared, "call_", completion_id.removeprefix("chatcmpl-")
        )
        self._id = completion_id
        self._created = created
        # GigaChat names the model it answered with; until it does, the one asked for.
        self._asked_model = prepared.request.model or ""
        self._include_usage = include_usage
        self._started = False
        self._calls = 0
        self.done = False

    def _chunk(self, delta: oai.Delta, finish: str | None = None) -> oai.ChatCompletionChunk:
        choice = oai.ChunkChoice(index=0, delta=delta, finish_reason=finish)
        return oai.ChatCompletionChunk(
            id=self._id, created=self._created, model=self._model, choices=[choice]
        )

    @property
    def _model(self) -> str:
        return self._reader.model or self._asked_model

    def feed(self, chunk: giga.ChatCompletionChunk) -> list[Event]:
        events: list[Event] = []
        pieces = self._reader.feed(chunk)
        if not self._started:
            self._started = True
            events.append(self._chunk(oai.Delta(role="assistant", content="")))
        for piece in pieces:
            events.extend(self._piece(piece))
        return events

    def _piece(self, piece: answer.Piece) -> list[Event]:
        if isinstance(piece, answer.TextDelta):
            return [self._chunk(oai.Delta(content=piece.text))]
        if isinstance(piece, answer.ReasoningDelta):
            return [self._chunk(oai.Delta(reasoning_content=piece.text))]
        if isinstance(piece, answer.Call):
            fn = oai.FunctionDelta(
                name=piece.name, arguments=answer.arguments_text(piece.arguments)
            )
            call = oai.ToolCallDelta(index=self._calls, id=piece.id, type="function", function=fn)
            self._calls += 1
            return [self._chunk(oai.Delta(tool_calls=[call]))]
        self.done = True
        events: list[Event] = [
            self._chunk(oai.Delta(), translate.FINISH_REASON.get(piece.reason, "stop"))
        ]
        if self._include_usage:
            events.append(
                oai.ChatCompletionChunk(
                    id=self._id,
                    created=self._created,
                    model=self._model,
                    choices=[],
                    usage=translate.usage(piece.usage),
                )
            )
        events.append(DONE)
        return events

    def error(self, err: errors.GatewayError) -> list[Event]:
        self.done = True
        return [oai.ErrorBody(error=translate.error_detail(err))]
