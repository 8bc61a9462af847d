"""The whole app on a shared state store: two apps stand for two workers or replicas.

Each app has its own GigaChat client over the one in-process fake GigaChat,
and opens the store the settings name: a real Redis (the suite's server), or
the SQLite file of a one-box gateway with several workers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gpt2giga.app import App
from gpt2giga.gigachat.fake.server import DEMO_CREDENTIALS, FakeGigaChat
from tests.conftest import make_client, make_settings
from tests.redis_server import RedisServer

Gateways = Callable[..., tuple[App, httpx.AsyncClient]]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x07" * 24
LIMITED = {"GPT2GIGA_MODEL_MAX_CONNECTIONS": '{"GigaChat-2-Max": 1}'}


@pytest.fixture
async def gateways(fake: FakeGigaChat) -> AsyncIterator[Gateways]:
    """`gateways(**env)`: another app (a worker, a replica) in front of the same fake."""
    built: list[tuple[App, httpx.AsyncClient]] = []

    def build(**env: str) -> tuple[App, httpx.AsyncClient]:
        settings = make_settings(**env)
        upstream = make_client(settings, httpx.ASGITransport(app=fake))
        app = App(settings, upstream)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")
        built.append((app, client))
        return app, client

    yield build
    for app, client in built:
        await client.aclose()
        assert app.ctx is not None
        await app.ctx.upstream.aclose()
        await app.state.close()


@pytest.fixture(params=["redis", "sqlite"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The settings of a shared store, for every app of the test."""
    if request.param == "sqlite":
        return {"GPT2GIGA_STATE_DIR": str(tmp_path)}
    server: RedisServer = request.getfixturevalue("redis_server")
    prefix: str = request.getfixturevalue("redis_prefix")
    return {"GPT2GIGA_REDIS_URL": server.url, "GPT2GIGA_REDIS_KEY_PREFIX": prefix}


def words_of(request: tuple[str, bytes]) -> list[str]:
    """The texts of the messages of a chat request the fake GigaChat received."""
    body = json.loads(request[1])
    return [m["content"] for m in body["messages"]]


async def test_a_continuation_finds_its_response_on_another_worker(
    gateways: Gateways, shared: dict[str, str], fake: FakeGigaChat
) -> None:
    (_, one), (_, two) = gateways(**shared), gateways(**shared)
    first = await one.post("/v1/responses", json={"model": "GigaChat", "input": "Меня зовут Ада"})
    follow = {"model": "GigaChat", "input": "Как меня зовут?", "previous_response_id": ""}
    follow["previous_response_id"] = first.json()["id"]
    second = await two.post("/v1/responses", json=follow)
    assert (first.status_code, second.status_code) == (200, 200), second.text
    said = first.json()["output"][0]["content"][0]["text"]
    assert words_of(fake.requests[-1]) == ["Меня зовут Ада", said, "Как меня зовут?"]
    got = await one.get(f"/v1/responses/{second.json()['id']}")
    assert got.status_code == 200 and got.json() == second.json()
    deleted = await one.delete(f"/v1/responses/{first.json()['id']}")
    assert deleted.json() == {"id": first.json()["id"], "object": "response", "deleted": True}
    gone = await two.get(f"/v1/responses/{first.json()['id']}")
    assert gone.status_code == 404 and "not found" in gone.json()["error"]["message"]


async def test_a_streamed_response_is_stored_before_its_last_event_reaches_the_client(
    gateways: Gateways, shared: dict[str, str]
) -> None:
    (_, one), (_, two) = gateways(**shared), gateways(**shared)
    streamed = await one.post(
        "/v1/responses", json={"model": "GigaChat", "input": "hi", "stream": True}
    )
    events = [json.loads(line[6:]) for line in streamed.text.splitlines() if line[:6] == "data: "]
    completed = events[-1]
    assert completed["type"] == "response.completed"
    got = await two.get(f"/v1/responses/{completed['response']['id']}")
    assert got.json() == completed["response"]


async def test_an_image_is_uploaded_once_for_all_workers(
    gateways: Gateways, shared: dict[str, str], fake: FakeGigaChat
) -> None:
    image = "data:image/png;base64," + base64.b64encode(PNG).decode()
    content = [{"type": "text", "text": "?"}, {"type": "image_url", "image_url": {"url": image}}]
    body = {"model": "GigaChat", "messages": [{"role": "user", "content": content}]}
    for _, client in (gateways(**shared), gateways(**shared)):
        r = await client.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
    assert len(fake.files) == 1
    [file_id] = fake.files
    assert [file_id in r[1].decode() for r in fake.requests] == [True, True]


async def test_redis_holds_no_credentials_only_a_hash_of_the_account(
    gateways: Gateways, redis_server: RedisServer, redis_prefix: str
) -> None:
    env = {"GPT2GIGA_REDIS_URL": redis_server.url, "GPT2GIGA_REDIS_KEY_PREFIX": redis_prefix}
    _, client = gateways(**env)
    image = "data:image/png;base64," + base64.b64encode(PNG).decode()
    content = [{"type": "input_text", "text": "?"}, {"type": "input_image", "image_url": image}]
    r = await client.post(
        "/v1/responses",
        json={"model": "GigaChat", "input": [{"role": "user", "content": content}]},
    )
    assert r.status_code == 200, r.text
    keys = redis_server.command("KEYS", f"{redis_prefix}*").decode(errors="replace")
    upload_key = next(k for k in keys.split("\r\n") if k.startswith(f"{redis_prefix}t:uploads:"))
    dumped = keys + redis_server.command("GET", upload_key).decode(errors="replace")
    for value in (DEMO_CREDENTIALS, base64.b64decode(DEMO_CREDENTIALS).decode(), "demo-secret"):
        assert value not in dumped
    digest, mime, account = upload_key.removeprefix(f"{redis_prefix}t:uploads:").split(":")
    assert (len(digest), mime, len(account)) == (64, "image/png", 32)


