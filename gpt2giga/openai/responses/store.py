"""The Responses API's stored responses: what `previous_response_id` and `GET /responses/{id}` need.

Process state, owned by one `ResponseStore` that `Context` builds once: an
in-memory map bounded by count (oldest out first) and by age. It knows
nothing of HTTP or of GigaChat's wire beyond the hub message structs it keeps.
With several Granian workers each process has its own store.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

import msgspec

from gpt2giga.gigachat import wire as giga


class StoredResponse(msgspec.Struct, kw_only=True):
    """One answered response, enough to continue its conversation or show it again."""

    body: bytes  # the Response object as the client first received it
    # System/developer texts from input items: carried into the next turn
    # (`instructions` are not, as OpenAI documents).
    system: list[str] = []
    # The conversation without its system message, this answer included, as GigaChat reads it.
    messages: list[giga.ChatMessage] = []
    calls: dict[str, str] = {}  # call_id -> GigaChat function name, for later outputs
    thread_id: str | None = None  # GigaChat v2 thread holding the same conversation
    thread_system: str = ""  # the system text that thread was given


class ResponseStore:
    """At most `size` responses, each for at most `ttl` seconds; `size` 0 keeps nothing."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._ttl = ttl
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, StoredResponse]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, response_id: str, stored: StoredResponse) -> None:
        if self._size <= 0:
            return
        self._expire()
        self._items[response_id] = (self._clock() + self._ttl, stored)
        self._items.move_to_end(response_id)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def get(self, response_id: str) -> StoredResponse | None:
        entry = self._items.get(response_id)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._items[response_id]
            return None
        return entry[1]

    def delete(self, response_id: str) -> bool:
        return self.get(response_id) is not None and self._items.pop(response_id) is not None

    def _expire(self) -> None:
        # Entries go in with the same TTL, so the oldest insertions expire first.
        now = self._clock()
        while self._items:
            expires, _ = next(iter(self._items.values()))
            if expires > now:
                return
            self._items.popitem(last=False)
