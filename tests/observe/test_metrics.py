"""Metrics: the series move with traffic, labels stay bounded, the endpoint exists only when on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import V1_ANSWER, V1_CHAT, V2_CHAT, Call, build_app, over

ON = {"GPT2GIGA_METRICS_ENABLED": "true"}
V2_STREAM = (
    b'event: response.message.delta\ndata: {"messages":[{"role":"assistant","content":'
    b'[{"text":"Hi"}]}]}\n\nevent: response.message.done\ndata: {"finish_reason":"stop",'
    b'"usage":{"input_tokens":11,"output_tokens":3,"total_tokens":14}}\n\n'
)


def chat(model: str = "GigaChat-2-Max", stream: bool = False, text: str = "hi") -> bytes:
    body = {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}
    return json.dumps(body).encode()


def value(exposition: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when none)."""
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def label_values(exposition: str, label: str) -> set[str]:
    return {
        s.labels[label]
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if label in s.labels
    }


async def test_no_endpoint_and_no_recorder_when_metrics_are_off() -> None:
    app = build_app()
    async with over(app) as c:
        r = await c.get("/metrics")
    assert r.status_code == 404 and app.metrics is None
    assert all(observe.__name__ != "record" for observe in app.observers.each)


async def test_series_follow_requests_streams_and_upstream_errors(
    upstream: respx.MockRouter,
) -> None:
    upstream.post(V1_CHAT).mock(
        side_effect=[
            httpx.Response(200, json=V1_ANSWER),
            httpx.Response(404, json={"status": 404, "message": "No such model"}),
        ]
    )
    upstream.post(V2_CHAT).respond(
        200, headers={"content-type": "text/event-stream"}, content=V2_STREAM
    )
    async with over(build_app(**ON)) as c:
        before = (await c.get("/metrics")).text
        await c.post("/v1/chat/completions", content=chat(), headers={"x-request-id": "rid-77"})
        await c.post("/v2/chat/completions", content=chat(stream=True))
        await c.post("/v1/chat/completions", content=chat("made-up-model", text="secret prompt"))
        r = await c.get("/metrics")
    after = r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    ok = {"dialect": "openai", "route": "/chat/completions", "method": "POST", "status": "200"}
    assert value(before, "gpt2giga_requests_total", **ok) == 0
    assert value(after, "gpt2giga_requests_total", **ok, contract="v1", model="GigaChat-2-Max") == 1
    assert value(after, "gpt2giga_requests_total", **ok, contract="v2", model="GigaChat-2-Max") == 1
    assert value(after, "gpt2giga_requests_total", status="404", model="other") == 1
    assert value(after, "gpt2giga_request_duration_seconds_count", **ok) == 2
    assert value(after, "gpt2giga_upstream_duration_seconds_count", contract="v1") == 2
    assert value(after, "gpt2giga_upstream_errors_total", kind="not_found", model="other") == 1
    assert value(after, "gpt2giga_tokens_input_total", contract="v1") == 5
    assert value(after, "gpt2giga_tokens_input_total", contract="v2") == 11
    assert value(after, "gpt2giga_tokens_output_total") == 5
    assert value(after, "gpt2giga_time_to_first_token_seconds_count", contract="v2") == 1
    assert value(after, "gpt2giga_time_to_first_token_seconds_count", contract="v1") == 0
    # Bounded labels: no ids, prompts or invented model names in any series.
    assert "rid-77" not in after and "secret prompt" not in after and "made-up" not in after
    assert label_values(after, "model") <= {"GigaChat-2-Max", "other", "none"}
    assert label_values(after, "route") == {"/chat/completions", "/metrics"}


async def test_metrics_sit_behind_the_api_key_and_follow_the_configured_path() -> None:
    env = {**ON, "GPT2GIGA_API_KEY": "k-1", "GPT2GIGA_ENABLE_API_KEY_AUTH": "true"}
    async with over(build_app(**env, GPT2GIGA_METRICS_PATH="/ops/prom/")) as c:
        anonymous = await c.get("/ops/prom")
        keyed = await c.get("/ops/prom", headers={"authorization": "Bearer k-1"})
        default = await c.get("/metrics", headers={"authorization": "Bearer k-1"})
    assert anonymous.status_code == 401
    assert keyed.status_code == 200 and "gpt2giga_requests_total" in keyed.text
    assert default.status_code == 404


class Held(httpx.AsyncByteStream):
    def __init__(self) -> None:
        self.end = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'data: {"choices":[{"delta":{"content":"Hi"},"index":0}],"created":1,'
        yield b'"model":"GigaChat-2-Max","object":"chat.completion"}\n\n'
        await self.end.wait()


async def test_slots_in_flight_refusals_and_disconnects_are_counted(
    upstream: respx.MockRouter,
) -> None:
    upstream.post(V1_CHAT).respond(
        200, headers={"content-type": "text/event-stream"}, stream=Held()
    )
    limits = {
        "GPT2GIGA_MODEL_MAX_CONNECTIONS": '{"GigaChat-2-Max": 1}',
        "GPT2GIGA_MODEL_MAX_CONNECTIONS_ACQUIRE_TIMEOUT": "0",
    }
    app = build_app(**ON, **limits)
    stream = Call(app, "POST", "/v1/chat/completions", chat(stream=True))
    running = stream.start()
    await stream.sent(lambda body: b'"content":"Hi"' in body)
    async with over(app) as c:
        refused = await c.post("/v1/chat/completions", content=chat())
        during = (await c.get("/metrics")).text
        stream.leave.set()
        await asyncio.wait_for(running, 5)
        after = (await c.get("/metrics")).text
    model = {"model": "GigaChat-2-Max"}
    assert refused.status_code == 429
    assert value(during, "gpt2giga_inflight_requests", **model) == 1
    assert value(during, "gpt2giga_model_limit_rejections_total", **model) == 1
    assert value(during, "gpt2giga_requests_total", status="429", **model) == 1
    assert value(after, "gpt2giga_inflight_requests", **model) == 0
    assert (
        value(after, "gpt2giga_stream_disconnects_total", route="/chat/completions", **model) == 1
    )


async def test_waiting_for_a_slot_shows_in_the_queue_gauge(upstream: respx.MockRouter) -> None:
    gate = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        return httpx.Response(200, json=V1_ANSWER)

    upstream.post(V1_CHAT).mock(side_effect=slow)
    app = build_app(**ON, GPT2GIGA_MODEL_MAX_CONNECTIONS_DEFAULT="1")
    async with over(app) as c:
        calls = [
            asyncio.ensure_future(c.post("/v1/chat/completions", content=chat())) for _ in "ab"
        ]
        await asyncio.sleep(0.01)  # both admitted: one holds the slot, one waits
        during = (await c.get("/metrics")).text
        gate.set()
        done = await asyncio.gather(*calls)
        after = (await c.get("/metrics")).text
    assert [r.status_code for r in done] == [200, 200]
    assert value(during, "gpt2giga_model_queue_waiting", model="GigaChat-2-Max") == 1
    assert value(during, "gpt2giga_inflight_requests", model="GigaChat-2-Max") == 1
    assert value(after, "gpt2giga_model_queue_waiting") == 0


@pytest.mark.parametrize("name", ["GigaChat-2-Max", "EmbeddingsGigaR", "my-alias-target"])
def test_model_labels_are_known_or_configured(name: str) -> None:
    app = build_app(**ON, GPT2GIGA_MODEL_ALIASES='{"x-*": "my-alias-target"}')
    assert app.metrics is not None
    assert app.metrics.model(name) == name
    assert app.metrics.model("anything-else") == "other"
    assert app.metrics.model("") == "none"
