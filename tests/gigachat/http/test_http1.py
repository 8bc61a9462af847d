"""The sans-IO HTTP/1.1 framing: request heads out, status lines, framing and bodies in."""

from __future__ import annotations

import random
import re

import pytest

from gpt2giga.gigachat.http import http1
from gpt2giga.gigachat.http.http1 import Framing, Head, ProtocolError, ResponseParser

# --- request heads ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target", "headers", "expected"),
    [
        (b"GET", b"/", [], b"GET / HTTP/1.1\r\n\r\n"),
        (
            b"POST",
            b"/api/v1/chat/completions?x=1",
            [(b"Host", b"giga.test"), (b"Content-Length", b"2")],
            b"POST /api/v1/chat/completions?x=1 HTTP/1.1\r\n"
            b"Host: giga.test\r\nContent-Length: 2\r\n\r\n",
        ),
        (
            b"HEAD",
            b"/f",
            [(b"X-Empty", b""), (b"X-Tab", b"a\tb")],
            b"HEAD /f HTTP/1.1\r\nX-Empty: \r\nX-Tab: a\tb\r\n\r\n",
        ),
    ],
    ids=["no-headers", "post", "empty-and-tab-values"],
)
def test_request_head_is_the_exact_bytes(
    method: bytes, target: bytes, headers: http1.Headers, expected: bytes
) -> None:
    assert http1.request_head(method, target, headers) == expected


@pytest.mark.parametrize(
    "value",
    [b"a\r\nX-Injected: 1", b"a\nb", b"a\rb", b"a\0b", b"\r\n"],
    ids=["crlf", "lf", "cr", "nul", "bare-crlf"],
)
def test_request_head_refuses_cr_lf_or_nul_in_a_value(value: bytes) -> None:
    with pytest.raises(ValueError, match=r"^a request header contains CR, LF or NUL$"):
        http1.request_head(b"GET", b"/", [(b"Host", b"h"), (b"X-Bad", value)])


def test_request_head_refuses_a_line_break_in_the_target() -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        http1.request_head(b"GET", b"/a\r\nX: y", [])


# --- status lines and headers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (b"HTTP/1.1 200 OK", Head(200, b"OK", b"HTTP/1.1", [])),
        (b"HTTP/1.1 404", Head(404, b"", b"HTTP/1.1", [])),
        (
            b"HTTP/1.0 500 Internal Server Error",
            Head(500, b"Internal Server Error", b"HTTP/1.0", []),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type:application/json\r\nX-Pad: \t padded \t",
            Head(
                200,
                b"OK",
                b"HTTP/1.1",
                [(b"Content-Type", b"application/json"), (b"X-Pad", b"padded")],
            ),
        ),
        (
            b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Colon: a:b",
            Head(
                200,
                b"OK",
                b"HTTP/1.1",
                [(b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2"), (b"X-Colon", b"a:b")],
            ),
        ),
        (b"HTTP/1.1 200 OK\r\nX-Empty:", Head(200, b"OK", b"HTTP/1.1", [(b"X-Empty", b"")])),
    ],
    ids=["ok", "no-reason", "http10-long-reason", "ows-trimmed", "repeated-and-colons", "empty"],
)
def test_parse_head_reads_status_and_fields(block: bytes, expected: Head) -> None:
    assert http1.parse_head(block) == expected


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (b"HTTP/2 200 OK", "malformed status line"),
        (b"ICY 200 OK", "malformed status line"),
        (b"HTTP/1.1 20 OK", "malformed status line"),
        (b"HTTP/1.1 2000 OK", "malformed status line"),
        (b"HTTP/1.1 abc OK", "malformed status line"),
        (b"", "malformed status line"),
        (b"HTTP/1.1 200 OK\r\nNo-Colon", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nName : v", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nA: 1\r\n folded", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\n: no-name", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nBad(Name): v", "malformed header line"),
    ],
    ids=[
        "http2",
        "icy",
        "short-code",
        "long-code",
        "letters",
        "empty",
        "no-colon",
        "space-before-colon",
        "obs-fold",
        "no-name",
        "not-a-token",
    ],
)
def test_parse_head_refuses_malformed_heads(block: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=f"^{re.escape(message)}$"):
        http1.parse_head(block)


