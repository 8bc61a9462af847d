"""The Responses API's stored responses: what `previous_response_id` and `GET /responses/{id}` need.

`ResponseStore` encodes each `StoredResponse` (MessagePack) into a table of
the state store, which the app builds once and hands to the Responses
handlers: in memory for one process, shared by every worker and replica
otherwise (`gpt2giga/state/`), bounded by count (oldest out first) and by age
either way. It knows nothing of HTTP or of GigaChat's wire beyond the hub
message structs it keeps.
"""

from __future__ import annotations

import msgspec

from gpt2giga.gigachat import wire as giga
from gpt2giga.state.store import Table


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
    """Stored responses by id in `table`; every call may raise `StateUnavailable`."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def check(self) -> None:
        """Refuse before GigaChat is asked, when the answer could not be kept."""
        self.table.check()

    async def put(self, response_id: str, stored: StoredResponse) -> None:
        await self.table.put(response_id, _encode(stored))

    async def get(self, response_id: str) -> StoredResponse | None:
        found = await self.table.get(response_id)
        return None if found is None else _decode(found)

    async def delete(self, response_id: str) -> bool:
        return await self.table.delete(response_id)


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(StoredResponse).decode
