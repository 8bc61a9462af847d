"""The one route table: each dialect's routes, error shape and model list.

`app.py` dispatches through it and renders errors with it; it adds the
Responses routes itself (they own a store built at start-up) and the system
routes of `ops`. No I/O here: handlers are only named.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from gpt2giga import errors
from gpt2giga.anthropic import handlers as anthropic
from gpt2giga.anthropic import translate as anthropic_translate
from gpt2giga.asgi import Request, Response, StreamResponse
from gpt2giga.context import Context
from gpt2giga.gemini import handlers as gemini
from gpt2giga.gemini import translate as gemini_translate
from gpt2giga.openai import handlers as openai
from gpt2giga.openai import translate as openai_translate
from gpt2giga.router import Dialect, Handler, RouteSpec, sniff


class DialectSpec(NamedTuple):
    """What the app needs from a dialect: its routes, its error shape, its model list."""

    routes: list[tuple[str, str, Handler]]
    error_body: Callable[[errors.GatewayError], bytes]
    list_models: Handler
    get_model: Handler
    error_status: Callable[[errors.GatewayError], int] = lambda err: err.status


DIALECTS: dict[Dialect, DialectSpec] = {
    "openai": DialectSpec(
        routes=[
            ("POST", "/chat/completions", openai.chat_completions),
            ("POST", "/embeddings", openai.embeddings),
            ("GET", "/model/info", openai.model_info),
        ],
        error_body=openai_translate.error_body,
        list_models=openai.list_models,
        get_model=openai.get_model,
    ),
    "anthropic": DialectSpec(
        routes=[
            ("POST", "/messages", anthropic.messages),
            ("POST", "/messages/count_tokens", anthropic.count_tokens),
        ],
        error_body=anthropic_translate.error_body,
        list_models=anthropic.list_models,
        get_model=anthropic.get_model,
        error_status=anthropic_translate.error_status,
    ),
    "gemini": DialectSpec(
        routes=[
            ("POST", "/models/{model:path}:generateContent", gemini.generate_content),
            ("POST", "/models/{model:path}:streamGenerateContent", gemini.stream_generate_content),
            ("POST", "/models/{model:path}:countTokens", gemini.count_tokens),
            ("POST", "/models/{model:path}:embedContent", gemini.embed_content),
            ("POST", "/models/{model:path}:batchEmbedContents", gemini.batch_embed_contents),
        ],
        error_body=gemini_translate.error_body,
        list_models=gemini.list_models,
        get_model=gemini.get_model,
        error_status=gemini_translate.error_status,
    ),
}


async def models(ctx: Context, request: Request) -> Response | StreamResponse:
    """`/models` is shared: Anthropic and Google clients get their own shapes."""
    return await DIALECTS[sniff(request.scope)].list_models(ctx, request)


async def model(ctx: Context, request: Request) -> Response | StreamResponse:
    return await DIALECTS[sniff(request.scope)].get_model(ctx, request)


ROUTES: list[RouteSpec] = [
    *[(m, path, h, name) for name, spec in DIALECTS.items() for m, path, h in spec.routes],
    ("GET", "/models", models, None),
    ("GET", "/models/{model:path}", model, None),
]
# System routes (health, readiness, metrics, logs) are `ops`'s; the dialects' public ones here.
PUBLIC: list[RouteSpec] = [
    # Claude Code's reachability probe (`HEAD /api/hello`): it reveals nothing, so no key.
    ("GET", "/api/hello", anthropic.hello, "anthropic"),
]