# --- framing (RFC 9112 6.3) --------------------------------------------------------------


def head(*fields: tuple[bytes, bytes], status: int = 200, version: bytes = b"HTTP/1.1") -> Head:
    return Head(status, b"X", version, list(fields))


CL = b"Content-Length"
TE = b"Transfer-Encoding"
CONN = b"Connection"


@pytest.mark.parametrize(
    ("answer", "bodiless", "expected"),
    [
        (head((CL, b"5")), False, Framing(5, False, True)),
        (head((b"content-length", b" 0 ")), False, Framing(0, False, True)),
        (head((CL, b"5"), (CL, b"5")), False, Framing(5, False, True)),
        (head((CL, b"5, 5")), False, Framing(5, False, True)),
        (head((TE, b"chunked")), False, Framing(None, True, True)),
        (head((TE, b"gzip, Chunked")), False, Framing(None, True, True)),
        # Transfer-Encoding wins over Content-Length, and the connection is not reused.
        (head((TE, b"chunked"), (CL, b"10")), False, Framing(None, True, False)),
        # A coding other than chunked last: the body runs until the server closes.
        (head((TE, b"gzip")), False, Framing(None, False, False)),
        (head(), False, Framing(None, False, False)),
        (head((CL, b"5"), (CONN, b"close")), False, Framing(5, False, False)),
        (head((CL, b"5"), (CONN, b"Upgrade, CLOSE")), False, Framing(5, False, False)),
        (head((CL, b"5"), (CONN, b"keep-alive")), False, Framing(5, False, True)),
        (head((CL, b"5"), version=b"HTTP/1.0"), False, Framing(5, False, False)),
        (
            head((CL, b"5"), (CONN, b"Keep-Alive"), version=b"HTTP/1.0"),
            False,
            Framing(5, False, True),
        ),
        (head((CL, b"5"), version=b"HTTP/1.2"), False, Framing(5, False, False)),
        # HEAD, 204 and 304 have no body whatever the headers say.
        (head((CL, b"100")), True, Framing(0, False, True)),
        (head((TE, b"chunked")), True, Framing(0, False, True)),
        (head(status=204), False, Framing(0, False, True)),
        (head((CL, b"42"), status=304), False, Framing(0, False, True)),
        (head((CONN, b"close"), status=204), False, Framing(0, False, False)),
    ],
    ids=[
        "length",
        "length-lowercase-padded",
        "same-length-twice",
        "same-length-listed",
        "chunked",
        "chunked-last-of-codings",
        "te-wins-over-cl",
        "te-not-chunked",
        "until-close",
        "connection-close",
        "close-among-tokens",
        "keep-alive-on-11",
        "http10-default-close",
        "http10-keep-alive",
        "unknown-minor-version",
        "head-request",
        "head-request-chunked",
        "204",
        "304",
        "204-close",
    ],
)
def test_framing_follows_rfc_9112(answer: Head, bodiless: bool, expected: Framing) -> None:
    assert http1.framing(answer, bodiless) == expected


