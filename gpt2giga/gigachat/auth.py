"""GigaChat access tokens: OAuth with credentials and scope, user/password, or a static token.

A `TokenSource` caches one token, refreshes it a buffer before expiry with one
refresh in flight at a time, and forgets it when GigaChat refuses it; the
client retries once with a fresh one. The OAuth request is the gigachat SDK's
(`api/auth.py`): Basic credentials, an RqUID, the scope as a form field.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx
import msgspec

from gpt2giga import errors
from gpt2giga.config import GigaChatSettings
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.upstream import exc_name, status_error

log = logging.getLogger("gpt2giga.gigachat")

_decode_token = msgspec.json.Decoder(giga.AccessToken, strict=False).decode


class Credentials(msgspec.Struct, frozen=True):
    """One way of getting a GigaChat token; per client in pass-token mode."""

    credentials: str | None = None
    scope: str | None = None
    user: str | None = None
    password: str | None = None
    access_token: str | None = None

    @classmethod
    def from_settings(cls, s: GigaChatSettings) -> Credentials:
        return cls(
            credentials=s.credentials.value if s.credentials else None,
            scope=s.scope,
            user=s.user,
            password=s.password.value if s.password else None,
            access_token=s.access_token.value if s.access_token else None,
        )

    @property
    def can_refresh(self) -> bool:
        return bool(self.credentials or (self.user and self.password))


class TokenSource:
    """A cached access token, refreshed before expiry, one refresh in flight at a time."""

    def __init__(
        self,
        creds: Credentials,
        pool: httpx.AsyncClient,
        auth_url: str,
        token_url: str,
        buffer_ms: int = 60_000,
        clock: Callable[[], float] = time.time,
        *,
        send: Callable[[httpx.Request], Awaitable[httpx.Response]] | None = None,
    ) -> None:
        self.creds = creds
        self._pool = pool
        # The client sends through its own (maybe traced) call; alone, the pool sends.
        self._send = send or pool.send
        self._auth_url = auth_url
        self._token_url = token_url
        self._buffer_ms = buffer_ms
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = creds.access_token
        self._expires_ms = 0  # 0: never expires (a static token)
        self.refreshes = 0

    def _valid(self) -> bool:
        if self._token is None:
            return False
        return self._expires_ms == 0 or self._expires_ms - self._buffer_ms > self._clock() * 1000

    async def token(self) -> str | None:
        if self._valid() or not self.creds.can_refresh:
            return self._token
        async with self._lock:
            if not self._valid():
                await self._refresh()
        return self._token

    def secrets(self) -> tuple[str, ...]:
        """What an upstream error text must not repeat: hosts, credentials, the token."""
        creds = self.creds
        hosts = (urlsplit(self._auth_url).netloc, urlsplit(self._token_url).netloc)
        values = (*hosts, creds.credentials, creds.password, self._token)
        return tuple(v for v in values if v)

    def invalidate(self, token: str | None) -> None:
        """Forget `token` after GigaChat refused it (unless a newer one is in place)."""
        if token == self._token and self.creds.can_refresh:
            self._token = None

    async def _refresh(self) -> None:
        creds = self.creds
        if creds.credentials:
            request = self._pool.build_request(
                "POST",
                self._auth_url,
                data={"scope": creds.scope or "GIGACHAT_API_PERS"},
                headers={
                    "Authorization": f"Basic {creds.credentials}",
                    "RqUID": str(uuid.uuid4()),
                    "Accept": "application/json",
                },
            )
        else:
            basic = base64.b64encode(f"{creds.user}:{creds.password}".encode()).decode()
            request = self._pool.build_request(
                "POST", self._token_url, headers={"Authorization": f"Basic {basic}"}
            )
        try:
            response = await self._send(request)
        except httpx.TimeoutException:
            raise errors.UpstreamTimeout("GigaChat authorization timed out") from None
        except httpx.TransportError as exc:
            raise errors.UpstreamError(f"GigaChat authorization failed: {exc_name(exc)}") from None
        if response.status_code != 200:
            raise status_error(
                response.status_code, response.content, response.headers, "auth", self.secrets()
            )
        try:
            answer = _decode_token(response.content)
        except msgspec.DecodeError:
            raise errors.UpstreamError("GigaChat authorization sent a malformed answer") from None
        token = answer.access_token or answer.tok
        expires = answer.expires_at if answer.expires_at is not None else answer.exp
        if not token:
            raise errors.UpstreamError("GigaChat authorization returned no token")
        if not (token.isascii() and token.isprintable()):
            # The SDK's models take any string; only this kind fits in an HTTP header.
            raise errors.UpstreamError(
                "GigaChat authorization returned a token no header can carry"
            )
        self._token = token
        self._expires_ms = _as_ms(expires or 0)
        self.refreshes += 1
        log.debug("GigaChat token refreshed")


def _as_ms(value: int) -> int:
    # GigaChat documents milliseconds; a `/token` answer has been seen in seconds.
    return value * 1000 if 0 < value < 100_000_000_000 else value
