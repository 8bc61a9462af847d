"""Replay: a logged request sent again through the whole app with the caller's own
credentials, marked as a replay, recorded as a request of its own."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gpt2giga.app import App
from gpt2giga.gigachat.fake.server import FakeGigaChat
from tests.ops.conftest import ADMIN, ADMIN_KEY, PROXY_KEY, admin_app
from tests.postgres_server import eventually

CHAT = {"model": "GigaChat-2-Max", "messages": [{"role": "user", "content": "Say hi"}]}
REPLAYING = {
    "GPT2GIGA_TRAFFIC_LOG_ENABLED": "true",
    "GPT2GIGA_TRAFFIC_LOG_CAPTURE_CONTENT": "true",
    "GPT2GIGA_TRAFFIC_LOG_BATCH_SIZE": "1",
    "GPT2GIGA_REPLAY_ENABLED": "true",
    "GPT2GIGA_ENABLE_API_KEY_AUTH": "true",
    "GPT2GIGA_API_KEY": PROXY_KEY,
}


def client(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


async def logged(c: httpx.AsyncClient, **query: str) -> list[dict[str, Any]]:
    """The records matching `query`, once the writer has stored at least one."""
    found: list[dict[str, Any]] = []

    async def some() -> bool:
        found[:] = (await c.get("/_admin/logs", params=query, headers=ADMIN)).json()["data"]
        return bool(found)

    await eventually(some)
    return found


@pytest.fixture
async def gateway(fake: FakeGigaChat, postgres_dsn: str) -> Any:
    app = admin_app(fake, postgres_dsn, **REPLAYING)
    await app.startup()
    async with client(app) as c:
        yield c
    await app.shutdown()


async def test_a_replay_runs_through_the_app_and_is_recorded_as_one(
    gateway: httpx.AsyncClient,
) -> None:
    c = gateway
    first = await c.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={"authorization": f"Bearer {PROXY_KEY}", "x-request-id": "orig-1"},
    )
    (source,) = await logged(c, request_id="orig-1")
    answer = await c.post(
        f"/_admin/logs/{source['id']}/replay", headers={**ADMIN, "x-api-key": PROXY_KEY}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["id"], body["request_id"], body["replayed"]) == (source["id"], "orig-1", True)
    mark = body["request"]["metadata"]["gpt2giga_replay"]
    assert (mark["source_log_id"], mark["source_request_id"]) == (source["id"], "orig-1")
    assert body["request"] == {
        "method": "POST",
        "path": "/v1/chat/completions",
        "metadata": {"gpt2giga_replay": mark},
    }
    replayed = body["response"]
    assert replayed["status_code"] == 200
    assert replayed["headers"]["content-type"] == "application/json"
    assert (
        replayed["body"]["choices"][0]["message"]["content"]
        == first.json()["choices"][0]["message"]["content"]
    )
    new_id = replayed["headers"]["x-request-id"]
    (record,) = await logged(c, request_id=new_id)
    assert record["id"] != source["id"] and record["status_code"] == 200
    assert record["metadata"]["replay"] == mark
    assert record["total_tokens"] and record["route"] == "/chat/completions"
    seen = (await c.get(f"/_admin/logs/{record['id']}/request", headers=ADMIN)).json()
    assert seen["request_headers"]["x-gpt2giga-replay"] == "true"
    assert seen["request_headers"]["x-api-key"] == "***"
    assert seen["request_body"] == CHAT


async def test_stored_credentials_are_never_used_the_callers_are(
    gateway: httpx.AsyncClient,
) -> None:
    c = gateway
    await c.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={"authorization": f"Bearer {PROXY_KEY}", "x-request-id": "orig-2"},
    )
    (source,) = await logged(c, request_id="orig-2")
    url = f"/_admin/logs/{source['id']}/replay"
    bare = (await c.post(url, headers=ADMIN)).json()
    assert bare["response"]["status_code"] == 401  # the proxy key is the caller's to give
    # The admin key in Authorization is not passed on as the caller's credentials.
    bearer = (await c.post(url, headers={"authorization": f"Bearer {ADMIN_KEY}"})).json()
    assert bearer["response"]["status_code"] == 401
    own = {**ADMIN, "authorization": f"Bearer {PROXY_KEY}"}
    assert (await c.post(url, headers=own)).json()["response"]["status_code"] == 200


async def test_a_stream_is_collected_whole_as_text(gateway: httpx.AsyncClient) -> None:
    c = gateway
    await c.post(
        "/v1/chat/completions",
        json={**CHAT, "stream": True},
        headers={"x-api-key": PROXY_KEY, "x-request-id": "orig-3"},
    )
    (source,) = await logged(c, request_id="orig-3")
    answer = await c.post(
        f"/_admin/logs/{source['id']}/replay", headers={**ADMIN, "x-api-key": PROXY_KEY}
    )
    replayed = answer.json()["response"]
    assert replayed["headers"]["content-type"] == "text/event-stream"
    assert replayed["body"].startswith("data: {") and replayed["body"].endswith("data: [DONE]\n\n")


async def test_an_anthropic_request_is_replayed_on_its_own_route(
    gateway: httpx.AsyncClient,
) -> None:
    c = gateway
    await c.post(
        "/v1/messages",
        json={
            "model": "GigaChat-2-Max",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}],
        },
        headers={
            "x-api-key": PROXY_KEY,
            "anthropic-version": "2023-06-01",
            "x-request-id": "orig-4",
        },
    )
    (source,) = await logged(c, request_id="orig-4")
    answer = await c.post(
        f"/_admin/logs/{source['id']}/replay", headers={**ADMIN, "x-api-key": PROXY_KEY}
    )
    replayed = answer.json()["response"]
    assert replayed["status_code"] == 200 and replayed["body"]["type"] == "message"


async def test_what_cannot_be_replayed_says_why(gateway: httpx.AsyncClient) -> None:
    c = gateway
    await c.get("/health", headers={"x-request-id": "get-1"})
    await c.post("/_admin/logs/retention/purge", headers={**ADMIN, "x-request-id": "adm-1"})
    (get,) = await logged(c, request_id="get-1")
    (admin,) = await logged(c, request_id="adm-1")
    cases = [
        (get["id"], 400, "Only POST traffic log requests can be replayed"),
        (admin["id"], 400, "Admin, debug, and log routes cannot be replayed"),
        ("00000000-0000-4000-8000-000000000000", 404, "Traffic log event not found"),
        ("nope", 400, "Invalid traffic log id"),
    ]
    for record_id, status, message in cases:
        answer = await c.post(f"/_admin/logs/{record_id}/replay", headers=ADMIN)
        assert (answer.status_code, answer.json()) == (status, {"detail": message})


async def test_without_a_captured_body_there_is_nothing_to_replay(
    fake: FakeGigaChat, postgres_dsn: str
) -> None:
    app = admin_app(
        fake, postgres_dsn, **{**REPLAYING, "GPT2GIGA_TRAFFIC_LOG_CAPTURE_CONTENT": "false"}
    )
    await app.startup()
    async with client(app) as c:
        await c.post(
            "/v1/chat/completions", json=CHAT, headers={"x-api-key": PROXY_KEY, "x-request-id": "o"}
        )
        (source,) = await logged(c, request_id="o")
        answer = await c.post(f"/_admin/logs/{source['id']}/replay", headers=ADMIN)
    await app.shutdown()
    assert (answer.status_code, answer.json()) == (
        409,
        {"detail": "Traffic log request body was not captured"},
    )


async def test_replay_switched_off_is_not_found(fake: FakeGigaChat, postgres_dsn: str) -> None:
    app = admin_app(fake, postgres_dsn, **{**REPLAYING, "GPT2GIGA_REPLAY_ENABLED": "false"})
    async with client(app) as c:
        answer = await c.post("/_admin/logs/nope/replay", headers=ADMIN)
    assert (answer.status_code, answer.json()) == (404, {"detail": "Not Found"})
