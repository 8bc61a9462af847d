"""The ASGI edge: request and response objects, the capped body reader, the senders.

`send_stream` pumps a body iterator while a watcher waits on `receive()` for
the client to leave; Granian does not raise on a send to a closed connection,
so the watcher is what cancels the upstream request. Nothing here knows a
dialect or GigaChat.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl

import msgspec

from gpt2giga import errors
from gpt2giga.observe import exchange

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
Contract = Literal["v1", "v2"]

T = TypeVar("T")

JSON = b"application/json"
EVENT_STREAM = b"text/event-stream"


class Request:
    """One HTTP request as the handlers see it; headers and query parsed on demand."""

    __slots__ = ("_headers", "_query", "body", "contract", "params", "scope")

    def __init__(
        self, scope: Scope, body: bytes, contract: Contract, params: dict[str, str]
    ) -> None:
        self.scope = scope
        self.body = body
        self.contract: Contract = contract
        self.params = params
        self._headers: dict[str, str] | None = None
        self._query: dict[str, str] | None = None

    @property
    def method(self) -> str:
        method: str = self.scope["method"]
        return method

    @property
    def path(self) -> str:
        path: str = self.scope["path"]
        return path

    @property
    def headers(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = header_map(self.scope["headers"])
        return self._headers

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            raw: bytes = self.scope.get("query_string", b"")
            self._query = dict(parse_qsl(raw.decode("latin-1"))) if raw else {}
        return self._query


def parse(decode: Callable[[bytes], T], body: bytes) -> T:
    """Decode a client body; msgspec's message names the field (`at $.messages[0].role`).

    The client's `model`, when the body has one, is noted on the request's
    exchange for the access line and the traffic log: every dialect passes here.
    """
    if not body:
        raise errors.BadRequest("Request body is empty; expected a JSON object")
    try:
        decoded = decode(body)
    except msgspec.ValidationError as exc:
        raise errors.BadRequest(f"Invalid request: {exc}", param=_param(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise errors.BadRequest(f"Request body is not valid JSON: {exc}") from None
    model = getattr(decoded, "model", None)
    if isinstance(model, str):
        exchange.current().requested = model
    return decoded


def _param(message: str) -> str | None:
    """The offending field as a dotted path, from msgspec's `... - at `$.a[0].b``."""
    _, sep, path = message.rpartition("at `$")
    path = path.rstrip("`").removeprefix(".") if sep else ""
    missing = re.search(r"missing required field `([^`]+)`", message)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    return path or None


IGNORED_HEADER = b"x-gpt2giga-ignored"


def ignored_header(ignored: list[str]) -> Headers:
    """The request fields GigaChat could not apply, for the caller to see."""
    return [(IGNORED_HEADER, ", ".join(ignored).encode())] if ignored else []


def header_map(raw: Headers) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        body: bytes,
        status: int = 200,
        headers: Headers | None = None,
        content_type: bytes = JSON,
    ) -> None:
        self.body = body
        self.status = status
        self.headers: Headers = [(b"content-type", content_type), *(headers or ())]


class StreamResponse:
    __slots__ = ("chunks", "headers", "status")

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        headers: Headers | None = None,
        content_type: bytes = EVENT_STREAM,
        status: int = 200,
    ) -> None:
        self.chunks = chunks
        self.status = status
        self.headers: Headers = [
            (b"content-type", content_type),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
            *(headers or ()),
        ]


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, or PayloadTooLarge as soon as it passes `limit` bytes."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                raise errors.BadRequest("Content-Length is not a number") from None
            if declared > limit:
                raise errors.PayloadTooLarge(_too_large(limit))
    first = await receive()
    body: bytes = first.get("body", b"")
    if not first.get("more_body"):
        if len(body) > limit:
            raise errors.PayloadTooLarge(_too_large(limit))
        return body
    parts = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise errors.PayloadTooLarge(_too_large(limit))
        parts.append(chunk)
        if not message.get("more_body"):
            return b"".join(parts)


def _too_large(limit: int) -> str:
    return f"Request body is larger than the gateway's limit of {limit} bytes"


async def send_full(send: Send, response: Response) -> None:
    await send(
        {"type": "http.response.start", "status": response.status, "headers": response.headers}
    )
    await send({"type": "http.response.body", "body": response.body})


async def send_stream(receive: Receive, send: Send, response: StreamResponse) -> bool:
    """Send a streamed body; False when the client left first (the body is cancelled).

    The body is pumped in the request's own task; the watcher cancels that task
    when the client leaves (one task per stream, not two and a wait).
    """
    await send(
        {"type": "http.response.start", "status": response.status, "headers": response.headers}
    )
    task = asyncio.current_task()
    assert task is not None
    left = finished = False

    def client_left(watch: asyncio.Future[None]) -> None:
        nonlocal left
        if watch.cancelled():
            return
        watch.exception()  # a failed receive counts as the client gone; marked as seen
        if not finished:
            left = True
            task.cancel()

    watch = asyncio.ensure_future(_wait_disconnect(receive))
    watch.add_done_callback(client_left)
    try:
        await _pump(send, response.chunks)
    except asyncio.CancelledError:
        if not left:
            raise
        task.uncancel()
        return False
    finally:
        finished = True
        watch.cancel()
    return True


async def _pump(send: Send, chunks: AsyncIterator[bytes]) -> None:
    try:
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
