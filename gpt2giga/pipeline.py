"""The chat pipeline every dialect's chat handler runs, after its own decode and `to_giga`.

`Chat.start` takes a translated request on: the request's GigaChat
credentials, its attachments uploaded; then `reply` reads one whole answer
(its model filled in when GigaChat leaves it out) or `relay` opens the
upstream stream and drives the dialect's stream translator over it. A
conversation GigaChat no longer holds (a 404 for a v2 thread) is sent once
more in full when the handler has it. Nothing here knows a dialect's wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from gpt2giga import errors, sse
from gpt2giga.asgi import Contract, Headers, Request, ignored_header
from gpt2giga.context import Context
from gpt2giga.gigachat import answer
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.auth import TokenSource
from gpt2giga.gigachat.request import Options, Prepared

T = TypeVar("T")
E = TypeVar("E")
Send = Callable[
    [giga.ChatCompletionRequest, Contract, TokenSource | None, dict[str, Any] | None], Awaitable[T]
]


class Chat:
    """One translated chat request on its way to GigaChat and back."""

    __slots__ = ("_full", "auth", "ctx", "opts", "prepared")

    def __init__(
        self,
        ctx: Context,
        opts: Options,
        prepared: Prepared,
        auth: TokenSource | None,
        full: giga.ChatCompletionRequest | None = None,
    ) -> None:
        self.ctx = ctx
        self.opts = opts
        self.prepared = prepared
        self.auth = auth
        self._full = full

    @classmethod
    async def start(
        cls,
        ctx: Context,
        request: Request,
        opts: Options,
        prepared: Prepared,
        full: giga.ChatCompletionRequest | None = None,
    ) -> Chat:
        """Credentials, then the attachments as GigaChat file ids; `full` is the fallback
        conversation for a thread GigaChat no longer holds."""
        auth = ctx.auth_for(request)
        if prepared.attachments:
            await ctx.uploads.resolve(prepared.attachments, auth)
        return cls(ctx, opts, prepared, auth, full)

    @property
    def headers(self) -> Headers:
        """What every answer carries: the request fields GigaChat could not apply."""
        return ignored_header(self.prepared.ignored)

    async def reply(
        self, id_prefix: str, fallback_id: str
    ) -> tuple[giga.ChatCompletionResponse, answer.Reply]:
        """One whole answer, and the `Reply` every dialect's `from_giga` reads."""
        resp = await self._send(self.ctx.upstream.chat)
        reply = answer.reply(resp, self.prepared, id_prefix, fallback_id)
        return resp, reply

    async def relay(
        self,
        translator: sse.StreamTranslator[giga.ChatCompletionChunk, E],
        frame: Callable[[list[E]], bytes],
        keepalive: float | None = None,
        ping: bytes = b"",
    ) -> AsyncIterator[bytes]:
        """The upstream stream, opened now (its failures are this request's error
        response), relayed through `translator` as it is read."""
        upstream = await self._send(self.ctx.upstream.stream)
        return sse.relay(upstream, translator, frame, keepalive, ping)

    async def _send(self, send: Send[T]) -> T:
        """The call, with the fields GigaChat has no struct for (`Prepared.extra`)."""
        extra, contract = self.prepared.extra, self.opts.contract
        try:
            return await send(self.prepared.request, contract, self.auth, extra)
        except errors.NotFound:
            if self._full is None:
                raise
        # The handler's own records (the Responses store) must hold what was really sent.
        self.prepared.request = self._full
        return await send(self._full, contract, self.auth, extra)
