"""The OpenSearch mirror against a stand-in of its bulk and template APIs on 127.0.0.1
(no real OpenSearch runs here): the NDJSON framing, the documents, the template
installed when missing, retries of the batch and of 429 items, the mirror beside
PostgreSQL with the same ids."""

from __future__ import annotations

import asyncpg
import httpx
import msgspec
import respx

from gpt2giga.app import App
from gpt2giga.gigachat.fake.server import FakeGigaChat
from gpt2giga.observe.opensearch import OpenSearchSink, bulk_body, template
from gpt2giga.observe.postgres import TABLE
from tests.conftest import build_app, make_client, make_settings, over
from tests.observe.opensearch_standin import OpenSearchStandIn, basic
from tests.observe.test_postgres import record

CHAT = {"model": "GigaChat-2-Max", "messages": [{"role": "user", "content": "hello"}]}


def mirror(standin: OpenSearchStandIn, fake: FakeGigaChat, **env: str) -> App:
    settings = make_settings(
        GPT2GIGA_TRAFFIC_LOG_ENABLED="true",
        GPT2GIGA_TRAFFIC_LOG_SINK="opensearch",
        GPT2GIGA_OPENSEARCH_URL=standin.url,
        **env,
    )
    return App(settings, make_client(settings, httpx.ASGITransport(app=fake)))


async def test_requests_reach_opensearch_as_bulk_ndjson(fake: FakeGigaChat) -> None:
    async with OpenSearchStandIn() as standin:
        app = mirror(
            standin,
            fake,
            GPT2GIGA_OPENSEARCH_USERNAME="ops",
            GPT2GIGA_OPENSEARCH_PASSWORD="os-secret-1",
            GPT2GIGA_OPENSEARCH_BULK_SIZE="2",
        )
        await app.startup()
        async with over(app) as c:
            answers = [
                await c.post("/v1/chat/completions", json=CHAT, headers={"x-request-id": f"r{n}"})
                for n in range(3)
            ]
            answers.append(await c.get("/nowhere"))
        await app.shutdown()
    assert standin.problems == []
    assert all(len(body.split(b"\n")) <= 2 * 2 + 1 for body in standin.bulks)  # 2 per bulk
    docs = {doc["request_id"]: (verb, index, doc) for verb, index, doc in standin.docs.values()}
    assert set(docs) == {a.headers["x-request-id"] for a in answers}
    verb, index, doc = docs["r0"]
    assert (verb, index) == ("create", "gpt2giga-traffic")
    assert doc["@timestamp"] == doc["created_at"] and doc["created_at"].endswith("Z")
    assert (doc["model"], doc["has_error"], doc["input_tokens"]) == ("GigaChat-2-Max", False, 4)
    assert doc["protocol"] == "openai" and "error_type" not in doc  # nulls are left out
    missing = next(d for v, i, d in docs.values() if d["status_code"] == 404)
    assert missing["has_error"] is True and missing["model"] is None
    assert set(standin.auth) == {basic("ops", "os-secret-1")}


async def test_the_index_template_is_installed_when_missing_and_only_then(
    fake: FakeGigaChat,
) -> None:
    async with OpenSearchStandIn() as standin:
        app = mirror(standin, fake)
        await app.startup()
        await app.shutdown()
        assert standin.templates == {
            "gpt2giga-traffic-template": template("gpt2giga-traffic", data_stream=True)
        }
        installed = standin.templates["gpt2giga-traffic-template"]
        assert installed["index_patterns"] == ["gpt2giga-traffic*"]
        assert installed["data_stream"] == {}
        props = installed["template"]["mappings"]["properties"]
        assert props["@timestamp"] == {"type": "date"} and props["route"] == {"type": "keyword"}
        assert props["latency_ms"] == {"type": "float"} and props["has_error"]["type"] == "boolean"
        puts = [r for r in standin.requests if r[0] == "PUT"]
        again = mirror(standin, fake)
        await again.startup()
        await again.shutdown()
        assert [r for r in standin.requests if r[0] == "PUT"] == puts  # present: left alone


async def test_an_index_not_a_data_stream_gets_index_actions(fake: FakeGigaChat) -> None:
    async with OpenSearchStandIn() as standin:
        app = mirror(
            standin,
            fake,
            GPT2GIGA_OPENSEARCH_DATA_STREAM="false",
            GPT2GIGA_OPENSEARCH_INDEX="traffic-a",
        )
        await app.startup()
        async with over(app) as c:
            await c.get("/health")
        await app.shutdown()
    assert "data_stream" not in standin.templates["traffic-a-template"]
    ((verb, index, _),) = standin.docs.values()
    assert (verb, index) == ("index", "traffic-a")


async def test_a_failed_bulk_is_retried_and_429_items_are_sent_again() -> None:
    async with OpenSearchStandIn() as standin:
        sink = OpenSearchSink(make_settings(GPT2GIGA_OPENSEARCH_URL=standin.url))
        await sink.open()
        one, two, three = record(1), record(2), record(3)
        standin.item_statuses = [429, 400, 201]
        refused = await sink.write([one, two, three])
        assert refused == 1  # the 400: OpenSearch will not take it, whatever we do
        assert set(standin.docs) == {one.id, three.id}  # the 429 one, on the second bulk
        assert standin.bulks[-1] == bulk_body([one], "gpt2giga-traffic", "create")
        await sink.close()
    assert standin.problems == []


async def test_a_bulk_answered_503_is_sent_again(fake: FakeGigaChat) -> None:
    async with OpenSearchStandIn() as standin:
        app = mirror(standin, fake)
        await app.startup()
        standin.fail_next = 2
        async with over(app) as c:
            await c.get("/health")
        await app.shutdown()
    assert app.observers.traffic is not None
    (q,) = app.observers.traffic.queues
    assert (q.written, q.dropped, len(standin.docs)) == (1, {}, 1)
    assert len(standin.bulks) == 3  # two 503s, then stored


async def test_opensearch_down_costs_records_not_requests(upstream: respx.MockRouter) -> None:
    async with OpenSearchStandIn() as gone:
        url = gone.url  # a port nobody listens on once the block ends
    app = build_app(
        GPT2GIGA_TRAFFIC_LOG_ENABLED="true",
        GPT2GIGA_TRAFFIC_LOG_SINK="opensearch",
        GPT2GIGA_OPENSEARCH_URL=url,
    )
    await app.startup()
    async with over(app) as c:
        assert (await c.get("/health")).json() == {"status": "ok"}
    await app.shutdown()
    assert app.observers.traffic is not None
    assert app.observers.traffic.queues[0].dropped == {"write_failed": 1}


async def test_a_mirror_writes_the_same_record_to_postgres_and_opensearch(
    fake: FakeGigaChat, postgres_dsn: str
) -> None:
    async with OpenSearchStandIn() as standin:
        app = mirror(
            standin,
            fake,
            GPT2GIGA_TRAFFIC_LOG_SINKS="postgres, opensearch",
            GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN=postgres_dsn,
        )
        await app.startup()
        async with over(app) as c:
            await c.post("/v1/chat/completions", json=CHAT)
        await app.shutdown()
    conn = await asyncpg.connect(postgres_dsn)
    ids = [str(r["id"]) for r in await conn.fetch(f"SELECT id FROM {TABLE}")]
    await conn.close()
    assert ids == list(standin.docs)
    ((_, _, doc),) = standin.docs.values()
    assert msgspec.json.decode(msgspec.json.encode(doc))["id"] == ids[0]
