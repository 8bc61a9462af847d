"""Shared state for several workers on one box without Redis: one SQLite file in WAL mode.

Every worker opens the same file in the run directory the CLI made (or
`GPT2GIGA_STATE_DIR`); each operation is one `BEGIN IMMEDIATE` transaction,
so SQLite's file lock makes it atomic across the workers: a response stored by
one is there for the next request whichever worker takes it, and the count of
leases of a model never passes its limit. sqlite3 blocks, so calls run on one
thread of this process's own. Expiry is by the wall clock, which every worker
on the box shares; a lease whose process is gone is freed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Transactions here last microseconds: a worker waiting longer than this for the
# lock is a store in trouble, and the caller falls back or gets its 503.
BUSY_TIMEOUT_S = 2.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    tbl TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
    expires REAL NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (tbl, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_age ON entries (tbl, seq);
CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries (tbl, expires);
CREATE TABLE IF NOT EXISTS leases (
    model TEXT NOT NULL, holder TEXT NOT NULL,
    node TEXT NOT NULL, pid INTEGER NOT NULL, expires REAL NOT NULL,
    ticket INTEGER,  -- NULL: the lease is held; a number: the holder's place in the queue
    PRIMARY KEY (model, holder)
) WITHOUT ROWID;
"""


class SqliteBackend:
    name = "SQLite"
    failures: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)

    def __init__(
        self, path: Path, *, lease_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._path = path
        self._lease_seconds = lease_seconds
        self._clock = clock
        self._db: sqlite3.Connection | None = None
        self._jobs = Jobs()
        self._node = os.uname().nodename  # pids mean something on this box only
        self._pid = os.getpid()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._jobs.run(fn, *args)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db or self._open()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        db.commit()

    def _open(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            self._path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA journal_mode=WAL")
        # Losing the last writes to a power cut is fine for this state; a fsync per write is not.
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        self._db = db
        return db

    async def ping(self) -> None:
        await self._call(self._ping)

    def _ping(self) -> None:
        with self._tx() as db:
            db.execute("SELECT 1")

    async def close(self) -> None:
        if self._db is not None:
            await self._call(self._db.close)
            self._db = None
        self._jobs.close()

    # --- tables ---------------------------------------------------------------------------

    async def get(self, table: str, key: str) -> bytes | None:
        return await self._call(self._get, table, key)

    def _get(self, table: str, key: str) -> bytes | None:
        db = self._db or self._open()
        row = db.execute(
            "SELECT value FROM entries WHERE tbl = ? AND key = ? AND expires > ?",
            (table, key, self._clock()),
        ).fetchone()
        return None if row is None else bytes(row[0])

    async def put(self, table: str, key: str, value: bytes, size: int, ttl: float) -> None:
        await self._call(self._put, table, key, value, size, ttl)

    def _put(self, table: str, key: str, value: bytes, size: int, ttl: float) -> None:
        now = self._clock()
        with self._tx() as db:
            db.execute("DELETE FROM entries WHERE tbl = ? AND expires <= ?", (table, now))
            (seq,) = db.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM entries WHERE tbl = ?", (table,)
            ).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)",
                (table, key, value, now + ttl, seq),
            )
            # Every index lookup, no count: the last `size` numbers handed out are kept.
            # A replaced or deleted entry leaves a gap, so a table may hold fewer.
            db.execute("DELETE FROM entries WHERE tbl = ? AND seq <= ?", (table, seq - size))

    async def delete(self, table: str, key: str) -> bool:
        return await self._call(self._delete, table, key)

    def _delete(self, table: str, key: str) -> bool:
        with self._tx() as db:
            gone = db.execute(
                "DELETE FROM entries WHERE tbl = ? AND key = ? AND expires > ?",
                (table, key, self._clock()),
            )
            return gone.rowcount > 0

    # --- leases ---------------------------------------------------------------------------

    async def take(self, model: str, holder: str, limit: int) -> bool:
        return await self._call(self._take, model, holder, limit)

    def _take(self, model: str, holder: str, limit: int) -> bool:
        now = self._clock()
        expires = now + self._lease_seconds
        with self._tx() as db:
            self._sweep(db, model, now)
            row = db.execute(
                "SELECT ticket FROM leases WHERE model = ? AND holder = ?", (model, holder)
            ).fetchone()
            if row is not None and row[0] is None:
                return True  # already held: a repeated try
            held, queued = db.execute(
                "SELECT count(*) - count(ticket), count(ticket) FROM leases WHERE model = ?",
                (model,),
            ).fetchone()
            if row is None:
                if held < limit and queued == 0:
                    self._insert(db, model, holder, expires, None)
                    return True
                ticket = db.execute(
                    "SELECT coalesce(max(ticket), 0) + 1 FROM leases WHERE model = ?", (model,)
                ).fetchone()[0]
                self._insert(db, model, holder, expires, ticket)
                ahead = queued
            else:
                ahead = db.execute(
                    "SELECT count(*) FROM leases WHERE model = ? AND ticket < ?", (model, row[0])
                ).fetchone()[0]
            if ahead < limit - held:
                db.execute(
                    "UPDATE leases SET ticket = NULL, expires = ? WHERE model = ? AND holder = ?",
                    (expires, model, holder),
                )
                return True
            db.execute(
                "UPDATE leases SET expires = ? WHERE model = ? AND holder = ?",
                (expires, model, holder),
            )
            return False

    def _insert(
        self, db: sqlite3.Connection, model: str, holder: str, expires: float, ticket: int | None
    ) -> None:
        db.execute(
            "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?, ?)",
            (model, holder, self._node, self._pid, expires, ticket),
        )

    def _sweep(self, db: sqlite3.Connection, model: str, now: float) -> None:
        """Drop expired leases and those of processes of this box that are gone."""
        db.execute("DELETE FROM leases WHERE model = ? AND expires <= ?", (model, now))
        pids = db.execute(
            "SELECT DISTINCT pid FROM leases WHERE model = ? AND node = ? AND pid != ?",
            (model, self._node, self._pid),
        ).fetchall()
        for (pid,) in pids:
            if not _alive(pid):
                db.execute("DELETE FROM leases WHERE node = ? AND pid = ?", (self._node, pid))

    async def renew(self, model: str, held: list[str], waiting: list[str]) -> None:
        await self._call(self._renew, model, held, waiting)

    def _renew(self, model: str, held: list[str], waiting: list[str]) -> None:
        expires = self._clock() + self._lease_seconds
        with self._tx() as db:
            # A held lease that is missing (expired while this process was stalled) is
            # written back: the call is still running and counts against the limit.
            for holder in held:
                self._insert(db, model, holder, expires, None)
            db.executemany(
                "UPDATE leases SET expires = ? WHERE model = ? AND holder = ?",
                [(expires, model, holder) for holder in waiting],
            )

    async def give_back(self, model: str, holder: str) -> None:
        await self._call(self._give_back, model, holder)

    def _give_back(self, model: str, holder: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM leases WHERE model = ? AND holder = ?", (model, holder))


class Jobs:
    """The calls of concurrent requests run on the state thread together, one hop for all.

    A hop to a thread and back costs more CPU than most of these SQLite calls
    (tens of microseconds); calls that come while one hop is out go together
    in the next.
    """

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="gpt2giga-state")
        self._queue: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._busy = False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((lambda: fn(*args), waiter))
        if not self._busy:
            self._busy = True
            self._hop()
        return await waiter

    def _hop(self) -> None:
        batch, self._queue = self._queue, []
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(self._thread, _each, [job for job, _ in batch])
        done.add_done_callback(lambda f: self._landed(batch, f))

    def _landed(self, batch: list[tuple[Callable[[], Any], asyncio.Future[Any]]], f: Any) -> None:
        cancelled: list[tuple[bool, Any]] = [(False, asyncio.CancelledError())] * len(batch)
        outcomes = cancelled if f.cancelled() else f.result()
        for (_, waiter), (ok, value) in zip(batch, outcomes, strict=True):
            if waiter.done():
                continue
            if ok:
                waiter.set_result(value)
            else:
                waiter.set_exception(value)
        if self._queue:
            self._hop()
        else:
            self._busy = False

    def close(self) -> None:
        self._thread.shutdown(wait=False)


def _each(jobs: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
    """On the state thread: every job, each one's result or exception."""
    outcomes: list[tuple[bool, Any]] = []
    for job in jobs:
        try:
            outcomes.append((True, job()))
        except Exception as exc:
            outcomes.append((False, exc))
    return outcomes


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True
