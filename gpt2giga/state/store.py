"""The state that outlives a request, chosen once at start-up: tables and per-model limits.

Three modes. One process: everything in memory (`memory.py`, `limits.py`).
Several workers on one box (the CLI names a run directory): a SQLite file
they all open (`local.py`). `GPT2GIGA_REDIS_URL`: Redis (`redis.py`), for any
number of workers and replicas. A shared backend can fail; `Health` notices,
answers requests that need the store with a 503 naming it, lets everything
else go on (limits fall back to each process's own, see `leases.py`), and
probes until the store is back. Nothing here knows a dialect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from gpt2giga import errors
from gpt2giga.state.leases import SharedLimits
from gpt2giga.state.limits import Limiter, Limits
from gpt2giga.state.limits import Observer as SlotObserver
from gpt2giga.state.memory import MemoryTable

if TYPE_CHECKING:
    from typing import ParamSpec

    from gpt2giga.config import Settings

    P = ParamSpec("P")

T = TypeVar("T")
log = logging.getLogger("gpt2giga")

PROBE_S = 1.0  # how often a store that failed is tried again
SQLITE_FILE = "state.sqlite3"


class Table(Protocol):
    """Keyed records with a TTL and a count bound (oldest out first)."""

    def check(self) -> None:
        """Raise `StateUnavailable` now if the store is known to be down (before costly work)."""

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes) -> None: ...

    async def delete(self, key: str) -> bool: ...


class Observer(SlotObserver, Protocol):
    """Slots, plus what metrics want to know about the store itself."""

    def store_up(self, up: bool) -> None: ...

    def limit_fallback(self, model: str) -> None: ...


class Backend(Protocol):
    """A shared store's primitives (SQLite or Redis); `Health` guards every call."""

    name: str  # named in 503 bodies, log lines and /ready: "Redis", "SQLite"
    failures: tuple[type[BaseException], ...]  # what a call raises when the store fails

    async def ping(self) -> None: ...

    async def get(self, table: str, key: str) -> bytes | None: ...

    async def put(self, table: str, key: str, value: bytes, size: int, ttl: float) -> None: ...

    async def delete(self, table: str, key: str) -> bool: ...

    async def take(self, model: str, holder: str, limit: int) -> bool: ...

    async def renew(self, model: str, held: list[str], waiting: list[str]) -> None: ...

    async def give_back(self, model: str, holder: str) -> None: ...

    async def close(self) -> None: ...


class Store(Protocol):
    kind: str  # "memory", "sqlite" or "redis": what /ready and the start-up line say

    def table(self, name: str, size: int, ttl: float) -> Table: ...

    def limits(
        self,
        per_model: dict[str, int],
        default: int | None,
        timeout: float | None,
        observer: Observer | None,
    ) -> Limiter: ...

    async def ready(self) -> str | None:
        """None when the store answers; otherwise why not (no address, no secret)."""

    async def close(self) -> None: ...


class MemoryStore:
    """One process: nothing to share, nothing that can fail."""

    kind = "memory"

    def table(self, name: str, size: int, ttl: float) -> Table:
        return MemoryTable(size, ttl)

    def limits(
        self,
        per_model: dict[str, int],
        default: int | None,
        timeout: float | None,
        observer: Observer | None,
    ) -> Limiter:
        return Limits(per_model, default, timeout, observer)

    async def ready(self) -> str | None:
        return None

    async def close(self) -> None:
        return None