# --- Redis down and back ------------------------------------------------------------------


async def test_redis_down_fails_only_what_needs_it_in_its_dialect_and_everything_recovers(
    gateways: Gateways, own_redis: RedisServer, redis_prefix: str, fake: FakeGigaChat
) -> None:
    env = {
        "GPT2GIGA_REDIS_URL": own_redis.url,
        "GPT2GIGA_REDIS_KEY_PREFIX": redis_prefix,
        "GPT2GIGA_REDIS_TIMEOUT_SECONDS": "0.5",
        "GPT2GIGA_METRICS_ENABLED": "true",
        **LIMITED,
    }
    _, c = gateways(**env)
    kept = await c.post("/v1/responses", json={"model": "GigaChat", "input": "hi"})
    own_redis.stop()
    answered = await stateless_calls(c)
    assert [r.status_code for r in answered] == [200] * 5, [r.text for r in answered]

    before = len(fake.requests)
    create = await c.post("/v1/responses", json={"model": "GigaChat-2-Max", "input": "hi"})
    assert create.status_code == 503 and create.headers["retry-after"] == "1"
    error = create.json()["error"]
    assert error["code"] == "state_unavailable" and error["type"] == "server_error"
    assert error["message"] == (
        "The gateway's shared state store (Redis) is unavailable; retry shortly"
    )
    assert len(fake.requests) == before  # refused before GigaChat was asked
    unstored = await c.post(
        "/v1/responses", json={"model": "GigaChat", "input": "hi", "store": False}
    )
    assert unstored.status_code == 200
    for method in ("GET", "DELETE"):
        r = await c.request(method, f"/v1/responses/{kept.json()['id']}")
        assert r.status_code == 503 and r.json()["error"]["code"] == "state_unavailable"
    ready = await c.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "degraded",
        "reason": "state store Redis unreachable",
        "state_store": "down",
    }
    metrics = (await c.get("/metrics")).text
    assert "gpt2giga_state_store_up 0.0" in metrics
    assert 'gpt2giga_model_limit_fallback_total{model="GigaChat-2-Max"} 4.0' in metrics

    own_redis.start()
    await until_ready(c)
    assert "gpt2giga_state_store_up 1.0" in (await c.get("/metrics")).text
    again = await c.post("/v1/responses", json={"model": "GigaChat", "input": "hi"})
    follow = await c.post(
        "/v1/responses",
        json={"model": "GigaChat", "input": "more", "previous_response_id": again.json()["id"]},
    )
    assert (again.status_code, follow.status_code) == (200, 200)


async def stateless_calls(c: httpx.AsyncClient) -> list[httpx.Response]:
    """One call per dialect on the limited model: none needs the store."""
    text = [{"role": "user", "content": "hi"}]
    return [
        await c.post("/v1/chat/completions", json={"model": "GigaChat-2-Max", "messages": text}),
        await c.post(
            "/v1/messages",
            json={"model": "GigaChat-2-Max", "max_tokens": 10, "messages": text},
        ),
        await c.post(
            "/v1beta/models/GigaChat-2-Max:generateContent",
            json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        ),
        await c.post(
            "/v1/chat/completions",
            json={"model": "GigaChat-2-Max", "messages": text, "stream": True},
        ),
        await c.get("/v1/models"),
    ]


async def until_ready(c: httpx.AsyncClient) -> None:
    for _ in range(100):
        body: dict[str, Any] = (await c.get("/ready")).json()
        if body["status"] == "ready":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the store did not come back within 5 s")


async def test_a_redis_that_hangs_costs_one_timeout_then_nothing(
    gateways: Gateways, own_redis: RedisServer, redis_prefix: str
) -> None:
    env = {
        "GPT2GIGA_REDIS_URL": own_redis.url,
        "GPT2GIGA_REDIS_KEY_PREFIX": redis_prefix,
        "GPT2GIGA_REDIS_TIMEOUT_SECONDS": "0.3",
        **LIMITED,
    }
    _, c = gateways(**env)
    text = [{"role": "user", "content": "hi"}]
    body = {"model": "GigaChat-2-Max", "messages": text}
    assert (await c.post("/v1/chat/completions", json=body)).status_code == 200  # connected
    assert own_redis.proc is not None
    own_redis.proc.send_signal(signal.SIGSTOP)  # alive, accepting, answering nothing
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        first = await c.post("/v1/chat/completions", json=body)
        waited = loop.time() - started
        started = loop.time()
        then = await c.post("/v1/chat/completions", json=body)
        after = loop.time() - started
        refused = await c.post("/v1/responses", json={"model": "GigaChat", "input": "hi"})
    finally:
        own_redis.proc.send_signal(signal.SIGCONT)
    assert (first.status_code, then.status_code, refused.status_code) == (200, 200, 503)
    assert waited < 1.5  # the call's timeout (and one retry), not Redis's pause
    assert after < 0.2  # the breaker is open: Redis is not asked
    await until_ready(c)
