"""The gateway's HTTP/1.1 pool on real sockets: scripted servers on 127.0.0.1 write raw answers.

Each server handler reads requests with `Peer.request` (which records their exact
bytes) and writes the answer bytes it is given, so every test states both sides.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from gpt2giga.gigachat.http.connection import HIGH_WATER
from gpt2giga.gigachat.http.transport import FINISH_BYTES, Origin, Transport
from tests.certs import self_signed
from tests.local_server import Listener


def ok(body: bytes, *fields: str) -> bytes:
    head = "".join(f"{f}\r\n" for f in (f"Content-Length: {len(body)}", *fields))
    return f"HTTP/1.1 200 OK\r\n{head}\r\n".encode() + body


class Peer:
    """The server's side of one connection."""

    def __init__(
        self, server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.number = server.connections

    async def request(self) -> bytes:
        """One whole request, head and body (by Content-Length or chunks), as it arrived."""
        reader = self.reader
        raw = await reader.readuntil(b"\r\n\r\n")
        head = raw.lower()
        if length := re.search(rb"\r\ncontent-length: *(\d+)", head):
            raw += await reader.readexactly(int(length[1]))
        elif b"\r\ntransfer-encoding: chunked\r\n" in head:
            while True:
                line = await reader.readuntil(b"\r\n")
                size = int(line.split(b";")[0], 16)
                raw += line + await reader.readexactly(size + 2)
                if not size:
                    break
        self.server.seen.append((self.number, raw))
        return raw

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def closed_by_client(self) -> bool:
        """True once the client closed its side (nothing more was sent)."""
        return await self.reader.read() == b""


Script = Callable[[Peer], Awaitable[None]]


class Server(Listener):
    """A raw HTTP/1.1 server on a free port of 127.0.0.1; `script` runs once per connection."""

    def __init__(self, script: Script, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls)
        self.script = script
        self.seen: list[tuple[int, bytes]] = []  # (connection number, the raw request)

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    @property
    def paths(self) -> list[tuple[int, str]]:
        return [(n, raw.split(b" ", 2)[1].decode()) for n, raw in self.seen]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(self, reader, writer)
        self.connections += 1
        await self.script(peer)


async def keep_answering(peer: Peer) -> None:
    """Every request on the connection gets its own path back as the body."""
    while True:
        raw = await peer.request()
        await peer.send(ok(raw.split(b" ", 2)[1]))


def origin_of(transport: Transport) -> Origin:
    (origin,) = transport._origins.values()
    return origin


async def settle(check: Callable[[], bool]) -> None:
    """Let the loop run until `check()` holds: socket events take a few iterations.

    The deadline only bounds a broken test; no test depends on how long this takes.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not check():
        assert loop.time() < deadline, "the condition never held"
        await asyncio.sleep(0)


@pytest.fixture
async def transport() -> AsyncIterator[Transport]:
    pool = Transport()
    yield pool
    await pool.aclose()


# --- answers and their framing -----------------------------------------------------------


async def test_a_json_answer_arrives_and_the_server_sees_the_exact_request() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(ok(b'{"id": "chat-1"}', "Content-Type: application/json"))

    async with Server(script) as server, httpx.AsyncClient(transport=Transport()) as client:
        response = await client.post(
            server.url("/api/v1/chat/completions?stream=0"),
            json={"model": "GigaChat"},
            headers={"Authorization": "Bearer t"},
        )
    assert response.json() == {"id": "chat-1"}
    assert response.http_version == "HTTP/1.1"
    assert response.reason_phrase == "OK"
    ((_, raw),) = server.seen
    head, body = raw.split(b"\r\n\r\n")
    line, *fields = head.split(b"\r\n")
    assert line == b"POST /api/v1/chat/completions?stream=0 HTTP/1.1"
    assert fields[0] == f"Host: 127.0.0.1:{server.port}".encode()
    assert b"Content-Length: 20" in fields
    assert b"Content-Type: application/json" in fields
    assert b"Authorization: Bearer t" in fields
    assert body == b'{"model":"GigaChat"}'


async def test_a_chunked_answer_streams_piece_by_piece() -> None:
    first_read = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6;ext=1\r\ndata: \r\n"
        )
        await first_read.wait()  # the client has the first piece before the rest exists
        await peer.send(b"5\r\nhello\r\n2\r\n\n\n\r\n0\r\nX-Trailer: t\r\n\r\n")
        await keep_answering(peer)

    pieces: list[bytes] = []
    async with Server(script) as server, httpx.AsyncClient(transport=Transport()) as client:
        async with client.stream("GET", server.url("/events")) as response:
            async for piece in response.aiter_bytes():
                pieces.append(piece)
                first_read.set()
        again = await client.get(server.url("/next"))
    assert pieces[0] == b"data: "
    assert b"".join(pieces) == b"data: hello\n\n"
    assert again.content == b"/next"
    assert server.paths == [(0, "/events"), (0, "/next")]  # the chunked answer kept it alive


async def test_an_answer_without_length_runs_until_the_server_closes() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ")
        await peer.send(b"part two")
        peer.writer.close()

    async with Server(script) as server, httpx.AsyncClient(transport=Transport()) as client:
        first = await client.get(server.url("/a"))
        second = await client.get(server.url("/b"))
    assert first.content == second.content == b"part one, part two"
    assert server.paths == [(0, "/a"), (1, "/b")]


async def test_a_head_request_reads_no_body_and_keeps_the_connection() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        await keep_answering(peer)

    async with Server(script) as server, httpx.AsyncClient(transport=Transport()) as client:
        head = await client.head(server.url("/file"))
        after = await client.get(server.url("/after"))
    assert (head.headers["content-length"], head.content) == ("1000", b"")
    assert after.content == b"/after"
    assert server.paths == [(0, "/file"), (0, "/after")]


async def test_interim_answers_before_the_real_one_are_skipped() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n")
        await peer.send(ok(b"final"))

    async with Server(script) as server, httpx.AsyncClient(transport=Transport()) as client:
        response = await client.get(server.url())
    assert (response.status_code, response.content) == (200, b"final")


async def test_handle_async_request_gives_httpx_the_status_headers_and_extensions() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(
            b"HTTP/1.1 404 Not Here\r\nX-Trace: a\r\nX-Trace: b\r\nContent-Length: 2\r\n\r\nno"
        )

    async with Server(script) as server:
        transport = Transport()
        response = await transport.handle_async_request(httpx.Request("GET", server.url()))
        await response.aread()
        await transport.aclose()
    assert response.status_code == 404
    assert response.headers.get_list("x-trace") == ["a", "b"]
    assert response.extensions == {"http_version": b"HTTP/1.1", "reason_phrase": b"Not Here"}
    assert response.content == b"no"


# --- keep-alive and reuse ---------------------------------------------------------------


async def test_kept_alive_connections_serve_the_next_requests() -> None:
    async with Server(keep_answering) as server, httpx.AsyncClient(transport=Transport()) as client:
        bodies = [(await client.get(server.url(f"/{i}"))).content for i in range(3)]
    assert bodies == [b"/0", b"/1", b"/2"]
    assert server.connections == 1
    assert server.paths == [(0, "/0"), (0, "/1"), (0, "/2")]


async def test_the_most_recently_released_connection_serves_next() -> None:
    b_answered = asyncio.Event()

    async def script(peer: Peer) -> None:
        if peer.number == 0:
            await peer.request()
            await b_answered.wait()
            await peer.send(ok(b"/a"))
        await keep_answering(peer)

    async with Server(script) as server, httpx.AsyncClient(transport=Transport()) as client:
        first = asyncio.create_task(client.get(server.url("/a")))
        await settle(lambda: len(server.seen) == 1)
        second = await client.get(server.url("/b"))  # on a second connection, idle first
        b_answered.set()
        await first  # its connection is released last
        third = await client.get(server.url("/c"))
    assert (second.content, third.content) == (b"/b", b"/c")
    assert server.paths == [(0, "/a"), (1, "/b"), (0, "/c")]


async def test_an_answer_with_connection_close_is_not_reused() -> None:
    client_left: list[bool] = []

    async def script(peer: Peer) -> None:
        raw = await peer.request()
        await peer.send(ok(raw.split(b" ", 2)[1], "Connection: close"))
        client_left.append(await peer.closed_by_client())  # the server does not close first

    async with Server(script) as server:
        async with httpx.AsyncClient(transport=Transport()) as client:
            first = await client.get(server.url("/a"))
            second = await client.get(server.url("/b"))
        await settle(lambda: len(client_left) == 2)
    assert (first.content, second.content) == (b"/a", b"/b")
    assert server.paths == [(0, "/a"), (1, "/b")]
    assert client_left == [True, True]


async def test_an_answer_followed_by_stray_bytes_is_read_but_not_reused() -> None:
    async def script(peer: Peer) -> None:
        raw = await peer.request()
        await peer.send(ok(raw.split(b" ", 2)[1]) + b"HTTP/1.1 200 OK\r\n")  # out of step
        await keep_answering(peer)

    async with Server(script) as server, httpx.AsyncClient(transport=Transport()) as client:
        first = await client.get(server.url("/a"))
        second = await client.get(server.url("/b"))
    assert (first.content, second.content) == (b"/a", b"/b")
    assert server.paths == [(0, "/a"), (1, "/b")]


async def test_an_idle_connection_the_server_closed_is_not_used_again() -> None:
    async def script(peer: Peer) -> None:
        raw = await peer.request()
        await peer.send(ok(raw.split(b" ", 2)[1]))
        peer.writer.close()

    transport = Transport()
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        await client.get(server.url("/a"))
        (conn,) = origin_of(transport).idle
        await settle(lambda: conn.closed)
        second = await client.get(server.url("/b"))
    assert second.content == b"/b"
    assert server.paths == [(0, "/a"), (1, "/b")]


async def test_keepalive_expiry_zero_opens_a_connection_per_request() -> None:
    async with Server(keep_answering) as server:
        transport = Transport(keepalive_expiry=0)
        async with httpx.AsyncClient(transport=transport) as client:
            first = await client.get(server.url("/a"))
            assert not origin_of(transport).idle
            second = await client.get(server.url("/b"))
    assert (first.content, second.content) == (b"/a", b"/b")
    assert server.paths == [(0, "/a"), (1, "/b")]


async def test_a_kept_alive_connection_closed_unnoticed_is_retried_once_on_a_new_one() -> None:
    async def script(peer: Peer) -> None:
        if peer.number == 0:
            await peer.request()
            await peer.send(ok(b"first"))
            await peer.request()  # the server had already given up on this connection
            return
        await peer.request()
        await peer.send(ok(b"second"))

    transport = Transport()
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        first = await client.get(server.url("/a"))
        second = await client.get(server.url("/b"))
        open_after = origin_of(transport).open
    assert (first.content, second.content) == (b"first", b"second")
    assert server.paths == [(0, "/a"), (0, "/b"), (1, "/b")]
    assert open_after == 1


async def test_a_multipart_upload_is_sent_whole_again_when_retried() -> None:
    payload = b"%PDF-1.7 " + bytes(range(256)) * 64

    async def script(peer: Peer) -> None:
        if peer.number == 0:
            await peer.request()
            await peer.send(ok(b"token"))
            await peer.request()  # closed without an answer: the request goes again
            return
        await peer.request()
        await peer.send(ok(b'{"id": "file-1"}'))

    async with Server(script) as server, httpx.AsyncClient(transport=Transport()) as client:
        await client.get(server.url("/token"))
        response = await client.post(
            server.url("/files"), files={"file": ("a.pdf", payload, "application/pdf")}
        )
    assert response.json() == {"id": "file-1"}
    assert server.paths == [(0, "/token"), (0, "/files"), (1, "/files")]
    first, again = server.seen[1][1], server.seen[2][1]
    assert payload in again
    assert again.partition(b"\r\n\r\n")[2] == first.partition(b"\r\n\r\n")[2]


async def test_a_new_connection_closed_without_an_answer_is_not_retried() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()

    transport = Transport()
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(
            httpx.RemoteProtocolError, match=r"^Server disconnected without sending a response\.$"
        ):
            await client.post(server.url("/chat"), content=b"{}")
        assert origin_of(transport).open == 0
    assert server.paths == [(0, "/chat")]


async def test_a_second_failure_after_the_retry_is_raised() -> None:
    async def script(peer: Peer) -> None:
        if peer.number == 0:
            await peer.request()
            await peer.send(ok(b"first"))
        await peer.request()  # then closed without an answer, on both connections

    transport = Transport()
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        await client.get(server.url("/a"))
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await client.get(server.url("/b"))
        assert origin_of(transport).open == 0
    assert server.paths == [(0, "/a"), (0, "/b"), (1, "/b")]


async def test_a_reset_connection_is_a_read_error() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        sock = peer.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.writer.transport.abort()  # RST, not FIN

    async with Server(script) as server, httpx.AsyncClient(transport=Transport()) as client:
        with pytest.raises(httpx.ReadError, match="Connection reset by peer"):
            await client.get(server.url())


async def test_a_server_closing_mid_body_fails_the_read() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")

    received = b""
    async with (
        Server(script) as server,
        httpx.AsyncClient(transport=Transport()) as client,
        client.stream("GET", server.url()) as response,
    ):
        with pytest.raises(
            httpx.RemoteProtocolError,
            match=r"^Server closed the connection in the middle of a response\.$",
        ):
            async for piece in response.aiter_bytes():
                received += piece
    assert received == b"abc"


async def test_a_body_closed_early_drops_its_connection() -> None:
    dropped: list[bool] = []

    async def script(peer: Peer) -> None:
        await peer.request()
        if peer.number == 0:
            await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            dropped.append(await peer.closed_by_client())
            return
        await peer.send(ok(b"fresh"))

    transport = Transport(finish_seconds=0)  # no wait for the rest of the answer
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        async with client.stream("GET", server.url("/long")) as response:
            async for piece in response.aiter_bytes():
                assert piece == b"first"
                break
        assert origin_of(transport).open == 0
        second = await client.get(server.url("/next"))
        await settle(lambda: bool(dropped))
    assert second.content == b"fresh"
    assert dropped == [True]
    assert server.paths == [(0, "/long"), (1, "/next")]


STREAM_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


async def test_an_abandoned_answer_whose_rest_follows_keeps_its_connection() -> None:
    abandoned = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(STREAM_HEAD + b"5\r\nfinal\r\n")
        await abandoned.wait()
        await peer.send(b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n")  # the rest, after the reader left
        await keep_answering(peer)

    transport = Transport()
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        async with client.stream("POST", server.url("/stream")) as response:
            async for piece in response.aiter_bytes():
                assert piece == b"final"
                break
        origin = origin_of(transport)
        assert (origin.open, len(origin.idle)) == (1, 0)  # still reading the rest
        abandoned.set()
        await settle(lambda: len(origin.idle) == 1)
        second = await client.get(server.url("/next"))
    assert second.content == b"/next"
    assert server.paths == [(0, "/stream"), (0, "/next")]


@pytest.mark.parametrize(
    "rest",
    [b"", b"%x\r\n%s\r\n" % (FINISH_BYTES + 1, b"x" * (FINISH_BYTES + 1))],
    ids=["never-comes", "longer-than-the-budget"],
)
async def test_an_abandoned_answer_whose_rest_does_not_end_soon_closes_its_connection(
    rest: bytes,
) -> None:
    dropped: list[bool] = []
    abandoned = asyncio.Event()

    async def script(peer: Peer) -> None:
        if peer.number:
            await keep_answering(peer)
        await peer.request()
        await peer.send(STREAM_HEAD + b"5\r\nfirst\r\n")
        await abandoned.wait()
        await peer.send(rest)
        dropped.append(await peer.closed_by_client())

    transport = Transport(finish_seconds=0.05 if not rest else 60)
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        async with client.stream("POST", server.url("/stream")) as response:
            async for piece in response.aiter_bytes():
                assert piece == b"first"
                break
        abandoned.set()
        origin = origin_of(transport)
        await settle(lambda: origin.open == 0)
        second = await client.get(server.url("/next"))
        await settle(lambda: bool(dropped))
    assert second.content == b"/next"
    assert dropped == [True]
    assert server.paths == [(0, "/stream"), (1, "/next")]


# --- limits and timeouts ----------------------------------------------------------------


async def test_requests_beyond_max_connections_wait_and_are_served_in_order() -> None:
    answer_first = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.request()
        await answer_first.wait()
        await peer.send(ok(b"/a"))
        await keep_answering(peer)

    transport = Transport(max_connections=1)
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        first = asyncio.create_task(client.get(server.url("/a")))
        await settle(lambda: bool(server.seen))
        waiting = [asyncio.create_task(client.get(server.url(p))) for p in ("/b", "/c")]
        origin = origin_of(transport)
        await settle(lambda: len(origin.waiters) == 2)
        assert server.paths == [(0, "/a")]  # nothing else went out while the one was busy
        answer_first.set()
        responses = [await task for task in (first, *waiting)]
        assert origin.open == 1
    assert [r.content for r in responses] == [b"/a", b"/b", b"/c"]
    assert server.connections == 1
    assert server.paths == [(0, "/a"), (0, "/b"), (0, "/c")]


async def test_pool_timeout_when_the_only_connection_stays_busy() -> None:
    async def script(peer: Peer) -> None:
        if b"/after" in await peer.request():
            await peer.send(ok(b"after"))
            return
        await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nslow\r\n")
        await peer.closed_by_client()

    transport = Transport(max_connections=1)
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        async with client.stream("GET", server.url("/busy")) as busy:
            async for piece in busy.aiter_bytes():
                assert piece == b"slow"
                break
            with pytest.raises(httpx.PoolTimeout):
                await client.get(server.url("/queued"), timeout=httpx.Timeout(5, pool=0.05))
        # The busy stream was closed early: its slot goes to the next request.
        after = await client.get(server.url("/after"), timeout=httpx.Timeout(5))
        origin = origin_of(transport)
        assert (origin.open, len(origin.connections)) == (1, 1)
    assert after.content == b"after"
    assert server.paths == [(0, "/busy"), (1, "/after")]


async def test_read_timeout_when_the_server_never_answers() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.closed_by_client()

    transport = Transport()
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url("/silent"), timeout=httpx.Timeout(5, read=0.05))
        assert origin_of(transport).open == 0
    assert server.paths == [(0, "/silent")]


async def test_write_timeout_when_the_server_stops_reading() -> None:
    stop = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.reader.readuntil(b"\r\n\r\n")
        await stop.wait()  # never reads the body: the socket buffers fill up

    transport = Transport()
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.WriteTimeout):
            await client.post(
                server.url("/up"), content=b"x" * (32 << 20), timeout=httpx.Timeout(5, write=0.05)
            )
        assert origin_of(transport).open == 0
        stop.set()


async def test_a_refused_port_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = Transport()
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError, match="Connect call failed"):
            await client.get(f"http://127.0.0.1:{port}/")
        assert origin_of(transport).open == 0


# --- refused before any byte goes out ----------------------------------------------------


async def test_an_unsupported_scheme_is_refused() -> None:
    transport = Transport()
    with pytest.raises(httpx.UnsupportedProtocol, match=r"^unsupported URL scheme 'ftp'$"):
        await transport.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/file"))
    assert transport._origins == {}


async def test_a_header_with_a_line_break_is_a_local_protocol_error() -> None:
    async with Server(keep_answering) as server:
        transport = Transport()
        request = httpx.Request("GET", server.url(), headers={"X-Bad": "a\r\nX-Injected: 1"})
        with pytest.raises(httpx.LocalProtocolError, match="CR, LF or NUL"):
            await transport.handle_async_request(request)
        await transport.aclose()
    assert server.connections == 0


# --- request and answer bodies ----------------------------------------------------------


async def test_a_multipart_upload_arrives_whole() -> None:
    payload = bytes(range(256)) * 400

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(ok(b'{"id": "file-1"}'))

    async with Server(script) as server, httpx.AsyncClient(transport=Transport()) as client:
        response = await client.post(
            server.url("/files"),
            files={"file": ("a.bin", payload, "application/octet-stream")},
            data={"purpose": "general"},
        )
    assert response.json() == {"id": "file-1"}
    ((_, raw),) = server.seen
    head, _, body = raw.partition(b"\r\n\r\n")
    boundary = re.search(rb"boundary=([0-9a-f]+)", head)
    assert boundary is not None
    length = re.search(rb"\r\nContent-Length: (\d+)", head)
    assert length is not None and int(length[1]) == len(body)
    assert payload in body
    assert b'name="purpose"\r\n\r\ngeneral\r\n' in body
    assert body.endswith(b"--" + boundary[1] + b"--\r\n")


async def test_a_streamed_body_without_length_goes_chunked_and_empty_pieces_are_skipped() -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for piece in (b"one,", b"", b"two,", b"three"):
            yield piece

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(ok(b"stored"))

    async with Server(script) as server, httpx.AsyncClient(transport=Transport()) as client:
        response = await client.post(server.url("/up"), content=pieces())
    assert response.content == b"stored"
    ((_, raw),) = server.seen
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"\r\nTransfer-Encoding: chunked" in head
    assert body == b"4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n"


async def test_a_large_body_is_read_whole_through_backpressure() -> None:
    body = bytes(range(256)) * (8 * 1024)  # 2 MiB

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(ok(body))
        await keep_answering(peer)

    transport = Transport()
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        async with client.stream("GET", server.url("/big")) as response:
            (conn,) = origin_of(transport).connections
            assert conn.transport is not None
            # Nothing read yet: the socket stops being read once enough is buffered.
            await settle(lambda: conn.parser.pending > HIGH_WATER)
            assert not conn.transport.is_reading()
            received = b"".join([piece async for piece in response.aiter_bytes()])
        assert conn.transport.is_reading()
        after = await client.get(server.url("/after"))
    assert received == body
    assert after.content == b"/after"
    assert server.paths == [(0, "/big"), (0, "/after")]


async def test_a_whole_answer_buffered_past_high_water_leaves_the_socket_reading() -> None:
    """An answer that arrived in full while the request body was still going out."""
    body = b"x" * (HIGH_WATER + 1)  # the last byte crosses the mark and completes it
    answered = asyncio.Event()

    async def upload() -> AsyncIterator[bytes]:
        yield b"start,"
        await answered.wait()
        yield b"end"

    async def script(peer: Peer) -> None:
        await peer.reader.readuntil(b"\r\n\r\n")
        await peer.send(ok(body))  # answered early, as a 413 would be
        await peer.reader.readuntil(b"0\r\n\r\n")
        await keep_answering(peer)

    transport = Transport()
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        task = asyncio.create_task(client.post(server.url("/up"), content=upload()))
        origins = transport._origins.values()
        await settle(lambda: any(c.parser.complete for o in origins for c in o.connections))
        answered.set()
        early = await task
        after = await client.get(server.url("/after"), timeout=httpx.Timeout(5, read=2))
    assert early.content == body
    assert after.content == b"/after"


# --- TLS --------------------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a self-signed certificate for 127.0.0.1, and that certificate."""
    cert, key = self_signed(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    return server, cert


@pytest.mark.parametrize("trusting", [False, True], ids=["verify-false", "trusted-ca"])
async def test_https_answers_when_the_certificate_is_accepted(
    certificate: tuple[ssl.SSLContext, Path], trusting: bool
) -> None:
    server_context, cert = certificate
    verify = ssl.create_default_context(cafile=cert) if trusting else False
    async with (
        Server(keep_answering, tls=server_context) as server,
        httpx.AsyncClient(transport=Transport(verify=verify)) as client,
    ):
        bodies = [(await client.get(server.url(p, "https"))).content for p in ("/a", "/b")]
    assert bodies == [b"/a", b"/b"]
    assert server.paths == [(0, "/a"), (0, "/b")]


async def test_https_refuses_a_self_signed_certificate_by_default(
    certificate: tuple[ssl.SSLContext, Path],
) -> None:
    server_context, _ = certificate
    transport = Transport()
    async with (
        Server(keep_answering, tls=server_context) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(server.url("/", "https"))
        assert origin_of(transport).open == 0
    assert server.seen == []


# --- cancellation and shutdown ----------------------------------------------------------


async def test_a_request_cancelled_while_waiting_for_its_head_leaves_the_pool_usable() -> None:
    dropped: list[bool] = []

    async def script(peer: Peer) -> None:
        await peer.request()
        if peer.number == 0:
            dropped.append(await peer.closed_by_client())
            return
        await peer.send(ok(b"after"))

    transport = Transport(max_connections=1)
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        task = asyncio.create_task(client.get(server.url("/slow")))
        await settle(lambda: bool(server.seen))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        origin = origin_of(transport)
        assert (origin.open, origin.connections, list(origin.idle)) == (0, set(), [])
        after = await client.get(server.url("/next"))
        assert origin.open == 1
        await settle(lambda: bool(dropped))
    assert after.content == b"after"
    assert dropped == [True]
    assert server.paths == [(0, "/slow"), (1, "/next")]


async def test_a_waiter_cancelled_just_after_being_handed_a_connection_passes_it_on() -> None:
    finish = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n/a\r\n")
        await finish.wait()
        await peer.send(b"0\r\n\r\n")
        await keep_answering(peer)

    transport = Transport(max_connections=1, finish_seconds=0)
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        first = await client.send(client.build_request("GET", server.url("/a")), stream=True)
        origin = origin_of(transport)
        second = asyncio.create_task(client.get(server.url("/b")))
        third = asyncio.create_task(client.get(server.url("/c")))
        await settle(lambda: len(origin.waiters) == 2)
        finish.set()
        # The end of /a's body hands the connection to /b's waiter; /b is cancelled
        # before its task could run, so the connection must go on to /c.
        assert await first.aread() == b"/a"
        assert len(origin.waiters) == 1 and not second.done()
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        third_response = await third
        assert (origin.open, len(origin.connections)) == (1, 1)
    assert third_response.content == b"/c"
    assert server.paths == [(0, "/a"), (0, "/c")]


async def test_a_waiter_cancelled_just_after_being_handed_a_free_slot_passes_it_on() -> None:
    async def script(peer: Peer) -> None:
        if peer.number == 0:
            await peer.request()
            await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n/a\r\n")
            await peer.closed_by_client()
            return
        await keep_answering(peer)

    transport = Transport(max_connections=1, finish_seconds=0)
    async with Server(script) as server, httpx.AsyncClient(transport=transport) as client:
        first = await client.send(client.build_request("GET", server.url("/a")), stream=True)
        origin = origin_of(transport)
        second = asyncio.create_task(client.get(server.url("/b")))
        third = asyncio.create_task(client.get(server.url("/c")))
        await settle(lambda: len(origin.waiters) == 2)
        # Closed mid-answer, the connection goes and its slot is handed to /b's waiter;
        # /b is cancelled before its task could connect, so the slot must go on to /c.
        await first.aclose()
        assert len(origin.waiters) == 1 and not second.done()
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        third_response = await third
        assert (origin.open, len(origin.connections)) == (1, 1)
    assert third_response.content == b"/c"
    assert server.paths == [(0, "/a"), (1, "/c")]


async def test_closing_the_transport_closes_idle_connections_and_fails_waiters() -> None:
    closed: list[bool] = []

    async def script(peer: Peer) -> None:
        raw = await peer.request()
        if b"/hold" in raw:
            await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nh\r\n")
        else:
            await peer.send(ok(b"idle"))
        closed.append(await peer.closed_by_client())

    transport = Transport(max_connections=1)
    async with Server(script) as server:
        client = httpx.AsyncClient(transport=transport)
        assert (await client.get(server.url("/idle"))).content == b"idle"
        await transport.aclose()
        await settle(lambda: closed == [True])  # the idle connection was closed

        async with client.stream("GET", server.url("/hold")) as held:
            origin = origin_of(transport)
            waiter = asyncio.create_task(client.get(server.url("/waits")))
            await settle(lambda: bool(origin.waiters))
            await transport.aclose()
            with pytest.raises(httpx.ConnectError, match=r"^the connection pool was closed$"):
                await waiter
            with pytest.raises(httpx.RemoteProtocolError):
                await held.aread()
        await settle(lambda: closed == [True, True])
        assert (origin.open, origin.connections) == (0, set())
        await client.aclose()
    assert server.paths == [(0, "/idle"), (1, "/hold")]


def test_the_pool_works_on_uvloop() -> None:
    """Granian picks uvloop when it is installed; its transports are no asyncio subclasses."""
    import uvloop

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(STREAM_HEAD + b"3\r\none\r\n")
        await peer.send(b"3\r\ntwo\r\n0\r\n\r\n")
        await keep_answering(peer)

    async def run() -> tuple[bytes, bytes, list[tuple[int, str]]]:
        async with Server(script) as server, httpx.AsyncClient(transport=Transport()) as client:
            async with client.stream("POST", server.url("/stream"), content=b"{}") as response:
                streamed = b"".join([piece async for piece in response.aiter_bytes()])
            again = await client.get(server.url("/again"))
        return streamed, again.content, server.paths

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        streamed, again, paths = runner.run(run())
    assert (streamed, again) == (b"onetwo", b"/again")
    assert paths == [(0, "/stream"), (0, "/again")]
