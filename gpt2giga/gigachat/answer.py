"""Reading a GigaChat answer once for every dialect: text, reasoning, calls, finish, usage.

Here live the answer-side rules all dialects share: tool-call ids that carry
GigaChat's state id, the structured-output emulation turned back into JSON
text, stop sequences applied by the gateway (GigaChat has no `stop`), and
reserved function names mapped back. `Reply` reads a whole answer;
`ChunkReader` reads a stream, sans-IO.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.request import Prepared, from_giga_name

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_UUID_TEXT = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID = re.compile(f"^{_UUID_TEXT}$")
# `call_id`'s output: any prefix (even none, or one with underscores), the state id, `__n`.
# Only ids the gateway made carry a state: a bare UUID may be a client's own id,
# and an unknown state id sent to GigaChat would break the turn.
_STATE = re.compile(f"_({_UUID_TEXT})(?:__[0-9]+)?$")
EMPTY_USAGE = giga.ChatUsage()


def call_id(prefix: str, state: str | None, index: int, fallback: str) -> str:
    """A tool-call id that gives GigaChat's state id back when the client echoes it.

    Several calls of one answer share a state id, so the index tells them apart.
    """
    base = state if state and _UUID.match(state) else fallback
    return f"{prefix}{base}" if index == 0 else f"{prefix}{base}__{index}"


def state_of(client_id: str) -> str | None:
    """GigaChat's state id inside an id made by `call_id`, if any."""
    match = _STATE.search(client_id)
    return match.group(1) if match else None


def unwrap(text: str, key: str) -> str:
    """The client's JSON value out of the object GigaChat was asked for (`Prepared.unwrap`)."""
    try:
        value = _decode(text)
    except msgspec.DecodeError:
        return text
    return _encode(value[key]).decode() if isinstance(value, dict) and key in value else text


def arguments_object(arguments: object) -> dict[str, Any]:
    """GigaChat's function arguments as the JSON object every client's tool call carries.

    GigaChat sends an object, but the SDK takes anything: JSON text is read,
    blank or null means no arguments, and anything else (a list, a number,
    text that is no JSON) is kept under `value`.
    """
    if isinstance(arguments, str):
        try:
            arguments = _decode(arguments) if arguments.strip() else None
        except msgspec.DecodeError:
            return {"value": arguments}
    if arguments is None:
        return {}
    return arguments if isinstance(arguments, dict) else {"value": arguments}


def arguments_text(arguments: object) -> str:
    """The same object as JSON text (OpenAI); JSON object text GigaChat sent stays as sent."""
    if isinstance(arguments, str) and arguments.lstrip().startswith("{"):
        try:
            if isinstance(_decode(arguments), dict):
                return arguments
        except msgspec.DecodeError:
            pass
    return _encode(arguments_object(arguments)).decode()


class Call(msgspec.Struct, frozen=True):
    id: str
    name: str
    arguments: object


class Reply(msgspec.Struct, kw_only=True):
    """A whole GigaChat answer as every dialect needs it."""

    text: str = ""
    reasoning: str = ""
    calls: list[Call] = []
    finish: str = "stop"
    stop_sequence: str | None = None
    usage: giga.ChatUsage = msgspec.field(default_factory=giga.ChatUsage)
    model: str = ""


def reply(
    resp: giga.ChatCompletionResponse, prepared: Prepared, id_prefix: str, fallback_id: str
) -> Reply:
    """The whole answer read as one stream chunk: the same rules, in the same order.

    A stop sequence ends the answer where it occurs (a later call is never
    made), a structured answer's JSON falls in place among the text, and a
    call is a call whichever message carries it.
    """
    messages: list[giga.ChatMessageChunk] = [*resp.messages]
    whole = giga.ChatCompletionChunk(
        messages=messages,
        finish_reason=finish_reason(resp) or "stop",
        usage=resp.usage,
        tools_state_id=resp.state_id,
    )
    # v2 answers may leave `model` out: the model asked for answered.
    out = Reply(model=resp.model or prepared.request.model or "")
    for piece in ChunkReader(prepared, id_prefix, fallback_id).feed(whole):
        if isinstance(piece, TextDelta):
            out.text += piece.text
        elif isinstance(piece, ReasoningDelta):
            out.reasoning += piece.text
        elif isinstance(piece, Call):
            out.calls.append(piece)
        else:
            out.finish, out.usage, out.stop_sequence = (
                piece.reason,
                piece.usage,
                piece.stop_sequence,
            )
    return out


def finish_reason(answer: giga.ChatCompletionResponse | giga.ChatCompletionChunk) -> str | None:
    """The answer's finish reason: the SDK has one on the answer and one on each message."""
    if answer.finish_reason is not None:
        return answer.finish_reason
    return next((m.finish_reason for m in answer.messages or () if m.finish_reason), None)


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, str | None]:
    """`text` up to the earliest stop sequence, and that sequence (None if none occurs)."""
    best = -1
    matched = None
    for stop in stops:
        # An empty stop would match at 0 and erase the whole answer.
        at = text.find(stop) if stop else -1
        if at != -1 and (best == -1 or at < best):
            best, matched = at, stop
    return (text[:best], matched) if matched is not None else (text, None)


