"""PostgreSQL for the traffic log: the schema and its migrations, the batched writer, retention.

The only module that imports asyncpg, and it is imported only when a DSN is
configured. The table and indexes are the FastAPI gpt2giga's (an existing
table is adopted as it is); the gateway applies its own versioned migrations
at start-up, under an advisory lock so that workers starting together do not
race, and `gpt2giga migrate` applies them for databases where the gateway's
own user may not create tables. A batch is one binary COPY, or one INSERT of
arrays when COPY cannot take it (one round trip either way). Retention deletes
in batches until nothing expired is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import asyncpg
import msgspec

from gpt2giga.observe.traffic import TrafficRecord

log = logging.getLogger("gpt2giga.traffic")

TABLE = "gpt2giga_traffic_logs"
MIGRATIONS_TABLE = "gpt2giga_schema_migrations"
MIGRATION_LOCK = 0x67707432_74726166  # pg_advisory_xact_lock key: "gpt2traf"
CONNECT_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 60.0
PURGE_BATCH = 5_000

_encode = msgspec.json.Encoder().encode


# What "the database cannot be reached right now" looks like, as opposed to a bad query.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
)


class Migration(NamedTuple):
    version: int
    name: str
    sql: str


_INDEXED = ("request_id", "trace_id", "status_code", "model_effective", "provider", "api_key_hash")
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "traffic_logs",
        f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL,
    request_id text NOT NULL,
    trace_id text,
    span_id text,
    protocol text NOT NULL,
    route text NOT NULL,
    method text NOT NULL,
    status_code integer,
    model_requested text,
    model_effective text,
    provider text,
    upstream_status_code integer,
    latency_ms integer,
    upstream_latency_ms integer,
    input_tokens integer,
    output_tokens integer,
    total_tokens integer,
    error_type text,
    error_message text,
    api_key_hash text,
    client_ip_hash text,
    metadata jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    request_headers jsonb,
    request_body jsonb,
    response_body jsonb
);
CREATE INDEX IF NOT EXISTS ix_{TABLE}_created_at ON {TABLE} (created_at);
"""
        + "".join(
            f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_{c} ON {TABLE} ({c});\n" for c in _INDEXED
        )
        + f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_metadata_gin ON {TABLE} USING gin (metadata);\n",
    ),
    # Pages and exports walk (created_at, id) newest first: one index serves both keys.
    Migration(
        2,
        "created_at_id",
        f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_created_at_id ON {TABLE} (created_at, id);\n",
    ),
)
LATEST = MIGRATIONS[-1].version

# (column, SQL type of its array) in the table's order; the record's payload
# fields are `*_redacted`, the columns are not (as in the FastAPI gpt2giga).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "uuid"),
    ("created_at", "timestamptz"),
    *((c, "text") for c in ("request_id", "trace_id", "span_id", "protocol", "route", "method")),
    ("status_code", "int4"),
    *((c, "text") for c in ("model_requested", "model_effective", "provider")),
    *(
        (c, "int4")
        for c in (
            "upstream_status_code",
            "latency_ms",
            "upstream_latency_ms",
            "input_tokens",
            "output_tokens",
            "total_tokens",
        )
    ),
    *((c, "text") for c in ("error_type", "error_message", "api_key_hash", "client_ip_hash")),
    *((c, "jsonb") for c in ("metadata", "request_headers", "request_body", "response_body")),
)
NAMES = [c for c, _ in COLUMNS]
INSERT = (
    f"INSERT INTO {TABLE} ({', '.join(c for c, _ in COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"${n}::{t}[]" for n, (_, t) in enumerate(COLUMNS, 1))
    + ") ON CONFLICT (id) DO NOTHING"
)


def _text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; a client can send one in any string."""
    return value.replace("\x00", "\ufffd") if value and "\x00" in value else value


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {_text(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _json(value: Any) -> str | None:
    if value is None:
        return None
    text = _encode(value)
    if b"\\u0000" in text:  # jsonb refuses the NUL escape too
        text = _encode(_scrub(value))
    return text.decode()


def _int(value: float | None) -> int | None:
    return None if value is None else round(value)


def row(r: TrafficRecord) -> tuple[Any, ...]:
    """One record as the table's columns, in order."""
    t = _text
    return (
        r.id, r.created_at, t(r.request_id), t(r.trace_id), t(r.span_id), r.protocol, r.route,
        r.method, r.status_code, t(r.model_requested), t(r.model_effective), r.provider,
        r.upstream_status_code, _int(r.latency_ms), _int(r.upstream_latency_ms), r.input_tokens,
        r.output_tokens, r.total_tokens, t(r.error_type), t(r.error_message), r.api_key_hash,
        r.client_ip_hash, _json(r.metadata), _json(r.request_headers_redacted),
        _json(r.request_body_redacted), _json(r.response_body_redacted),
    )  # fmt: skip


def columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows turned into one array per column: the INSERT's parameters."""
    return [list(col) for col in zip(*rows, strict=True)]


