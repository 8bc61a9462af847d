"""GigaChat stream -> OpenAI Responses stream events, sans-IO.

The sequence the openai SDK's `responses.stream()` assembles: `response.created`,
`response.in_progress`, then each output item opened, filled and closed in
order (reasoning summary, message text, function call arguments, built-in tool
runs), then `response.completed` or `response.incomplete`; every event carries
the next `sequence_number`. A failure becomes `response.failed` and an `error`
event, never a completion. The answer read so far is kept in `reply` and the
final Response in `response`, for the store.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from gpt2giga import errors, sse
from gpt2giga.gigachat import answer
from gpt2giga.gigachat import wire as giga
from gpt2giga.openai.responses import events as ev
from gpt2giga.openai.responses import output as out
from gpt2giga.openai.responses import wire as rsp
from gpt2giga.openai.responses.translate import Turn

_encode = msgspec.json.Encoder().encode

# Progress events per built-in: (item opened, working, done).
TOOL_EVENTS: dict[str, tuple[type[ev.ItemEvent], type[ev.ItemEvent], type[ev.ItemEvent]]] = {
    "web_search": (ev.WebSearchInProgress, ev.WebSearchSearching, ev.WebSearchCompleted),
    "image_generate": (ev.ImageInProgress, ev.ImageGenerating, ev.ImageCompleted),
}


def frame(events: list[ev.StreamEvent]) -> bytes:
    return b"".join(sse.frame(_encode(e), str(e.__struct_config__.tag)) for e in events)


class _Open(msgspec.Struct):
    """The reasoning or message item whose text is streaming now."""

    kind: Literal["reasoning", "message"]
    id: str
    index: int
    text: str = ""


class StreamTranslator:
    def __init__(self, turn: Turn, base: rsp.Response, new_id: out.NewId) -> None:
        fallback = base.id.removeprefix("resp_")
        self._reader = answer.ChunkReader(turn.prepared, "call_", fallback)
        self._names = turn.names
        self._base = base
        self._new_id = new_id
        self._seq = 0
        self._items: dict[int, rsp.OutputItem] = {}
        self._count = 0
        self._open: _Open | None = None
        self._tools: dict[str, tuple[int, str, out.ToolRun]] = {}
        self._started = False
        self.reply = answer.Reply()
        self.thread_id: str | None = None
        self.response: rsp.Response | None = None
        self.done = False

    def _next(self) -> int:
        self._seq += 1
        return self._seq - 1

    def _start(self) -> list[ev.StreamEvent]:
        if self._started:
            return []
        self._started = True
        return [
            ev.ResponseCreated(sequence_number=self._next(), response=self._base),
            ev.ResponseInProgress(sequence_number=self._next(), response=self._base),
        ]

    def feed(self, chunk: giga.ChatCompletionChunk) -> list[ev.StreamEvent]:
        events = self._start()
        self.thread_id = self.thread_id or chunk.thread_id
        events += self._tool_runs(out.tool_runs(chunk.tool_execution, chunk.messages or []))
        for piece in self._reader.feed(chunk):
            events += self._piece(piece)
        return events

    def _piece(self, piece: answer.Piece) -> list[ev.StreamEvent]:
        if isinstance(piece, answer.TextDelta):
            self.reply.text += piece.text
            return self._text("message", piece.text)
        if isinstance(piece, answer.ReasoningDelta):
            self.reply.reasoning += piece.text
            return self._text("reasoning", piece.text)
        if isinstance(piece, answer.Call):
            self.reply.calls.append(piece)
            return self._close() + self._call(piece)
        return self._finish(piece)

    # --- items -------------------------------------------------------------------------

    def _add(self, item: rsp.OutputItem) -> tuple[int, ev.StreamEvent]:
        index = self._count
        self._count += 1
        return index, ev.OutputItemAdded(
            sequence_number=self._next(), output_index=index, item=item
        )

    def _done(self, index: int, item: rsp.OutputItem) -> ev.StreamEvent:
        self._items[index] = item
        return ev.OutputItemDone(sequence_number=self._next(), output_index=index, item=item)

    def _text(self, kind: Literal["reasoning", "message"], delta: str) -> list[ev.StreamEvent]:
        events: list[ev.StreamEvent] = []
        if self._open is None or self._open.kind != kind:
            events = self._close()
            events += self._open_text(kind)
        current = self._open
        assert current is not None
        current.text += delta
        seq, item_id, index = self._next(), current.id, current.index
        if kind == "message":
            events.append(
                ev.OutputTextDelta(
                    sequence_number=seq,
                    item_id=item_id,
                    output_index=index,
                    content_index=0,
                    delta=delta,
                )
            )
        else:
            events.append(
                ev.SummaryTextDelta(
                    sequence_number=seq,
                    item_id=item_id,
                    output_index=index,
                    summary_index=0,
                    delta=delta,
                )
            )
        return events

    def _open_text(self, kind: Literal["reasoning", "message"]) -> list[ev.StreamEvent]:
        item_id = self._new_id("msg_" if kind == "message" else "rs_")
        item: rsp.OutputItem
        if kind == "message":
            item = rsp.MessageOut(id=item_id, status="in_progress", content=[])
        else:
            item = rsp.ReasoningOut(id=item_id, summary=[])
        index, added = self._add(item)
        self._open = _Open(kind, item_id, index)
        opened: ev.StreamEvent
        if kind == "message":
            opened = ev.ContentPartAdded(
                sequence_number=self._next(),
                item_id=item_id,
                output_index=index,
                content_index=0,
                part=rsp.OutputTextOut(text=""),
            )
        else:
            opened = ev.SummaryPartAdded(
                sequence_number=self._next(),
                item_id=item_id,
                output_index=index,
                summary_index=0,
                part=rsp.SummaryText(text=""),
            )
        return [added, opened]

    def _close(self, status: str = "completed") -> list[ev.StreamEvent]:
        """End the streaming text item, and any built-in run still open."""
        events = self._close_tools(final=True)
        current, self._open = self._open, None
        if current is None:
            return events
        if current.kind == "reasoning":
            return events + self._close_reasoning(current)
        return events + self._close_message(current, status)

    def _close_reasoning(self, current: _Open) -> list[ev.StreamEvent]:
        item_id, index, text = current.id, current.index, current.text
        return [
            ev.SummaryTextDone(
                sequence_number=self._next(),
                item_id=item_id,
                output_index=index,
                summary_index=0,
                text=text,
            ),
            ev.SummaryPartDone(
                sequence_number=self._next(),
                item_id=item_id,
                output_index=index,
                summary_index=0,
                part=rsp.SummaryText(text=text),
            ),
            self._done(index, out.reasoning_item(item_id, text)),
        ]

    def _close_message(self, current: _Open, status: str) -> list[ev.StreamEvent]:
        item_id, index, text = current.id, current.index, current.text
        return [
            ev.OutputTextDone(
                sequence_number=self._next(),
                item_id=item_id,
                output_index=index,
                content_index=0,
                text=text,
            ),
            ev.ContentPartDone(
                sequence_number=self._next(),
                item_id=item_id,
                output_index=index,
                content_index=0,
                part=rsp.OutputTextOut(text=text),
            ),
            self._done(index, out.message_item(item_id, text, status)),
        ]

    def _call(self, call: answer.Call) -> list[ev.StreamEvent]:
        item_id = self._new_id("fc_")
        index, added = self._add(out.call_item(call, item_id, self._names, "in_progress"))
        arguments = answer.arguments_text(call.arguments)
        return [
            added,
            ev.ArgumentsDelta(
                sequence_number=self._next(), item_id=item_id, output_index=index, delta=arguments
            ),
            ev.ArgumentsDone(
                sequence_number=self._next(),
                item_id=item_id,
                output_index=index,
                arguments=arguments,
            ),
            self._done(index, out.call_item(call, item_id, self._names, "completed")),
        ]

    # --- built-in tools ----------------------------------------------------------------

    def _tool_runs(self, runs: dict[str, out.ToolRun]) -> list[ev.StreamEvent]:
        events: list[ev.StreamEvent] = []
        for name, run in runs.items():
            if name not in self._tools:
                events += self._close()
                item_id = self._new_id(out.BUILTIN_ITEM[name])
                index, added = self._add(out.tool_item(run, item_id, "in_progress"))
                self._tools[name] = (index, item_id, run)
                opened, working, _ = TOOL_EVENTS[name]
                events += [
                    added,
                    opened(sequence_number=self._next(), item_id=item_id, output_index=index),
                    working(sequence_number=self._next(), item_id=item_id, output_index=index),
                ]
            else:
                known = self._tools[name][2]
                known.sources.extend(run.sources)
                known.status = run.status
        return events + self._close_tools(final=False)

    def _close_tools(self, final: bool) -> list[ev.StreamEvent]:
        events: list[ev.StreamEvent] = []
        for name, (index, item_id, run) in list(self._tools.items()):
            status = out.tool_status(run.status, final)
            if index in self._items or status == "in_progress":
                continue
            if status == "completed":
                completed = TOOL_EVENTS[name][2]
                events.append(
                    completed(sequence_number=self._next(), item_id=item_id, output_index=index)
                )
            events.append(self._done(index, out.tool_item(run, item_id, status)))
        return events

    # --- the end -----------------------------------------------------------------------

    def _finish(self, piece: answer.Finish) -> list[ev.StreamEvent]:
        self.reply.finish, self.reply.usage = piece.reason, piece.usage
        self.reply.model = piece.model or self._base.model
        events = self._close(out.item_status(piece.reason))
        output = [self._items[i] for i in sorted(self._items)]
        self.response = out.finished(self._base, output, piece.reason, piece.usage, piece.model)
        self.done = True
        event = (
            ev.ResponseIncomplete if self.response.status == "incomplete" else ev.ResponseCompleted
        )
        return [*events, event(sequence_number=self._next(), response=self.response)]

    def error(self, err: errors.GatewayError) -> list[ev.StreamEvent]:
        self.done = True
        events = self._start()
        output = [self._items[i] for i in sorted(self._items)]
        failed = out.failed(self._base, output, err)
        return [
            *events,
            ev.ResponseFailed(sequence_number=self._next(), response=failed),
            ev.ErrorEvent(
                sequence_number=self._next(),
                code=out.error_code(err),
                message=err.message,
                param=err.param,
            ),
        ]
