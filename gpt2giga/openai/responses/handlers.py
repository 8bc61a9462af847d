"""OpenAI Responses routes: `POST /responses` (whole or streamed), `GET`/`DELETE /responses/{id}`.

Each create decodes the body, finds the response it continues, translates,
talks to GigaChat through `pipeline.Chat` and encodes once; the answer is
kept in the store unless the client sent `store: false`. A GigaChat thread
that is gone (404) is replaced once by the whole stored conversation
(`Turn.full`, which the pipeline sends). The store is built by the app on its
state store and handed to `Responses`; debug translate reads it through
`create`. The store may be shared (Redis, or SQLite across workers) and down:
a request that needs it (a continuation, a retrieve, a delete, a create that
is to be stored) is then refused with 503 before GigaChat is asked. If the
store fails while GigaChat answers, a whole answer is refused the same way (it
could not be continued); a stream has sent its answer already, so that
failure is logged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import msgspec

from gpt2giga import errors, fields
from gpt2giga.asgi import Request, Response, StreamResponse, parse
from gpt2giga.config import Settings
from gpt2giga.context import Context
from gpt2giga.gigachat import native
from gpt2giga.gigachat.request import Options
from gpt2giga.openai.responses import output, stream, translate
from gpt2giga.openai.responses import wire as rsp
from gpt2giga.openai.responses.store import ResponseStore, StoredResponse
from gpt2giga.pipeline import Chat
from gpt2giga.router import Handler
from gpt2giga.state.store import Store

_decode = msgspec.json.Decoder(rsp.ResponsesRequest).decode
_encode = msgspec.json.Encoder().encode
log = logging.getLogger("gpt2giga")


class Responses:
    """`POST /responses`, `GET` and `DELETE /responses/{id}` over one store of responses."""

    def __init__(self, store: ResponseStore) -> None:
        self.store = store

    @classmethod
    def from_settings(cls, settings: Settings, state: Store) -> Responses:
        proxy = settings.proxy
        size, ttl = proxy.responses_store_size, proxy.responses_store_ttl_seconds
        return cls(ResponseStore(state.table("responses", size, ttl)))

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", "/responses", self.create),
            ("GET", "/responses/{response_id}", self.retrieve),
            ("DELETE", "/responses/{response_id}", self.delete),
        ]

    async def create(self, ctx: Context, request: Request) -> Response | StreamResponse:
        req = parse(_decode, request.body)
        opts = Options.build(ctx.settings, request.contract, req.model)
        turn = translate.to_giga(req, opts, await self._previous(req.previous_response_id))
        taken = native.apply(turn.prepared, fields.scan(request.body, rsp.ResponsesRequest), opts)
        if turn.full is not None:
            # The same fields on the fallback; what it would name was named above.
            native.place(turn.full, taken, opts, turn.prepared.structured is not None)
        if turn.store:
            self.store.check()
        chat = await Chat.start(ctx, request, opts, turn.prepared, turn.full)
        response_id = ctx.new_id("resp_")
        base = output.skeleton(req, response_id, ctx.now(), opts.model)
        if req.stream:
            translator = stream.StreamTranslator(turn, base, ctx.new_id)
            frames = await chat.relay(translator, stream.frame)
            return StreamResponse(self._kept(frames, translator, turn), chat.headers)
        resp, reply = await chat.reply("call_", response_id.removeprefix("resp_"))
        runs = output.tool_runs(resp.tool_execution, resp.messages)
        body = _encode(output.from_giga(reply, runs, base, turn.names, ctx.new_id))
        if turn.store:
            await self.store.put(response_id, output.record(turn, reply, body, resp.thread_id))
        return Response(body, headers=chat.headers)

    async def _previous(self, response_id: str | None) -> StoredResponse | None:
        if response_id is None:
            return None
        found = await self.store.get(response_id)
        if found is None:
            raise errors.NotFound(
                f"Previous response with id '{response_id}' not found: it was never stored here "
                "(store: false), has expired, or was deleted",
                param="previous_response_id",
            )
        return found

    async def _kept(
        self,
        frames: AsyncIterator[bytes],
        translator: stream.StreamTranslator,
        turn: translate.Turn,
    ) -> AsyncIterator[bytes]:
        """The event stream; the finished response is stored before its last frame goes out."""
        kept = not turn.store
        try:
            async for data in frames:
                final = translator.response
                if not kept and final is not None:
                    kept = True
                    record = output.record(
                        turn, translator.reply, _encode(final), translator.thread_id
                    )
                    try:
                        await self.store.put(final.id, record)
                    except errors.StateUnavailable as err:
                        log.warning("response %s was streamed but not stored: %s", final.id, err)
                yield data
        finally:
            aclose = getattr(frames, "aclose", None)
            if aclose is not None:
                await aclose()

    async def retrieve(self, ctx: Context, request: Request) -> Response:
        response_id = request.params["response_id"]
        found = await self.store.get(response_id)
        if found is None:
            raise _not_found(response_id)
        if request.query.get("stream", "").lower() == "true":
            raise errors.Unsupported(
                "Replaying a stored response as a stream is not supported", param="stream"
            )
        return Response(found.body)

    async def delete(self, ctx: Context, request: Request) -> Response:
        response_id = request.params["response_id"]
        if not await self.store.delete(response_id):
            raise _not_found(response_id)
        return Response(_encode(rsp.Deleted(id=response_id)))


def _not_found(response_id: str) -> errors.NotFound:
    return errors.NotFound(f"Response with id '{response_id}' not found", param="response_id")
