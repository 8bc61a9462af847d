"""The admin traffic-logs API (`/_admin/logs*`): the FastAPI gpt2giga's routes, shapes,
statuses and error details, over the PostgreSQL traffic log.

Every route sits behind the admin key (`ops/auth.py`, shared with the debug
routes), checked before anything else; the proxy API key is neither needed
nor accepted. Errors are `{"detail": ...}` as
FastAPI writes them, parameter errors FastAPI's 422 list. The SQL is the
store's (`observe/store.py`); replay is `ops/replay.py`.
"""

from __future__ import annotations

import csv
import io
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from gpt2giga.asgi import Request, Response, StreamResponse
from gpt2giga.config import Settings
from gpt2giga.context import Context
from gpt2giga.ops.auth import AdminKey
from gpt2giga.ops.params import EPOCH, Params, Refused

if TYPE_CHECKING:
    from gpt2giga.observe.store import Position, Store
    from gpt2giga.ops.replay import Replayer

log = logging.getLogger("gpt2giga.admin")

Handler = Callable[[Context, Request], Awaitable[Response | StreamResponse]]
Spec = tuple[str, str, Handler, None]
PREFIX = "/_admin/logs"
NDJSON = b"application/x-ndjson"
CSV = b"text/csv; charset=utf-8"
CSV_COLUMNS = (
    "id", "created_at", "request_id", "trace_id", "span_id", "protocol", "route", "method",
    "status_code", "model_requested", "model_effective", "provider", "upstream_status_code",
    "latency_ms", "upstream_latency_ms", "input_tokens", "output_tokens", "total_tokens",
    "error_type", "api_key_hash", "has_request_body", "has_response_body",
)  # fmt: skip
PAYLOAD_FIELDS = ("request_headers", "request_body", "response_body")
NO_STORE = "Postgres traffic log query store is not configured"

_encode = msgspec.json.Encoder().encode


def detail(status: int, text: Any) -> Response:
    return Response(_encode({"detail": text}), status=status)


