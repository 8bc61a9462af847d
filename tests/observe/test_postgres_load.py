"""The PostgreSQL sink under traffic: the database stopped and started again mid-way, down at
start-up, and a soak of 10,000 requests with nothing lost (in-process, not timed)."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from gpt2giga.app import App
from gpt2giga.gigachat.fake.server import FakeGigaChat
from gpt2giga.observe.postgres import TABLE
from tests.conftest import make_client, make_settings
from tests.postgres_server import PostgresServer, eventually

CHAT = {"model": "GigaChat-2-Max", "messages": [{"role": "user", "content": "hello"}]}


def gateway(fake: FakeGigaChat, dsn: str, **env: str) -> App:
    settings = make_settings(
        GPT2GIGA_TRAFFIC_LOG_ENABLED="true",
        GPT2GIGA_TRAFFIC_LOG_SINK="postgres",
        GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN=dsn,
        GPT2GIGA_METRICS_ENABLED="true",
        **env,
    )
    return App(settings, make_client(settings, httpx.ASGITransport(app=fake)))


async def chat(c: httpx.AsyncClient, n: int) -> str:
    """One chat request, checked whole; its request id."""
    answer = await c.post("/v1/chat/completions", json=CHAT, headers={"x-request-id": f"r-{n}"})
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"]
    return answer.headers["x-request-id"]


async def stored(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return {r["request_id"] for r in await conn.fetch(f"SELECT request_id FROM {TABLE}")}
    finally:
        await conn.close()


async def test_a_database_restart_drops_and_counts_and_requests_never_notice(
    fake: FakeGigaChat, postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    app = gateway(
        fake,
        postgres_dsn,
        GPT2GIGA_TRAFFIC_LOG_QUEUE_SIZE="100",
        GPT2GIGA_TRAFFIC_LOG_BATCH_SIZE="10",
    )
    await app.startup()
    (q,) = app.observers.traffic.queues if app.observers.traffic else ()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
    async with client as c:
        before = [await chat(c, n) for n in range(30)]

        async def all_before() -> bool:
            return set(before) <= await stored(postgres_dsn)

        await eventually(all_before)
        postgres_server.stop()
        during = [await chat(c, n) for n in range(30, 330)]  # every one answered in full
        postgres_server.start()

        async def resumed() -> bool:
            return len(await stored(postgres_dsn)) > len(before)

        await eventually(resumed, within=30)
        await eventually(lambda: _true(q.written + sum(q.dropped.values()) == 330), within=30)
        after = [await chat(c, n) for n in range(330, 360)]
        metrics = (await c.get("/metrics")).text
    await app.shutdown()
    rows = await stored(postgres_dsn)
    assert set(before) <= rows and set(after) <= rows  # writing resumed after the restart
    dropped = sum(q.dropped.values())
    assert dropped > 0 and set(q.dropped) <= {"queue_full", "write_failed"}
    assert len(rows) == q.written == 361 - dropped  # 360 chats and one /metrics, none twice
    assert len(set(during) - rows) == dropped
    for reason, count in q.dropped.items():
        line = f'gpt2giga_traffic_log_dropped_total{{reason="{reason}",sink="postgres"}}'
        assert f"{line} {float(count)}" in metrics


async def _true(value: bool) -> bool:
    return value


async def test_a_database_down_at_start_up_stops_nothing_and_is_used_once_up(
    fake: FakeGigaChat, postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    postgres_server.stop()
    app = gateway(fake, postgres_dsn, GPT2GIGA_TRAFFIC_LOG_BATCH_SIZE="1")
    try:
        await app.startup()  # the gateway starts without its database
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        )
        async with client as c:
            assert await chat(c, 1) == "r-1"
            postgres_server.start()
            await asyncio.sleep(0)
            ids = [await chat(c, n) for n in range(2, 5)]
        await app.shutdown()
    finally:
        if postgres_server.proc is None:
            postgres_server.start()
    assert set(ids) <= await stored(postgres_dsn)  # migrated on first contact, then written


async def test_a_soak_of_ten_thousand_requests_loses_nothing(
    fake: FakeGigaChat, postgres_dsn: str
) -> None:
    app = gateway(fake, postgres_dsn, GPT2GIGA_TRAFFIC_LOG_QUEUE_SIZE="10000")
    await app.startup()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
    sent: list[str] = []
    async with client as c:
        for start in range(0, 10_000, 50):
            sent += await asyncio.gather(*(chat(c, n) for n in range(start, start + 50)))
    await app.shutdown()
    assert app.observers.traffic is not None
    (q,) = app.observers.traffic.queues
    assert q.dropped == {} and q.written == 10_000
    conn = await asyncpg.connect(postgres_dsn)
    try:
        count, distinct, tokens = await conn.fetchrow(
            f"SELECT count(*), count(DISTINCT request_id), sum(total_tokens) FROM {TABLE}"
        )
        assert (count, distinct) == (10_000, 10_000)
        assert tokens > 10_000  # every record carries its usage
    finally:
        await conn.close()
    assert len(set(sent)) == 10_000
