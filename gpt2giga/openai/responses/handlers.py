"""OpenAI Responses routes: `POST /responses` (whole or streamed), `GET`/`DELETE /responses/{id}`.

Each create decodes the body, finds the response it continues, translates,
talks to GigaChat and encodes once; the answer is kept in the context's store
unless the client sent `store: false`. A GigaChat thread that is gone (404)
is replaced once by the whole stored conversation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

from gpt2giga import errors, sse
from gpt2giga.asgi import Contract, Request, Response, StreamResponse, ignored_header, parse
from gpt2giga.context import Context
from gpt2giga.gigachat import answer
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.auth import TokenSource
from gpt2giga.gigachat.reader import UpstreamStream
from gpt2giga.gigachat.request import Options
from gpt2giga.openai.responses import output, stream, translate
from gpt2giga.openai.responses import wire as rsp
from gpt2giga.openai.responses.store import StoredResponse

_decode = msgspec.json.Decoder(rsp.ResponsesRequest).decode
_encode = msgspec.json.Encoder().encode


async def create(ctx: Context, request: Request) -> Response | StreamResponse:
    req = parse(_decode, request.body)
    opts = Options.build(ctx.settings, request.contract, req.model)
    turn = translate.to_giga(req, opts, _previous(ctx, req.previous_response_id))
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
        ctx.responses.put(response_id, output.record(turn, reply, body, resp.thread_id))
    return Response(body, headers=headers)


def _previous(ctx: Context, response_id: str | None) -> StoredResponse | None:
    if response_id is None:
        return None
    found = ctx.responses.get(response_id)
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
        return await ctx.upstream.chat(turn.prepared.request, contract, auth)
    except errors.NotFound:
        if turn.full is None:
            raise
    turn.prepared.request = turn.full
    return await ctx.upstream.chat(turn.full, contract, auth)


async def _open(
    ctx: Context, turn: translate.Turn, contract: Contract, auth: TokenSource | None
) -> UpstreamStream:
    try:
        return await ctx.upstream.stream(turn.prepared.request, contract, auth)
    except errors.NotFound:
        if turn.full is None:
            raise
    turn.prepared.request = turn.full
    return await ctx.upstream.stream(turn.full, contract, auth)


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
                ctx.responses.put(final.id, record)
            yield data
    finally:
        aclose = getattr(frames, "aclose", None)
        if aclose is not None:
            await aclose()


def _stored(ctx: Context, request: Request) -> tuple[str, StoredResponse]:
    response_id = request.params["response_id"]
    found = ctx.responses.get(response_id)
    if found is None:
        raise errors.NotFound(f"Response with id '{response_id}' not found", param="response_id")
    return response_id, found


async def retrieve(ctx: Context, request: Request) -> Response:
    _, found = _stored(ctx, request)
    if request.query.get("stream", "").lower() == "true":
        raise errors.Unsupported(
            "Replaying a stored response as a stream is not supported", param="stream"
        )
    return Response(found.body)


async def delete(ctx: Context, request: Request) -> Response:
    response_id, _ = _stored(ctx, request)
    ctx.responses.delete(response_id)
    return Response(_encode(rsp.Deleted(id=response_id)))
