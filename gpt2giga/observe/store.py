"""The read side of the PostgreSQL traffic log: filters, pages, exports, redaction, purges.

What the admin API asks of the database, as SQL with bound parameters only
(every value a client sends is a parameter, never SQL text). Rows come back
as dicts ready to encode: `id` as text, `created_at` as ISO-8601 with
`+00:00`, jsonb columns passed through as raw JSON (never decoded here).
Pages are newest first, `created_at DESC, id DESC`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

from gpt2giga.observe.postgres import COLUMNS, TABLE, UNAVAILABLE, Database, Purged

PAYLOADS = ("request_headers", "request_body", "response_body")
JSONB = frozenset(c for c, t in COLUMNS if t == "jsonb")
FULL = tuple(c for c, _ in COLUMNS)
SUMMARY = tuple(c for c in FULL if c not in PAYLOADS)
EXPORT_BATCH = 500


class StoreUnavailable(Exception):
    """The database cannot be reached; the message says why, without the DSN."""


class Filters(msgspec.Struct, kw_only=True):
    """The list and export filters, ANDed; None is "any"."""

    since: datetime | None = None  # `from`, inclusive
    until: datetime | None = None  # `to`, inclusive
    protocol: str | None = None
    route: str | None = None
    model: str | None = None
    status_code: int | None = None
    has_error: bool | None = None
    request_id: str | None = None
    trace_id: str | None = None
    api_key_hash: str | None = None


class Position(NamedTuple):
    """Where a page starts: an offset (the FastAPI gpt2giga's cursor) or after a row."""

    offset: int = 0
    after: tuple[datetime, str] | None = None


def _select(columns: tuple[str, ...], summary: bool) -> str:
    parts = []
    for c in columns:
        if c == "id":
            parts.append("id::text AS id")
        elif c in JSONB:
            parts.append(f"{c}::text AS {c}")
        else:
            parts.append(c)
    if summary:
        parts += [
            "request_body IS NOT NULL AS has_request_body",
            "response_body IS NOT NULL AS has_response_body",
        ]
    return ", ".join(parts)


def where(f: Filters, args: list[Any]) -> list[str]:
    """The filters as SQL conditions; their values are appended to `args`."""
    conditions = []

    def bind(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if f.since is not None:
        conditions.append(f"created_at >= {bind(f.since)}")
    if f.until is not None:
        conditions.append(f"created_at <= {bind(f.until)}")
    for name in ("protocol", "route", "status_code", "request_id", "trace_id", "api_key_hash"):
        value = getattr(f, name)
        if value is not None:
            conditions.append(f"{name} = {bind(value)}")
    if f.model is not None:
        n = bind(f.model)
        conditions.append(f"(model_requested = {n} OR model_effective = {n})")
    if f.has_error is True:
        conditions.append("(error_type IS NOT NULL OR status_code >= 400)")
    elif f.has_error is False:
        conditions.append("(error_type IS NULL AND coalesce(status_code, 0) < 400)")
    return conditions


def render(record: Any) -> dict[str, Any]:
    """A row as the API shows it."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in JSONB:
            out[key] = None if value is None else msgspec.Raw(value.encode())
        elif key == "created_at":
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out


class Store:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        try:
            await self.db.ensure_schema()
            pool = await self.db.pool()
            return list(await pool.fetch(sql, *args))
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from None

    async def page(
        self, f: Filters, limit: int, at: Position, *, full: bool = False
    ) -> list[dict[str, Any]]:
        args: list[Any] = []
        conditions = where(f, args)
        if at.after is not None:
            args += list(at.after)
            conditions.append(f"(created_at, id) < (${len(args) - 1}, ${len(args)}::uuid)")
        sql = f"SELECT {_select(FULL if full else SUMMARY, not full)} FROM {TABLE}"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        args += [limit, at.offset]
        sql += f" ORDER BY created_at DESC, id DESC LIMIT ${len(args) - 1} OFFSET ${len(args)}"
        return [render(r) for r in await self._fetch(sql, *args)]

    async def export(
        self, f: Filters, limit: int, at: Position
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Up to `limit` full records from `at`, in batches: never the whole export in memory."""
        left = limit
        while left > 0:
            rows = await self.page(f, min(left, EXPORT_BATCH), at, full=True)
            if not rows:
                return
            yield rows
            left -= len(rows)
            last = rows[-1]
            at = Position(after=(datetime.fromisoformat(last["created_at"]), last["id"]))

    async def one(
        self, record_id: str, columns: tuple[str, ...] = SUMMARY
    ) -> dict[str, Any] | None:
        summary = columns == SUMMARY
        rows = await self._fetch(
            f"SELECT {_select(columns, summary)} FROM {TABLE} WHERE id = $1::uuid", record_id
        )
        return render(rows[0]) if rows else None

    async def redact(
        self, record_id: str, fields: list[str], at: datetime
    ) -> dict[str, Any] | None:
        """Set the payload columns to NULL and note it in metadata; the flags after the update."""
        assert set(fields) <= set(PAYLOADS)  # column names: never a client's text
        sets = ", ".join(f"{c} = NULL" for c in fields)
        note = {"manual_redaction": {"fields": fields, "redacted_at": at.isoformat()}}
        rows = await self._fetch(
            f"UPDATE {TABLE} SET {sets}, metadata = metadata || $2::jsonb WHERE id = $1::uuid "
            "RETURNING id::text AS id, request_headers IS NULL AS request_headers_redacted, "
            "request_body IS NULL AS request_body_redacted, "
            "response_body IS NULL AS response_body_redacted, metadata::text AS metadata",
            record_id,
            msgspec.json.encode(note).decode(),
        )
        return render(rows[0]) if rows else None

    async def expired(self, cutoff: datetime) -> int:
        rows = await self._fetch(f"SELECT count(*) FROM {TABLE} WHERE created_at < $1", cutoff)
        return int(rows[0][0])

    async def purge(self, cutoff: datetime, batch_size: int, max_batches: int) -> Purged:
        try:
            await self.db.ensure_schema()
            return await self.db.purge(cutoff, batch_size, max_batches)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from None
