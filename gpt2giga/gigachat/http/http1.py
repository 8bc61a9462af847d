"""HTTP/1.1 framing for the GigaChat transport, sans-IO: request heads out, responses in.

Like h11 it does no I/O: `transport.py` feeds the bytes a socket delivered and
acts on what comes out. It covers what a client of a few known servers needs
(status line and headers, Content-Length, chunked, read-until-close, 1xx,
bodiless answers) and rejects anything malformed with `ProtocolError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar, NamedTuple

Headers = list[tuple[bytes, bytes]]

# h11 caps an incomplete head at 16 KiB; proxies in front of GigaChat add a few headers.
MAX_HEAD = 64 * 1024
MAX_LINE = 4 * 1024  # a chunk-size or trailer line

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch  # RFC 9110 5.6.2
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}").fullmatch  # int(x, 16) alone takes "0x", "_", "+"

# Parser states: which part of the response the next byte belongs to.
IDLE, HEAD, LENGTH, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILER, UNTIL_CLOSE, DONE = range(9)


class ProtocolError(Exception):
    """The server broke HTTP/1.1 framing; the connection cannot be used any more."""


class Head(NamedTuple):
    status: int
    reason: bytes
    version: bytes
    headers: Headers


def request_head(method: bytes, target: bytes, headers: Headers) -> bytes:
    """The request line and header block; CR, LF or NUL inside a value is refused."""
    lines = [b"%s: %s\r\n" % pair for pair in headers]
    head = b"".join([method, b" ", target, b" HTTP/1.1\r\n", *lines, b"\r\n"])
    # One count over the joined head instead of a check per header: any extra CR or
    # LF means a value would split into a header of its own (h11 refuses them too).
    breaks = len(lines) + 2
    if head.count(b"\n") != breaks or head.count(b"\r") != breaks or b"\0" in head:
        raise ValueError("a request header contains CR, LF or NUL")
    return head


def parse_head(block: bytes) -> Head:
    """A status line and header fields (without the blank line that ends them)."""
    status_line, *fields = block.split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ProtocolError("malformed status line")
    headers: Headers = []
    for field in fields:
        name, colon, value = field.partition(b":")
        # RFC 9112 5.1: no whitespace before the colon; obsolete line folding starts
        # with whitespace too, and both fail the token match.
        if not colon or _TOKEN(name) is None:
            raise ProtocolError("malformed header line")
        headers.append((name, value.strip(b" \t")))
    return Head(int(code), reason, version, headers)


class Framing(NamedTuple):
    length: int | None  # None: chunked or until close
    chunked: bool
    keep_alive: bool


def framing(head: Head, bodiless: bool) -> Framing:
    """How the body is delimited (RFC 9112 6.3) and whether the connection stays open."""
    lengths: set[bytes] = set()
    codings = b""
    tokens: set[bytes] = set()
    for name, value in head.headers:
        lower = name.lower()
        if lower == b"content-length":
            lengths.update(v.strip() for v in value.split(b","))
        elif lower == b"transfer-encoding":
            codings = value.lower()
        elif lower == b"connection":
            tokens.update(t.strip() for t in value.lower().split(b","))
    if head.version == b"HTTP/1.1":
        keep_alive = b"close" not in tokens
    else:
        keep_alive = head.version == b"HTTP/1.0" and b"keep-alive" in tokens
    if bodiless or head.status in (204, 304):
        return Framing(0, False, keep_alive)
    if codings:
        # Transfer-Encoding wins over Content-Length; a message that sent both is
        # closed afterwards (RFC 9112 6.1, request smuggling).
        chunked = codings.rpartition(b",")[2].strip() == b"chunked"
        return Framing(None, chunked, keep_alive and chunked and not lengths)
    if not lengths:
        return Framing(None, False, False)
    if len(lengths) != 1 or not (length := lengths.pop()).isdigit():
        raise ProtocolError("malformed Content-Length")
    return Framing(int(length), False, keep_alive)


class ResponseParser:
    """One connection's responses, one at a time: `expect`, then `feed` bytes as they come.

    Parsed body bytes wait in `body` until the reader `take`s them; `started`
    says whether any byte of the current response arrived (before that, a
    closed keep-alive connection can be retried safely).
    """

    def __init__(self) -> None:
        self._buf = b""
        self._state = IDLE
        self._left = 0
        self._bodiless = False
        self.head: Head | None = None
        self.keep_alive = False
        self.started = False
        self.body: list[bytes] = []
        self.pending = 0  # bytes in `body`

    @property
    def complete(self) -> bool:
        return self._state == DONE

    def expect(self, bodiless: bool) -> None:
        """A request went out; `bodiless` for HEAD, whose answer has headers only."""
        self._state, self._bodiless = HEAD, bodiless
        self.head, self.keep_alive, self.started = None, False, False

    def take(self) -> bytes:
        body = self.body
        data = body[0] if len(body) == 1 else b"".join(body)
        body.clear()
        self.pending = 0
        return data

    def feed(self, data: bytes) -> None:
        if self._state in (IDLE, DONE):
            # Nothing asked for this: the connection is out of step with the server.
            raise ProtocolError("data from the server while no response was due")
        self.started = True
        if self._buf:
            data, self._buf = self._buf + data, b""
        pos, end = 0, len(data)
        while pos < end and self._state != DONE:
            step = self._steps[self._state]
            moved = step(self, data, pos)
            if moved < 0:
                self._buf = data[pos:]
                return
            pos = moved
        if pos < end:
            raise ProtocolError("data from the server after the response")

    def eof(self) -> None:
        """The server closed its side: the end of an until-close body, or a broken answer."""
        if self._state == UNTIL_CLOSE:
            self._state = DONE
        elif self._state not in (IDLE, DONE):
            if not self.started:
                raise ProtocolError("Server disconnected without sending a response.")
            raise ProtocolError("Server closed the connection in the middle of a response.")

    # --- one step per state: the new position in `data`, or -1 for "need more bytes" ---

    def _head(self, data: bytes, pos: int) -> int:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            if len(data) - pos > MAX_HEAD:
                raise ProtocolError("response head too large")
            return -1
        head = parse_head(data[pos:end])
        if 100 <= head.status < 200:
            if head.status == 101:  # we never ask to switch protocols
                raise ProtocolError("unexpected 101 Switching Protocols")
            return end + 4  # informational (100 Continue, 103): the real head follows
        frame = framing(head, self._bodiless)
        self.head, self.keep_alive = head, frame.keep_alive
        if frame.chunked:
            self._state = CHUNK_SIZE
        elif frame.length is None:
            self._state = UNTIL_CLOSE
        elif frame.length:
            self._state, self._left = LENGTH, frame.length
        else:
            self._state = DONE
        return end + 4

    def _data(self, data: bytes, pos: int) -> int:
        """Body bytes: Content-Length, a chunk's data, or everything until close."""
        end = len(data) if self._state == UNTIL_CLOSE else min(len(data), pos + self._left)
        piece = data if pos == 0 and end == len(data) else data[pos:end]
        self.body.append(piece)
        self.pending += len(piece)
        if self._state != UNTIL_CLOSE:
            self._left -= end - pos
            if not self._left:
                self._state = DONE if self._state == LENGTH else CHUNK_END
        return end

    def _line(self, data: bytes, pos: int) -> int:
        """End of the line starting at `pos`, or -1 while it is incomplete."""
        end = data.find(b"\r\n", pos)
        if end < 0 and len(data) - pos > MAX_LINE:
            raise ProtocolError("chunk line too long")
        return end

    def _chunk_size(self, data: bytes, pos: int) -> int:
        end = self._line(data, pos)
        if end < 0:
            return -1
        size = data[pos:end].partition(b";")[0].strip(b" \t")  # chunk extensions ignored
        if _HEX(size) is None:
            raise ProtocolError("malformed chunk size")
        left = int(size, 16)
        start = end + 2
        stop = start + left
        if left and data[stop : stop + 2] == b"\r\n":
            # The whole chunk is here, as an SSE event usually is: one step, not three.
            piece = data[start:stop]
            self.body.append(piece)
            self.pending += left
            return stop + 2
        self._left = left
        self._state = CHUNK_DATA if left else TRAILER
        return start

    def _chunk_end(self, data: bytes, pos: int) -> int:
        if len(data) - pos < 2:
            return -1
        if data[pos : pos + 2] != b"\r\n":
            raise ProtocolError("chunk data longer than its size")
        self._state = CHUNK_SIZE
        return pos + 2

    def _trailer(self, data: bytes, pos: int) -> int:
        end = self._line(data, pos)
        if end < 0:
            return -1
        if end == pos:  # the blank line that ends the trailer section
            self._state = DONE
        return end + 2  # trailer fields carry nothing GigaChat uses: skipped

    _steps: ClassVar[dict[int, Callable[[ResponseParser, bytes, int], int]]] = {
        HEAD: _head,
        LENGTH: _data,
        CHUNK_DATA: _data,
        UNTIL_CLOSE: _data,
        CHUNK_SIZE: _chunk_size,
        CHUNK_END: _chunk_end,
        TRAILER: _trailer,
    }