@pytest.mark.parametrize(
    "fields",
    [
        [(CL, b"5"), (CL, b"6")],
        [(CL, b"5, 6")],
        [(CL, b"-1")],
        [(CL, b"+5")],
        [(CL, b"0x10")],
        [(CL, b"")],
        [(CL, b"5 5")],
    ],
    ids=["two-values", "listed-values", "negative", "plus", "hex", "empty", "inner-space"],
)
def test_framing_refuses_bad_content_lengths(fields: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(ProtocolError, match=r"^malformed Content-Length$"):
        http1.framing(head(*fields), False)


# --- the response parser -----------------------------------------------------------------


def whole(data: bytes) -> list[bytes]:
    return [data]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def random_splits(data: bytes) -> list[bytes]:
    rng = random.Random(9112)
    pieces, pos = [], 0
    while pos < len(data):
        step = rng.randint(1, 7)
        pieces.append(data[pos : pos + step])
        pos += step
    return pieces


SPLITS = [whole, bytewise, random_splits]


def parse(pieces: list[bytes], bodiless: bool = False, eof: bool = False) -> ResponseParser:
    parser = ResponseParser()
    parser.expect(bodiless)
    for piece in pieces:
        parser.feed(piece)
    if eof:
        parser.eof()
    return parser


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
    b"5;name=value\r\nhello\r\n"
    b'1 ; quoted="a;b"\r\n \r\n'
    b"A\t\r\n0123456789\r\n"
    b"0\r\nX-Trailer: 1\r\nY-Trailer: 2\r\n\r\n"
)


@pytest.mark.parametrize("split", SPLITS, ids=lambda s: s.__name__)
@pytest.mark.parametrize(
    ("raw", "bodiless", "eof", "status", "body", "keep_alive"),
    [
        (
            b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"a": true}',
            False,
            False,
            200,
            b'{"a": true}',
            True,
        ),
        (CHUNKED, False, False, 200, b"hello 0123456789", True),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            False,
            False,
            200,
            b"",
            True,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close",
            False,
            True,
            200,
            b"until close",
            False,
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
            b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
            False,
            False,
            201,
            b"ok",
            True,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", True, False, 200, b"", True),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", False, False, 204, b"", True),
        (
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
            False,
            False,
            200,
            b"abc",
            True,
        ),
        (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
            False,
            False,
            200,
            b"abc",
            False,
        ),
    ],
    ids=[
        "content-length",
        "chunked-extensions-trailers",
        "chunked-empty",
        "until-close",
        "1xx-skipped",
        "head-bodiless",
        "204",
        "http10-keep-alive",
        "connection-close",
    ],
)
def test_parser_reads_whole_and_split_responses(
    split: object,
    raw: bytes,
    bodiless: bool,
    eof: bool,
    status: int,
    body: bytes,
    keep_alive: bool,
) -> None:
    assert callable(split)
    parser = parse(split(raw), bodiless, eof)
    assert parser.complete
    assert parser.head is not None and parser.head.status == status
    assert parser.take() == body
    assert parser.keep_alive is keep_alive


def test_parser_keeps_the_headers_of_the_final_answer_only() -> None:
    parser = parse(
        [
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        ]
    )
    assert parser.head == Head(200, b"OK", b"HTTP/1.1", [(b"Content-Length", b"0")])


def test_until_close_body_is_not_complete_before_eof() -> None:
    parser = parse([b"HTTP/1.1 200 OK\r\n\r\nsome"])
    before = (parser.complete, parser.take())
    parser.feed(b" more")
    parser.eof()
    assert before == (False, b"some")
    assert (parser.complete, parser.take()) == (True, b" more")


def test_take_and_pending_account_for_every_body_byte() -> None:
    parser = ResponseParser()
    parser.expect(False)
    assert (parser.pending, parser.take()) == (0, b"")
    parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    assert parser.pending == 3
    parser.feed(b"4\r\nde")
    assert parser.pending == 5
    assert parser.body == [b"abc", b"de"]
    assert parser.take() == b"abcde"
    assert (parser.pending, parser.body) == (0, [])
    parser.feed(b"fg\r\n0\r\n\r\n")
    assert (parser.pending, parser.take(), parser.complete) == (2, b"fg", True)


