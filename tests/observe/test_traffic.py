"""The traffic log: records reach the JSONL file redacted; a full queue drops, never blocks."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from typing import Any

import respx

from gpt2giga.observe.redact import Redactor
from gpt2giga.observe.traffic import MAX_CONTENT_BYTES, TrafficLog, content
from tests.conftest import V1_CHAT, build_app, over

V1_ANSWER = {
    "choices": [{"message": {"role": "assistant", "content": "Hi!"}, "index": 0}],
    "created": 1,
    "model": "GigaChat-2-Max",
    "object": "chat.completion",
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}
V1_STREAM = (
    b'data: {"choices":[{"delta":{"content":"Hi"},"index":0,"finish_reason":"stop"}],'
    b'"created":1,"model":"GigaChat-2-Max","object":"chat.completion",'
    b'"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}\n\ndata: [DONE]\n\n'
)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_records_are_written_in_order_and_all_of_them_on_stop(tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    log = TrafficLog(str(path), queue_size=100, batch_size=3, flush_interval_s=60, redactor=None)
    log.start()
    for n in range(10):
        log.submit({"n": n})
    log.stop()
    assert [r["n"] for r in lines(path)] == list(range(10))
    assert (log.written, log.dropped) == (10, 0)


class Stuck(io.BytesIO):
    """A sink whose first write hangs until released: a disk that stopped answering."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = threading.Event()
        self.release = threading.Event()

    def write(self, data: Any) -> int:
        self.writing.set()
        assert self.release.wait(5)
        return super().write(data)

    def close(self) -> None:
        self.final = self.getvalue()
        super().close()


def test_a_full_queue_drops_and_counts_instead_of_blocking() -> None:
    sink = Stuck()
    drops: list[int] = []
    log = TrafficLog(
        "unused",
        queue_size=2,
        batch_size=1,
        flush_interval_s=60,
        redactor=None,
        on_drop=lambda: drops.append(1),
        open_sink=lambda _: sink,
    )
    log.start()
    log.submit({"n": 0})
    assert sink.writing.wait(5)  # the writer is stuck on record 0
    for n in range(1, 10):
        log.submit({"n": n})  # returns at once: 2 fit in the queue, 7 are dropped
    assert (log.dropped, len(drops)) == (7, 7)
    sink.release.set()
    log.stop()
    assert [json.loads(x)["n"] for x in sink.final.splitlines()] == [0, 1, 2]


def test_captured_content_is_json_when_it_can_be_and_always_redacted() -> None:
    redactor = Redactor(extra_keys=["tenant"])
    body = json.dumps({"model": "m", "api_key": "sk-1", "meta": {"Tenant": "acme"}}).encode()
    assert content(body, redactor) == {"model": "m", "api_key": "***", "meta": {"Tenant": "***"}}
    assert content(b"data: x Bearer abcdef\n\n", redactor) == "data: x Bearer ***\n\n"
    big = content(b"x" * (MAX_CONTENT_BYTES + 1), None)
    assert big["truncated"] is True and len(big["text"]) == MAX_CONTENT_BYTES


TRAFFIC = {
    "GPT2GIGA_TRAFFIC_LOG_ENABLED": "true",
    "GPT2GIGA_TRAFFIC_LOG_FLUSH_INTERVAL_MS": "60000",
}


async def test_the_app_logs_each_request_with_redacted_content(
    upstream: respx.MockRouter, tmp_path: Path
) -> None:
    upstream.post(V1_CHAT).mock(
        side_effect=[
            respx.MockResponse(200, json=V1_ANSWER),
            respx.MockResponse(
                200, headers={"content-type": "text/event-stream"}, content=V1_STREAM
            ),
        ]
    )
    path = tmp_path / "t.jsonl"
    app = build_app(
        **TRAFFIC,
        GPT2GIGA_TRAFFIC_LOG_JSONL_PATH=str(path),
        GPT2GIGA_TRAFFIC_LOG_CAPTURE_CONTENT="true",
        GPT2GIGA_TRAFFIC_LOG_REDACT_EXTRA_KEYS="tenant,project",
    )
    body = {
        "model": "GigaChat-2-Max",
        "messages": [{"role": "user", "content": "my password=hunter22"}],
        "metadata": {"api_key": "sk-123", "tenant": "acme", "team": "ml"},
    }
    await app.startup()
    async with over(app) as c:
        await c.post("/v1/chat/completions", json=body, headers={"x-request-id": "t-1"})
        await c.post("/v1/chat/completions", json={**body, "stream": True})
    await app.shutdown()  # the queue is flushed here, not before (60 s flush interval)
    first, second = lines(path)
    assert first["request_id"] == "t-1" and first["model"] == "GigaChat-2-Max"
    assert (first["status"], first["tokens_in"], first["tokens_out"]) == (200, 5, 2)
    assert first["request"]["metadata"] == {"api_key": "***", "tenant": "***", "team": "ml"}
    assert first["request"]["messages"][0]["content"] == "my password=***"
    assert first["response"]["choices"][0]["message"]["content"] == "Hi!"
    assert second["ttft_ms"] > 0 and second["response"].endswith("data: [DONE]\n\n")
    assert "hunter22" not in path.read_text() and "sk-123" not in path.read_text()


async def test_content_is_left_out_unless_asked_for(
    upstream: respx.MockRouter, tmp_path: Path
) -> None:
    upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    path = tmp_path / "t.jsonl"
    app = build_app(**TRAFFIC, GPT2GIGA_TRAFFIC_LOG_JSONL_PATH=str(path))
    await app.startup()
    async with over(app) as c:
        await c.post("/v1/chat/completions", json={"model": "GigaChat-2-Max", "messages": []})
        await c.get("/health")
    await app.shutdown()
    chat, health = lines(path)
    assert "request" not in chat and "response" not in chat
    assert chat["route"] == "/chat/completions" and health["route"] == "/health"


async def test_drops_are_counted_in_metrics(tmp_path: Path) -> None:
    app = build_app(
        **TRAFFIC,
        GPT2GIGA_TRAFFIC_LOG_JSONL_PATH=str(tmp_path / "t.jsonl"),
        GPT2GIGA_TRAFFIC_LOG_QUEUE_SIZE="1",
        GPT2GIGA_METRICS_ENABLED="true",
    )
    # Not started: nothing drains the queue, so the second record finds it full.
    async with over(app) as c:
        await c.get("/health")
        await c.get("/health")
        text = (await c.get("/metrics")).text
    assert "gpt2giga_traffic_log_dropped_total 1.0" in text  # the second /health