class StopScanner:
    """Streams text through, holding back only what could be the start of a stop sequence."""

    __slots__ = ("_held", "matched", "stops")

    def __init__(self, stops: list[str]) -> None:
        self.stops = stops
        self._held = ""
        self.matched: str | None = None

    def feed(self, text: str) -> str:
        if self.matched is not None:
            return ""
        buf = self._held + text
        cut, matched = cut_at_stop(buf, self.stops)
        if matched is not None:
            self.matched = matched
            self._held = ""
            return cut
        hold = 0
        for stop in self.stops:
            for k in range(min(len(stop) - 1, len(buf)), hold, -1):
                if buf.endswith(stop[:k]):
                    hold = k
                    break
        self._held = buf[len(buf) - hold :] if hold else ""
        return buf[: len(buf) - hold]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held


class TextDelta(msgspec.Struct, frozen=True):
    text: str


class ReasoningDelta(msgspec.Struct, frozen=True):
    text: str


class Finish(msgspec.Struct, frozen=True, kw_only=True):
    reason: str
    usage: giga.ChatUsage
    stop_sequence: str | None = None
    model: str = ""


Piece = TextDelta | ReasoningDelta | Call | Finish


class ChunkReader:
    """GigaChat stream chunks in, dialect-neutral pieces out; never awaits.

    `done` turns true once the answer is complete (finish seen, or a stop
    sequence matched: the rest of the upstream stream is not needed).
    """

    def __init__(self, prepared: Prepared, id_prefix: str, fallback_id: str) -> None:
        self._structured = prepared.structured
        # Unwrapping needs the whole JSON: the text is held until the answer ends.
        self._unwrap = prepared.unwrap
        self._whole = ""
        self._stops = StopScanner(prepared.stops) if prepared.stops else None
        self._prefix = id_prefix
        self._fallback = fallback_id
        self._calls = 0
        self._structured_seen = False
        self._usage: giga.ChatUsage | None = None
        # GigaChat names a message's role on its first delta only: later ones go on in it.
        self._role = "assistant"
        self.model = ""
        self.done = False

    def feed(self, chunk: giga.ChatCompletionChunk) -> list[Piece]:
        if self.done:
            return []
        pieces: list[Piece] = []
        if chunk.model:
            self.model = chunk.model
        if chunk.usage is not None:
            self._usage = chunk.usage
        for message in chunk.messages or ():
            if self._message(message, message.state_id or chunk.state_id, pieces):
                return pieces
        finish = finish_reason(chunk)
        if finish is not None:
            pieces.extend(self._finish(finish))
        return pieces

    def _message(self, message: giga.ChatMessageChunk, state: str | None, out: list[Piece]) -> bool:
        """Append the message's pieces in order; True when a stop sequence ended the answer."""
        if message.role is not None:
            self._role = message.role
        for part in message.parts:
            if part.text:
                if self._role == "reasoning":
                    out.append(ReasoningDelta(part.text))
                elif self._text(part.text, out):
                    return True
            if part.function_call is not None and self._call(part.function_call, state, out):
                return True
        call = message.function_call
        return call is not None and self._call(call, state, out)

    def _call(self, call: giga.ChatFunctionCall, state: str | None, out: list[Piece]) -> bool:
        """A call, or the structured answer's JSON as text; True as `_message`."""
        if self._structured is not None and call.name == self._structured:
            self._structured_seen = True
            return self._text(arguments_text(call.arguments), out)
        cid = call_id(self._prefix, state, self._calls, self._fallback)
        out.append(Call(cid, from_giga_name(call.name), call.arguments))
        self._calls += 1
        return False

    def _text(self, text: str, out: list[Piece]) -> bool:
        if self._unwrap is not None:
            self._whole += text
            return False
        if self._stops is None:
            out.append(TextDelta(text))
            return False
        emit = self._stops.feed(text)
        if emit:
            out.append(TextDelta(emit))
        if self._stops.matched is None:
            return False
        out.append(self._finish_piece("stop", self._stops.matched))
        return True

    def _finish(self, reason: str) -> list[Piece]:
        out: list[Piece] = []
        if self._unwrap is not None and self._whole:
            whole, key, self._unwrap = self._whole, self._unwrap, None
            if self._text(unwrap(whole, key), out):
                return out
        if self._stops is not None:
            rest = self._stops.flush()
            if rest:
                out.append(TextDelta(rest))
        if reason == "function_call" and self._calls == 0 and self._structured_seen:
            reason = "stop"
        out.append(self._finish_piece(reason, None))
        return out

    def _finish_piece(self, reason: str, stop: str | None) -> Finish:
        self.done = True
        return Finish(
            reason=reason, usage=self._usage or EMPTY_USAGE, stop_sequence=stop, model=self.model
        )
