"""The traffic-log record: the contract's fields filled from real requests, in the JSONL sink.

Each test drives the whole app (respx standing in for GigaChat) and reads the
records back from the file the JSONL sink wrote: the format is the FastAPI
gpt2giga's (keys sorted, nulls left out, `created_at` in UTC with `Z`).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import respx

from gpt2giga.app import App
from gpt2giga.gigachat.fake.server import FakeGigaChat
from gpt2giga.observe.redact import Redactor
from gpt2giga.observe.traffic import MAX_CONTENT_BYTES, caller, content, credential, fingerprint
from tests.conftest import V1_ANSWER, V1_CHAT, build_app, make_client, make_settings, over
from tests.otlp import Receiver

V1_STREAM = (
    b'data: {"choices":[{"delta":{"content":"Hi"},"index":0,"finish_reason":"stop"}],'
    b'"created":1,"model":"GigaChat-2-Max","object":"chat.completion",'
    b'"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}\n\ndata: [DONE]\n\n'
)
MODELS = {"object": "list", "data": [{"id": "GigaChat-2-Max", "object": "model", "owned_by": "x"}]}
TRAFFIC = {"GPT2GIGA_TRAFFIC_LOG_ENABLED": "true", "GPT2GIGA_TRAFFIC_LOG_SINK": "jsonl"}
FINGERPRINT = re.compile(r"hmac-sha256:[0-9a-f]{16}")
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def run(path: Path, requests: list[tuple[str, str, Any, dict[str, str]]], **env: str) -> None:
    app = build_app(**TRAFFIC, GPT2GIGA_TRAFFIC_LOG_JSONL_PATH=str(path), **env)
    await app.startup()
    async with over(app) as c:
        for method, url, body, headers in requests:
            await c.request(method, url, json=body, headers=headers)
    await app.shutdown()  # everything queued is written here


CHAT = {"model": "GigaChat-2-Max", "messages": [{"role": "user", "content": "hi"}]}


async def test_a_chat_record_has_the_contract_fields_filled_for_real(
    upstream: respx.MockRouter, tmp_path: Path
) -> None:
    upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    path = tmp_path / "t.jsonl"
    before = datetime.now(UTC)
    headers = {
        "x-request-id": "req-1",
        "x-trace-id": "trace-1",
        "x-span-id": "span-1",
        "authorization": "Bearer sk-client-1",
        "user-agent": "OpenAI/Python 1.60.0",
    }
    await run(path, [("POST", "/v1/chat/completions", CHAT, headers)])
    (record,) = lines(path)
    assert list(record) == sorted(record)  # keys sorted, as the FastAPI gpt2giga writes them
    created = datetime.fromisoformat(record.pop("created_at"))
    assert before <= created <= datetime.now(UTC)
    assert UUID4.fullmatch(record.pop("id"))
    assert FINGERPRINT.fullmatch(record.pop("api_key_hash"))
    assert FINGERPRINT.fullmatch(record.pop("client_ip_hash"))
    latency, upstream_latency = record.pop("latency_ms"), record.pop("upstream_latency_ms")
    assert 0 < upstream_latency <= latency
    assert record == {
        "request_id": "req-1",
        "trace_id": "trace-1",
        "span_id": "span-1",
        "protocol": "openai",
        "route": "/chat/completions",
        "method": "POST",
        "status_code": 200,
        "model_requested": "GigaChat-2-Max",
        "model_effective": "GigaChat-2-Max",
        "provider": "gigachat",
        "upstream_status_code": 200,
        "input_tokens": 5,
        "output_tokens": 2,
        "total_tokens": 7,
        "metadata": {
            "lifecycle": "request_completed",
            "annotations": {
                "caller": {
                    "category": "sdk",
                    "name": "openai-python",
                    "sdk": "openai-python",
                    "user_agent": "OpenAI/Python 1.60.0",
                }
            },
            "path": "/v1/chat/completions",
            "contract": "v1",
        },
    }


async def test_request_id_is_the_response_header_and_the_route_a_template(
    upstream: respx.MockRouter, tmp_path: Path
) -> None:
    upstream.get(re.compile(r".*/models")).respond(json=MODELS)
    path = tmp_path / "t.jsonl"
    app = build_app(**TRAFFIC, GPT2GIGA_TRAFFIC_LOG_JSONL_PATH=str(path))
    await app.startup()
    async with over(app) as c:
        answers = [
            await c.get("/v1/models/GigaChat-2-Max"),
            await c.get("/health"),
            await c.get("/nowhere/at/all"),
        ]
    await app.shutdown()
    records = lines(path)
    assert [r["request_id"] for r in records] == [a.headers["x-request-id"] for a in answers]
    assert [(r["route"], r["protocol"], r["status_code"]) for r in records] == [
        ("/models/{model:path}", "openai", 200),
        ("/health", "system", 200),
        ("unmatched", "openai", 404),
    ]
    assert "provider" not in records[1]  # a system route calls no provider
    assert records[2]["error_type"] == "not_found"
    assert records[0]["metadata"]["path"] == "/v1/models/GigaChat-2-Max"


async def test_a_stream_record_has_its_usage_and_time_to_first_token(
    upstream: respx.MockRouter, tmp_path: Path
) -> None:
    upstream.post(V1_CHAT).respond(
        200, headers={"content-type": "text/event-stream"}, content=V1_STREAM
    )
    path = tmp_path / "t.jsonl"
    await run(path, [("POST", "/v1/chat/completions", {**CHAT, "stream": True}, {})])
    (record,) = lines(path)
    assert record["metadata"]["lifecycle"] == "streaming_completed"
    assert record["metadata"]["ttft_ms"] > 0
    assert (record["input_tokens"], record["output_tokens"], record["total_tokens"]) == (5, 1, 6)
    assert record["upstream_status_code"] == 200


async def test_an_upstream_failure_is_recorded_with_its_status_and_kind(
    upstream: respx.MockRouter, tmp_path: Path
) -> None:
    upstream.post(V1_CHAT).respond(429, json={"status": 429, "message": "Too many requests"})
    path = tmp_path / "t.jsonl"
    await run(path, [("POST", "/v1/chat/completions", CHAT, {})])
    (record,) = lines(path)
    assert (record["status_code"], record["upstream_status_code"]) == (429, 429)
    assert record["error_type"] == "rate_limited"
    assert "error_message" not in record  # content capture is off


async def test_content_is_captured_redacted_only_when_asked_for(
    upstream: respx.MockRouter, tmp_path: Path
) -> None:
    upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    body = {
        **CHAT,
        "messages": [{"role": "user", "content": "my password=hunter22"}],
        "metadata": {"api_key": "sk-123", "tenant": "acme", "team": "ml"},
    }
    headers = {"x-api-key": "sk-header-9", "x-tenant": "acme", "cookie": "sid=1"}
    off, on = tmp_path / "off.jsonl", tmp_path / "on.jsonl"
    await run(off, [("POST", "/v1/chat/completions", body, headers)])
    await run(
        on,
        [("POST", "/v1/chat/completions", body, headers)],
        GPT2GIGA_TRAFFIC_LOG_CAPTURE_CONTENT="true",
        GPT2GIGA_TRAFFIC_LOG_REDACT_EXTRA_KEYS="tenant,project,x-tenant",
    )
    (plain,) = lines(off)
    assert not {
        "request_body_redacted",
        "response_body_redacted",
        "request_headers_redacted",
    } & set(plain)
    (record,) = lines(on)
    sent = record["request_body_redacted"]
    assert sent["metadata"] == {"api_key": "***", "tenant": "***", "team": "ml"}
    assert sent["messages"][0]["content"] == "my password=***"
    assert record["response_body_redacted"]["choices"][0]["message"]["content"] == "Hi!"
    seen = record["request_headers_redacted"]
    assert (seen["x-api-key"], seen["x-tenant"], seen["cookie"]) == ("***", "***", "***")
    text = on.read_text()
    assert "hunter22" not in text and "sk-123" not in text and "sk-header-9" not in text


async def test_credential_headers_are_masked_even_with_redaction_off(
    upstream: respx.MockRouter, tmp_path: Path
) -> None:
    upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    path = tmp_path / "t.jsonl"
    await run(
        path,
        [("POST", "/v1/chat/completions", CHAT, {"authorization": "Bearer sk-zz-1"})],
        GPT2GIGA_TRAFFIC_LOG_CAPTURE_CONTENT="true",
        GPT2GIGA_TRAFFIC_LOG_REDACT_SENSITIVE="false",
        GPT2GIGA_API_KEY="gateway-key-77",
    )
    (record,) = lines(path)
    assert record["request_headers_redacted"]["authorization"] == "***"
    assert "sk-zz-1" not in path.read_text()


async def test_error_message_is_kept_with_content_capture(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    await run(
        path,
        [("POST", "/v1/chat/completions", {"messages": "nope"}, {})],
        GPT2GIGA_TRAFFIC_LOG_CAPTURE_CONTENT="true",
    )
    (record,) = lines(path)
    assert (record["status_code"], record["error_type"]) == (400, "invalid_request")
    assert "$.messages" in record["error_message"]


async def test_the_api_key_fingerprint_is_stable_and_keyed(
    upstream: respx.MockRouter, tmp_path: Path
) -> None:
    upstream.get(re.compile(r".*/models")).respond(json=MODELS)
    first, second, keyed = tmp_path / "1.jsonl", tmp_path / "2.jsonl", tmp_path / "3.jsonl"
    ask = [("GET", "/v1/models", None, {"x-api-key": "client-key-1"})]
    await run(first, ask)
    await run(second, ask)  # another app: another process, as far as the record can tell
    await run(keyed, ask, GPT2GIGA_TRAFFIC_LOG_HASH_KEY="our-own-key")
    (a,), (b,), (c,) = lines(first), lines(second), lines(keyed)
    assert a["api_key_hash"] == b["api_key_hash"] != c["api_key_hash"]
    assert "client-key-1" not in first.read_text()


def test_the_credential_is_looked_for_in_the_contract_order() -> None:
    assert credential({"authorization": "bearer a", "x-api-key": "b"}, {}) == "a"
    assert credential({"authorization": "Basic zz"}, {}) == "Basic zz"
    assert credential({"x-goog-api-key": "g"}, {"key": "q"}) == "g"
    assert credential({}, {"x-api-key": "x", "key": "q"}) == "x"
    assert credential({}, {"key": "q"}) == "q"
    assert credential({}, {}) is None
    assert fingerprint(b"k", "a") == fingerprint(b"k", "a") != fingerprint(b"j", "a")


def test_callers_are_described_coarsely() -> None:
    assert caller({"user-agent": "claude-cli/1.0 (external, claude-code)"})["category"] == "agent"
    assert caller({"user-agent": "Anthropic/Python 0.40.0"})["sdk"] == "anthropic-python"
    assert caller({"user-agent": "Mozilla/5.0 (X11)"})["category"] == "browser"
    assert caller({"user-agent": "curl/8.5.0"}) == {
        "category": "http_client",
        "name": "curl",
        "user_agent": "curl/8.5.0",
    }
    assert caller({"x-agent-id": "bot-7"}) == {"category": "unknown", "agent_id": "bot-7"}


def test_captured_content_is_json_when_it_can_be_and_cut_when_long() -> None:
    redactor = Redactor(extra_keys=["tenant"])
    body = json.dumps({"model": "m", "api_key": "sk-1", "meta": {"Tenant": "acme"}}).encode()
    assert content(body, redactor) == {"model": "m", "api_key": "***", "meta": {"Tenant": "***"}}
    assert content(b"data: x Bearer abcdef\n\n", redactor) == "data: x Bearer ***\n\n"
    assert content(b"", redactor) is None
    big = content(b"x" * (MAX_CONTENT_BYTES + 1), redactor)
    assert big == {
        "truncated": True,
        "max_bytes": MAX_CONTENT_BYTES,
        "body": "x" * MAX_CONTENT_BYTES,
    }


async def test_a_traced_request_records_the_trace_and_span_it_exported(
    tmp_path: Path, fake: FakeGigaChat
) -> None:
    receiver = Receiver(0).start()
    path = tmp_path / "t.jsonl"
    try:
        settings = make_settings(
            **TRAFFIC,
            GPT2GIGA_TRAFFIC_LOG_JSONL_PATH=str(path),
            GPT2GIGA_OBSERVABILITY_ENABLED="true",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_EXPORTER_OTLP_TIMEOUT="2000",
        )
        app = App(settings, make_client(settings, httpx.ASGITransport(app=fake)))
        await app.startup()
        async with over(app) as c:
            await c.post("/v1/chat/completions", json=CHAT)
        await app.shutdown()
        (server,) = [s for s in receiver.spans if s.kind == "server"]
    finally:
        receiver.stop()
    (record,) = lines(path)
    # The FastAPI gpt2giga's record and its spans never shared an id; here they do.
    assert (record["trace_id"], record["span_id"]) == (server.trace_id, server.span_id)