async def applied_version(conn: asyncpg.Connection) -> int:
    """The schema's version; 0 before the first migration. Needs no write permission."""
    if await conn.fetchval("SELECT to_regclass($1)", MIGRATIONS_TABLE) is None:
        return 0
    return int(await conn.fetchval(f"SELECT coalesce(max(version), 0) FROM {MIGRATIONS_TABLE}"))


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply the migrations not applied yet, in order; the versions applied now."""
    if await applied_version(conn) >= LATEST:
        return []  # a locked-down database at the latest version needs no DDL rights
    done: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version integer PRIMARY KEY, "
            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {r[0] for r in await conn.fetch(f"SELECT version FROM {MIGRATIONS_TABLE}")}
        for m in MIGRATIONS:
            if m.version in applied:
                continue
            await conn.execute(m.sql)
            await conn.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (version, name) VALUES ($1, $2)", m.version, m.name
            )
            done.append(m.version)
    return done


async def migrate_dsn(dsn: str) -> list[int]:
    """`gpt2giga migrate`: one connection, the migrations, closed."""
    conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


class Purged(NamedTuple):
    deleted: int
    batches: int
    complete: bool  # the last batch was short: nothing expired is left


class Database:
    """A lazily opened pool (no connection until first use) and the schema check."""

    def __init__(self, dsn: str, *, max_size: int = 4) -> None:
        self._dsn = dsn
        self._max = max_size
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self.schema_ready = False

    async def pool(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                # min_size=0: creating the pool connects to nothing, so a database
                # that is down at start-up does not stop the gateway.
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,
                    max_size=self._max,
                    timeout=CONNECT_TIMEOUT_S,
                    command_timeout=COMMAND_TIMEOUT_S,
                )
            return self._pool

    async def ensure_schema(self) -> None:
        if self.schema_ready:
            return
        pool = await self.pool()
        async with pool.acquire() as conn:
            applied = await migrate(conn)
        if applied:
            log.info("traffic log: PostgreSQL schema migrated to version %d", LATEST)
        self.schema_ready = True

    async def insert(self, records: list[TrafficRecord]) -> int:
        """Store a batch; the number of records the database refused (bad data, not outages).

        COPY first: binary COPY encodes a row in about a third of the time the INSERT
        of arrays takes (benchmarks/traffic_overhead.py). A batch COPY cannot take
        (a duplicate id from a retried batch, a value out of a column's range) goes
        through the INSERT, which skips duplicates and refuses bad rows one by one.
        """
        rows = [row(r) for r in records]
        await self.ensure_schema()
        pool = await self.pool()
        async with pool.acquire() as conn:
            try:
                await conn.copy_records_to_table(TABLE, records=rows, columns=NAMES)
                return 0
            except (asyncpg.DataError, asyncpg.UniqueViolationError, ValueError, ArithmeticError):
                pass  # COPY reports a value it cannot encode as Python's own error
            try:
                await conn.execute(INSERT, *columns(rows))
                return 0
            except asyncpg.DataError:
                pass
            # One record the database refuses must not cost the rest of its batch.
            refused = 0
            for one in rows:
                try:
                    await conn.execute(INSERT, *columns([one]))
                except asyncpg.DataError as exc:
                    refused += 1
                    log.error("traffic log: PostgreSQL refused record %s: %s", one[0], exc)
            return refused

    async def purge(
        self, older_than: datetime, batch_size: int = PURGE_BATCH, max_batches: int | None = None
    ) -> Purged:
        """Delete what was created before `older_than`, oldest first, a batch per statement."""
        pool = await self.pool()
        deleted = batches = 0
        while max_batches is None or batches < max_batches:
            # SKIP LOCKED: two workers purging at once share the work instead of waiting.
            status = await pool.execute(
                f"DELETE FROM {TABLE} WHERE id IN (SELECT id FROM {TABLE} WHERE created_at < $1 "
                "ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
                older_than,
                batch_size,
            )
            count = int(status.rpartition(" ")[2])
            deleted += count
            batches += 1
            if count < batch_size:
                return Purged(deleted, batches, True)
        return Purged(deleted, batches, False)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


def cutoff(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


class PostgresSink:
    """The sink: batches into the table; the retention job runs beside it."""

    name = "postgres"

    def __init__(self, database: Database, retention_days: int, purge_interval_s: float) -> None:
        self.db = database
        self._days = retention_days
        self._interval = purge_interval_s
        self._purger: asyncio.Task[None] | None = None

    async def open(self) -> None:
        if self._purger is None:
            self._purger = asyncio.create_task(self._purge_forever(), name="gpt2giga-retention")
        await self.db.ensure_schema()

    async def write(self, records: list[TrafficRecord]) -> int:
        return await self.db.insert(records)

    async def _purge_forever(self) -> None:
        """At start and every interval: delete every expired record (not one batch per run)."""
        while True:
            try:
                await self.db.ensure_schema()
                done = await self.db.purge(cutoff(self._days))
                if done.deleted:
                    log.info("traffic log: retention deleted %d record(s)", done.deleted)
            except Exception as exc:
                log.warning("traffic log: retention failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(self._interval)

    async def close(self) -> None:
        purger, self._purger = self._purger, None
        if purger is not None:
            purger.cancel()
            await asyncio.gather(purger, return_exceptions=True)