class Admin:
    """The routes; `store` is None when no PostgreSQL is configured (every route: 503)."""

    def __init__(self, settings: Settings, store: Store | None, replayer: Replayer | None) -> None:
        self.admin = AdminKey(settings.proxy.admin_api_key)
        self.store = store
        self.replayer = replayer
        self.retention_days = settings.proxy.traffic_log_retention_days

    def routes(self) -> list[Spec]:
        """Public in the proxy key's sense: the admin key guards them instead."""
        table: list[tuple[str, str, Handler]] = [
            ("GET", "", self.page),
            ("GET", "/tail", self.tail),
            ("GET", "/export.ndjson", self.export_ndjson),
            ("GET", "/export.csv", self.export_csv),
            ("POST", "/retention/purge", self.purge),
            ("GET", "/{id}", self.get),
            ("GET", "/{id}/request", self.request_part),
            ("GET", "/{id}/response", self.response_part),
            ("POST", "/{id}/replay", self.replay),
            ("POST", "/{id}/redact", self.redact),
        ]
        return [(m, PREFIX + path, self._guarded(h), None) for m, path, h in table]

    def _guarded(self, handler: Handler) -> Handler:
        async def run(ctx: Context, request: Request) -> Response | StreamResponse:
            from gpt2giga.observe.store import StoreUnavailable

            refusal = self.admin.refusal(request.scope["headers"])  # before anything else
            if refusal is not None:
                return refusal
            try:
                return await handler(ctx, request)
            except Refused as refused:
                return detail(refused.status, refused.detail)
            except StoreUnavailable as exc:
                log.error("admin: the traffic log store is unavailable: %s", exc)
                return detail(503, "Postgres traffic log query store is unavailable")

        return run

    def _store(self) -> Store:
        if self.store is None:
            raise Refused(503, NO_STORE)
        return self.store

    async def page(self, ctx: Context, request: Request) -> Response:
        params = Params(request.query)
        filters, limit, at = params.filters(), params.limit(100, 500), params.position()
        params.check()
        rows = await self._store().page(filters, limit, at)
        body = {
            "data": rows,
            "limit": limit,
            "cursor": request.query.get("cursor"),
            "next_cursor": next_cursor(at, rows) if len(rows) == limit else None,
        }
        return Response(_encode(body))

    async def tail(self, ctx: Context, request: Request) -> Response:
        from gpt2giga.observe.store import Filters, Position

        params = Params(request.query)
        limit = params.limit(100, 500)
        params.check()
        rows = await self._store().page(Filters(), limit, Position())
        return Response(_encode({"data": rows, "limit": limit}))

    async def get(self, ctx: Context, request: Request) -> Response:
        return Response(_encode(await self._found(request)))

    async def request_part(self, ctx: Context, request: Request) -> Response:
        found = await self._found(request, ("id", "request_headers", "request_body"))
        return Response(_encode(found))

    async def response_part(self, ctx: Context, request: Request) -> Response:
        return Response(_encode(await self._found(request, ("id", "response_body"))))

    async def _found(
        self, request: Request, columns: tuple[str, ...] | None = None
    ) -> dict[str, Any]:
        record_id = valid_id(request.params["id"])
        store = self._store()
        found = await (store.one(record_id, columns) if columns else store.one(record_id))
        if found is None:
            raise Refused(404, "Traffic log event not found")
        return found

    async def export_ndjson(self, ctx: Context, request: Request) -> StreamResponse:
        batches = self._export(request)

        async def lines() -> AsyncIterator[bytes]:
            async for rows in batches:
                yield b"".join(_encode(row) + b"\n" for row in rows)

        return StreamResponse(lines(), content_type=NDJSON)

    async def export_csv(self, ctx: Context, request: Request) -> StreamResponse:
        batches = self._export(request)

        async def lines() -> AsyncIterator[bytes]:
            yield csv_rows([CSV_COLUMNS])
            async for rows in batches:
                yield csv_rows([csv_row(row) for row in rows])

        return StreamResponse(lines(), content_type=CSV)

    def _export(self, request: Request) -> AsyncIterator[list[dict[str, Any]]]:
        """Checked before the answer starts: a bad parameter is a 422, not a broken stream."""
        params = Params(request.query)
        filters, limit, at = params.filters(), params.limit(1000, 5000), params.position()
        params.check()
        return self._store().export(filters, limit, at)

    async def purge(self, ctx: Context, request: Request) -> Response:
        params = Params(request.query)
        days = params.integer("retention_days", self.retention_days, 1, 3650)
        batch_size = params.integer("batch_size", 1000, 1, 10_000)
        max_batches = params.integer("max_batches", 1, 1, 1000)
        dry_run = params.boolean("dry_run", True)
        params.check()
        store = self._store()
        cutoff = datetime.now(UTC) - timedelta(days=days)
        body: dict[str, Any] = {
            "retention_days": days,
            "cutoff": cutoff.isoformat(),
            "dry_run": dry_run,
            "expired": None,
            "deleted": 0,
            "batch_size": batch_size,
            "batches": 0,
            "max_batches": max_batches,
            "complete": None,
        }
        if dry_run:
            body["expired"] = await store.expired(cutoff)
        else:
            done = await store.purge(cutoff, batch_size, max_batches)
            body.update(deleted=done.deleted, batches=done.batches, complete=done.complete)
        return Response(_encode(body))

    async def replay(self, ctx: Context, request: Request) -> Response:
        if self.replayer is None:  # GPT2GIGA_REPLAY_ENABLED is off
            raise Refused(404, "Not Found")
        record_id = valid_id(request.params["id"])
        source = await self._store().one(
            record_id,
            ("id", "request_id", "method", "route", "metadata", "request_headers", "request_body"),
        )
        if source is None:
            raise Refused(404, "Traffic log event not found")
        return await self.replayer.replay(source, request.headers)

    async def redact(self, ctx: Context, request: Request) -> Response:
        record_id = valid_id(request.params["id"])
        fields = redaction_fields(request.body)
        result = await self._store().redact(record_id, fields, datetime.now(UTC))
        if result is None:
            raise Refused(404, "Traffic log event not found")
        return Response(_encode({"id": record_id, "redacted_fields": fields, "result": result}))


def valid_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise Refused(400, "Invalid traffic log id") from None


def redaction_fields(body: bytes) -> list[str]:
    """The `fields` of a redact request, checked in the FastAPI gpt2giga's order."""
    try:
        parsed = msgspec.json.decode(body) if body.strip() else {}
    except msgspec.DecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise Refused(400, "Expected JSON object body")
    fields = parsed.get("fields", list(PAYLOAD_FIELDS))
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise Refused(400, "Expected fields to be a list of payload field names")
    unknown = sorted(set(fields) - set(PAYLOAD_FIELDS))
    if unknown:
        raise Refused(400, f"Unsupported redaction fields: {', '.join(unknown)}")
    if not fields:
        raise Refused(400, "At least one redaction field is required")
    return sorted(set(fields))


def next_cursor(at: Position, rows: list[dict[str, Any]]) -> str:
    """A cursor that stays put while new records arrive: after the page's last row.

    The FastAPI gpt2giga's cursor was an offset, which shifts by one for every
    record written meanwhile (pages repeat rows); offsets are still accepted.
    """
    last = rows[-1]
    created = datetime.fromisoformat(last["created_at"])
    micros = (created - EPOCH) // timedelta(microseconds=1)
    return f"k{micros}_{last['id']}"


def csv_row(row: dict[str, Any]) -> list[Any]:
    """A full record's CSV cells: empty for null, the payloads only as has_* flags."""
    shown = {
        **row,
        "has_request_body": row["request_body"] is not None,
        "has_response_body": row["response_body"] is not None,
    }
    return ["" if shown[c] is None else shown[c] for c in CSV_COLUMNS]


def csv_rows(rows: list[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)  # CRLF line ends, True/False: Python's csv defaults
    return out.getvalue().encode()
