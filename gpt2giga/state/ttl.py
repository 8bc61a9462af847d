"""A bounded map whose entries expire: the in-process form of state that outlives a request.

Bounded by count (the oldest insertion goes first) and by age (every entry
lives `ttl` seconds from its last `put`). Stored responses and uploaded-file
ids both keep one. The clock is injected; nothing here does I/O.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLMap(Generic[K, V]):
    """At most `size` entries, each for at most `ttl` seconds; `size` 0 keeps nothing."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._ttl = ttl
        self._clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key: K, value: V) -> None:
        if self._size <= 0:
            return
        self._expire()
        self._items[key] = (self._clock() + self._ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def get(self, key: K) -> V | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._items[key]
            return None
        return entry[1]

    def delete(self, key: K) -> bool:
        """True when a live entry was removed; an expired one counts as gone."""
        return self.get(key) is not None and self._items.pop(key, None) is not None

    def _expire(self) -> None:
        # Entries go in with the same TTL, so the oldest insertions expire first.
        now = self._clock()
        while self._items:
            expires, _ = next(iter(self._items.values()))
            if expires > now:
                return
            self._items.popitem(last=False)
