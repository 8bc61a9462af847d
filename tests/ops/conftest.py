"""The admin API's test set-up: an app over a fresh PostgreSQL, and records seeded
with known values so that each filter's answer is known exactly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest

from gpt2giga.app import App
from gpt2giga.gigachat.fake.server import FakeGigaChat
from gpt2giga.observe.exchange import Exchange
from gpt2giga.observe.postgres import Database
from gpt2giga.observe.traffic import Recorder, TrafficRecord
from tests.conftest import make_client, make_settings

ADMIN_KEY = "admin-key-0123456789"
PROXY_KEY = "proxy-key-9876543210"
ADMIN = {"x-admin-api-key": ADMIN_KEY}
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)  # in the past, whenever the tests run
_RECORDER = Recorder(make_settings())


def record(request_id: str, minutes: int, **fields: Any) -> TrafficRecord:
    """A record created `minutes` after T0; other fields as given."""
    ex = Exchange(request_id, {})
    ex.method, ex.route, ex.dialect, ex.status = "POST", "/chat/completions", "openai", 200
    base = _RECORDER.record(ex)
    given = {"created_at": T0 + timedelta(minutes=minutes), "trace_id": f"trace-{request_id}"}
    return msgspec.structs.replace(base, **{**given, **fields})


# Six records, one per column a filter reads; ids sort the same as their times.
SEEDED = [
    record("a", 0, protocol="openai", model_requested="gpt-4o", model_effective="GigaChat-2-Max"),
    record("b", 10, protocol="anthropic", route="/messages", model_requested="claude-3"),
    record("c", 20, protocol="gemini", status_code=429, error_type="rate_limited"),
    record("d", 30, protocol="openai", api_key_hash="hmac-sha256:00000000000000dd"),
    record("e", 40, protocol="system", route="/health", method="GET", status_code=None),
    record(
        "f",
        50,
        protocol="openai",
        status_code=500,
        request_body_redacted={"model": "GigaChat", "messages": []},
        response_body_redacted={"error": "x"},
        request_headers_redacted={"user-agent": "t"},
    ),
]


def admin_app(fake: FakeGigaChat, dsn: str | None, **env: str) -> App:
    values = {"GPT2GIGA_ADMIN_API_ENABLED": "true", "GPT2GIGA_ADMIN_API_KEY": ADMIN_KEY}
    if dsn is not None:
        values.update(GPT2GIGA_TRAFFIC_LOG_SINK="postgres", GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN=dsn)
    settings = make_settings(**{**values, **env})
    return App(settings, make_client(settings, httpx.ASGITransport(app=fake)))


async def seed(dsn: str, records: list[TrafficRecord]) -> None:
    db = Database(dsn)
    try:
        assert await db.insert(records) == 0
    finally:
        await db.close()


@pytest.fixture
async def seeded(fake: FakeGigaChat, postgres_dsn: str) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client over the six seeded records (the traffic log itself is off)."""
    await seed(postgres_dsn, SEEDED)
    app = admin_app(fake, postgres_dsn)
    await app.startup()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway", headers=ADMIN
    ) as client:
        yield client
    await app.shutdown()


def ids(answer: httpx.Response) -> list[str]:
    return [row["request_id"] for row in answer.json()["data"]]
