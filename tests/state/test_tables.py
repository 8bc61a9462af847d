"""Tables: the same contract in memory, in the one-box SQLite file and in a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from gpt2giga.state.local import SqliteBackend
from gpt2giga.state.memory import MemoryTable
from gpt2giga.state.redis import RedisBackend
from gpt2giga.state.store import Health, SharedTable, Table
from tests.redis_server import RedisServer

KINDS = ["memory", "sqlite", "redis"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


# `make(size, ttl)` -> a table; `later(seconds)` lets that much time pass for it.
Make = Callable[[int, float], Table]
Later = Callable[[float], Awaitable[None]]


@pytest.fixture(params=KINDS)
async def tables(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Make, Later, str]]:
    kind: str = request.param
    clock = Clock()
    backends: list[SqliteBackend | RedisBackend] = []

    async def tick(seconds: float) -> None:
        clock.now += seconds

    def make(size: int, ttl: float) -> Table:
        if kind == "memory":
            return MemoryTable(size, ttl, clock)
        backend: SqliteBackend | RedisBackend
        if kind == "sqlite":
            backend = SqliteBackend(tmp_path / "state.sqlite3", lease_seconds=15, clock=clock)
        else:
            server: RedisServer = request.getfixturevalue("redis_server")
            prefix = request.getfixturevalue("redis_prefix")
            backend = RedisBackend(
                server.url, prefix=prefix, max_connections=4, timeout=1.0, lease_seconds=15
            )
        backends.append(backend)
        return SharedTable(Health(backend, None), "responses", size, ttl)

    # Redis expires keys by its own clock: there, time really passes.
    yield make, (asyncio.sleep if kind == "redis" else tick), kind
    for backend in backends:
        await backend.close()


async def test_what_is_put_comes_back_byte_for_byte(tables: tuple[Make, Later, str]) -> None:
    make, _, _ = tables
    table = make(10, 60.0)
    value = bytes(range(256)) * 4
    await table.put("resp_a", value)
    assert await table.get("resp_a") == value
    assert await table.get("resp_missing") is None


async def test_oldest_goes_first_when_full(tables: tuple[Make, Later, str]) -> None:
    make, _, _ = tables
    table = make(2, 60.0)
    for n in range(3):
        await table.put(f"resp_{n}", str(n).encode())
    assert [await table.get(f"resp_{n}") for n in range(3)] == [None, b"1", b"2"]


async def test_putting_a_key_again_replaces_it_and_renews_its_place(
    tables: tuple[Make, Later, str],
) -> None:
    make, _, _ = tables
    table = make(2, 60.0)
    await table.put("resp_a", b"1")
    await table.put("resp_b", b"b")
    await table.put("resp_a", b"2")
    await table.put("resp_c", b"c")
    assert [await table.get(k) for k in ("resp_a", "resp_b", "resp_c")] == [b"2", None, b"c"]


async def test_entries_expire_after_the_ttl(tables: tuple[Make, Later, str]) -> None:
    make, later, _ = tables
    table = make(10, 0.3)
    await table.put("resp_a", b"a")
    await later(0.1)
    await table.put("resp_b", b"b")
    await later(0.25)
    assert await table.get("resp_a") is None
    assert await table.get("resp_b") == b"b"


async def test_delete_is_true_only_for_a_live_entry(tables: tuple[Make, Later, str]) -> None:
    make, later, _ = tables
    table = make(10, 0.3)
    await table.put("resp_a", b"a")
    await table.put("resp_b", b"b")
    assert await table.delete("resp_a") is True
    assert await table.delete("resp_a") is False
    assert await table.get("resp_a") is None
    await later(0.4)
    assert await table.delete("resp_b") is False  # expired counts as gone


async def test_size_zero_keeps_nothing(tables: tuple[Make, Later, str]) -> None:
    make, _, _ = tables
    table = make(0, 60.0)
    await table.put("resp_a", b"a")
    assert await table.get("resp_a") is None


@pytest.mark.parametrize("tables", ["sqlite", "redis"], indirect=True)
async def test_another_process_sees_what_one_wrote_and_deleted(
    tables: tuple[Make, Later, str],
) -> None:
    make, _, _ = tables
    one, other = make(10, 60.0), make(10, 60.0)  # two backends, as two workers open them
    await one.put("resp_a", b"conversation")
    assert await other.get("resp_a") == b"conversation"
    assert await other.delete("resp_a") is True
    assert await one.get("resp_a") is None
