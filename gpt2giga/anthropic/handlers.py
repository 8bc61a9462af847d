"""Anthropic routes: messages (streamed or not), count_tokens, models, Claude Code's probe.

Each handler decodes the body into a wire struct, calls the pure translator,
talks to GigaChat through the shared client (messages: through
`pipeline.Chat`) and encodes the answer once.
"""

from __future__ import annotations

import msgspec

from gpt2giga import errors, fields
from gpt2giga.anthropic import stream, translate
from gpt2giga.anthropic import wire as ant
from gpt2giga.asgi import Request, Response, StreamResponse, ignored_header, parse
from gpt2giga.context import Context
from gpt2giga.gigachat import native
from gpt2giga.gigachat.request import Options
from gpt2giga.pipeline import Chat

_decode_messages = msgspec.json.Decoder(ant.MessagesRequest).decode
_decode_count = msgspec.json.Decoder(ant.CountTokensRequest).decode
_encode = msgspec.json.Encoder().encode

# Models have no release date in GigaChat's catalog; Anthropic's API documents
# the epoch for "unknown".
UNKNOWN_DATE = "1970-01-01T00:00:00Z"
DEFAULT_PAGE = 20  # Anthropic's `limit` default for /v1/models


def betas(request: Request) -> list[str]:
    value = request.headers.get("anthropic-beta", "")
    return [b.strip() for b in value.split(",") if b.strip()]


async def messages(ctx: Context, request: Request) -> Response | StreamResponse:
    req = parse(_decode_messages, request.body)
    opts = Options.build(ctx.settings, request.contract, req.model)
    prepared = translate.to_giga(req, opts, betas(request))
    native.apply(prepared, fields.scan(request.body, ant.MessagesRequest), opts)
    chat = await Chat.start(ctx, request, opts, prepared)
    message_id = ctx.new_id("msg_")
    if req.stream:
        translator = stream.StreamTranslator(prepared, message_id)
        # GigaChat can think for minutes before its first token; Claude Code and
        # HTTP proxies drop a stream that stays silent, so `ping` fills the gaps.
        keepalive = ctx.settings.proxy.stream_keepalive_seconds or None
        chunks = await chat.relay(translator, stream.frame, keepalive, stream.PING_FRAME)
        return StreamResponse(chunks, chat.headers)
    _, reply = await chat.reply("toolu_", message_id.removeprefix("msg_"))
    return Response(_encode(translate.from_giga(reply, message_id)), headers=chat.headers)


async def count_tokens(ctx: Context, request: Request) -> Response:
    req = parse(_decode_count, request.body)
    opts = Options.build(ctx.settings, request.contract, req.model)
    texts, ignored = translate.texts_to_count(req, opts, betas(request))
    # No `extra_body` on a count: GigaChat's tokens/count takes texts alone, so every
    # field the struct does not read is only named.
    ignored += fields.scan(request.body, ant.CountTokensRequest).unknown
    counts = await ctx.upstream.tokens_count(opts.model, texts, ctx.auth_for(request))
    body = ant.TokensCount(input_tokens=sum(c.tokens for c in counts))
    return Response(_encode(body), headers=ignored_header(ignored))


async def hello(ctx: Context, request: Request) -> Response:
    """Claude Code's reachability probe (`HEAD /api/hello`)."""
    return Response(b"{}")


def _model(model_id: str) -> ant.ModelInfo:
    return ant.ModelInfo(id=model_id, display_name=model_id, created_at=UNKNOWN_DATE)


def _limit(request: Request) -> int:
    raw = request.query.get("limit", "")
    if not raw:
        return DEFAULT_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise errors.BadRequest("limit: must be an integer from 1 to 1000", param="limit")
    return int(raw)


async def list_models(ctx: Context, request: Request) -> Response:
    """Chat models only, paged as Anthropic pages (`limit`, `after_id`, `before_id`)."""
    catalog = await ctx.models.list(ctx.auth_for(request))
    ids = [m.id for m in catalog.data if m.type != "embedder"]
    limit = _limit(request)
    after, before = request.query.get("after_id"), request.query.get("before_id")
    if before is not None:
        end = ids.index(before) if before in ids else len(ids)
        page, more = ids[max(end - limit, 0) : end], end > limit
    else:
        start = ids.index(after) + 1 if after in ids else 0
        page, more = ids[start : start + limit], start + limit < len(ids)
    body = ant.ModelList(
        data=[_model(i) for i in page],
        has_more=more,
        first_id=page[0] if page else None,
        last_id=page[-1] if page else None,
    )
    return Response(_encode(body))


async def get_model(ctx: Context, request: Request) -> Response:
    model_id = request.params["model"]
    if await ctx.models.find(model_id, ctx.auth_for(request)) is None:
        raise errors.NotFound(f"model: {model_id}", param="model")
    return Response(_encode(_model(model_id)))
