"""The Responses API's stored responses: what `previous_response_id` and `GET /responses/{id}` need.

Process state, one `ResponseStore` that the app builds once and hands to the
Responses handlers: a `state.ttl.TTLMap` bounded by count (oldest out
first) and by age. It knows nothing of HTTP or of GigaChat's wire beyond the
hub message structs it keeps. With several Granian workers each process has
its own store.
"""

from __future__ import annotations

import msgspec

from gpt2giga.gigachat import wire as giga
from gpt2giga.state.ttl import TTLMap


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


class ResponseStore(TTLMap[str, StoredResponse]):
    """At most `size` responses by id, each for at most `ttl` seconds; `size` 0 keeps nothing."""
