"""The OpenSearch mirror of the traffic log: `_bulk` NDJSON over httpx, the index template.

A write-only mirror, as in the FastAPI gpt2giga: each batch is one `_bulk`
request (an action line and a document line per record, a newline after
each); the index template is installed at start-up when it is missing (the
FastAPI gpt2giga had one but never installed it). Items OpenSearch answers
with 429 are sent again; other refused items are counted as lost. Imported
only when the opensearch sink is on; httpx is the gateway's own dependency,
so no second HTTP stack comes with it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import msgspec

from gpt2giga.config import Settings
from gpt2giga.observe.traffic import TrafficRecord

log = logging.getLogger("gpt2giga.traffic")

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
NDJSON = "application/x-ndjson"
ITEM_RETRY_DELAYS = (0.2, 1.0)  # for items refused with 429 (OpenSearch's queue was full)
KEYWORDS = (
    "request_id", "trace_id", "span_id", "protocol", "route", "method", "model",
    "model_requested", "model_effective", "provider", "error_type", "api_key_hash",
    "client_ip_hash",
)  # fmt: skip
INTEGERS = ("status_code", "upstream_status_code", "input_tokens", "output_tokens", "total_tokens")

_encode = msgspec.json.Encoder().encode


class BulkFailed(Exception):
    """The `_bulk` request as a whole was refused or failed (the batch is retried)."""


def template(index: str, data_stream: bool) -> dict[str, Any]:
    """The index template for `<index>*`: the record's fields with their types."""
    properties: dict[str, Any] = {name: {"type": "keyword"} for name in KEYWORDS}
    properties.update({name: {"type": "integer"} for name in INTEGERS})
    properties.update({name: {"type": "date"} for name in ("@timestamp", "created_at")})
    properties.update({name: {"type": "float"} for name in ("latency_ms", "upstream_latency_ms")})
    properties["has_error"] = {"type": "boolean"}
    properties["metadata"] = {"type": "object", "enabled": True}
    body: dict[str, Any] = {
        "index_patterns": [f"{index}*"],
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": 1},
            "mappings": {"dynamic": True, "properties": properties},
        },
    }
    if data_stream:
        body["data_stream"] = {}
    return body


def document(r: TrafficRecord) -> bytes:
    """The record as in the JSONL file (nulls left out), plus `@timestamp`, `model`, `has_error`."""
    has_error = bool(r.error_type) or (r.status_code or 0) >= 400
    extra = {
        "@timestamp": r.created_at,
        "model": r.model_effective or r.model_requested,
        "has_error": has_error,
    }
    # Both are JSON objects: the record's closing brace becomes the extra fields' opening one.
    return _encode(r)[:-1] + b"," + _encode(extra)[1:]


def bulk_body(records: list[TrafficRecord], index: str, action: str) -> bytes:
    lines = []
    for r in records:
        lines.append(_encode({action: {"_index": index, "_id": r.id}}))
        lines.append(document(r))
    return b"\n".join(lines) + b"\n"


class OpenSearchSink:
    name = "opensearch"

    def __init__(
        self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        p = settings.proxy
        self._url = p.opensearch_url.rstrip("/")
        self._index = p.opensearch_index
        self._data_stream = p.opensearch_data_stream
        self._action = "create" if p.opensearch_data_stream else "index"
        password = p.opensearch_password.value if p.opensearch_password else None
        # Basic auth when either half is set; the other half is then empty (as before).
        self._auth = (
            (p.opensearch_username or "", password or "")
            if p.opensearch_username or password
            else None
        )
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.template_ready = False

    @property
    def template_name(self) -> str:
        return f"{self._index}-template"

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._url, auth=self._auth, timeout=TIMEOUT, transport=self._transport
            )
        return self._client

    async def open(self) -> None:
        await self.ensure_template()

    async def ensure_template(self) -> None:
        """Install the index template unless it is there; an outage is retried by the writes."""
        if self.template_ready:
            return
        path = f"/_index_template/{self.template_name}"
        found = await self.client().get(path)
        if found.status_code == 404:
            put = await self.client().put(path, json=template(self._index, self._data_stream))
            if put.status_code >= 500 or put.status_code == 429:
                raise BulkFailed(f"installing the index template: HTTP {put.status_code}")
            if put.status_code >= 400:  # e.g. no permission: the mirror still works without it
                log.warning(
                    "traffic log: OpenSearch refused the index template: HTTP %d %s",
                    put.status_code,
                    put.text[:200],
                )
        elif found.status_code >= 500 or found.status_code == 429:
            raise BulkFailed(f"reading the index template: HTTP {found.status_code}")
        self.template_ready = True

    async def write(self, records: list[TrafficRecord]) -> int:
        await self.ensure_template()
        pending, refused = records, 0
        for delay in (*ITEM_RETRY_DELAYS, None):
            pending, refused_now = await self._bulk(pending)
            refused += refused_now
            if not pending:
                break
            if delay is None:
                log.error(
                    "traffic log: OpenSearch kept answering 429 for %d record(s)", len(pending)
                )
                return refused + len(pending)
            await asyncio.sleep(delay)
        return refused

    async def _bulk(self, records: list[TrafficRecord]) -> tuple[list[TrafficRecord], int]:
        """Send one batch: (records to send again, the number refused for good)."""
        body = bulk_body(records, self._index, self._action)
        response = await self.client().post(
            "/_bulk", content=body, headers={"content-type": NDJSON}
        )
        if response.status_code != 200:
            raise BulkFailed(f"HTTP {response.status_code}: {response.text[:200]}")
        answer = msgspec.json.decode(response.content)
        if not answer.get("errors"):
            return [], 0
        again: list[TrafficRecord] = []
        refused = 0
        for record, item in zip(records, answer.get("items", []), strict=False):
            result: dict[str, Any] = next(iter(item.values()), {})
            status = result.get("status", 500)
            if status == 429:
                again.append(record)
            elif status >= 300 and not (status == 409 and self._action == "create"):
                # 409 on create: the record is already there (a batch sent twice).
                refused += 1
                log.error(
                    "traffic log: OpenSearch refused record %s: %s", record.id, result.get("error")
                )
        return again, refused

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
