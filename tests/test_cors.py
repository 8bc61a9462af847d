"""CORS: off unless configured; preflights answered at the edge; headers on every answer."""

from __future__ import annotations

import respx

from tests.conftest import build_app, over

PREFLIGHT = {
    "origin": "https://app.example",
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization, content-type, x-stainless-os",
}
HELLO = {"model": "GigaChat", "messages": [{"role": "user", "content": "hi"}]}


async def test_without_settings_there_is_no_cors_at_all() -> None:
    async with over(build_app()) as c:
        preflight = await c.options("/v1/chat/completions", headers=PREFLIGHT)
        health = await c.get("/health", headers={"origin": "https://app.example"})
    assert preflight.status_code == 405
    assert not [h for h in health.headers if h.startswith("access-control-")]


async def test_wildcard_preflight_is_answered_here_even_with_api_key_auth(
    upstream: respx.MockRouter,
) -> None:
    env = {
        "GPT2GIGA_CORS_ALLOW_ORIGINS": "*",
        "GPT2GIGA_ENABLE_API_KEY_AUTH": "true",
        "GPT2GIGA_API_KEY": "k-1",
    }
    async with over(build_app(**env)) as c:
        preflight = await c.options("/v1/chat/completions", headers=PREFLIGHT)
        refused = await c.post("/v1/chat/completions", json=HELLO, headers={"origin": "https://x"})
    assert preflight.status_code == 204 and preflight.content == b""
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-methods"] == "*"
    assert (
        preflight.headers["access-control-allow-headers"]
        == PREFLIGHT["access-control-request-headers"]
    )
    assert not upstream.calls  # nothing reached GigaChat, not even OAuth
    # A refusal is still readable by the page, request id included.
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "*"
    assert "x-request-id" in refused.headers["access-control-expose-headers"]


async def test_listed_origins_are_echoed_and_others_get_nothing() -> None:
    env = {
        "GPT2GIGA_CORS_ALLOW_ORIGINS": '["https://app.example", "http://localhost:3000"]',
        "GPT2GIGA_CORS_ALLOW_METHODS": "GET,POST",
        "GPT2GIGA_CORS_ALLOW_HEADERS": "authorization,content-type",
    }
    async with over(build_app(**env)) as c:
        allowed = await c.options("/v1/chat/completions", headers=PREFLIGHT)
        other = await c.options(
            "/v1/chat/completions", headers={**PREFLIGHT, "origin": "https://evil.example"}
        )
        health = await c.get("/health", headers={"origin": "http://localhost:3000"})
        stranger = await c.get("/health", headers={"origin": "https://evil.example"})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert allowed.headers["vary"] == "origin"
    assert allowed.headers["access-control-allow-methods"] == "GET, POST"
    assert allowed.headers["access-control-allow-headers"] == "authorization, content-type"
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers
    assert health.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert stranger.status_code == 200 and "access-control-allow-origin" not in stranger.headers
