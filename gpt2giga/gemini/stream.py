"""GigaChat stream -> Gemini `GenerateContentResponse` chunks, sans-IO; SSE and JSON-array framing.

Each upstream chunk becomes at most one Gemini chunk (its text, thoughts and
whole function calls as parts). One chunk is held back so that the last one
carries the last content together with `finishReason` and `usageMetadata`,
as Google's own streams do (Gemini CLI reads a content-less chunk as
invalid). A failure becomes `{"error": {...}}` with an integer `code`, which
google-genai raises as an APIError.
"""

from __future__ import annotations

import msgspec

from gpt2giga import errors, sse
from gpt2giga.gemini import translate
from gpt2giga.gemini import wire as gem
from gpt2giga.gigachat import answer
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.request import Prepared

Event = gem.GenerateContentResponse | gem.ErrorBody

_encode = msgspec.json.Encoder().encode


def sse_frame(events: list[Event]) -> bytes:
    """`?alt=sse`: one `data:` event per chunk."""
    return b"".join(sse.frame(_encode(e)) for e in events)


class ArrayFrame:
    """Without `alt=sse` Google streams one JSON array, an element at a time."""

    __slots__ = ("opened",)

    def __init__(self) -> None:
        self.opened = False

    def __call__(self, events: list[Event]) -> bytes:
        out = []
        for event in events:
            out.append(b",\r\n" if self.opened else b"[")
            out.append(_encode(event))
            self.opened = True
        return b"".join(out)

    def close(self) -> bytes:
        return b"]" if self.opened else b"[]"


class StreamTranslator:
    def __init__(self, prepared: Prepared, response_id: str, thoughts: bool) -> None:
        self._reader = answer.ChunkReader(prepared, translate.CALL_PREFIX, response_id)
        self._id = response_id
        # GigaChat names the model it answered with; until it does, the one asked for.
        self._asked_model = prepared.request.model or ""
        self._thoughts = thoughts
        self._held: gem.GenerateContentResponse | None = None
        self._usable = False
        self.done = False

    def feed(self, chunk: giga.ChatCompletionChunk) -> list[Event]:
        parts: list[gem.PartOut] = []
        finish = None
        for piece in self._reader.feed(chunk):
            if isinstance(piece, answer.Finish):
                finish = piece
            else:
                self._add(parts, piece)
        events = self._hold(parts) if parts else []
        if finish is not None:
            events += self._finish(finish)
        return events

    def _add(self, parts: list[gem.PartOut], piece: answer.Piece) -> None:
        if isinstance(piece, answer.Call):
            self._usable = True
            parts.append(translate.call_part(piece))
            return
        if isinstance(piece, answer.ReasoningDelta):
            if not self._thoughts:
                return
            thought: bool | msgspec.UnsetType = True
        elif isinstance(piece, answer.TextDelta):
            self._usable = True
            thought = msgspec.UNSET
        else:
            return
        last = parts[-1] if parts else None
        if last is not None and last.thought == thought and isinstance(last.text, str):
            last.text += piece.text
        else:
            parts.append(gem.PartOut(text=piece.text, thought=thought))

    def _response(self, parts: list[gem.PartOut]) -> gem.GenerateContentResponse:
        return gem.GenerateContentResponse(
            candidates=[gem.Candidate(content=gem.ContentOut(parts=parts))],
            model_version=self._reader.model or self._asked_model,
            response_id=self._id,
        )

    def _hold(self, parts: list[gem.PartOut]) -> list[Event]:
        out: list[Event] = [self._held] if self._held is not None else []
        self._held = self._response(parts)
        return out

    def _finish(self, finish: answer.Finish) -> list[Event]:
        if not self._usable or self._held is None:
            return self.error(translate.empty_answer(finish.reason))
        last, self._held = self._held, None
        last.candidates[0].finish_reason = translate.FINISH_REASON.get(finish.reason, "OTHER")
        last.usage_metadata = translate.usage(finish.usage)
        last.model_version = finish.model or last.model_version
        self.done = True
        return [last]

    def error(self, err: errors.GatewayError) -> list[Event]:
        """What was generated so far, then the error: never a normal finish."""
        out: list[Event] = [self._held] if self._held is not None else []
        self._held = None
        self.done = True
        out.append(gem.ErrorBody(error=translate.error_detail(err)))
        return out
