"""Model limits across processes: lease books in SQLite and in a real Redis, and SharedLimits.

Two backends opened on the same file or the same Redis stand for two worker
processes (the e2e tests run real ones). Lease times are short and real: the
keeper renews on the event loop's clock, Redis expires by its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from gpt2giga import errors
from gpt2giga.state.limits import Limiter
from gpt2giga.state.local import SqliteBackend
from gpt2giga.state.redis import RedisBackend
from gpt2giga.state.store import Backend, SharedStore
from tests.redis_server import RedisServer

LEASE_S = 1.0


class Recorder:
    """The metrics' view: slot events and the store's state, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int]] = []

    def held(self, model: str, delta: int) -> None:
        self.events.append(("held", model, delta))

    def waiting(self, model: str, delta: int) -> None:
        self.events.append(("waiting", model, delta))

    def refused(self, model: str) -> None:
        self.events.append(("refused", model, 1))

    def store_up(self, up: bool) -> None:
        self.events.append(("store_up", "", int(up)))

    def limit_fallback(self, model: str) -> None:
        self.events.append(("fallback", model, 1))


class Processes:
    """Backends on one store, each as another worker process would open it; closed at the end."""

    def __init__(self, make: Callable[[float], Backend]) -> None:
        self._make = make
        self.backends: list[Backend] = []
        self.stores: list[SharedStore] = []

    def __call__(self, lease_seconds: float = LEASE_S) -> Backend:
        backend = self._make(lease_seconds)
        self.backends.append(backend)
        return backend

    def limits(self, recorder: Recorder | None = None, timeout: float | None = None) -> Limiter:
        store = SharedStore("shared", self._make(LEASE_S), recorder, LEASE_S)
        self.stores.append(store)
        return store.limits({"M": 1}, None, timeout, recorder)

    async def close(self) -> None:
        for store in self.stores:
            await store.close()
        for backend in self.backends:
            await backend.close()


@pytest.fixture(params=["sqlite", "redis"])
async def backends(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Processes]:
    def make(lease_seconds: float) -> Backend:
        if request.param == "sqlite":
            return SqliteBackend(tmp_path / "state.sqlite3", lease_seconds=lease_seconds)
        server: RedisServer = request.getfixturevalue("redis_server")
        return RedisBackend(
            server.url,
            prefix=request.getfixturevalue("redis_prefix"),
            max_connections=4,
            timeout=0.5,
            lease_seconds=lease_seconds,
        )

    processes = Processes(make)
    yield processes
    await processes.close()


# --- the book ---------------------------------------------------------------------------------


async def test_leases_up_to_the_limit_then_a_queue_served_in_arrival_order(
    backends: Processes,
) -> None:
    one, two = backends(), backends()
    assert [await one.take("M", "h1", 2), await two.take("M", "h2", 2)] == [True, True]
    assert [await one.take("M", "h3", 2), await two.take("M", "h4", 2)] == [False, False]
    await one.give_back("M", "h1")
    assert await two.take("M", "h4", 2) is False  # h3 queued first
    assert await one.take("M", "h3", 2) is True
    assert await one.take("M", "h3", 2) is True  # asking again, held: still yes
    await two.give_back("M", "h2")
    assert await two.take("M", "h4", 2) is True
    assert await one.take("Other", "h5", 1) is True  # models do not share slots


async def test_a_lease_lasts_while_renewed_then_expires(backends: Processes) -> None:
    one, two = backends(lease_seconds=0.6), backends(lease_seconds=0.6)
    assert await one.take("M", "h1", 1) is True
    await asyncio.sleep(0.4)
    await one.renew("M", ["h1"], [])
    await asyncio.sleep(0.4)  # past the first expiry, not the renewed one
    assert await two.take("M", "h2", 1) is False
    await asyncio.sleep(0.5)
    assert await two.take("M", "h2", 1) is True


async def test_a_waiter_that_stops_asking_leaves_the_queue(backends: Processes) -> None:
    one, two = backends(lease_seconds=0.5), backends(lease_seconds=0.5)
    assert await one.take("M", "h1", 1) is True
    assert await two.take("M", "gone", 1) is False  # queued, then never heard of again
    assert await one.take("M", "h3", 1) is False
    await one.give_back("M", "h1")
    assert await one.take("M", "h3", 1) is False  # `gone` is still ahead
    await asyncio.sleep(0.7)
    assert await one.take("M", "h3", 1) is True


async def test_renewing_writes_back_a_lease_the_store_lost(backends: Processes) -> None:
    one, two = backends(), backends()
    assert await one.take("M", "h1", 1) is True
    await one.give_back("M", "h1")  # as a Redis restart (or a stall past expiry) would
    await one.renew("M", ["h1"], [])  # the call is still running: it counts again
    assert await two.take("M", "h2", 1) is False


