"""The route table, prefixes, dialect sniffing, the error boundary and the proxy API key."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gpt2giga.app import App
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.upstream import build_pool
from gpt2giga.router import Router, sniff, split_prefix
from tests.conftest import make_settings

HELLO = {"model": "GigaChat", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("path", "contract", "rest"),
    [
        ("/chat/completions", None, "/chat/completions"),
        ("/v1/chat/completions", "v1", "/chat/completions"),
        ("/v2/chat/completions", "v2", "/chat/completions"),
        ("/v2/v1/messages", "v2", "/v1/messages"),
        ("/v1beta/models/GigaChat:generateContent", None, "/models/GigaChat:generateContent"),
        ("/v2/v1beta/models/x:countTokens", "v2", "/models/x:countTokens"),
        ("/v1", "v1", "/"),
        ("/v10/chat", None, "/v10/chat"),
    ],
)
def test_prefix_picks_the_contract(path: str, contract: str | None, rest: str) -> None:
    assert split_prefix(path) == (contract, rest)


async def _ok(ctx: Any, request: Any) -> Any:
    return None


def test_router_collapses_a_doubled_version_and_reports_allowed_methods() -> None:
    router = Router(
        [("POST", "/messages", _ok, "anthropic"), ("GET", "/models/{model:path}", _ok, None)], []
    )
    doubled = router.match("/v2/v1/messages", "POST")
    assert doubled.route is not None and doubled.contract == "v2"
    wrong = router.match("/messages", "GET")
    assert wrong.route is None and wrong.allowed == ("POST",)
    model = router.match("/v1/models/GigaChat-2-Max:2.0", "GET")
    assert model.params == {"model": "GigaChat-2-Max:2.0"} and model.contract == "v1"
    assert router.match("/models/x", "HEAD").route is not None


@pytest.mark.parametrize(
    ("headers", "path", "query", "dialect"),
    [
        ([], "/chat/completions", b"", "openai"),
        ([(b"anthropic-version", b"2023-06-01")], "/models", b"", "anthropic"),
        ([(b"x-goog-api-key", b"k")], "/models", b"", "gemini"),
        ([], "/v1beta/models", b"", "gemini"),
        ([], "/models/x:generateContent", b"", "gemini"),
        ([], "/models", b"key=abc", "gemini"),
    ],
)
def test_sniff_reads_the_callers_dialect(
    headers: list[tuple[bytes, bytes]], path: str, query: bytes, dialect: str
) -> None:
    assert sniff({"headers": headers, "path": path, "query_string": query}) == dialect


async def test_unknown_path_is_a_404_in_openai_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/nowhere")
    assert r.status_code == 404
    assert r.json() == {
        "error": {
            "message": "No route for GET /nowhere",
            "type": "invalid_request_error",
            "param": None,
            "code": "not_found",
        }
    }


async def test_wrong_method_is_a_405_with_allow(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/chat/completions")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert r.json()["error"]["code"] == "method_not_allowed"


async def test_health_and_ping(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.post("/ping")).json() == {"status": "ok"}
    head = await client.head("/health")
    assert head.status_code == 200 and head.content == b""


class Exploding(GigaChatClient):
    async def chat(self, *args: Any, **kwargs: Any) -> giga.ChatCompletionResponse:
        raise RuntimeError("boom with secret-token-123")


async def test_unexpected_error_is_a_500_without_details(caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings()
    pool = build_pool(settings.gigachat, httpx.AsyncHTTPTransport())
    app = App(settings, Exploding(settings.gigachat, pool))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        with caplog.at_level(logging.ERROR, "gpt2giga"):
            r = await c.post("/chat/completions", json=HELLO)
    assert r.status_code == 500
    assert r.json()["error"] == {
        "message": "Internal gateway error",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    assert "secret-token" not in r.text and "Traceback" not in r.text
    assert "unhandled error" in caplog.text


@pytest.fixture
def keyed(gateway: Callable[..., httpx.AsyncClient]) -> httpx.AsyncClient:
    return gateway(GPT2GIGA_ENABLE_API_KEY_AUTH="true", GPT2GIGA_API_KEY="s3cret")


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"authorization": "Bearer s3cret"}, {}),
        ({"x-api-key": "s3cret"}, {}),
        ({"x-goog-api-key": "s3cret"}, {}),
        ({}, {"key": "s3cret"}),
    ],
)
async def test_api_key_accepted_where_sdks_send_it(
    keyed: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str]
) -> None:
    async with keyed as c:
        r = await c.post("/chat/completions", json=HELLO, headers=headers, params=params)
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"].endswith("You said: hi")


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}, {"x-api-key": "s3cre"}])
async def test_wrong_or_missing_key_is_a_401(
    keyed: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    async with keyed as c:
        r = await c.post("/chat/completions", json=HELLO, headers=headers)
        open_health = await c.get("/health")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"
    assert "s3cret" not in r.text
    assert open_health.status_code == 200


async def test_oversize_body_is_refused_before_reading_it(
    gateway: Callable[..., httpx.AsyncClient],
) -> None:
    async with gateway(GPT2GIGA_MAX_REQUEST_BODY_BYTES="2048") as c:
        r = await c.post("/chat/completions", content=b"{" + b" " * 4096 + b"}")
    assert r.status_code == 413
    assert "2048 bytes" in r.json()["error"]["message"]


async def test_oversize_chunked_body_is_refused(gateway: Callable[..., httpx.AsyncClient]) -> None:
    async def body() -> Any:
        for _ in range(8):
            yield b" " * 1024

    async with gateway(GPT2GIGA_MAX_REQUEST_BODY_BYTES="2048") as c:
        r = await c.post("/chat/completions", content=body())
    assert r.status_code == 413
    assert r.json()["error"]["message"] == (
        "Request body is larger than the gateway's limit of 2048 bytes"
    )
