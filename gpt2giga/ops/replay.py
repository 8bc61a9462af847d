"""Replaying a logged request: sent again through the whole app, as a request of its own.

The stored body (redacted as it was recorded) goes to the stored path, in
process, through the app's own entry: the proxy API key check, the route, the
traffic log (the replay gets a record of its own, its metadata naming the
source). It carries the caller's credentials, never stored ones: the proxy key
in `x-api-key` (or `Authorization` when the admin key came in
`x-admin-api-key`), and with pass-token the caller's GigaChat credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import msgspec

from gpt2giga.asgi import Response, header_map
from gpt2giga.observe.redact import Redactor
from gpt2giga.observe.traffic import REPLAY
from gpt2giga.ops.params import Refused

App = Callable[[dict[str, Any], Any, Any], Coroutine[Any, Any, None]]
REPLAY_HEADER = b"x-gpt2giga-replay"
MAX_BODY = 10 * 1024 * 1024  # what is kept of the replayed answer for the caller
FORBIDDEN_PREFIXES = ("/_admin", "/_debug", "/logs")
KEPT_HEADERS = ("anthropic-version", "anthropic-beta")  # what the stored request said of itself

_encode = msgspec.json.Encoder().encode
_HEADERS = Redactor()


class Replayer:
    def __init__(self, app: App) -> None:
        self.app = app

    async def replay(self, source: dict[str, Any], caller: dict[str, str]) -> Response:
        """`source`: the record's id, request_id, method, route, metadata and request_body."""
        if source["method"] != "POST":
            raise Refused(400, "Only POST traffic log requests can be replayed")
        metadata = _decoded(source["metadata"]) or {}
        path = str(metadata.get("path") or source["route"]).partition("?")[0]
        if not path.startswith("/") or "{" in path:
            raise Refused(400, "Invalid replay route")
        if path.startswith(FORBIDDEN_PREFIXES):
            raise Refused(400, "Admin, debug, and log routes cannot be replayed")
        body = _decoded(source["request_body"])
        if not isinstance(body, dict):
            raise Refused(409, "Traffic log request body was not captured")
        mark = {
            "source_log_id": source["id"],
            "source_request_id": source["request_id"],
            "replayed_at": datetime.now(UTC).isoformat(),
        }
        query = str(metadata.get("query") or "")
        stored = _decoded(source.get("request_headers")) or {}
        headers = _headers(caller, stored)
        try:
            status, answer_headers, content = await self._send(path, query, headers, body, mark)
        except Exception:
            raise Refused(502, "Replay request failed") from None
        shown = _HEADERS.value(header_map(answer_headers))
        reply = {
            "id": source["id"],
            "request_id": source["request_id"],
            "replayed": True,
            "request": {
                "method": "POST",
                "path": path + (f"?{query}" if query else ""),
                "metadata": {"gpt2giga_replay": mark},
            },
            "response": {"status_code": status, "headers": shown, "body": _body(content, shown)},
        }
        return Response(_encode(reply))

    async def _send(
        self,
        path: str,
        query: str,
        headers: list[tuple[bytes, bytes]],
        body: dict[str, Any],
        mark: dict[str, str],
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": None,
            "extensions": {REPLAY: mark},
        }
        data = _encode(body)
        done = asyncio.Event()
        started: dict[str, Any] = {}
        parts: list[bytes] = []
        first = True

        async def receive() -> dict[str, Any]:
            nonlocal first
            if first:
                first = False
                return {"type": "http.request", "body": data, "more_body": False}
            await done.wait()  # the replay's caller does not leave before its answer
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif sum(map(len, parts)) < MAX_BODY:
                parts.append(message.get("body", b""))

        # A task of its own: the replay is a request, with its own exchange and drain entry.
        try:
            await asyncio.create_task(self.app(scope, receive, send))
        finally:
            done.set()
        return int(started["status"]), list(started.get("headers", [])), b"".join(parts)


def _decoded(value: Any) -> Any:
    if value is None:
        return None
    raw = value if isinstance(value, bytes | str) else bytes(value)
    return msgspec.json.decode(raw)


def _headers(caller: dict[str, str], stored: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", b"application/json"), (REPLAY_HEADER, b"true")]
    for name in KEPT_HEADERS:
        value = stored.get(name)
        if isinstance(value, str) and value != "***":
            headers.append((name.encode(), value.encode("latin-1", "replace")))
    names = ["x-api-key", "x-goog-api-key"]
    if caller.get("x-admin-api-key"):  # then Authorization is the caller's, not the admin key
        names.append("authorization")
    headers.extend((n.encode(), caller[n].encode("latin-1")) for n in names if n in caller)
    return headers


def _body(content: bytes, headers: dict[str, Any]) -> Any:
    if not content:
        return None
    if str(headers.get("content-type", "")).startswith("application/json"):
        try:
            return msgspec.json.decode(content)
        except msgspec.DecodeError:
            pass
    return content.decode("utf-8", "replace")