def test_a_single_piece_is_taken_without_copying() -> None:
    parser = parse([b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"])
    piece = b"body"
    parser.feed(piece)
    assert parser.take() is piece


def test_started_tells_whether_any_byte_of_the_answer_arrived() -> None:
    parser = ResponseParser()
    parser.expect(False)
    seen = [parser.started]
    parser.feed(b"H")
    seen.append(parser.started)
    parser.feed(b"TTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    parser.expect(False)  # the next request on the same connection
    seen.append(parser.started)
    assert seen == [False, True, False]
    assert parser.head is None and not parser.complete


def test_a_connection_serves_responses_one_after_another() -> None:
    parser = ResponseParser()
    for body in (b"first", b"second!"):
        parser.expect(False)
        parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        assert parser.complete and parser.take() == body


@pytest.mark.parametrize(
    ("pieces", "message"),
    [
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"],
         "data from the server after the response"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", b"X"],
         "data from the server while no response was due"),
        ([b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"],
         "unexpected 101 Switching Protocols"),
        ([b"HTTP/1.1 200 OK\r\nX: " + b"a" * http1.MAX_HEAD],
         "response head too large"),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * (http1.MAX_LINE + 1)],
         "chunk line too long"),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " + b"t" * http1.MAX_LINE],
         "chunk line too long"),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n"],
         "chunk data longer than its size"),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n"],
         "malformed chunk size"),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 17 + b"\r\n"],
         "malformed chunk size"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"],
         "malformed Content-Length"),
        ([b"HTTP/1.1 OK\r\n\r\n"], "malformed status line"),
    ],
    ids=[
        "extra-bytes-in-the-same-read",
        "extra-bytes-later",
        "101",
        "head-too-large",
        "chunk-size-line-too-long",
        "trailer-line-too-long",
        "chunk-overrun",
        "empty-chunk-size",
        "chunk-size-over-16-digits",
        "differing-lengths",
        "no-status-code",
    ],
)  # fmt: skip
def test_parser_refuses_what_breaks_framing(pieces: list[bytes], message: str) -> None:
    with pytest.raises(ProtocolError, match=f"^{re.escape(message)}$"):
        parse(pieces)


@pytest.mark.parametrize("size", [b"0x10", b"+5", b"-1", b"zz", b"1_0", b"5 5"])
def test_parser_refuses_malformed_chunk_sizes(size: bytes) -> None:
    parser = parse([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"])
    with pytest.raises(ProtocolError, match=r"^malformed chunk size$"):
        parser.feed(size + b"\r\n")


def test_a_head_just_under_the_cap_is_accepted() -> None:
    filler = b"a" * (http1.MAX_HEAD - 100)
    pieces = [b"HTTP/1.1 200 OK\r\nX: ", filler, b"\r\nContent-Length: 0\r\n\r\n"]
    parser = parse(pieces)
    assert parser.head is not None and parser.head.headers[0] == (b"X", filler)


def test_data_before_any_request_is_refused() -> None:
    with pytest.raises(ProtocolError, match=r"^data from the server while no response was due$"):
        ResponseParser().feed(b"HTTP/1.1 200 OK\r\n\r\n")


@pytest.mark.parametrize(
    ("pieces", "message"),
    [
        ([], "Server disconnected without sending a response."),
        ([b"HTTP/1.1 200"], "Server closed the connection in the middle of a response."),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"],
         "Server closed the connection in the middle of a response."),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"],
         "Server closed the connection in the middle of a response."),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"],
         "Server closed the connection in the middle of a response."),
    ],
    ids=["before-any-byte", "mid-head", "mid-length-body", "mid-chunk", "mid-trailer"],
)  # fmt: skip
def test_eof_before_the_end_is_refused_with_where_it_happened(
    pieces: list[bytes], message: str
) -> None:
    parser = parse(pieces)
    with pytest.raises(ProtocolError, match=f"^{re.escape(message)}$"):
        parser.eof()


def test_eof_between_responses_is_quiet() -> None:
    parser = ResponseParser()
    parser.eof()  # never used
    parser.expect(False)
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    parser.eof()
    assert parser.complete
