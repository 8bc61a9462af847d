"""Gemini routes: generateContent (whole, SSE, JSON array), countTokens, embeddings, models.

Each handler decodes the body into a wire struct, calls the pure translator,
talks to GigaChat through the shared client (generateContent: through
`pipeline.Chat`) and encodes the answer once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

from gpt2giga import errors, fields
from gpt2giga.asgi import JSON, Request, Response, StreamResponse, ignored_header, parse
from gpt2giga.context import Context
from gpt2giga.gemini import contents, spelling, stream, translate
from gpt2giga.gemini import wire as gem
from gpt2giga.gigachat import request as build
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.request import Options
from gpt2giga.pipeline import Chat

_decode_generate = spelling.decoder(gem.GenerateContentRequest)
_decode_count = spelling.decoder(gem.CountTokensRequest)
_decode_embed = spelling.decoder(gem.EmbedContentRequest)
_decode_batch = spelling.decoder(gem.BatchEmbedContentsRequest)
_encode = msgspec.json.Encoder().encode

GENERATION_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]
EMBEDDING_METHODS = ["embedContent", "batchEmbedContents"]
# Accepted, not applied: GigaChat embeds text as it is, at its own size.
EMBEDDING_IGNORED = (
    ("task_type", "taskType"),
    ("title", "title"),
    ("output_dimensionality", "outputDimensionality"),
)
# Google's default and largest page of models.
PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


async def _chat(ctx: Context, request: Request) -> tuple[gem.GenerateContentRequest, Chat]:
    req = parse(_decode_generate, request.body)
    opts = Options.build(
        ctx.settings, request.contract, translate.model_name(request.params["model"])
    )
    prepared = translate.to_giga(req, opts)
    # Gemini clients have no `extra_body`: what the struct does not read is only named.
    prepared.ignored += fields.scan(request.body, gem.GenerateContentRequest).unknown
    return req, await Chat.start(ctx, request, opts, prepared)


async def generate_content(ctx: Context, request: Request) -> Response:
    req, chat = await _chat(ctx, request)
    response_id = ctx.new_id("")
    _, reply = await chat.reply(translate.CALL_PREFIX, response_id)
    body = translate.from_giga(reply, response_id, translate.wants_thoughts(req))
    return Response(_encode(body), headers=chat.headers)


async def stream_generate_content(ctx: Context, request: Request) -> StreamResponse:
    req, chat = await _chat(ctx, request)
    response_id = ctx.new_id("")
    translator = stream.StreamTranslator(chat.prepared, response_id, translate.wants_thoughts(req))
    if request.query.get("alt") == "sse":
        return StreamResponse(await chat.relay(translator, stream.sse_frame), chat.headers)
    framer = stream.ArrayFrame()
    chunks = _array(await chat.relay(translator, framer), framer)
    return StreamResponse(chunks, chat.headers, content_type=JSON)


async def _array(chunks: AsyncIterator[bytes], framer: stream.ArrayFrame) -> AsyncIterator[bytes]:
    """The relayed elements, then the array's closing bracket."""
    try:
        async for chunk in chunks:
            yield chunk
        yield framer.close()
    finally:
        # Closed from outside (the client left), the relay must still close the upstream.
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


async def count_tokens(ctx: Context, request: Request) -> Response:
    counted = parse(_decode_count, request.body)
    req = translate.count_request(counted)
    opts = Options.build(
        ctx.settings, request.contract, translate.model_name(request.params["model"])
    )
    prepared = translate.to_giga(req, opts)
    texts = build.texts_to_count(prepared.request)
    # Named as generateContent names them, under the request they came in.
    prefix = "generateContentRequest." if counted.generate_content_request is not None else ""
    ignored = [prefix + path for path in prepared.ignored]
    ignored += fields.scan(request.body, gem.CountTokensRequest).unknown
    counts = await ctx.upstream.tokens_count(opts.model, texts, ctx.auth_for(request))
    body = gem.CountTokensResponse(total_tokens=sum(c.tokens for c in counts))
    return Response(_encode(body), headers=ignored_header(ignored))


