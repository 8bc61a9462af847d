"""The transport under the GigaChat client: URLs, TLS, the pool, and upstream failures as errors.

Everything httpx raises and every GigaChat error body becomes the gateway's
error family here, with no upstream URL, header or token in the text.
`client.py` and `auth.py` are the only users.
"""

from __future__ import annotations

import math
import re
import ssl
from typing import Literal, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import httpx
import msgspec

from gpt2giga import errors
from gpt2giga.config import ConfigError, GigaChatSettings
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.http.transport import Transport

Contract = Literal["v1", "v2"]

USER_AGENT = "gpt2giga"

_decode_error = msgspec.json.Decoder(giga.ErrorBody, strict=False).decode
_VERSION_SUFFIX = re.compile(r"/v\d+$")


def chat_urls(base_url: str) -> dict[Contract, str]:
    """v1 chat under the base URL; v2 as the SDK derives it (trailing /vN -> /v2)."""
    base = base_url.rstrip("/")
    parts = urlsplit(base)
    path = parts.path.rstrip("/")
    v2_path = _VERSION_SUFFIX.sub("/v2", path) if _VERSION_SUFFIX.search(path) else path
    v2 = urlunsplit((parts.scheme, parts.netloc, v2_path + "/chat/completions", "", ""))
    return {"v1": base + "/chat/completions", "v2": v2}


def ssl_context(settings: GigaChatSettings) -> ssl.SSLContext | bool:
    """The TLS setup for GigaChat, or False for no TLS checks and no client certificate.

    As in the SDK, a client certificate (mTLS, common for GigaChat corporate
    accounts) is presented whether or not the server's certificate is verified.
    """
    if not settings.verify_ssl_certs and not settings.cert_file:
        return False
    name = "GIGACHAT_CA_BUNDLE_FILE"
    try:
        if settings.verify_ssl_certs:
            import certifi  # httpx's own trust store

            ctx = ssl.create_default_context(cafile=settings.ca_bundle_file or certifi.where())
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if settings.cert_file:
            name = "GIGACHAT_CERT_FILE"
            password = settings.key_file_password.value if settings.key_file_password else None
            ctx.load_cert_chain(settings.cert_file, settings.key_file, password)
    except OSError as exc:  # ssl.SSLError included: a bad file, key or password
        raise ConfigError(f"{name}: cannot be loaded ({exc})") from None
    return ctx


class Pool(NamedTuple):
    """The process's one connection pool: the transport, and httpx's client over it.

    Chat calls go straight to `transport`; token requests and multipart uploads
    use `client`, which owns the transport and closes it.
    """

    client: httpx.AsyncClient
    transport: httpx.AsyncBaseTransport

    async def aclose(self) -> None:
        await self.client.aclose()


def build_pool(
    settings: GigaChatSettings, transport: httpx.AsyncBaseTransport | None = None
) -> Pool:
    """The process's one connection pool, with limits and timeouts fit for long streams.

    httpx's defaults (5 s timeout, 20 keep-alive connections) would cut long
    answers and churn connections under load. The transport is the gateway's
    own pool (`http/transport.py`); tests hand in theirs.
    """
    timeout = httpx.Timeout(connect=10.0, read=settings.timeout, write=30.0, pool=settings.timeout)
    if transport is None:
        transport = Transport(
            verify=ssl_context(settings),
            max_connections=settings.max_connections,
            keepalive_expiry=30.0,
        )
    client = httpx.AsyncClient(
        timeout=timeout,
        transport=transport,
        headers={"User-Agent": USER_AGENT},
        trust_env=False,
    )
    return Pool(client, transport)


def exc_name(exc: Exception) -> str:
    return type(exc).__name__


def transport_error(exc: httpx.TransportError, what: str) -> errors.GatewayError:
    # Only the class name: httpx's own text names the upstream host and path.
    if isinstance(exc, httpx.TimeoutException):
        return errors.UpstreamTimeout("GigaChat did not answer in time")
    return errors.UpstreamError(f"{what}: {exc_name(exc)}")


def status_error(
    status: int,
    body: bytes,
    headers: httpx.Headers,
    what: str = "request",
    secrets: tuple[str, ...] = (),
) -> errors.GatewayError:
    message = ""
    try:
        message = _decode_error(body).message or ""
    except msgspec.DecodeError:
        # Proxies in front of GigaChat answer with HTML pages: noise for a client.
        if body.lstrip()[:1] != b"<" and "html" not in headers.get("content-type", ""):
            message = body[:200].decode("utf-8", "replace").strip()
    for secret in secrets:
        # A very short value (a test password) would mangle the text more than it hides.
        if len(secret) >= 4:
            message = message.replace(secret, "***")
    prefix = "GigaChat authorization" if what == "auth" else "GigaChat"
    text = f"{prefix} answered {status}" + (f": {message}" if message else "")
    return errors.from_upstream(status, text, retry_after=retry_after(headers))


def retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP-date: rare from GigaChat, and backoff covers it
    return max(0.0, seconds) if math.isfinite(seconds) else None
