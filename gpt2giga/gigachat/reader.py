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
from gpt2giga.gigachat.upstream import Contract, exc_name
from gpt2giga.observe import exchange
from gpt2giga.state.limits import Release

_decode_chunk_v1 = msgspec.json.Decoder(giga.ChatCompletionChunkV1).decode
_decode_chunk_v2 = msgspec.json.Decoder(giga.ChatCompletionChunk).decode


def hub_chunk(v1: bool, event: str | None, data: bytes) -> giga.ChatCompletionChunk:
    """One upstream SSE event as a v2 hub chunk (a v1 `data:` line is converted)."""
    try:
        if v1:
            return contract.chunk_from_v1(_decode_chunk_v1(data))
        chunk = _decode_chunk_v2(data)
    except msgspec.DecodeError:
        raise errors.UpstreamError("GigaChat sent a malformed stream chunk") from None
    if event is not None:
        chunk.event = event
    return chunk


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
        parser = sse.SSEParser()
        self._reader = asyncio.current_task()
        try:
            async for raw in self._response.aiter_bytes():
                if not self._exchange.first_chunk:
                    self._exchange.first_chunk = perf_counter()
                batch: list[giga.ChatCompletionChunk] = []
                for event, data in parser.feed(raw):
                    if data == sse.DONE:
                        if batch:
                            yield batch
                        return
                    batch.append(self._chunk(event, data))
                if batch:
                    yield batch
            batch = [
                self._chunk(event, data) for event, data in parser.finish() if data != sse.DONE
            ]
            if batch:
                yield batch
        except errors.GatewayError as err:  # a malformed chunk
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

    def _chunk(self, event: str | None, data: bytes) -> giga.ChatCompletionChunk:
        chunk = hub_chunk(self._v1, event, data)
        if chunk.usage is not None:
            self._exchange.tokens_in = chunk.usage.input_tokens
            self._exchange.tokens_out = chunk.usage.output_tokens
        return chunk

    async def aclose(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()
            self._exchange.upstream_seconds += perf_counter() - self._started
        if self._owner is not None:
            self._owner.discard(self)
        await self._response.aclose()
