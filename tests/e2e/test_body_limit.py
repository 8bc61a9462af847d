"""An oversize body against a real Granian process: a client that writes it all reads the 413.

Most clients write the whole body before they read a byte of the answer; a
server that answers early and closes makes them fail with a broken pipe or a
reset. The gateway answers 413 and reads on (bounded), as nginx's lingering
close does. Raw sockets, so that nothing in an HTTP client library hides
a reset.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import GatewayFactory, Server

LIMIT = 1024 * 1024  # the gateway's body limit in these tests
BODY = 20 * 1024 * 1024  # what the client sends
BLOCK = 64 * 1024


@pytest.fixture(scope="module")
def small(start_gateway: GatewayFactory) -> Server:
    """A gateway whose body limit is 1 MiB."""
    return start_gateway(GPT2GIGA_MAX_REQUEST_BODY_BYTES=str(LIMIT))


def _address(server: Server) -> tuple[str, int]:
    host, _, port = server.url.removeprefix("http://").partition(":")
    return host, int(port)


def _blocks(total: int) -> Iterator[bytes]:
    """A JSON document of exactly `total` bytes, over the limit long before it ends."""
    head, tail = b'{"model": "GigaChat", "messages": [{"role": "user", "content": "', b'"}]}'
    yield head
    left = total - len(head) - len(tail)
    while left > 0:
        yield b"x" * min(BLOCK, left)
        left -= BLOCK
    yield tail


def _read_response(sock: socket.socket) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """(status line, headers, body) of one response with a content-length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(b":") for ln in lines)}
    while len(body) < int(headers[b"content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the response body"
        body += chunk
    return status, headers, body


def _send_all(
    server: Server, path: str, *, chunked: bool
) -> tuple[socket.socket, bytes, dict[bytes, bytes], bytes]:
    sock = socket.create_connection(_address(server), timeout=30)
    framing = b"transfer-encoding: chunked" if chunked else b"content-length: %d" % BODY
    try:
        sock.sendall(
            b"POST %s HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n%s\r\n\r\n"
            % (path.encode(), framing)
        )
        for block in _blocks(BODY):
            sock.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
        status, headers, body = _read_response(sock)
    except BaseException:
        sock.close()
        raise
    return sock, status, headers, body


def test_a_client_that_writes_20_mb_reads_the_413_and_the_connection_stays_usable(
    small: Server,
) -> None:
    server = small
    sock, status, headers, body = _send_all(server, "/v1/chat/completions", chunked=False)
    with sock:
        assert status == b"HTTP/1.1 413 Payload Too Large"
        assert headers[b"content-type"] == b"application/json"
        assert json.loads(body) == {
            "error": {
                "message": f"Request body is larger than the gateway's limit of {LIMIT} bytes",
                "type": "invalid_request_error",
                "param": None,
                "code": "request_too_large",
            }
        }
        # The whole body was read: the same connection carries the next request.
        hello = b'{"model": "GigaChat", "messages": [{"role": "user", "content": "hi"}]}'
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\n"
            b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(hello), hello)
        )
        status, _, body = _read_response(sock)
    assert status == b"HTTP/1.1 200 OK", body
    assert json.loads(body)["choices"][0]["message"]["content"].endswith("hi")


def test_a_chunked_body_without_length_reads_the_413_in_each_dialect(small: Server) -> None:
    server = small
    expected = f"Request body is larger than the gateway's limit of {LIMIT} bytes"
    shapes = {
        "/v1/messages": (
            b"413",
            {"type": "error", "error": {"type": "request_too_large", "message": expected}},
        ),
        # Google answers an oversize request 400 INVALID_ARGUMENT.
        "/v1beta/models/GigaChat:generateContent": (
            b"400",
            {"error": {"code": 400, "message": expected, "status": "INVALID_ARGUMENT"}},
        ),
        "/v1/responses": (
            b"413",
            {
                "error": {
                    "message": expected,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "request_too_large",
                }
            },
        ),
    }
    for path, (code, shape) in shapes.items():
        sock, status, _, body = _send_all(server, path, chunked=True)
        sock.close()
        assert status.split(b" ")[1] == code, path
        assert json.loads(body) == shape, path


def test_httpx_posting_20_mb_reads_the_413(small: Server) -> None:
    server = small
    r = httpx.post(server.url + "/v1/chat/completions", content=b"".join(_blocks(BODY)), timeout=30)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "request_too_large"


def test_expect_100_continue_gets_the_413_at_once_and_sends_nothing(small: Server) -> None:
    server = small
    with socket.create_connection(_address(server), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\n"
            b"content-type: application/json\r\ncontent-length: %d\r\n"
            b"expect: 100-continue\r\n\r\n" % BODY
        )
        status, _, body = _read_response(sock)  # within the 5 s timeout: no lingering
    assert status == b"HTTP/1.1 413 Payload Too Large"
    assert json.loads(body)["error"]["code"] == "request_too_large"