async def test_a_sqlite_lease_of_a_process_that_died_is_free_at_once(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from gpt2giga.state.local import SqliteBackend\n"
        "b = SqliteBackend(Path(sys.argv[1]), lease_seconds=30)\n"
        "print(asyncio.run(b.take('M', 'dead', 1)), flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    mine = SqliteBackend(path, lease_seconds=30)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, str(path), stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and (await proc.stdout.readline()).strip() == b"True"
        assert await mine.take("M", "h1", 1) is False
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        assert await mine.take("M", "h1", 1) is True  # not 30 s later
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await mine.close()


# --- SharedLimits over the book ---------------------------------------------------------------


async def test_a_limit_of_one_holds_across_two_processes(backends: Processes) -> None:
    first, second = backends.limits(), backends.limits(timeout=0)
    waiting = backends.limits()
    release = await first.acquire("M")
    with pytest.raises(errors.RateLimited) as refused:
        await second.acquire("M")
    assert refused.value.retry_after == 1
    assert refused.value.message == (
        "Too many concurrent requests for model M; the gateway allows 1 at a time"
    )
    later = asyncio.ensure_future(waiting.acquire("M"))
    await asyncio.sleep(0.2)
    assert not later.done()
    release()
    (await asyncio.wait_for(later, 2))()


async def test_waiters_of_two_processes_are_served_in_the_order_they_queued(
    backends: Processes,
) -> None:
    one, two = backends.limits(), backends.limits()
    order: list[str] = []

    async def call(limiter: Limiter, name: str) -> None:
        release = await limiter.acquire("M")
        order.append(name)
        await asyncio.sleep(0.05)
        release()

    held = await one.acquire("M")
    first = asyncio.ensure_future(call(two, "two"))
    await asyncio.sleep(0.15)  # `two` has its ticket
    second = asyncio.ensure_future(call(one, "one"))
    await asyncio.sleep(0.15)
    held()
    await asyncio.wait_for(asyncio.gather(first, second), 3)
    assert order == ["two", "one"]


async def test_a_long_call_keeps_its_lease_past_the_lease_time(backends: Processes) -> None:
    holder, other = backends.limits(), backends.limits(timeout=0)
    release = await holder.acquire("M")
    await asyncio.sleep(LEASE_S * 2.5)  # renewed by the keeper meanwhile
    with pytest.raises(errors.RateLimited):
        await other.acquire("M")
    release()
    await asyncio.sleep(0.2)  # given back in the background
    (await other.acquire("M"))()


async def test_the_observer_sees_the_calls_it_sees_in_one_process(backends: Processes) -> None:
    recorder = Recorder()
    first = backends.limits(recorder, timeout=0.3)
    release = await first.acquire("M")
    with pytest.raises(errors.RateLimited):
        await first.acquire("M")
    release()
    (await first.acquire("Unlimited"))()
    assert recorder.events == [
        ("held", "M", 1),
        ("waiting", "M", 1),
        ("refused", "M", 1),
        ("waiting", "M", -1),
        ("held", "M", -1),
        ("held", "Unlimited", 1),
        ("held", "Unlimited", -1),
    ]


async def test_with_redis_down_each_process_keeps_the_limit_alone_and_says_so(
    own_redis: RedisServer, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    def backend() -> RedisBackend:
        return RedisBackend(
            own_redis.url, prefix=redis_prefix, max_connections=4, timeout=0.5, lease_seconds=1
        )

    recorders = [Recorder(), Recorder()]
    stores = [SharedStore("redis", backend(), r, LEASE_S) for r in recorders]
    one, two = (s.limits({"M": 1}, None, 0, r) for s, r in zip(stores, recorders, strict=True))
    caplog.set_level(logging.WARNING, "gpt2giga")
    own_redis.stop()
    held_one = await one.acquire("M")  # no store: this process's own slot is enough
    held_two = await two.acquire("M")  # and the other's: the total may reach 2
    with pytest.raises(errors.RateLimited):
        await one.acquire("M")  # never more than the limit in one process
    assert ("store_up", "", 0) in recorders[0].events
    assert ("fallback", "M", 1) in recorders[0].events
    assert "state store Redis unreachable (ConnectionError)" in caplog.text
    assert own_redis.url not in caplog.text and str(own_redis.port) not in caplog.text

    own_redis.start()
    for store in stores:
        await until(lambda s=store: s.health.up)  # type: ignore[misc]
    assert "state store Redis reachable again" in caplog.text
    assert recorders[0].events[-1] == ("store_up", "", 1)
    stores.append(SharedStore("redis", backend(), None, LEASE_S))
    third = stores[-1].limits({"M": 1}, None, 0, None)
    await asyncio.sleep(LEASE_S / 3 + 0.3)  # the keepers write the live slots back
    with pytest.raises(errors.RateLimited):
        await third.acquire("M")
    held_one()
    held_two()
    await asyncio.sleep(0.2)
    (await third.acquire("M"))()
    for store in stores:
        await store.close()


async def until(condition: Callable[[], bool]) -> None:
    """Wait up to 5 s for `condition`: the store's probe runs once a second."""
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within 5 s")