def _embedding_model(ctx: Context, request: Request) -> str:
    proxy = ctx.settings.proxy
    name = translate.model_name(request.params["model"])
    return ctx.settings.resolve_model(name) if proxy.pass_model else proxy.embeddings


def _embedding_ignored(items: list[gem.EmbedContentRequest]) -> list[str]:
    return [
        wire for attr, wire in EMBEDDING_IGNORED if any(getattr(r, attr) is not None for r in items)
    ]


async def _embed(ctx: Context, request: Request, texts: list[str]) -> list[gem.ContentEmbedding]:
    model = _embedding_model(ctx, request)
    result = await ctx.upstream.embeddings(model, texts, ctx.auth_for(request))
    if len(result.data) != len(texts):
        raise errors.UpstreamError(
            f"GigaChat returned {len(result.data)} embeddings for {len(texts)} texts"
        )
    ordered = sorted(result.data, key=lambda e: e.index)
    return [gem.ContentEmbedding(values=e.embedding) for e in ordered]


async def embed_content(ctx: Context, request: Request) -> Response:
    req = parse(_decode_embed, request.body)
    [embedding] = await _embed(ctx, request, [contents.embedding_text(req.content, "content")])
    body = gem.EmbedContentResponse(embedding=embedding)
    ignored = _embedding_ignored([req]) + fields.scan(request.body, gem.EmbedContentRequest).unknown
    return Response(_encode(body), headers=ignored_header(ignored))


async def batch_embed_contents(ctx: Context, request: Request) -> Response:
    req = parse(_decode_batch, request.body)
    if not req.requests:
        raise errors.BadRequest("`requests` must not be empty", param="requests")
    texts = [
        contents.embedding_text(r.content, f"requests[{i}].content")
        for i, r in enumerate(req.requests)
    ]
    body = gem.BatchEmbedContentsResponse(embeddings=await _embed(ctx, request, texts))
    ignored = _embedding_ignored(req.requests)
    ignored += fields.scan(request.body, gem.BatchEmbedContentsRequest).unknown
    return Response(_encode(body), headers=ignored_header(ignored))


# --- models -----------------------------------------------------------------------------


def _model(m: giga.Model, model_id: str | None = None) -> gem.Model:
    model_id = model_id or m.id
    embedder = m.type == "embedder"
    return gem.Model(
        name=f"models/{model_id}",
        base_model_id=model_id,
        display_name=model_id,
        description=f"GigaChat {'embeddings' if embedder else 'chat'} model {m.id}",
        supported_generation_methods=EMBEDDING_METHODS if embedder else GENERATION_METHODS,
    )


def _page(request: Request) -> tuple[int, int]:
    """(offset, size) from `pageToken` (an offset this gateway issued) and `pageSize`."""
    query = request.query
    try:
        size = int(query.get("pageSize") or PAGE_SIZE)
        offset = int(query.get("pageToken") or 0)
    except ValueError:
        raise errors.BadRequest("pageSize and pageToken must be integers") from None
    if size < 0 or offset < 0:
        raise errors.BadRequest("pageSize and pageToken must not be negative")
    return offset, min(size or PAGE_SIZE, MAX_PAGE_SIZE)


async def list_models(ctx: Context, request: Request) -> Response:
    offset, size = _page(request)
    models = (await ctx.models.list(ctx.auth_for(request))).data
    page = [_model(m) for m in models[offset : offset + size]]
    more = offset + size < len(models)
    body = gem.ListModelsResponse(
        models=page, next_page_token=str(offset + size) if more else msgspec.UNSET
    )
    return Response(_encode(body))


async def get_model(ctx: Context, request: Request) -> Response:
    model_id = translate.model_name(request.params["model"])
    found = await ctx.models.find(model_id, ctx.auth_for(request))
    if found is None:
        raise errors.NotFound(f"models/{model_id} is not found", param="model")
    return Response(_encode(_model(found, model_id)))
