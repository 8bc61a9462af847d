"""sse: the upstream SSE parser, the outbound framer and the relay loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from gpt2giga import errors, sse

Events = list[tuple[str | None, bytes]]

DELTA = b'{"messages":[{"role":"assistant","content":[{"text":"Hi"}]}]}'
V2_STREAM = (
    b"event: response.message.delta\ndata: " + DELTA + b"\n\n"
    b": keep-alive\n\n"
    b'event: response.message.done\ndata: {"finish_reason":"stop"}\n\n'
)
V2_EVENTS: Events = [
    ("response.message.delta", DELTA),
    ("response.message.done", b'{"finish_reason":"stop"}'),
]
V1_STREAM = b'data: {"choices":[]}\n\ndata: {"choices":[{"index":0}]}\n\ndata: [DONE]\n\n'
V1_EVENTS: Events = [
    (None, b'{"choices":[]}'),
    (None, b'{"choices":[{"index":0}]}'),
    (None, b"[DONE]"),
]


def parse_whole(body: bytes) -> Events:
    parser = sse.SSEParser()
    return parser.feed(body) + parser.finish()


def parse_in_pieces(body: bytes, size: int) -> Events:
    parser = sse.SSEParser()
    events: Events = []
    for start in range(0, len(body), size):
        events += parser.feed(body[start : start + size])
    return events + parser.finish()


# --- SSEParser ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (V2_STREAM, V2_EVENTS),
        (V1_STREAM, V1_EVENTS),
        (V2_STREAM.replace(b"\n", b"\r\n"), V2_EVENTS),
        (b"data: line one\ndata: line two\n\n", [(None, b"line one\nline two")]),
        (b"data:no-space\n\n", [(None, b"no-space")]),
        (b"data:  two spaces\n\n", [(None, b" two spaces")]),
        (b"data\n\n", [(None, b"")]),
        (b"data: a:b:c\n\n", [(None, b"a:b:c")]),
        (b": comment\n:\ndata: x\n: another\n\n", [(None, b"x")]),
        (b"event: ping\n\n", []),
        (b"id: 7\nretry: 100\nfoo: bar\ndata: x\n\n", [(None, b"x")]),
        (b"event: a\nevent: b\ndata: x\n\ndata: y\n\n", [("b", b"x"), (None, b"y")]),
        (b"\n\n\ndata: x\n\n\n\n", [(None, b"x")]),
        ("data: привет\n\n".encode(), [(None, "привет".encode())]),
        (b"data: no trailing blank line", [(None, b"no trailing blank line")]),
        (b"data: no trailing blank line\r", [(None, b"no trailing blank line")]),
        (b"event: e\ndata: x\n", [("e", b"x")]),
        (b"", []),
    ],
    ids=[
        "v2-named", "v1-done", "crlf", "multi-line-data", "no-space", "one-space-stripped",
        "data-without-colon", "colons-in-value", "comments", "event-without-data",
        "unknown-fields", "last-event-name-wins", "blank-lines", "utf8", "no-final-newline",
        "no-final-newline-cr", "no-final-blank-line", "empty",
    ],
)  # fmt: skip
def test_parser_events(body: bytes, expected: Events) -> None:
    assert parse_whole(body) == expected


@pytest.mark.parametrize(
    "body",
    [V2_STREAM, V1_STREAM, V2_STREAM.replace(b"\n", b"\r\n"), "data: привет\r\n\r\n".encode()],
    ids=["v2", "v1", "crlf", "utf8-crlf"],
)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_split_anywhere_gives_the_same_events(body: bytes, size: int) -> None:
    assert parse_in_pieces(body, size) == parse_whole(body)


def test_feed_returns_events_as_soon_as_they_are_complete() -> None:
    parser = sse.SSEParser()
    assert parser.feed(b"event: a\ndata: 1") == []
    assert parser.feed(b"\n") == []
    assert parser.feed(b"\n") == [("a", b"1")]
    assert parser.feed(b"data: 2\n\ndata: 3\n\n") == [(None, b"2"), (None, b"3")]
    assert parser.finish() == []


def test_each_line_makes_every_data_line_an_unnamed_event() -> None:
    # The gigachat SDK reads a v1 stream line by line: consecutive `data:` lines are two chunks.
    parser = sse.SSEParser(each_line=True)
    body = b'event: x\ndata: {"a":1}\ndata: {"b":2}\n\ndata: [DONE]\n'
    assert parser.feed(body) + parser.finish() == [
        (None, b'{"a":1}'),
        (None, b'{"b":2}'),
        (None, b"[DONE]"),
    ]


def test_finish_clears_the_parser() -> None:
    parser = sse.SSEParser()
    parser.feed(b"event: a\ndata: 1")
    assert parser.finish() == [("a", b"1")]
    assert parser.finish() == []
    assert parser.feed(b"data: 2\n\n") == [(None, b"2")]


# --- frame ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "event", "expected"),
    [
        (b'{"a":1}', None, b'data: {"a":1}\n\n'),
        (b'{"a":1}', "message_start", b'event: message_start\ndata: {"a":1}\n\n'),
        (b"[DONE]", None, b"data: [DONE]\n\n"),
    ],
)
def test_frame(data: bytes, event: str | None, expected: bytes) -> None:
    assert sse.frame(data, event) == expected


def test_framed_events_parse_back() -> None:
    body = sse.frame(b'{"x":1}', "e1") + sse.frame(b"2") + sse.DONE_FRAME
    assert parse_whole(body) == [("e1", b'{"x":1}'), (None, b"2"), (None, b"[DONE]")]


# --- relay ----------------------------------------------------------------------------------


class FakeUpstream:
    """Yields the given chunks, each read on its own or a tuple of them read together;
    an exception in the list is raised at that point."""

    def __init__(self, items: list[object]) -> None:
        self.items = items
        self.read = 0
        self.closed = 0

    async def batches(self) -> AsyncGenerator[list[str], None]:
        for item in self.items:
            if isinstance(item, BaseException):
                raise item
            batch = [str(i) for i in item] if isinstance(item, tuple) else [str(item)]
            self.read += len(batch)
            yield batch

    async def aclose(self) -> None:
        self.closed += 1


class EchoTranslator:
    """Every chunk becomes one event; `stop` as a chunk completes the answer."""

    def __init__(self) -> None:
        self.done = False

    def feed(self, chunk: str) -> list[str]:
        if chunk == "quiet":
            return []
        self.done = chunk == "stop"
        return [f"ev:{chunk}"]

    def error(self, err: errors.GatewayError) -> list[str]:
        self.done = True
        return [f"error:{err.status}:{err.message}"]


# The upstream closed before the answer's finish: the relay ends with an error event.
CUT = f"error:502:{sse.TRUNCATED};".encode()


def join(events: list[str]) -> bytes:
    return ("|".join(events) + ";").encode()


async def run(upstream: FakeUpstream) -> list[bytes]:
    return [out async for out in sse.relay(upstream, EchoTranslator(), join)]


@pytest.mark.parametrize(
    ("items", "frames", "read"),
    [
        (["a", "b"], [b"ev:a;", b"ev:b;", CUT], 2),
        (["a", "quiet", "b"], [b"ev:a;", b"ev:b;", CUT], 3),
        (["a", "stop", "never"], [b"ev:a;", b"ev:stop;"], 2),
        ([], [CUT], 0),
        (
            ["a", errors.UpstreamTimeout("GigaChat stopped sending"), "b"],
            [b"ev:a;", b"error:504:GigaChat stopped sending;"],
            1,
        ),
        ([errors.UpstreamError("broke")], [b"error:502:broke;"], 0),
        ([("a", "b"), "c"], [b"ev:a|ev:b;", b"ev:c;", CUT], 3),
        ([("a", "stop", "never")], [b"ev:a|ev:stop;"], 3),
        ([("quiet", "quiet"), "a"], [b"ev:a;", CUT], 3),
    ],
    ids=["cut-off", "empty-feed-skipped", "done-stops-reading", "no-chunks", "error-mid-stream",
         "error-at-once", "one-read-one-frame", "done-mid-read", "quiet-read-sends-nothing"],
)  # fmt: skip
async def test_relay(items: list[object], frames: list[bytes], read: int) -> None:
    upstream = FakeUpstream(items)
    assert await run(upstream) == frames
    assert (upstream.read, upstream.closed) == (read, 1)


async def test_relay_closes_upstream_on_an_unexpected_error() -> None:
    upstream = FakeUpstream(["a", RuntimeError("bug")])
    with pytest.raises(RuntimeError, match="bug"):
        await run(upstream)
    assert upstream.closed == 1


async def test_relay_closes_upstream_when_the_client_goes_away() -> None:
    upstream = FakeUpstream(["a", "b", "c"])
    relay = sse.relay(upstream, EchoTranslator(), join)
    assert isinstance(relay, AsyncGenerator)
    assert await relay.__anext__() == b"ev:a;"
    await relay.aclose()
    assert (upstream.read, upstream.closed) == (1, 1)


def test_a_finished_or_failed_stream_ends_with_nothing_more() -> None:
    translator = EchoTranslator()
    assert sse.finish(translator) == [f"error:502:{sse.TRUNCATED}"]
    assert sse.finish(translator) == []  # the error was the end
    finished = EchoTranslator()
    finished.feed("stop")
    assert sse.finish(finished) == []


# --- keep-alive ------------------------------------------------------------------------

PING = b"PING;"


class GatedUpstream:
    """Yields `before`, goes silent until `gate` is set, then yields `after` (or raises it)."""

    def __init__(self, before: list[str], after: list[object]) -> None:
        self.before = before
        self.after = after
        self.gate = asyncio.Event()
        self.tasks: list[asyncio.Task[object] | None] = []
        self.cancelled = False
        self.closed = 0

    async def batches(self) -> AsyncGenerator[list[str], None]:
        try:
            for item in self.before:
                self.tasks.append(asyncio.current_task())
                yield [item]
            await self.gate.wait()
            for item in self.after:
                if isinstance(item, BaseException):
                    raise item
                self.tasks.append(asyncio.current_task())
                yield [str(item)]
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    async def aclose(self) -> None:
        self.closed += 1


async def drain(upstream: GatedUpstream, keepalive: float | None = 0.05) -> list[bytes]:
    """Every frame of a relay; the first ping opens the upstream's gate."""
    frames = []
    async for out in sse.relay(upstream, EchoTranslator(), join, keepalive, PING):
        frames.append(out)
        if out == PING:
            upstream.gate.set()
    return frames


