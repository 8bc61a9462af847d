"""Request ids and tracing headers: accepted or made, returned, and forwarded to GigaChat safely."""

from __future__ import annotations

import uuid

import pytest
import respx

from gpt2giga.observe.exchange import Exchange, new_request_id, random_hex
from tests.conftest import AUTH, BASE, V1_CHAT, build_app, over

V1_ANSWER = {
    "choices": [{"message": {"role": "assistant", "content": "Hi!"}, "index": 0}],
    "created": 1,
    "model": "GigaChat",
    "object": "chat.completion",
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}
HELLO = {"model": "GigaChat", "messages": [{"role": "user", "content": "hi"}]}
CLIENT_HEADERS = {
    "x-request-id": "req-42.a:b",
    "x-session-id": "session-7",
    "x-client-id": "ide-plugin",
    "x-trace-id": "trace-1",
    "x-agent-id": "agent-1",
    "x-service-id": "svc-1",
    "x-operation-id": "op-1",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "cookie": "session=secret-cookie",
    "authorization": "Bearer sk-client-key",
    "x-api-key": "sk-other-key",
    "x-stainless-os": "Linux",
    "anthropic-version": "2023-06-01",
    "openai-organization": "org-1",
    "x-custom": "not-forwarded",
}
FORWARDED = {
    "x-request-id": "req-42.a:b",
    "x-session-id": "session-7",
    "x-client-id": "ide-plugin",
    "x-trace-id": "trace-1",
    "x-agent-id": "agent-1",
    "x-service-id": "svc-1",
    "x-operation-id": "op-1",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
}


def raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in headers.items()]


def test_a_plain_client_request_id_is_kept_and_tracing_headers_are_picked() -> None:
    ex = Exchange.open(raw(CLIENT_HEADERS))
    assert ex.request_id == "req-42.a:b"
    assert {k.lower(): v for k, v in ex.upstream_headers.items()} == FORWARDED


@pytest.mark.parametrize("value", ["", "has space", "x" * 129, 'quote"d', "ünïcode"])
def test_an_odd_request_id_is_replaced_by_a_fresh_uuid(value: str) -> None:
    ex = Exchange.open([(b"x-request-id", value.encode())])
    assert uuid.UUID(ex.request_id).version == 4
    assert ex.upstream_headers == {"X-Request-ID": ex.request_id}


def test_an_oversized_or_non_ascii_tracing_value_is_not_forwarded() -> None:
    ex = Exchange.open(
        [(b"x-session-id", b"s" * 257), (b"x-client-id", b"c" * 256), (b"x-trace-id", b"caf\xe9")]
    )
    assert "X-Session-ID" not in ex.upstream_headers and "X-Trace-ID" not in ex.upstream_headers
    assert ex.upstream_headers["X-Client-ID"] == "c" * 256


async def test_gigachat_gets_the_id_and_tracing_headers_but_no_client_secrets(
    upstream: respx.MockRouter,
) -> None:
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    models = upstream.get(BASE + "/models").respond(json={"data": [], "object": "list"})
    async with over(build_app()) as c:
        r = await c.post("/v1/chat/completions", json=HELLO, headers=CLIENT_HEADERS)
        listed = await c.get("/v1/models", headers={"x-request-id": "list-1"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "req-42.a:b"
    sent = chat.calls[0].request.headers
    assert {k: sent[k] for k in FORWARDED} == FORWARDED
    assert sent["authorization"] == "Bearer tok-1"  # the gateway's token, not the client's
    for name in ("cookie", "x-api-key", "x-stainless-os", "anthropic-version", "x-custom"):
        assert name not in sent
    assert "openai-organization" not in sent
    assert listed.headers["x-request-id"] == "list-1"
    assert models.calls[0].request.headers["x-request-id"] == "list-1"
    (oauth,) = [call.request for call in upstream.calls if str(call.request.url) == AUTH]
    assert "x-session-id" not in oauth.headers and "x-request-id" not in oauth.headers


async def test_without_an_id_one_is_made_returned_and_sent_upstream(
    upstream: respx.MockRouter,
) -> None:
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    async with over(build_app()) as c:
        r = await c.post("/v1/chat/completions", json=HELLO)
        missing = await c.get("/nowhere")
    made = r.headers["x-request-id"]
    assert uuid.UUID(made).version == 4
    assert chat.calls[0].request.headers["x-request-id"] == made
    assert missing.status_code == 404 and uuid.UUID(missing.headers["x-request-id"])


async def test_an_upstream_stream_carries_the_id_too(upstream: respx.MockRouter) -> None:
    body = (
        b'data: {"choices":[{"delta":{"content":"Hi"},"index":0,"finish_reason":"stop"}],'
        b'"created":1,"model":"GigaChat","object":"chat.completion"}\n\ndata: [DONE]\n\n'
    )
    chat = upstream.post(V1_CHAT).respond(
        200, headers={"content-type": "text/event-stream"}, content=body
    )
    async with over(build_app()) as c:
        r = await c.post(
            "/v1/chat/completions", json={**HELLO, "stream": True}, headers={"x-request-id": "s-1"}
        )
    assert r.headers["x-request-id"] == "s-1"
    assert chat.calls[0].request.headers["x-request-id"] == "s-1"


async def test_forward_headers_adds_an_operators_headers_spelled_as_configured(
    upstream: respx.MockRouter,
) -> None:
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    app = build_app(GPT2GIGA_FORWARD_HEADERS="X-Tenant-ID, x-custom")
    headers = {**CLIENT_HEADERS, "x-tenant-id": "t-9"}
    async with over(app) as c:
        r = await c.post("/v1/chat/completions", json=HELLO, headers=headers)
    assert r.status_code == 200
    sent = chat.calls[0].request.headers
    assert {k: sent[k] for k in FORWARDED} == FORWARDED
    assert (sent["x-tenant-id"], sent["x-custom"]) == ("t-9", "not-forwarded")
    assert (b"X-Tenant-ID", b"t-9") in chat.calls[0].request.headers.raw
    for name in ("cookie", "x-api-key", "x-stainless-os", "anthropic-version"):
        assert name not in sent


def test_generated_request_ids_are_distinct_uuid4_strings() -> None:
    ids = [new_request_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    for value in ids:
        parsed = uuid.UUID(value)
        assert (str(parsed), parsed.version, parsed.variant) == (value, 4, uuid.RFC_4122)


@pytest.mark.parametrize("size", [1, 12, 16])
def test_random_hex_spells_size_bytes(size: int) -> None:
    values = {random_hex(size) for _ in range(50)}
    assert all(len(v) == 2 * size and int(v, 16) >= 0 for v in values)
    assert len(values) > 1
