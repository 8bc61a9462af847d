"""What every handler may use: settings, the GigaChat client, the model catalog, clock and ids,
and the tables of the state store (stored responses, the upload cache).

Built once by the app (the only place that constructs it); handlers receive it
as their first argument. No globals: tests build their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gpt2giga import errors, passtoken
from gpt2giga.asgi import Contract, Request
from gpt2giga.config import Settings, has_upstream_auth
from gpt2giga.gigachat.auth import TokenSource
from gpt2giga.gigachat.catalog import ModelCatalog
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.uploads import CACHE_SIZE, CACHE_TTL_S, FileCache, Uploader
from gpt2giga.observe import exchange
from gpt2giga.openai.responses.store import ResponseStore
from gpt2giga.state.store import MemoryStore, Store


class Context:
    def __init__(
        self,
        settings: Settings,
        upstream: GigaChatClient,
        *,
        clock: Callable[[], float] = time.time,
        token_hex: Callable[[int], str] = exchange.random_hex,
        state: Store | None = None,
    ) -> None:
        self.settings = settings
        self.upstream = upstream
        self.models = ModelCatalog(upstream)
        proxy = settings.proxy
        state = MemoryStore() if state is None else state
        self.responses = ResponseStore(
            state.table("responses", proxy.responses_store_size, proxy.responses_store_ttl_seconds)
        )
        cache = FileCache(state.table("uploads", CACHE_SIZE, CACHE_TTL_S))
        self.uploads = Uploader(proxy, upstream, cache=cache)
        self.clock = clock
        self._token_hex = token_hex
        proxy = settings.proxy
        self.pass_tokens = (
            passtoken.TokenCache(upstream.token_source, proxy.pass_token_client_cache_size)
            if proxy.pass_token
            else None
        )
        self._own_auth = has_upstream_auth(settings.gigachat)

    def now(self) -> int:
        return int(self.clock())

    def new_id(self, prefix: str, size: int = 12) -> str:
        return prefix + self._token_hex(size)

    def contract(self, request: Request) -> Contract:
        return request.contract

    def auth_for(self, request: Request) -> TokenSource | None:
        """The token source for this request: None means the gateway's own credentials.

        With GPT2GIGA_PASS_TOKEN the client's `giga-…` credential wins; its source
        is leased for the whole request (a stream included) and given back by the app.
        """
        if self.pass_tokens is None:
            return None
        ex = exchange.CURRENT.get(None)
        if ex is not None and ex.auth is not None:
            return ex.auth
        value = passtoken.find(request.headers)
        if value is None:
            if self._own_auth:
                return None
            raise errors.Unauthorized(NO_CREDENTIALS)
        source, release = self.pass_tokens.lease(value)
        if ex is None:
            release()  # no request to hold it for (a handler called directly)
        else:
            ex.auth = source
            ex.releases.append(release)
        return source


NO_CREDENTIALS = (
    "This gateway uses each client's own GigaChat credentials: send "
    "Authorization: Bearer giga-cred-<credentials>:<scope> (or giga-auth-<access token>, "
    "giga-user-<user>:<password>)"
)