async def test_keepalive_pings_while_the_upstream_is_silent_and_keeps_the_pending_read() -> None:
    upstream = GatedUpstream(["a"], ["stop", "never"])
    frames = await drain(upstream)
    assert frames[:2] == [b"ev:a;", PING]
    # One ping, or more on a slow machine; never a lost or reordered chunk.
    assert [f for f in frames if f != PING] == [b"ev:a;", b"ev:stop;"]
    assert upstream.closed == 1


async def test_keepalive_stops_when_the_upstream_ends_in_silence() -> None:
    upstream = GatedUpstream(["a"], [])
    frames = await drain(upstream)
    assert [f for f in frames if f != PING] == [b"ev:a;", CUT]
    assert PING in frames


async def test_keepalive_failure_after_silence_is_the_error_event() -> None:
    upstream = GatedUpstream(["a"], [errors.UpstreamTimeout("GigaChat stopped sending")])
    frames = await drain(upstream)
    assert [f for f in frames if f != PING] == [
        b"ev:a;",
        b"error:504:GigaChat stopped sending;",
    ]
    assert upstream.closed == 1


async def test_keepalive_relay_closed_while_waiting_cancels_the_pending_read() -> None:
    upstream = GatedUpstream(["a"], ["never"])
    relay = sse.relay(upstream, EchoTranslator(), join, 0.05, PING)
    assert isinstance(relay, AsyncGenerator)
    assert await relay.__anext__() == b"ev:a;"
    assert await relay.__anext__() == PING
    await relay.aclose()
    assert upstream.cancelled
    assert upstream.closed == 1


async def test_chunks_are_read_in_the_callers_task_unless_keepalive_is_on() -> None:
    plain = GatedUpstream(["a", "b"], [])
    plain.gate.set()
    await drain(plain, keepalive=None)
    assert plain.tasks == [asyncio.current_task()] * 2
    ticking = GatedUpstream(["a", "b"], [])
    ticking.gate.set()
    await drain(ticking, keepalive=60.0)
    assert asyncio.current_task() not in ticking.tasks
