"""The PostgreSQL sink against a real server: migrations, rows as the contract has them,
bad data refused one row at a time, retention that empties what expired."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import msgspec
import pytest
import respx

from gpt2giga.observe.exchange import Exchange
from gpt2giga.observe.postgres import (
    LATEST,
    MIGRATIONS,
    TABLE,
    Database,
    PostgresSink,
    applied_version,
    migrate,
)
from gpt2giga.observe.traffic import Recorder, TrafficRecord
from tests.conftest import V1_CHAT, build_app, make_settings, over
from tests.postgres_server import PostgresServer, eventually

ANSWER = {
    "choices": [{"message": {"role": "assistant", "content": "Hi!"}, "index": 0}],
    "created": 1,
    "model": "GigaChat-2-Max",
    "object": "chat.completion",
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}
CONTRACT_INDEXES = {
    f"ix_{TABLE}_{c}"
    for c in (
        "created_at",
        "request_id",
        "trace_id",
        "status_code",
        "model_effective",
        "provider",
        "api_key_hash",
        "metadata_gin",
    )
}


RECORDER = Recorder(make_settings())


def record(n: int = 0, **fields: object) -> TrafficRecord:
    ex = Exchange(f"req-{n}", {})
    ex.method, ex.route, ex.dialect, ex.status = "POST", "/chat/completions", "openai", 200
    made = RECORDER.record(ex)
    return msgspec.structs.replace(made, **fields)


async def test_migrations_create_the_contract_table_once(postgres_dsn: str) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        assert await applied_version(conn) == 0
        # Workers starting together: the advisory lock lets one apply, the others wait.
        others = [await asyncpg.connect(postgres_dsn) for _ in range(2)]
        results = await asyncio.gather(migrate(conn), *(migrate(o) for o in others))
        for o in others:
            await o.close()
        assert sorted(v for r in results for v in r) == [m.version for m in MIGRATIONS]
        assert await applied_version(conn) == LATEST
        assert await migrate(conn) == []  # idempotent
        names = {
            r["indexname"]
            for r in await conn.fetch(
                "SELECT indexname FROM pg_indexes WHERE tablename = $1", TABLE
            )
        }
        assert names >= CONTRACT_INDEXES
        columns = await conn.fetch(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = $1 ORDER BY ordinal_position",
            TABLE,
        )
        assert len(columns) == 26 and columns[0]["column_name"] == "id"
        assert (columns[22]["column_name"], columns[22]["data_type"]) == ("metadata", "jsonb")
    finally:
        await conn.close()


async def test_a_locked_down_database_needs_no_ddl_once_migrated(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    db = postgres_dsn.rsplit("/", 1)[1]
    postgres_server.psql(
        f"CREATE ROLE {db}_w LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC;", db
    )  # roles are the server's, not the database's: one named after this test's database
    writer_dsn = postgres_dsn.replace("gpt2giga@", f"{db}_w@")
    writer = Database(writer_dsn)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await writer.ensure_schema()  # not migrated yet, and it may not create tables
    admin = await asyncpg.connect(postgres_dsn)
    assert await migrate(admin) == [m.version for m in MIGRATIONS]  # what `gpt2giga migrate` does
    await admin.execute(f"GRANT SELECT, INSERT ON {TABLE}, gpt2giga_schema_migrations TO {db}_w")
    await admin.close()
    await writer.ensure_schema()  # at the latest version: a read, no DDL
    assert await writer.insert([record(1)]) == 0
    await writer.close()


async def test_a_table_made_by_the_fastapi_gateway_is_adopted(postgres_dsn: str) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    await conn.execute(MIGRATIONS[0].sql)  # their 0001 migration, without our bookkeeping
    await conn.execute(
        f"INSERT INTO {TABLE} (id, created_at, request_id, protocol, route, method) "
        "VALUES (gen_random_uuid(), now(), 'theirs', 'openai', '/v1/chat/completions', 'POST')"
    )
    db = Database(postgres_dsn)
    await db.ensure_schema()
    await db.insert([record(1)])
    rows = await conn.fetch(f"SELECT request_id FROM {TABLE} ORDER BY request_id")
    assert [r["request_id"] for r in rows] == ["req-1", "theirs"]
    await conn.close()
    await db.close()


async def test_requests_become_rows_with_the_contract_columns(
    upstream: respx.MockRouter, postgres_dsn: str
) -> None:
    upstream.post(V1_CHAT).respond(json=ANSWER)
    app = build_app(
        GPT2GIGA_TRAFFIC_LOG_ENABLED="true",
        GPT2GIGA_TRAFFIC_LOG_SINK="postgres",
        GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN=postgres_dsn,
        GPT2GIGA_TRAFFIC_LOG_CAPTURE_CONTENT="true",
    )
    await app.startup()
    body = {"model": "GigaChat-2-Max", "messages": [{"role": "user", "content": "hi"}]}
    async with over(app) as c:
        answer = await c.post("/v1/chat/completions", json=body, headers={"x-trace-id": "t-9"})
    await app.shutdown()
    conn = await asyncpg.connect(postgres_dsn)
    row = await conn.fetchrow(f"SELECT * FROM {TABLE}")
    await conn.close()
    assert str(row["id"]) and row["created_at"].tzinfo is not None
    assert row["request_id"] == answer.headers["x-request-id"] and row["trace_id"] == "t-9"
    assert (row["protocol"], row["route"], row["method"]) == ("openai", "/chat/completions", "POST")
    assert (row["status_code"], row["upstream_status_code"]) == (200, 200)
    assert (row["input_tokens"], row["output_tokens"], row["total_tokens"]) == (5, 2, 7)
    assert (row["model_requested"], row["model_effective"]) == ("GigaChat-2-Max",) * 2
    assert isinstance(row["latency_ms"], int) and isinstance(row["upstream_latency_ms"], int)
    metadata = msgspec.json.decode(row["metadata"])
    assert metadata["lifecycle"] == "request_completed" and metadata["contract"] == "v1"
    assert msgspec.json.decode(row["request_body"]) == body
    response = msgspec.json.decode(row["response_body"])
    assert response["choices"][0]["message"]["content"] == "Hi!"


async def test_nul_characters_are_stored_replaced_and_a_bad_row_costs_only_itself(
    postgres_dsn: str,
) -> None:
    db = Database(postgres_dsn)
    rows = [
        record(1, model_requested="Giga\x00Chat", request_body_redacted={"k\x00": "v\x00"}),
        record(2, input_tokens=2**40),  # out of the column's range: refused
        record(3),
    ]
    assert await db.insert(rows) == 1
    conn = await asyncpg.connect(postgres_dsn)
    found = await conn.fetch(
        f"SELECT request_id, model_requested, request_body FROM {TABLE} ORDER BY request_id"
    )
    await conn.close()
    await db.close()
    assert [r["request_id"] for r in found] == ["req-1", "req-3"]
    assert found[0]["model_requested"] == "Giga\ufffdChat"
    assert msgspec.json.decode(found[0]["request_body"]) == {"k\ufffd": "v\ufffd"}


async def test_a_record_sent_twice_is_stored_once(postgres_dsn: str) -> None:
    db = Database(postgres_dsn)
    one = record(1)
    await db.insert([one])
    await db.insert([one, record(2)])  # a batch retried after its answer was lost
    pool = await db.pool()
    assert await pool.fetchval(f"SELECT count(*) FROM {TABLE}") == 2
    await db.close()


async def test_retention_deletes_everything_expired_not_one_batch(postgres_dsn: str) -> None:
    db = Database(postgres_dsn)
    await db.ensure_schema()
    now = datetime.now(UTC)
    old = [record(n, created_at=now - timedelta(days=40)) for n in range(12_000)]
    for start in range(0, len(old), 2_000):
        await db.insert(old[start : start + 2_000])
    await db.insert([record(99_999, created_at=now - timedelta(days=1))])
    sink = PostgresSink(db, retention_days=30, purge_interval_s=3600)
    await sink.open()  # the job runs at start, then every interval
    pool = await db.pool()

    async def one_left() -> bool:
        return bool(await pool.fetchval(f"SELECT count(*) FROM {TABLE}") == 1)

    await eventually(one_left, within=30)
    await sink.close()
    assert await pool.fetchval(f"SELECT request_id FROM {TABLE}") == "req-99999"
    await db.close()


async def test_a_purge_can_be_bounded_and_says_whether_it_is_complete(postgres_dsn: str) -> None:
    db = Database(postgres_dsn)
    await db.ensure_schema()
    old = datetime.now(UTC) - timedelta(days=10)
    await db.insert([record(n, created_at=old) for n in range(25)])
    cutoff = datetime.now(UTC) - timedelta(days=5)
    first = await db.purge(cutoff, batch_size=10, max_batches=2)
    assert (first.deleted, first.batches, first.complete) == (20, 2, False)
    rest = await db.purge(cutoff, batch_size=10, max_batches=5)
    assert (rest.deleted, rest.batches, rest.complete) == (5, 1, True)
    await db.close()


def test_the_migration_sql_keeps_the_contract_names() -> None:
    sql = MIGRATIONS[0].sql
    assert re.search(rf"CREATE TABLE IF NOT EXISTS {TABLE} \(", sql)
    for name in CONTRACT_INDEXES:
        assert f"CREATE INDEX IF NOT EXISTS {name} " in sql


def migrate_command(dsn: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    if dsn is not None:
        env["GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN"] = dsn
    return subprocess.run(
        [sys.executable, "-m", "gpt2giga", "migrate"],
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_migrate_command_needs_only_the_dsn_and_is_idempotent(
    postgres_dsn: str, tmp_path: Path
) -> None:
    first = migrate_command(postgres_dsn, tmp_path)  # no GigaChat credentials anywhere
    assert (first.returncode, first.stdout.strip()) == (
        0,
        f"gpt2giga migrate: schema at version {LATEST} (applied: 1, 2)",
    )
    again = migrate_command(postgres_dsn, tmp_path)
    assert again.stdout.strip().endswith("(applied: none needed)")


def test_the_migrate_command_fails_plainly_without_showing_the_password(tmp_path: Path) -> None:
    unset = migrate_command(None, tmp_path)
    assert unset.returncode != 0
    assert "set GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN" in unset.stderr
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    down = migrate_command(f"postgresql://u:pw-sekrit-9@127.0.0.1:{port}/x", tmp_path)
    assert down.returncode == 1 and "gpt2giga migrate: failed:" in down.stderr
    assert "pw-sekrit-9" not in down.stderr + down.stdout
