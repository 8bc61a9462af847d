"""OpenAI routes: chat completions, models, LiteLLM model info, embeddings.

Each handler decodes the body into a wire struct, calls the pure translator,
talks to GigaChat through the shared client (chat: through `pipeline.Chat`)
and encodes the answer once.
"""

from __future__ import annotations

import array
import base64
import sys

import msgspec
from msgspec import UNSET

from gpt2giga import errors, fields
from gpt2giga.asgi import Request, Response, StreamResponse, ignored_header, parse
from gpt2giga.context import Context
from gpt2giga.gigachat import native
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.request import Options
from gpt2giga.openai import stream, translate
from gpt2giga.openai import wire as oai
from gpt2giga.pipeline import Chat

_decode_chat = msgspec.json.Decoder(oai.ChatCompletionRequest).decode
_decode_embeddings = msgspec.json.Decoder(oai.EmbeddingsRequest).decode
_encode = msgspec.json.Encoder().encode


async def chat_completions(ctx: Context, request: Request) -> Response | StreamResponse:
    req = parse(_decode_chat, request.body)
    opts = Options.build(ctx.settings, request.contract, req.model)
    prepared = translate.to_giga(req, opts)
    native.apply(prepared, fields.scan(request.body, oai.ChatCompletionRequest), opts)
    chat = await Chat.start(ctx, request, opts, prepared)
    completion_id = ctx.new_id("chatcmpl-")
    created = ctx.now()
    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        translator = stream.StreamTranslator(prepared, completion_id, created, include_usage)
        return StreamResponse(await chat.relay(translator, stream.frame), chat.headers)
    _, reply = await chat.reply("call_", completion_id.removeprefix("chatcmpl-"))
    body = translate.from_giga(reply, completion_id, created)
    return Response(_encode(body), headers=chat.headers)


def _model(m: giga.Model, model_id: str | None = None) -> oai.Model:
    metadata = oai.ModelMetadata(type=m.type) if m.type else UNSET
    # GigaChat does not say when a model was made; 0 is the honest timestamp.
    return oai.Model(id=model_id or m.id, created=0, owned_by=m.owned_by, metadata=metadata)


async def list_models(ctx: Context, request: Request) -> Response:
    models = await ctx.models.list(ctx.auth_for(request))
    return Response(_encode(oai.ModelList(data=[_model(m) for m in models.data])))


async def find_model(ctx: Context, request: Request, model_id: str) -> giga.Model:
    """The GigaChat model behind a client's model name (aliases resolved), or NotFound."""
    found = await ctx.models.find(model_id, ctx.auth_for(request))
    if found is None:
        raise errors.NotFound(f"The model `{model_id}` does not exist", param="model")
    return found


async def get_model(ctx: Context, request: Request) -> Response:
    model_id = request.params["model"]
    found = await find_model(ctx, request, model_id)
    return Response(_encode(_model(found, model_id)))


async def model_info(ctx: Context, request: Request) -> Response:
    """LiteLLM's `/model/info`: `?model=` picks one model."""
    wanted = request.query.get("model")
    if wanted:
        models = [await find_model(ctx, request, wanted)]
    else:
        models = (await ctx.models.list(ctx.auth_for(request))).data
    info = [
        oai.ModelInfo(
            model_name=m.id,
            litellm_params=oai.ModelInfoParams(model=m.id),
            model_info=oai.ModelInfoDetails(
                id=m.id, mode="embedding" if m.type == "embedder" else "chat"
            ),
        )
        for m in models
    ]
    return Response(_encode(oai.ModelInfoList(data=info)))


def embedding_inputs(value: str | list[object]) -> list[str]:
    """Text inputs for GigaChat; token ids (LangChain's default) cannot be decoded here."""
    items = [value] if isinstance(value, str) else value
    if not items:
        raise errors.BadRequest("`input` must not be empty", param="input")
    if not all(isinstance(item, str) for item in items):
        raise errors.Unsupported(
            "`input` must be a string or a list of strings; token-id input is not supported "
            "(LangChain: set check_embedding_ctx_length=False)",
            param="input",
        )
    texts = [item for item in items if isinstance(item, str)]
    if any(not t for t in texts):
        raise errors.BadRequest("`input` must not contain empty strings", param="input")
    return texts


def _base64(vector: list[float]) -> str:
    # The openai SDK asks for base64 by default: little-endian float32, as OpenAI sends it.
    # A value past float32's range (GigaChat's are doubles) becomes infinity, as a cast
    # would make it; struct.pack refused it with an OverflowError.
    floats = array.array("f", vector)
    if sys.byteorder == "big":
        floats.byteswap()
    return base64.b64encode(floats.tobytes()).decode()


async def embeddings(ctx: Context, request: Request) -> Response:
    req = parse(_decode_embeddings, request.body)
    texts = embedding_inputs(req.input)
    proxy = ctx.settings.proxy
    model = (
        ctx.settings.resolve_model(req.model)
        if req.model and proxy.pass_model
        else proxy.embeddings
    )
    result = await ctx.upstream.embeddings(model, texts, ctx.auth_for(request))
    as_text = req.encoding_format == "base64"
    data = [
        oai.EmbeddingOut(embedding=_base64(e.embedding) if as_text else e.embedding, index=e.index)
        for e in result.data
    ]
    tokens = sum(e.usage.prompt_tokens for e in result.data)
    body = oai.EmbeddingsResponse(
        data=data,
        model=result.model or model,
        usage=oai.EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )
    ignored = ["dimensions"] if req.dimensions is not None else []
    ignored += ["user"] if req.user is not None else []
    ignored += fields.scan(request.body, oai.EmbeddingsRequest).unknown
    return Response(_encode(body), headers=ignored_header(ignored))
