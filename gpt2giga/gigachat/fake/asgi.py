"""The fake GigaChat's ASGI edge: request bodies in, JSON answers and GigaChat's error bodies out.

Also the multipart form reading its `POST /files` needs. No routes here: those
are `server.py`'s.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
T = TypeVar("T")

_encode = msgspec.json.Encoder().encode


class FakeError(Exception):
    """An answer in GigaChat's error shape: its status, message and optional Retry-After."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def decoded(decode: Callable[[bytes], T], body: bytes) -> T:
    try:
        return decode(body)
    except msgspec.ValidationError as exc:
        raise FakeError(422, f"Invalid request: {exc}") from None
    except msgspec.DecodeError:
        raise FakeError(400, "Request body is not valid JSON") from None


def multipart(body: bytes, boundary: bytes) -> dict[str, tuple[str | None, bytes, str]]:
    """Form fields by name: (filename or None, bytes, content type or "")."""
    fields: dict[str, tuple[str | None, bytes, str]] = {}
    for part in body.split(b"--" + boundary):
        head, sep, data = part.partition(b"\r\n\r\n")
        name = re.search(rb'\bname="([^"]*)"', head)
        if sep and name:
            file = re.search(rb'filename="([^"]*)"', head)
            filename = file.group(1).decode() if file else None
            ctype = re.search(rb"(?i)content-type:\s*([^\r\n;]+)", head)
            mime = ctype.group(1).decode().strip().lower() if ctype else ""
            fields[name.group(1).decode()] = (filename, data.removesuffix(b"\r\n"), mime)
    return fields


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def send_body(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, value: Any) -> None:
    await send_body(send, 200, _encode(value), [(b"content-type", b"application/json")])


async def lifespan(receive: Receive, send: Send) -> None:
    """Granian and test clients send lifespan events; the fake has nothing to start."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def send_error(send: Send, exc: FakeError) -> None:
    """GigaChat's error body, `{"status": ..., "message": ...}`, and Retry-After if set."""
    headers = [(b"content-type", b"application/json")]
    if exc.retry_after is not None:
        headers.append((b"retry-after", str(exc.retry_after).encode()))
    await send_body(
        send, exc.status, _encode({"status": exc.status, "message": exc.message}), headers
    )
