"""What every handler may use: settings, the GigaChat client, models, uploads, credentials, ids.

Built once by the app (the only place that constructs it); handlers receive it
as their first argument. No globals: tests build their own. `Held` is what
one request holds until it ends (a pass-token lease), apart from the record
of what was observed (`observe.exchange`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar

from gpt2giga import errors, passtoken
from gpt2giga.asgi import Request
from gpt2giga.config import Settings, has_upstream_auth
from gpt2giga.gigachat.auth import TokenSource
from gpt2giga.gigachat.catalog import ModelCatalog
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.uploads import CACHE_SIZE, CACHE_TTL_S, FileCache, Uploader
from gpt2giga.observe import exchange
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
        self.models = ModelCatalog(upstream, settings.resolve_model)
        proxy = settings.proxy
        state = MemoryStore() if state is None else state
        cache = FileCache(state.table("uploads", CACHE_SIZE, CACHE_TTL_S))
        self.uploads = Uploader(proxy, upstream, cache=cache)
        self.clock = clock
        self._token_hex = token_hex
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

    def auth_for(self, request: Request) -> TokenSource | None:
        """The token source for this request: None means the gateway's own credentials.

        With GPT2GIGA_PASS_TOKEN the client's `giga-…` credential wins; its source
        is leased for the whole request (a stream included) and given back by the app.
        """
        if self.pass_tokens is None:
            return None
        held = HELD.get(None)
        if held is not None and held.auth is not None:
            return held.auth
        value = passtoken.find(request.headers)
        if value is None:
            if self._own_auth:
                return None
            raise errors.Unauthorized(NO_CREDENTIALS)
        source, release = self.pass_tokens.lease(value)
        if held is None:
            release()  # no request to hold it for (a handler called directly)
        else:
            held.auth, held.release = source, release
        return source


class Held:
    """What one request holds until it ends (its pass-token lease); the app closes it once."""

    __slots__ = ("auth", "release")

    def __init__(self) -> None:
        self.auth: TokenSource | None = None
        self.release: Callable[[], None] | None = None

    def close(self) -> None:
        release, self.release = self.release, None
        if release is not None:
            release()


# Set by the app for each request when pass-through credentials are on.
HELD: ContextVar[Held] = ContextVar("gpt2giga_held")


NO_CREDENTIALS = (
    "This gateway uses each client's own GigaChat credentials: send "
    "Authorization: Bearer giga-cred-<credentials>:<scope> (or giga-auth-<access token>, "
    "giga-user-<user>:<password>)"
)
