"""Per-model concurrency limits for upstream calls: FIFO slots, a wait bound, live counts.

`GPT2GIGA_MODEL_MAX_CONNECTIONS` caps concurrent GigaChat calls per model; a
caller waits in arrival order for a slot and gets `RateLimited` (429 with
Retry-After, rendered in its own dialect) when the wait bound passes. The
GigaChat client holds a slot for a call, and for a stream until it is closed.
Nothing here knows HTTP or a dialect.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Protocol

from gpt2giga import errors

Release = Callable[[], None]
RETRY_AFTER_S = 1.0


class Observer(Protocol):
    """What metrics want to know about slots; the same calls for limited models and not."""

    def held(self, model: str, delta: int) -> None: ...

    def waiting(self, model: str, delta: int) -> None: ...

    def refused(self, model: str) -> None: ...


class Limiter(Protocol):
    """What the GigaChat client holds a call under: this process's `Limits`, or shared leases."""

    async def acquire(self, model: str) -> Release: ...


def refusal(model: str, limit: int) -> errors.RateLimited:
    return errors.RateLimited(
        f"Too many concurrent requests for model {model}; the gateway allows {limit} at a time",
        retry_after=RETRY_AFTER_S,
    )


class Gate:
    """Slots for one model. A freed slot is handed straight to the longest waiter."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.waiters: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        if self.used < self.limit and not self.waiters:
            self.used += 1
            return True
        return False

    async def wait(self, patience: float | None) -> bool:
        """Queue for a slot; False when `patience` seconds pass first (None: no bound)."""
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            async with asyncio.timeout(patience):
                await waiter
        except (TimeoutError, asyncio.CancelledError) as exc:
            if waiter.cancelled():
                with contextlib.suppress(ValueError):  # give_back may have dropped it
                    self.waiters.remove(waiter)
            else:
                # A slot was handed over in the same instant the wait ended: pass it on.
                self.give_back()
            if isinstance(exc, TimeoutError):
                return False
            raise
        return True

    def give_back(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.used -= 1


class Limits:
    """The process's per-model slots; unlisted models use the default limit, if any."""

    def __init__(
        self,
        per_model: dict[str, int] | None = None,
        default: int | None = None,
        timeout: float | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._per_model = dict(per_model or {})
        self._default = default
        self._timeout = timeout
        self._observer = observer
        # Only models with a call in flight or waiting: a client inventing model
        # names cannot grow this.
        self.gates: dict[str, Gate] = {}

    def limit(self, model: str) -> int | None:
        return self._per_model.get(model, self._default)

    async def acquire(self, model: str) -> Release:
        """A slot for one upstream call to `model`; call the result to free it (twice is fine)."""
        gate = self._gate(model)
        if gate is not None and not gate.try_take():
            await self._wait(gate, model)
        if self._observer is not None:
            self._observer.held(model, 1)
        return _Slot(self, gate, model)

    def try_acquire(self, model: str) -> Release | None:
        """A slot if one is free now and nobody waits for it; None otherwise."""
        gate = self._gate(model)
        if gate is not None and not gate.try_take():
            return None
        if self._observer is not None:
            self._observer.held(model, 1)
        return _Slot(self, gate, model)

    def _gate(self, model: str) -> Gate | None:
        gate = self.gates.get(model)
        if gate is None:
            limit = self.limit(model)
            if limit is not None:
                gate = self.gates[model] = Gate(limit)
        return gate

    async def _wait(self, gate: Gate, model: str) -> None:
        observer = self._observer
        if self._timeout == 0:
            ok = False
        else:
            if observer is not None:
                observer.waiting(model, 1)
            try:
                ok = await gate.wait(self._timeout)
            finally:
                if observer is not None:
                    observer.waiting(model, -1)
        if not ok:
            self._forget_if_idle(gate, model)
            if observer is not None:
                observer.refused(model)
            raise refusal(model, gate.limit)

    def release(self, gate: Gate | None, model: str) -> None:
        if gate is not None:
            gate.give_back()
            self._forget_if_idle(gate, model)
        if self._observer is not None:
            self._observer.held(model, -1)

    def _forget_if_idle(self, gate: Gate, model: str) -> None:
        if gate.used == 0 and not gate.waiters and self.gates.get(model) is gate:
            del self.gates[model]


class _Slot:
    """A held slot; freeing it twice is a no-op (a stream's close may run more than once)."""

    __slots__ = ("_gate", "_limits", "_model")

    def __init__(self, limits: Limits | None, gate: Gate | None, model: str) -> None:
        self._limits = limits
        self._gate = gate
        self._model = model

    def __call__(self) -> None:
        limits, self._limits = self._limits, None
        if limits is not None:
            limits.release(self._gate, self._model)


UNLIMITED = Limits()
