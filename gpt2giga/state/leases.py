"""Per-model limits across processes: leases in a shared book that live holders renew.

A call first takes a slot of its own process (`limits.Limits`: strict arrival
order inside the process, and the bound that still holds when the store is
down), then a lease in the book (SQLite or Redis). The book queues holders by
ticket, so across processes the order is that in which calls reached the head
of their process's queue. A lease lasts `lease_seconds`; a background keeper
renews this process's leases every third of that, so a process that dies
frees its slots within `lease_seconds` while a long stream keeps its own.
A waiter asks the book again when a lease of this process is given back, or
every POLL_S otherwise (a lease freed elsewhere is seen that late at most).

While the store is down each process enforces the limit on its own (its own
slots only): the total may reach processes × limit. Every such slot is
counted (`limit_fallback`), the outage is logged once by `Health`, and the
keeper registers the slots still held when the store is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from gpt2giga import errors
from gpt2giga.state.limits import Limits, Release, refusal

if TYPE_CHECKING:
    from gpt2giga.state.store import Health, Observer

log = logging.getLogger("gpt2giga")

POLL_S = 0.05
CLOSE_WAIT_S = 1.0  # at shutdown, how long leases being given back may take


class SharedLimits:
    def __init__(
        self,
        health: Health,
        local: Limits,
        timeout: float | None,
        observer: Observer | None,
        lease_seconds: float,
    ) -> None:
        self._health = health
        self._book = health.backend
        self._local = local
        self._timeout = timeout
        self._observer = observer
        self._lease_seconds = lease_seconds
        # Holders of this process by model: what the keeper renews.
        self.held: dict[str, set[str]] = {}
        self.queued: dict[str, set[str]] = {}
        self._freed: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._keeper: asyncio.Task[None] | None = None

    async def acquire(self, model: str) -> Release:
        limit = self._local.limit(model)
        if limit is None:
            return self._unlimited(model)
        if self._keeper is None:
            self._keeper = asyncio.get_running_loop().create_task(self._keep())
        holder = secrets.token_hex(8)
        waits = _Waits(self._observer, model)
        try:
            if self._timeout == 0:  # refuse at once when no slot is free
                local = await self._take(model, holder, limit, None)
            else:
                async with asyncio.timeout(self._timeout):
                    local = await self._take(model, holder, limit, waits)
        except TimeoutError:
            if self._observer is not None:
                self._observer.refused(model)
            raise refusal(model, limit) from None
        finally:
            waits.done()
        self.held.setdefault(model, set()).add(holder)
        if self._observer is not None:
            self._observer.held(model, 1)
        return _Lease(self, model, holder, local)

    def _unlimited(self, model: str) -> Release:
        observer = self._observer
        if observer is None:
            return _noop
        observer.held(model, 1)
        return _Lease(self, model, "", _noop)

    async def _take(self, model: str, holder: str, limit: int, waits: _Waits | None) -> Release:
        """This process's slot, then the lease; without `waits`, TimeoutError rather than wait."""
        local = self._local.try_acquire(model)
        if local is None:
            if waits is None:
                raise TimeoutError
            waits.start()
            local = await self._local.acquire(model)
        queued = self.queued.setdefault(model, set())
        queued.add(holder)  # the keeper renews the place in the queue while it waits
        try:
            while not await self._lease(model, holder, limit):
                if waits is None:
                    raise TimeoutError
                waits.start()
                await self._pause(model)
        except BaseException:
            local()
            self._leave(model, holder)
            raise
        finally:
            queued.discard(holder)
            if not queued and self.queued.get(model) is queued:
                del self.queued[model]
        return local

    async def _lease(self, model: str, holder: str, limit: int) -> bool:
        """One try at the book: True with the lease (or with the store down), False queued."""
        try:
            return await self._health.run(self._book.take, model, holder, limit)
        except errors.StateUnavailable:
            if self._observer is not None:
                self._observer.limit_fallback(model)
            return True  # this process's own slot is what bounds the call now

    async def _pause(self, model: str) -> None:
        freed = self._freed.get(model)
        if freed is None:
            freed = self._freed[model] = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(POLL_S):
                await freed.wait()

    def release(self, model: str, holder: str, local: Release) -> None:
        if not holder:  # an unlimited model: only the count
            if self._observer is not None:
                self._observer.held(model, -1)
            return
        local()
        held = self.held.get(model)
        if held is not None:
            held.discard(holder)
            if not held:
                del self.held[model]
        if self._observer is not None:
            self._observer.held(model, -1)
        self._leave(model, holder)

    def _leave(self, model: str, holder: str) -> None:
        """Give the lease (or the place in the queue) back, off the caller's path."""
        self._spawn(self._give_back(model, holder))

    async def _give_back(self, model: str, holder: str) -> None:
        with contextlib.suppress(errors.StateUnavailable):  # it expires on its own
            await self._health.run(self._book.give_back, model, holder)
        freed = self._freed.pop(model, None)
        if freed is not None:
            freed.set()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _keep(self) -> None:
        """Renew this process's leases and queue places every third of their lifetime."""
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            try:
                await self.renew()
            except errors.StateUnavailable:
                continue
            except Exception:
                log.exception("renewing model leases failed")

    async def renew(self) -> None:
        for model in {*self.held, *self.queued}:
            held = list(self.held.get(model, ()))
            waiting = list(self.queued.get(model, ()))
            if held or waiting:
                await self._health.run(self._book.renew, model, held, waiting)

    async def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=CLOSE_WAIT_S)


class _Waits:
    """Reports one waiting call to the observer once, however many stages it waits in."""

    __slots__ = ("_model", "_observer", "_waiting")

    def __init__(self, observer: Observer | None, model: str) -> None:
        self._observer = observer
        self._model = model
        self._waiting = False

    def start(self) -> None:
        if not self._waiting and self._observer is not None:
            self._waiting = True
            self._observer.waiting(self._model, 1)

    def done(self) -> None:
        if self._waiting and self._observer is not None:
            self._observer.waiting(self._model, -1)


class _Lease:
    """A held lease; freeing it twice is a no-op (a stream's close may run more than once)."""

    __slots__ = ("_holder", "_limits", "_local", "_model")

    def __init__(self, limits: SharedLimits, model: str, holder: str, local: Release) -> None:
        self._limits: SharedLimits | None = limits
        self._model = model
        self._holder = holder
        self._local = local

    def __call__(self) -> None:
        limits, self._limits = self._limits, None
        if limits is not None:
            limits.release(self._model, self._holder, self._local)


def _noop() -> None:
    return None