class Health:
    """Whether the shared store answers. The first failure opens the breaker: calls are
    refused at once (no request waits on a dead store) until a probe gets an answer."""

    def __init__(self, backend: Backend, observer: Observer | None) -> None:
        self.backend = backend
        self.up = True
        self._observer = observer
        self._probe: asyncio.Task[None] | None = None

    def unavailable(self) -> errors.StateUnavailable:
        return errors.StateUnavailable(
            f"The gateway's shared state store ({self.backend.name}) is unavailable; retry shortly",
            retry_after=PROBE_S,
        )

    def check(self) -> None:
        if not self.up:
            raise self.unavailable()

    async def run(self, op: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """`op(*args)` unless the store is down; a store failure becomes `StateUnavailable`."""
        self.check()
        try:
            return await op(*args, **kwargs)
        except self.backend.failures as exc:
            self.failed(exc)
            raise self.unavailable() from None

    def failed(self, exc: BaseException) -> None:
        if not self.up:
            return
        self.up = False
        # The exception's class, not its text: a URL or a path has no place in the log.
        log.warning(
            "state store %s unreachable (%s): requests that need it get 503, "
            "model limits are per process until it is back",
            self.backend.name,
            type(exc).__name__,
        )
        if self._observer is not None:
            self._observer.store_up(False)
        self._probe = asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self) -> None:
        while True:
            await asyncio.sleep(PROBE_S)
            try:
                await self.backend.ping()
            except self.backend.failures:
                continue
            self.up = True
            log.warning("state store %s reachable again: shared state resumes", self.backend.name)
            if self._observer is not None:
                self._observer.store_up(True)
            return

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe


class SharedTable:
    """A `Table` in a shared backend, refused while the store is down."""

    def __init__(self, health: Health, name: str, size: int, ttl: float) -> None:
        self._health = health
        self._backend = health.backend
        self._name = name
        self._size = size
        self._ttl = ttl

    def check(self) -> None:
        self._health.check()

    async def get(self, key: str) -> bytes | None:
        return await self._health.run(self._backend.get, self._name, key)

    async def put(self, key: str, value: bytes) -> None:
        if self._size > 0:
            await self._health.run(self._backend.put, self._name, key, value, self._size, self._ttl)

    async def delete(self, key: str) -> bool:
        return await self._health.run(self._backend.delete, self._name, key)


class SharedStore:
    """Tables and leases in a backend every worker (and replica) reaches."""

    def __init__(
        self, kind: str, backend: Backend, observer: Observer | None, lease_seconds: float
    ) -> None:
        self.kind = kind
        self.health = Health(backend, observer)
        self._observer = observer
        self._lease_seconds = lease_seconds
        self._limits: list[SharedLimits] = []

    def table(self, name: str, size: int, ttl: float) -> Table:
        return SharedTable(self.health, name, size, ttl)

    def limits(
        self,
        per_model: dict[str, int],
        default: int | None,
        timeout: float | None,
        observer: Observer | None,
    ) -> Limiter:
        limits = SharedLimits(
            self.health, Limits(per_model, default), timeout, observer, self._lease_seconds
        )
        self._limits.append(limits)
        return limits

    async def ready(self) -> str | None:
        try:
            await self.health.run(self.health.backend.ping)
        except errors.StateUnavailable:
            return f"state store {self.health.backend.name} unreachable"
        return None

    async def close(self) -> None:
        for limits in self._limits:
            await limits.close()
        await self.health.close()
        await self.health.backend.close()


def open_store(settings: Settings, observer: Observer | None = None) -> Store:
    """The store the settings ask for; its client library is imported only then."""
    p = settings.proxy
    if observer is not None:
        observer.store_up(True)  # memory is always up; a shared store until it fails
    if p.redis_url:
        from gpt2giga.state.redis import RedisBackend

        backend: Backend = RedisBackend(
            p.redis_url.value,
            prefix=p.redis_key_prefix,
            max_connections=p.redis_max_connections,
            timeout=p.redis_timeout_seconds,
            lease_seconds=p.model_max_connections_lease_seconds,
        )
        return SharedStore("redis", backend, observer, p.model_max_connections_lease_seconds)
    if p.state_dir:
        from gpt2giga.state.local import SqliteBackend

        backend = SqliteBackend(
            Path(p.state_dir) / SQLITE_FILE, lease_seconds=p.model_max_connections_lease_seconds
        )
        return SharedStore("sqlite", backend, observer, p.model_max_connections_lease_seconds)
    return MemoryStore()
