"""A stand-in for OpenSearch's `_bulk` and index-template APIs on 127.0.0.1 (no real
OpenSearch runs in these tests). It checks the bulk framing as OpenSearch does:
NDJSON content type, a newline after every line including the last, an action
line naming one of create/index with `_index` and `_id`, then a JSON object.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import msgspec

from tests.local_server import Listener, Writer

ACTIONS = ("create", "index")


class OpenSearchStandIn(Listener):
    def __init__(self) -> None:
        super().__init__()
        self.templates: dict[str, Any] = {}
        self.docs: dict[str, tuple[str, str, dict[str, Any]]] = {}  # _id -> (action, index, doc)
        self.bulks: list[bytes] = []
        self.requests: list[tuple[str, str]] = []
        self.auth: list[str | None] = []
        self.problems: list[str] = []  # framing errors seen: a test expects none
        self.fail_next = 0  # answer this many `_bulk` calls with 503
        self.item_statuses: list[int] = []  # statuses for the next items, in order (else 201)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        while True:  # keep-alive: httpx sends every batch on the same connection
            head = await reader.readuntil(b"\r\n\r\n")
            line, *fields = head.decode("latin-1").split("\r\n")
            method, path, _ = line.split(" ", 2)
            headers = {k.lower(): v for k, _, v in (f.partition(": ") for f in fields if f)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((method, path))
            self.auth.append(headers.get("authorization"))
            status, answer = self.answer(method, path, headers, body)
            data = msgspec.json.encode(answer)
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                f"content-length: {len(data)}\r\n\r\n".encode()
                + data
            )
            await writer.drain()

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        if path.startswith("/_index_template/"):
            name = path.rpartition("/")[2]
            if method == "GET":
                found = self.templates.get(name)
                return (200, {"index_templates": [found]}) if found else (404, {})
            if method == "PUT":
                self.templates[name] = msgspec.json.decode(body)
                return 200, {"acknowledged": True}
        if method == "POST" and path == "/_bulk":
            return self.bulk(headers, body)
        return 404, {"error": "no handler"}

    def bulk(self, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        self.bulks.append(body)
        if headers.get("content-type", "").split(";")[0] != "application/x-ndjson":
            return self.problem(f"content type {headers.get('content-type')!r}")
        if not body.endswith(b"\n"):
            return self.problem("The bulk request must be terminated by a newline [\\n]")
        lines = body[:-1].split(b"\n")
        if len(lines) % 2:
            return self.problem("an action line without its document")
        if self.fail_next:
            self.fail_next -= 1
            return 503, {"error": "cluster_block_exception"}
        items = []
        for action_line, doc_line in zip(lines[::2], lines[1::2], strict=True):
            action = msgspec.json.decode(action_line)
            doc = msgspec.json.decode(doc_line)
            if len(action) != 1 or next(iter(action)) not in ACTIONS:
                return self.problem(f"bad action line {action_line!r}")
            ((verb, meta),) = action.items()
            if set(meta) != {"_index", "_id"} or not isinstance(doc, dict):
                return self.problem(f"bad action {meta!r} or document")
            status = self.item_statuses.pop(0) if self.item_statuses else 201
            if status < 300:
                self.docs[meta["_id"]] = (verb, meta["_index"], doc)
            items.append({verb: {"_index": meta["_index"], "_id": meta["_id"], "status": status}})
        errors = any(next(iter(i.values()))["status"] >= 300 for i in items)
        return 200, {"took": 1, "errors": errors, "items": items}

    def problem(self, text: str) -> tuple[int, Any]:
        self.problems.append(text)
        return 400, {"error": {"type": "illegal_argument_exception", "reason": text}}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
