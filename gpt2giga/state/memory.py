"""A table kept in this process's memory: the state of a gateway that runs as one process.

The `Table` face of `ttl.TTLMap` (bounded by count and by age), so that one
process and a shared store look alike to their users; it holds bytes, so every
backend keeps exactly the same encoded records, and it is never unavailable.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gpt2giga.state.ttl import TTLMap


class MemoryTable:
    """At most `size` entries, each for at most `ttl` seconds; `size` 0 keeps nothing."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._map: TTLMap[str, bytes] = TTLMap(size, ttl, clock)

    def __len__(self) -> int:
        return len(self._map)

    def check(self) -> None:
        """Memory is always there: nothing to refuse before a write."""

    async def get(self, key: str) -> bytes | None:
        return self._map.get(key)

    async def put(self, key: str, value: bytes) -> None:
        self._map.put(key, value)

    async def delete(self, key: str) -> bool:
        return self._map.delete(key)
