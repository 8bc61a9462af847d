"""`gpt2giga doctor` against the fake GigaChat: a clean bill of health and each failure."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gpt2giga import doctor
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.fake.server import FakeConfig, FakeGigaChat
from gpt2giga.gigachat.upstream import build_pool
from tests.certs import self_signed
from tests.conftest import make_settings, no_sleep

PLAIN = {
    "GIGACHAT_BASE_URL": "http://giga.test/api/v1",
    "GIGACHAT_AUTH_URL": "http://giga.test/api/v2/oauth",
    "GIGACHAT_MODEL": "GigaChat-2-Max",
}


def broken(app: Any, path: str, status: int) -> Any:
    """The fake GigaChat, except that `path` answers `status`."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == path:
            body = b'{"status": %d, "message": "Injected failure"}' % status
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return wrapped


async def checks(fake: Any = None, **env: str) -> dict[str, tuple[str, str]]:
    settings = make_settings(**{**PLAIN, **env})
    transport = httpx.ASGITransport(app=fake or FakeGigaChat())
    client = GigaChatClient(
        settings.gigachat, build_pool(settings.gigachat, transport), sleep=no_sleep
    )
    try:
        found = await doctor.run(settings, client)
    finally:
        await client.aclose()
    return {c.name: (c.status, c.detail) for c in found}


def statuses(found: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {name: status for name, (status, _) in found.items()}


async def test_a_healthy_setup_passes_every_check() -> None:
    found = await checks()
    assert statuses(found) == {
        "credentials": "ok",
        "tls giga.test": "skip",
        "authorization": "ok",
        "models": "ok",
        "chat v1": "ok",
        "chat v2": "ok",
        "embeddings": "ok",
    }
    assert found["embeddings"][1] == "EmbeddingsGigaR returned a 8-dimensional vector"


async def test_credentials_that_are_not_base64_stop_before_any_call() -> None:
    found = await checks(GIGACHAT_CREDENTIALS="not base64 at all!")
    assert found["credentials"][0] == "fail"
    assert "base64 of client_id:client_secret" in found["credentials"][1]
    assert {found[n][0] for n in doctor.UPSTREAM} == {"skip"}


async def test_refused_oauth_names_credentials_and_scope() -> None:
    fake = FakeGigaChat(FakeConfig(credentials="c29tZW9uZTplbHNl"))
    found = await checks(fake)
    status, detail = found["authorization"]
    assert status == "fail" and "401" in detail and "GIGACHAT_SCOPE" in detail
    assert found["models"] == ("skip", "needs a working authorization")


async def test_a_model_missing_from_the_list_is_named_with_the_alternatives() -> None:
    found = await checks(GIGACHAT_MODEL="GigaChat-9-Ultra")
    status, detail = found["models"]
    assert status == "fail" and "GIGACHAT_MODEL=GigaChat-9-Ultra is not offered" in detail
    assert "GigaChat-2-Max" in detail
    assert found["chat v1"][0] == "fail" and found["embeddings"][0] == "ok"


@pytest.mark.parametrize(
    ("path", "failing", "working"),
    [
        ("/api/v2/chat/completions", "chat v2", "chat v1"),
        ("/api/v1/chat/completions", "chat v1", "chat v2"),
    ],
)
async def test_chat_failing_on_one_contract_is_told_apart(
    path: str, failing: str, working: str
) -> None:
    found = await checks(broken(FakeGigaChat(), path, 404))
    assert found[failing][0] == "fail" and "Injected failure" in found[failing][1]
    assert found[working][0] == "ok"
    if failing == "chat v2":
        assert "GPT2GIGA_GIGACHAT_API_MODE=v1" in found[failing][1]


async def test_a_missing_embeddings_model_is_named() -> None:
    found = await checks(GPT2GIGA_EMBEDDINGS="EmbeddingsNone")
    assert found["embeddings"] == (
        "fail",
        "GPT2GIGA_EMBEDDINGS=EmbeddingsNone is not offered; GigaChat has: GigaChat, GigaChat-2, "
        "GigaChat-2-Pro, GigaChat-2-Max, Embeddings, EmbeddingsGigaR",
    )


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A TLS listener with a self-signed certificate: (https URL, certificate file)."""
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"https://127.0.0.1:{port}/api/v1", cert


async def test_an_untrusted_chain_gets_the_ca_bundle_advice(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    env = {"GIGACHAT_BASE_URL": url, "GIGACHAT_AUTH_URL": PLAIN["GIGACHAT_AUTH_URL"]}
    untrusted = await checks(**env)
    trusted = await checks(**env, GIGACHAT_CA_BUNDLE_FILE=str(cert))
    name = "tls " + url.split("/")[2]
    status, detail = untrusted[name]
    assert status == "fail" and "GIGACHAT_CA_BUNDLE_FILE" in detail
    assert "VERIFY_SSL_CERTS" not in detail  # never the first advice
    assert untrusted["authorization"][0] == "skip"
    assert trusted[name] == ("ok", "certificate chain trusted")


def test_the_report_is_plain_and_counts_failures() -> None:
    text = doctor.report(
        [
            doctor.Check("credentials", "ok", "fine"),
            doctor.Check("authorization", "fail", "refused"),
            doctor.Check("models", "skip", "needs a working authorization"),
        ]
    )
    assert text.splitlines() == [
        "ok    credentials    fine",
        "FAIL  authorization  refused",
        "skip  models         needs a working authorization",
        "1 check(s) failed.",
    ]


async def test_an_unreachable_host_is_named_with_what_to_check() -> None:
    from tests.e2e.conftest import free_port

    url = f"https://127.0.0.1:{free_port()}/api/v1"  # nothing listens there
    found = await checks(GIGACHAT_BASE_URL=url)
    status, detail = found["tls 127.0.0.1:" + url.split(":")[2].split("/")[0]]
    assert status == "fail" and detail.startswith("cannot connect (")
    assert "DNS" in detail and found["authorization"][0] == "skip"


async def test_a_shared_state_store_is_checked_when_one_is_configured(
    redis_server: Any, redis_prefix: str, tmp_path: Path
) -> None:
    assert "state store" not in await checks()  # in memory: nothing to check
    redis = await checks(
        GPT2GIGA_REDIS_URL=redis_server.url, GPT2GIGA_REDIS_KEY_PREFIX=redis_prefix
    )
    local = await checks(GPT2GIGA_STATE_DIR=str(tmp_path))
    assert redis["state store"] == (
        "ok",
        "redis keeps what the gateway writes (GPT2GIGA_REDIS_URL)",
    )
    assert local["state store"] == (
        "ok",
        "sqlite keeps what the gateway writes (GPT2GIGA_STATE_DIR)",
    )
    assert redis_server.command("EXISTS", f"{redis_prefix}t:doctor:probe") == b":0\r\n"


async def test_an_unreachable_redis_fails_the_check_without_its_address(own_redis: Any) -> None:
    url = own_redis.url
    own_redis.stop()
    found = await checks(GPT2GIGA_REDIS_URL=url, GPT2GIGA_REDIS_TIMEOUT_SECONDS="0.5")
    status, detail = found["state store"]
    assert status == "fail"
    assert detail == "redis did not answer; check GPT2GIGA_REDIS_URL and that this host reaches it"
    assert str(own_redis.port) not in detail
    assert statuses(found)["chat v2"] == "ok"  # GigaChat's checks are not affected
