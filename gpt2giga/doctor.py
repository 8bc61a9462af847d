"""`gpt2giga doctor`: check the current settings against GigaChat and say what to fix, plainly.

Checks, in order: the credentials' form, TLS to the OAuth and API hosts, one
OAuth round, the model list (and `GIGACHAT_MODEL` in it), a tiny chat on the
v1 and on the v2 contract, the embeddings model; then the shared state store,
when one is configured (a write, a read and a delete). A check that cannot run
because an earlier one failed is skipped, not failed twice. Uses the gateway's
own GigaChat client and state store, so what passes here is what the gateway
will do.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ssl
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

import msgspec

from gpt2giga import errors
from gpt2giga.config import ConfigError, GigaChatSettings, Settings
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.upstream import build_pool, ssl_context

Status = Literal["ok", "warn", "fail", "skip"]
CONNECT_TIMEOUT_S = 10.0
TLS_ADVICE = (
    "this machine does not trust the certificate chain of {host}. GigaChat's hosts use the "
    "Russian Trusted Root CA: download its bundle (https://www.gosuslugi.ru/crt) and set "
    "GIGACHAT_CA_BUNDLE_FILE=/path/to/russian_trusted_root_ca.pem"
)
SCOPE_ADVICE = (
    "check GIGACHAT_CREDENTIALS (the Authorization key from the GigaChat personal account) and "
    "GIGACHAT_SCOPE (GIGACHAT_API_PERS for individuals, GIGACHAT_API_B2B or GIGACHAT_API_CORP "
    "for companies)"
)


class Check(NamedTuple):
    name: str
    status: Status
    detail: str


def credentials_form(s: GigaChatSettings) -> Check:
    if s.credentials:
        try:
            decoded = base64.b64decode(s.credentials.value, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if b":" not in decoded:
            return Check(
                "credentials",
                "fail",
                "GIGACHAT_CREDENTIALS is not base64 of client_id:client_secret; copy the "
                "Authorization key from the GigaChat personal account exactly as shown",
            )
        return Check("credentials", "ok", "GIGACHAT_CREDENTIALS is a well-formed key")
    if s.user and s.password:
        return Check("credentials", "ok", "GIGACHAT_USER and GIGACHAT_PASSWORD are set")
    if s.access_token:
        return Check(
            "credentials", "warn", "GIGACHAT_ACCESS_TOKEN is set: it expires and is not renewed"
        )
    return Check("credentials", "fail", "no GigaChat credentials: set GIGACHAT_CREDENTIALS")


async def tls(url: str, context: ssl.SSLContext | bool) -> Check:
    parts = urlsplit(url)
    host, name = parts.hostname or "", f"tls {parts.netloc}"
    if parts.scheme != "https":
        return Check(name, "skip", "plain HTTP: no TLS to check")
    if context is False:
        return Check(name, "warn", "certificate checks are off (GIGACHAT_VERIFY_SSL_CERTS=False)")
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, parts.port or 443, ssl=context, server_hostname=host),
            CONNECT_TIMEOUT_S,
        )
    except ssl.SSLCertVerificationError:
        return Check(name, "fail", TLS_ADVICE.format(host=host))
    except (OSError, TimeoutError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        advice = "check the URL, DNS and that this machine may reach the host (proxy, firewall)"
        return Check(name, "fail", f"cannot connect ({reason}); {advice}")
    writer.close()
    return Check(name, "ok", "certificate chain trusted")


async def authorization(client: GigaChatClient) -> Check:
    if not client.auth.creds.can_refresh:
        return Check("authorization", "skip", "a fixed access token: nothing to exchange")
    try:
        await client.auth.token()
    except errors.Unauthorized as err:
        return Check("authorization", "fail", f"{err.message}; {SCOPE_ADVICE}")
    except errors.GatewayError as err:
        return Check("authorization", "fail", err.message)
    return Check("authorization", "ok", f"got an access token for {client.settings.scope}")


def model_listed(models: giga.Models, wanted: str, name: str, setting: str) -> Check:
    ids = [m.id for m in models.data]
    if wanted in ids:
        return Check(name, "ok", f"{setting}={wanted} is available")
    return Check(name, "fail", f"{setting}={wanted} is not offered; GigaChat has: {', '.join(ids)}")


def ping(model: str) -> giga.ChatCompletionRequest:
    return giga.ChatCompletionRequest(
        model=model,
        messages=[giga.ChatMessage(role="user", content=[giga.ChatContentPart(text="ping")])],
        model_options=giga.ChatModelOptions(max_tokens=8),
    )


async def chat(client: GigaChatClient, contract: Literal["v1", "v2"]) -> Check:
    try:
        await client.chat(ping(client.settings.model), contract)
    except errors.GatewayError as err:
        advice = (
            "; keep GPT2GIGA_GIGACHAT_API_MODE=v1 and call the gateway under /v1"
            if contract == "v2"
            else ""
        )
        return Check(f"chat {contract}", "fail", err.message + advice)
    return Check(f"chat {contract}", "ok", f"{client.settings.model} answered")


async def embeddings(client: GigaChatClient, model: str) -> Check:
    try:
        result = await client.embeddings(model, ["ping"])
    except errors.GatewayError as err:
        return Check("embeddings", "fail", f"GPT2GIGA_EMBEDDINGS={model}: {err.message}")
    size = len(result.data[0].embedding) if result.data else 0
    return Check("embeddings", "ok", f"{model} returned a {size}-dimensional vector")


async def run(settings: Settings, client: GigaChatClient | None = None) -> list[Check]:
    """Every check, in order; `client` lets tests talk to an in-process fake."""
    s = settings.gigachat
    checks = [credentials_form(s)]
    try:
        context = ssl_context(s)
    except ConfigError as exc:
        return [*checks, Check("tls", "fail", str(exc))]
    hosts = {urlsplit(s.auth_url).netloc: s.auth_url, urlsplit(s.base_url).netloc: s.base_url}
    checks += [await tls(url, context) for url in hosts.values()]
    own = client is None
    client = client or GigaChatClient(msgspec.structs.replace(s, max_retries=0), build_pool(s))
    try:
        await _upstream(checks, client, settings)
    finally:
        if own:
            await client.aclose()
    if settings.proxy.redis_url or settings.proxy.state_dir:
        checks.append(await state_store(settings))
    return checks


async def state_store(settings: Settings) -> Check:
    """A key written, read back and deleted, as a stored response would be."""
    from gpt2giga.state.store import open_store

    store = open_store(settings)
    table = store.table("doctor", 1, 60.0)
    where = "GPT2GIGA_REDIS_URL" if settings.proxy.redis_url else "GPT2GIGA_STATE_DIR"
    try:
        await table.put("probe", b"ok")
        found = await table.get("probe")
        await table.delete("probe")
    except errors.StateUnavailable:
        detail = f"{store.kind} did not answer; check {where} and that this host reaches it"
        return Check("state store", "fail", detail)
    finally:
        await store.close()
    if found != b"ok":
        return Check("state store", "fail", f"a value written to {store.kind} did not come back")
    return Check("state store", "ok", f"{store.kind} keeps what the gateway writes ({where})")


UPSTREAM = ("authorization", "models", "chat v1", "chat v2", "embeddings")


def _skipped(checks: list[Check], why: str) -> None:
    done = {c.name for c in checks}
    checks += [Check(name, "skip", why) for name in UPSTREAM if name not in done]


async def _upstream(checks: list[Check], client: GigaChatClient, settings: Settings) -> None:
    if any(c.status == "fail" for c in checks):
        return _skipped(checks, "needs the checks above")
    checks.append(await authorization(client))
    if checks[-1].status == "fail":
        return _skipped(checks, "needs a working authorization")
    wanted = settings.proxy.embeddings
    try:
        models = await client.models()
    except errors.GatewayError as err:
        checks.append(Check("models", "fail", err.message))
        embedder = None
    else:
        checks.append(model_listed(models, client.settings.model, "models", "GIGACHAT_MODEL"))
        embedder = model_listed(models, wanted, "embeddings", "GPT2GIGA_EMBEDDINGS")
    checks.append(await chat(client, "v1"))
    checks.append(await chat(client, "v2"))
    if embedder is not None and embedder.status == "fail":
        checks.append(embedder)
    else:
        checks.append(await embeddings(client, wanted))
    return None


MARK: dict[Status, str] = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}


def report(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{MARK[c.status]}  {c.name.ljust(width)}  {c.detail}" for c in checks]
    failed = sum(c.status == "fail" for c in checks)
    lines.append(f"{failed} check(s) failed." if failed else "All checks passed.")
    return "\n".join(lines)


def main(settings: Settings) -> int:
    checks = asyncio.run(run(settings))
    print(report(checks))
    return 1 if any(c.status == "fail" for c in checks) else 0
