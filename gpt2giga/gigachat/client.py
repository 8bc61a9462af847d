"""The one GigaChat client: every endpoint, retries and model slots; streams via `reader.py`.

Callers hand in and get back v2 hub structs; the v1 contract is converted at
this boundary (`contract.py`). Tokens come from `auth.py`; the pool, TLS and
the mapping of every httpx failure and GigaChat error body to the gateway's
error family from `upstream.py`, so no upstream URL, header or token leaves
this package in an error.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from time import perf_counter
from typing import Any, NamedTuple, TypeVar

import httpx
import msgspec

from gpt2giga import errors
from gpt2giga.config import GigaChatSettings
from gpt2giga.gigachat import contract
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.auth import Credentials, TokenSource
from gpt2giga.gigachat.reader import UpstreamStream
from gpt2giga.gigachat.traced import Send, Traced, operations
from gpt2giga.gigachat.upstream import (
    Contract,
    Pool,
    chat_urls,
    retry_after,
    status_error,
    transport_error,
)
from gpt2giga.observe import exchange
from gpt2giga.state.limits import UNLIMITED, Limiter, Release

log = logging.getLogger("gpt2giga.gigachat")

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Errors raised before GigaChat answered anything: safe to send again.
RETRY_EXCEPTIONS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)
MAX_BACKOFF = 30.0

_encode = msgspec.json.Encoder().encode
# Lax, as pydantic is in the SDK: a count as "12" or 12.0 is still a count.
_decode_v1 = msgspec.json.Decoder(giga1.ChatCompletionV1, strict=False).decode
_decode_v2 = msgspec.json.Decoder(giga.ChatCompletionResponse, strict=False).decode
_decode_models = msgspec.json.Decoder(giga.Models, strict=False).decode
_decode_embeddings = msgspec.json.Decoder(giga.Embeddings, strict=False).decode
_decode_counts = msgspec.json.Decoder(list[giga.TokensCount], strict=False).decode
_decode_file = msgspec.json.Decoder(giga.UploadedFile, strict=False).decode


def hub_answer(v1: bool, body: bytes) -> giga.ChatCompletionResponse:
    """A whole GigaChat answer as the v2 hub struct (a v1 answer is converted)."""
    try:
        return contract.from_v1(_decode_v1(body)) if v1 else _decode_v2(body)
    except msgspec.DecodeError:
        raise errors.UpstreamError("GigaChat sent a malformed answer") from None


class Multipart(NamedTuple):
    """A form body (`files` and plain fields); httpx encodes it, boundary included."""

    files: dict[str, tuple[str, bytes, str]]
    data: dict[str, str]


class GigaChatClient:
    """Talks to GigaChat for the whole process; built once in the app's lifespan."""

    def __init__(
        self,
        settings: GigaChatSettings,
        pool: Pool,
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.pool = pool.client
        # Calls go straight to the pool's transport with requests built here: the
        # AsyncClient layer (URL merging, cookies, auth and redirect flows, none of
        # which GigaChat calls use) was a third of the gateway's CPU per request.
        self._transport = pool.transport
        # The one place a request leaves for GigaChat; `trace()` may wrap it, once.
        self._call: Send = self._transport.handle_async_request
        self._timeouts = self.pool.timeout.as_dict()
        self._headers = {k: v for k, v in self.pool.headers.items() if k != "accept"}
        self._urls: dict[str, httpx.URL] = {}
        self._sleep = sleep
        base = settings.base_url.rstrip("/")
        self._base = base
        self._chat_urls = chat_urls(base)
        self.auth = self.token_source(Credentials.from_settings(settings))
        # Set by the app from GPT2GIGA_MODEL_MAX_CONNECTIONS*; enforced here, where calls go out.
        self.limits: Limiter = UNLIMITED
        self._streams: set[UpstreamStream] = set()

    def token_source(self, creds: Credentials) -> TokenSource:
        s = self.settings
        return TokenSource(
            creds,
            self.pool,
            s.auth_url,
            self._base + "/token",
            s.token_expiry_buffer_ms,
            send=self._auth_send,
        )

    def trace(self) -> None:
        """Note every call, token requests and uploads included, on the request's trace.

        Called once, at start-up, when tracing is on; otherwise calls go straight out.
        """
        base = self._base
        names = {
            **{url: "chat" for url in self._chat_urls.values()},
            base + "/embeddings": "embeddings",
            base + "/files": "upload_file",
            base + "/models": "models",
            base + "/tokens/count": "count_tokens",
            base + "/token": "auth",
            self.settings.auth_url: "auth",
        }
        self._call = Traced(self._transport.handle_async_request, operations(names))

    async def _auth_send(self, request: httpx.Request) -> httpx.Response:
        """A token request, through the same call as every other (so traces show it)."""
        response = await self._call(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def aclose(self) -> None:
        await self.pool.aclose()

    def abort_streams(self, err: errors.GatewayError) -> int:
        """End every open stream with `err` (shutdown after the drain timeout); how many."""
        streams = list(self._streams)
        for stream in streams:
            stream.abort(err)
        return len(streams)

    # --- endpoints -----------------------------------------------------------

    def encode_chat(
        self,
        req: giga.ChatCompletionRequest,
        contract_: Contract,
        stream: bool,
        extra: dict[str, Any] | None = None,
    ) -> bytes:
        """The exact upstream body for `req` on `contract_`, `extra` merged in.

        `extra` holds fields the gateway has no struct for (a client's literal
        `extra_body`): merged like the SDK's `additional_fields`, the typed
        fields winning a clash.
        """
        profanity = self.settings.profanity_check
        body: giga1.ChatV1 | giga.ChatCompletionRequest
        if contract_ == "v1":
            body = contract.to_v1(req, profanity)
            if stream:
                body.stream = True
        else:
            body = req
            # The request's own `disable_filter` wins over the operator's default, as in the SDK.
            default = None if profanity is None else not profanity
            disable_filter = req.disable_filter if req.disable_filter is not None else default
            # Like the SDK, `stream` is on the wire only when streaming, whatever the struct says.
            if disable_filter != req.disable_filter or stream or req.stream is not None:
                body = msgspec.structs.replace(
                    req, stream=True if stream else None, disable_filter=disable_filter
                )
        if extra:
            return _encode({**extra, **msgspec.to_builtins(body)})
        return _encode(body)

    async def chat(
        self,
        req: giga.ChatCompletionRequest,
        contract_: Contract,
        auth: TokenSource | None = None,
        extra: dict[str, Any] | None = None,
    ) -> giga.ChatCompletionResponse:
        body = self.encode_chat(req, contract_, stream=False, extra=extra)
        release = await self._slot(req.model)
        try:
            response = await self._send("POST", self._chat_urls[contract_], body, auth=auth)
        finally:
            release()
        answer = hub_answer(contract_ == "v1", response.content)
        if answer.usage is not None:
            ex = exchange.current()
            ex.tokens_in += answer.usage.tokens_in
            ex.tokens_out += answer.usage.tokens_out
        return answer

    async def _slot(self, model: str | None) -> Release:
        """The model's concurrency slot; the model is noted for metrics and logs."""
        name = model or self.settings.model
        exchange.current().model = name
        return await self.limits.acquire(name)

    async def stream(
        self,
        req: giga.ChatCompletionRequest,
        contract_: Contract,
        auth: TokenSource | None = None,
        extra: dict[str, Any] | None = None,
    ) -> UpstreamStream:
        """Open a stream; every failure before its first byte is raised here, retried first."""
        body = self.encode_chat(req, contract_, stream=True, extra=extra)
        release = await self._slot(req.model)
        started = perf_counter()
        try:
            response = await self._send(
                "POST", self._chat_urls[contract_], body, auth=auth, stream=True
            )
            content_type = response.headers.get("content-type", "").partition(";")[0].strip()
            if content_type != "text/event-stream":
                await response.aclose()
                raise errors.UpstreamError("GigaChat answered a stream request without a stream")
        except BaseException:
            release()
            exchange.current().upstream_seconds += perf_counter() - started
            raise
        return UpstreamStream(response, contract_, release, self._streams, started)

    async def models(self, auth: TokenSource | None = None) -> giga.Models:
        response = await self._send("GET", self._base + "/models", None, auth=auth)
        return self._parse(_decode_models, response)

    async def embeddings(
        self, model: str, inputs: list[str], auth: TokenSource | None = None
    ) -> giga.Embeddings:
        body = _encode(giga.EmbeddingsRequest(model=model, input=inputs))
        release = await self._slot(model)
        try:
            response = await self._send("POST", self._base + "/embeddings", body, auth=auth)
        finally:
            release()
        result = self._parse(_decode_embeddings, response)
        exchange.current().tokens_in += sum(e.usage.prompt_tokens for e in result.data)
        return result

    async def tokens_count(
        self, model: str, inputs: list[str], auth: TokenSource | None = None
    ) -> list[giga.TokensCount]:
        body = _encode(giga.TokensCountRequest(model=model, input=inputs))
        response = await self._send("POST", self._base + "/tokens/count", body, auth=auth)
        return self._parse(_decode_counts, response)

    async def upload_file(
        self, filename: str, content: bytes, mime: str, auth: TokenSource | None = None
    ) -> giga.UploadedFile:
        """`POST /files`: multipart `file` and `purpose`, as the SDK's `upload_file` sends them."""
        form = Multipart(files={"file": (filename, content, mime)}, data={"purpose": "general"})
        response = await self._send("POST", self._base + "/files", form, auth=auth)
        return self._parse(_decode_file, response)

    @staticmethod
    def _parse(decode: Callable[[bytes], T], response: httpx.Response) -> T:
        try:
            return decode(response.content)
        except msgspec.DecodeError:
            raise errors.UpstreamError("GigaChat sent a malformed answer") from None

    # --- transport -----------------------------------------------------------

    async def _send(
        self,
        method: str,
        url: str,
        body: bytes | Multipart | None,
        *,
        auth: TokenSource | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """One upstream call with retries; its time and failure go on the exchange."""
        ex = exchange.current()
        started = perf_counter()
        try:
            return await self._attempts(method, url, body, auth or self.auth, stream, ex)
        except errors.GatewayError as err:
            ex.upstream_error = err.kind
            raise
        finally:
            if not stream:  # a stream's time is counted when it closes
                ex.upstream_seconds += perf_counter() - started

    async def _attempts(
        self,
        method: str,
        url: str,
        body: bytes | Multipart | None,
        source: TokenSource,
        stream: bool,
        ex: exchange.Exchange,
    ) -> httpx.Response:
        attempt = 0
        reauthed = False
        while True:
            token = await source.token()
            request = self._request(method, url, body, token, stream, ex.upstream_headers)
            try:
                response = await self._call(request)
            except RETRY_EXCEPTIONS as exc:
                if attempt < self.settings.max_retries:
                    attempt += 1
                    await self._sleep(self._backoff(attempt, None))
                    continue
                raise transport_error(exc, "GigaChat is unreachable") from None
            except httpx.TransportError as exc:
                raise transport_error(exc, "GigaChat request failed") from None
            status = ex.upstream_status = response.status_code
            if status == 200:
                if not stream:
                    await self._read(response)
                return response
            content = await self._read(response)
            if status == 401 and not reauthed and source.creds.can_refresh:
                reauthed = True
                source.invalidate(token)
                continue
            delay = self._retry_delay(status, attempt, response.headers)
            if delay is None:
                hide = (token or "", *source.secrets())
                raise status_error(status, content, response.headers, secrets=hide)
            attempt += 1
            await self._sleep(delay)

    def _retry_delay(self, status: int, attempt: int, headers: httpx.Headers) -> float | None:
        """Seconds to wait before sending again, or None when the failure is final."""
        if status not in RETRY_STATUSES or attempt >= self.settings.max_retries:
            return None
        wait = retry_after(headers)
        if wait is not None and wait > MAX_BACKOFF:
            # Holding the client's request that long helps nobody: it gets the
            # 429 with Retry-After and decides itself.
            return None
        return self._backoff(attempt + 1, wait)

    def _request(
        self,
        method: str,
        url: str,
        body: bytes | Multipart | None,
        token: str | None,
        stream: bool,
        forward: dict[str, str],
    ) -> httpx.Request:
        # The request id and the client's safe tracing headers (exchange.TRACING) first.
        headers = {
            **forward,
            **self._headers,
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if stream:
            headers["Cache-Control"] = "no-store"
        if isinstance(body, Multipart):
            return self.pool.build_request(
                method, url, files=body.files, data=body.data, headers=headers
            )
        if body is not None:
            headers["Content-Type"] = "application/json"
        target = self._urls.get(url)
        if target is None:
            target = self._urls[url] = httpx.URL(url)
        extensions = {"timeout": self._timeouts}
        return httpx.Request(method, target, headers=headers, content=body, extensions=extensions)

    @staticmethod
    async def _read(response: httpx.Response) -> bytes:
        try:
            return await response.aread()
        except httpx.TransportError as exc:
            raise transport_error(exc, "GigaChat answer broke off") from None
        finally:
            await response.aclose()

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_BACKOFF)
        base = self.settings.retry_backoff_factor * (2.0 ** (attempt - 1))
        return min(base + random.uniform(0, base / 2), MAX_BACKOFF)
