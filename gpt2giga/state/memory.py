"""A table kept in this process's memory: the state of a gateway that runs as one process.

Bounded by count (oldest out first) and by age, like its shared twins in
`local.py` and `redis.py`, and never unavailable. It holds bytes, so every
backend stores exactly the same encoded records.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class MemoryTable:
    """At most `size` entries, each for at most `ttl` seconds; `size` 0 keeps nothing."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._ttl = ttl
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def check(self) -> None:
        """Memory is always there: nothing to refuse before a write."""

    async def get(self, key: str) -> bytes | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._items[key]
            return None
        return entry[1]

    async def put(self, key: str, value: bytes) -> None:
        if self._size <= 0:
            return
        self._expire()
        self._items[key] = (self._clock() + self._ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    async def delete(self, key: str) -> bool:
        return await self.get(key) is not None and self._items.pop(key, None) is not None

    def _expire(self) -> None:
        # Entries go in with the same TTL, so the oldest insertions expire first.
        now = self._clock()
        while self._items:
            expires, _ = next(iter(self._items.values()))
            if expires > now:
                return
            self._items.popitem(last=False)
