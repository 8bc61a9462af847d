"""OpenAI Responses routes: `POST /responses` (whole or streamed), `GET`/`DELETE /responses/{id}`.

Each create decodes the body, finds the response it continues, translates,
talks to GigaChat and encodes once; the answer is kept in the context's store
unless the client sent `store: false`. A GigaChat thread that is gone (404)
is replaced once by the whole stored conversation. The store may be shared
(Redis, or SQLite across workers) and down: a request that needs it (a
continuation, a retrieve, a delete, a create that is to be stored) is then
refused with 503 before GigaChat is asked. If the store fails while GigaChat
answers, a whole answer is refused the same way (it could not be continued);
a stream has sent its answer already, so that failure is logged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import msgspec

from gpt2giga import errors, fields, sse
from gpt2giga.asgi import Contract, Request, Response, StreamResponse, ignored_header, parse
from gpt2giga.context import Context
from gpt2giga.gigachat import answer, native
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.auth import TokenSource
from gpt2giga.gigachat.reader import UpstreamStream
from gpt2giga.gigachat.request import Options
from gpt2giga.openai.responses import output, stream, translate
from gpt2giga.openai.responses import wire as rsp
from gpt2giga.openai.responses.store import StoredResponse

_decode = msgspec.json.Decoder(rsp.ResponsesRequest).decode
_encode = msgspec.json.Encoder().encode
log = logging.getLogger("gpt2giga")


async def create(ctx: Context, request: Request) -> Response | StreamResponse:
    req = parse(_decode, request.body)
    opts = Options.build(ctx.settings, request.contract, req.model)
    turn = translate.to_giga(req, opts, await _previous(ctx, req.previous_response_id))
    taken = native.apply(turn.prepared, fields.scan(request.body, rsp.ResponsesRequest), opts)
    if turn.full is not None:
        # The same fields on the fallback; what it would name was named above.
        native.place(turn.full, taken, opts, turn.prepared.structured is not None)
    if turn.store:
        ctx.responses.check()
    auth = ctx.auth_for(request)
    if turn.prepared.attachments:
        await ctx.uploads.resolve(turn.prepared.attachments, auth)
    response_id = ctx.new_id("resp_")
    base = output.skeleton(req, response_id, ctx.now(), opts.model)
    headers = ignored_header(turn.prepared.ignored)
    if req.stream:
        upstream = await _open(ctx, turn, opts.contract, auth)
        translator = stream.StreamTranslator(turn, base, ctx.new_id)
        return StreamResponse(_relay(ctx, upstream, translator, turn), headers)
    resp = await _chat(ctx, turn, opts.contract, auth)
    reply = answer.reply(resp, turn.prepared, "call_", response_id.removeprefix("resp_"))
    reply.model = reply.model or opts.model  # v2 answers may leave `model` out
    runs = output.tool_runs(resp.tool_execution, resp.messages)
    body = _encode(output.from_giga(reply, runs, base, turn.names, ctx.new_id))
    if turn.store:
        await ctx.responses.put(response_id, output.record(turn, reply, body, resp.thread_id))
    return Response(body, headers=headers)


async def _previous(ctx: Context, response_id: str | None) -> StoredResponse | None:
    if response_id is None:
        return None
    found = await ctx.responses.get(response_id)
    if found is None:
        raise errors.NotFound(
            f"Previous response with id '{response_id}' not found: it was never stored here "
            "(store: false), has expired, or was deleted",
            param="previous_response_id",
        )
    return found


async def _chat(
    ctx: Context, turn: translate.Turn, contract: Contract, auth: TokenSource | None
) -> giga.ChatCompletionResponse:
    try:
        return await ctx.upstream.chat(turn.prepared.request, contract, auth, turn.prepared.extra)
    except errors.NotFound:
        if turn.full is None:
            raise
    turn.prepared.request = turn.full
    return await ctx.upstream.chat(turn.full, contract, auth, turn.prepared.extra)


async def _open(
    ctx: Context, turn: translate.Turn, contract: Contract, auth: TokenSource | None
) -> UpstreamStream:
    try:
        return await ctx.upstream.stream(turn.prepared.request, contract, auth, turn.prepared.extra)
    except errors.NotFound:
        if turn.full is None:
            raise
    turn.prepared.request = turn.full
    return await ctx.upstream.stream(turn.full, contract, auth, turn.prepared.extra)


async def _relay(
    ctx: Context,
    upstream: UpstreamStream,
    translator: stream.StreamTranslator,
    turn: translate.Turn,
) -> AsyncIterator[bytes]:
    """The event stream; the finished response is stored before its last frame goes out."""
    frames = sse.relay(upstream, translator, stream.frame)
    kept = not turn.store
    try:
        async for data in frames:
            final = translator.response
            if not kept and final is not None:
                kept = True
                record = output.record(turn, translator.reply, _encode(final), translator.thread_id)
                try:
                    await ctx.responses.put(final.id, record)
                except errors.StateUnavailable as err:
                    log.warning("response %s was streamed but not stored: %s", final.id, err)
            yield data
    finally:
        aclose = getattr(frames, "aclose", None)
        if aclose is not None:
            await aclose()


def _not_found(response_id: str) -> errors.NotFound:
    return errors.NotFound(f"Response with id '{response_id}' not found", param="response_id")


async def retrieve(ctx: Context, request: Request) -> Response:
    response_id = request.params["response_id"]
    found = await ctx.responses.get(response_id)
    if found is None:
        raise _not_found(response_id)
    if request.query.get("stream", "").lower() == "true":
        raise errors.Unsupported(
            "Replaying a stored response as a stream is not supported", param="stream"
        )
    return Response(found.body)


async def delete(ctx: Context, request: Request) -> Response:
    response_id = request.params["response_id"]
    if not await ctx.responses.delete(response_id):
        raise _not_found(response_id)
    return Response(_encode(rsp.Deleted(id=response_id)))
