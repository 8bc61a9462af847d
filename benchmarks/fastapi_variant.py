"""Our gateway's OpenAI chat route mounted in FastAPI + uvicorn with pydantic request models.

Benchmark-only (not part of the package): the same translators
(`gpt2giga.openai.translate`, `gpt2giga.gigachat.answer`/`request`, the
OpenAI stream translator) and the same `GigaChatClient` and pool as the
Granian app, behind the stack an idiomatic FastAPI service would use:
pydantic validates the body, the route hands the validated model to our
translator (dumped as JSON and read into our wire struct: the adapter any
FastAPI app mounting msgspec translators pays), the answer leaves as bytes.
The difference to the Granian app is the stack alone. Run:
`uvicorn --factory --app-dir benchmarks fastapi_variant:create_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import msgspec
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict

from gpt2giga import config, errors, sse
from gpt2giga.context import Context
from gpt2giga.gigachat import answer
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.request import Options
from gpt2giga.gigachat.upstream import build_pool
from gpt2giga.openai import stream, translate
from gpt2giga.openai import wire as oai

_decode_chat = msgspec.json.Decoder(oai.ChatCompletionRequest).decode
_encode = msgspec.json.Encoder().encode


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class FunctionCall(_Model):
    name: str
    arguments: str | dict[str, Any] = "{}"


class ToolCall(_Model):
    id: str
    type: str = "function"
    function: FunctionCall


class Message(_Model):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None


class FunctionDefinition(_Model):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Model):
    type: str = "function"
    function: FunctionDefinition


class StreamOptions(_Model):
    include_usage: bool | None = None


class ChatCompletionRequest(_Model):
    messages: list[Message]
    model: str | None = None
    stream: bool | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    stream_options: StreamOptions | None = None
    user: str | None = None


def to_wire(body: ChatCompletionRequest) -> oai.ChatCompletionRequest:
    return _decode_chat(body.model_dump_json(exclude_unset=True))


def create_app() -> FastAPI:
    settings = config.load()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        giga = settings.gigachat
        client = GigaChatClient(giga, build_pool(giga))
        app.state.ctx = Context(settings, client)
        yield
        await client.aclose()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(errors.GatewayError)
    async def gateway_error(request: Request, err: errors.GatewayError) -> Response:
        return Response(translate.error_body(err), status_code=err.status)

    @app.get("/health")
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.post("/v1/chat/completions")
    @app.post("/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
        ctx: Context = request.app.state.ctx
        req = to_wire(body)
        opts = Options.build(ctx.settings, ctx.settings.proxy.gigachat_api_mode, req.model)
        prepared = translate.to_giga(req, opts)
        completion_id = ctx.new_id("chatcmpl-")
        created = ctx.now()
        if req.stream:
            upstream = await ctx.upstream.stream(prepared.request, opts.contract)
            usage = bool(req.stream_options and req.stream_options.include_usage)
            translator = stream.StreamTranslator(prepared, completion_id, created, usage)
            return StreamingResponse(
                sse.relay(upstream, translator, stream.frame),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
            )
        resp = await ctx.upstream.chat(prepared.request, opts.contract)
        reply = answer.reply(resp, prepared, "call_", completion_id.removeprefix("chatcmpl-"))
        out = translate.from_giga(reply, completion_id, created)
        return Response(_encode(out), media_type="application/json")

    return app
