"""An opened GigaChat stream: SSE bytes in, v2 hub chunks out, one list per network read.

`client.py` opens it; the dialects' relays read it. Failures mid-stream become
the gateway's error family here (an httpx error never leaves), and the first
chunk's time and the final usage go on the request's exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from time import perf_counter
from typing import Any

import httpx
import msgspec

from gpt2giga import errors, sse
from gpt2giga.gigachat import contract
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.upstream import Contract, exc_name
from gpt2giga.observe import exchange
from gpt2giga.state.limits import Release

# Lax, as pydantic is in the SDK: a count as "12" or 12.0 is still a count.
_decode_chunk_v1 = msgspec.json.Decoder(giga1.ChatCompletionChunkV1, strict=False).decode
_decode_chunk_v2 = msgspec.json.Decoder(giga.ChatCompletionChunk, strict=False).decode
_decode_error = msgspec.json.Decoder(giga.ErrorBody, strict=False).decode

# v2 events that must be answer chunks. The SDK reads every named event as a
# chunk; one it cannot read under another name (a tool's progress, a new kind
# of event) is skipped here rather than failing the answer, and so is an
# unnamed one, which the SDK never reads at all.
CHUNK_EVENTS = frozenset({"response.message.delta", "response.message.done"})
# Events that report a failure mid-stream: `{"status": ..., "message": ...}`.
ERROR_EVENTS = frozenset({"error", "response.error"})


def hub_chunk(v1: bool, event: str | None, data: bytes) -> giga.ChatCompletionChunk | None:
    """One upstream SSE event as a v2 hub chunk (a v1 `data:` line converted); None: skip it."""
    if v1:
        try:
            return contract.chunk_from_v1(_decode_chunk_v1(data))
        except msgspec.DecodeError:
            raise errors.UpstreamError("GigaChat sent a malformed stream chunk") from None
    if event in ERROR_EVENTS:
        raise _stream_error(data)
    try:
        chunk = _decode_chunk_v2(data)
    except msgspec.DecodeError:
        if event in CHUNK_EVENTS:
            raise errors.UpstreamError("GigaChat sent a malformed stream chunk") from None
        return None
    if chunk.event is None:  # the SDK, too, keeps a name the payload gives itself
        chunk.event = event
    return chunk


def _stream_error(data: bytes) -> errors.GatewayError:
    try:
        body = _decode_error(data)
    except msgspec.DecodeError:
        body = giga.ErrorBody()
    text = "GigaChat failed mid-stream" + (f": {body.message}" if body.message else "")
    return errors.from_upstream(body.status or 502, text)


class UpstreamStream:
    """An opened GigaChat stream, yielding v2 hub chunks; close it when done.

    It holds its model's concurrency slot until closed, and notes the first
    chunk's time and the final usage on the request's exchange.
    """

    def __init__(
        self,
        response: httpx.Response,
        contract_: Contract,
        release: Release | None = None,
        owner: set[UpstreamStream] | None = None,
        started: float | None = None,
    ) -> None:
        self._response = response
        self._v1 = contract_ == "v1"
        self._release = release
        self._owner = owner
        self._exchange = exchange.current()
        self._started = perf_counter() if started is None else started
        self._reader: asyncio.Task[Any] | None = None
        self._abort: errors.GatewayError | None = None
        if owner is not None:
            owner.add(self)

    async def batches(self) -> AsyncGenerator[list[giga.ChatCompletionChunk], None]:
        """The chunks of each upstream read together, so that each read becomes one
        write to the client: a fast upstream delivers many events per read, and a
        send to Granian costs more than translating an event."""
        # The SDK reads each v1 `data:` line as a chunk of its own.
        parser = sse.SSEParser(each_line=self._v1)
        self._reader = asyncio.current_task()
        try:
            async for raw in self._response.aiter_bytes():
                if not self._exchange.first_chunk:
                    self._exchange.first_chunk = perf_counter()
                batch, end = self._batch(parser.feed(raw))
                if batch:
                    yield batch
                if end is not None:
                    break
            else:
                batch, end = self._batch(parser.finish())
                if batch:
                    yield batch
            if isinstance(end, errors.GatewayError):
                raise end
        except errors.GatewayError as err:  # a malformed chunk, an error event
            self._exchange.upstream_error = err.kind
            raise
        except httpx.TimeoutException:
            timeout = self._failed(errors.UpstreamTimeout("GigaChat stopped sending mid-stream"))
            raise timeout from None
        except httpx.TransportError as exc:
            broke = self._failed(errors.UpstreamError(f"GigaChat stream broke: {exc_name(exc)}"))
            raise broke from None
        except asyncio.CancelledError:
            if self._abort is None or self._reader is None:
                raise
            # The gateway's own cancel (`abort`), not the client's: end as an error event.
            self._reader.uncancel()
            self._exchange.error = self._abort.kind
            raise self._abort from None

    def _failed(self, err: errors.GatewayError) -> errors.GatewayError:
        self._exchange.upstream_error = err.kind
        return err

    def abort(self, err: errors.GatewayError) -> None:
        """Stop the stream from outside (shutdown): its reader sees `err` as a failure."""
        if self._abort is None and self._reader is not None and not self._reader.done():
            self._abort = err
            self._reader.cancel()

    def _batch(
        self, events: list[tuple[str | None, bytes]]
    ) -> tuple[list[giga.ChatCompletionChunk], errors.GatewayError | bool | None]:
        """The chunks of `events`, and what ended the stream among them: `[DONE]` (True)
        or a failure, raised only after the chunks that came before it are out."""
        batch: list[giga.ChatCompletionChunk] = []
        for event, data in events:
            if data.strip() == sse.DONE:
                return batch, True
            try:
                chunk = hub_chunk(self._v1, event, data)
            except errors.GatewayError as err:
                return batch, err
            if chunk is None:
                continue
            if chunk.usage is not None:
                self._exchange.tokens_in = chunk.usage.tokens_in
                self._exchange.tokens_out = chunk.usage.tokens_out
            batch.append(chunk)
        return batch, None

    async def aclose(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()
            self._exchange.upstream_seconds += perf_counter() - self._started
        if self._owner is not None:
            self._owner.discard(self)
        await self._response.aclose()
