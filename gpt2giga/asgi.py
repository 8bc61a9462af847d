"""The ASGI edge: request and response objects, the capped body reader, the senders.

`send_stream` pumps a body iterator while a watcher waits on `receive()` for
the client to leave; Granian does not raise on a send to a closed connection,
so the watcher is what cancels the upstream request. Nothing here knows a
dialect or GigaChat.
"""

from __future__ import annotations

import asyncio
import re
import sys
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
    if not body.isascii():
        check_utf8(body)
    try:
        decoded = decode(body)
    except msgspec.ValidationError as exc:
        raise errors.BadRequest(f"Invalid request: {exc}", param=_param(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise errors.BadRequest(f"Request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise errors.BadRequest(too_deep()) from None
    model = getattr(decoded, "model", None)
    if isinstance(model, str):
        exchange.current().requested = model
    return decoded


def check_utf8(body: bytes) -> None:
    """JSON must be UTF-8 (RFC 8259, 8.1); msgspec checks only the strings it keeps.

    Unknown fields and raw-kept values (tool schemas, Responses items) are
    skipped unread, so the whole body is checked here. An ASCII body is valid
    by construction: `isascii` first costs nothing.
    """
    try:
        body.decode()
    except UnicodeDecodeError as exc:
        raise errors.BadRequest(
            f"Request body is not valid UTF-8: {exc.reason} at byte {exc.start}"
        ) from None


def too_deep() -> str:
    # msgspec nests on the C stack and stops at Python's recursion limit (about
    # 1,000 levels less the frames already in use) with a RecursionError.
    return (
        "Request body is JSON nested too deeply: objects and arrays may nest fewer "
        f"than {sys.getrecursionlimit()} levels"
    )


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
    """A whole answer; `linger`: the request body's rest is still to be read and dropped."""

    __slots__ = ("body", "headers", "linger", "status")

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
        self.linger = False


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


# nginx's lingering close, in small: after a 413 the rest of the body is read
# and dropped, so that a client that writes its whole body before it reads
# (most do) reads the 413 rather than a reset. Past these bounds the
# connection is simply closed; a body declared larger is not waited for at all.
LINGER_BYTES = 64 * 1024 * 1024
LINGER_SECONDS = 10.0


class BodyTooLarge(errors.PayloadTooLarge):
    """Over the limit with the rest of the body still on its way: `discard` it after the 413."""


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, or PayloadTooLarge as soon as it passes `limit` bytes."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                raise errors.BadRequest("Content-Length is not a number") from None
            if declared > limit:
                raise _over(limit, declared, scope["headers"])
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError
        chunk: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            raise (BodyTooLarge if more else errors.PayloadTooLarge)(_too_large(limit))
        if not more:
            return b"".join((*parts, chunk)) if parts else chunk
        parts.append(chunk)


def _over(limit: int, declared: int, headers: Headers) -> errors.PayloadTooLarge:
    """A declared length over the limit: linger for the body unless it will not come or is huge."""
    # A client that asked `Expect: 100-continue` sends nothing until told to:
    # the 413 is its answer, and reading would only wait out the bound.
    expects = any(k == b"expect" and v.lower() == b"100-continue" for k, v in headers)
    cls = errors.PayloadTooLarge if expects or declared > LINGER_BYTES else BodyTooLarge
    return cls(_too_large(limit))


def _too_large(limit: int) -> str:
    return f"Request body is larger than the gateway's limit of {limit} bytes"


async def discard(
    receive: Receive, most: int = LINGER_BYTES, seconds: float = LINGER_SECONDS
) -> int:
    """Read and drop what is left of a request body, within bounds; the bytes dropped."""
    dropped = 0
    try:
        async with asyncio.timeout(seconds):
            while dropped < most:
                message = await receive()
                dropped += len(message.get("body", b""))
                if message["type"] == "http.disconnect" or not message.get("more_body"):
                    break
    except TimeoutError:
        pass
    return dropped


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
