"""Per-model concurrency limits: FIFO slots, the wait bound, and what the app makes of them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from gpt2giga import errors
from gpt2giga.routes import DIALECTS
from gpt2giga.state.limits import Limits
from tests.conftest import V1_ANSWER, V1_CHAT, Call, build_app, over

LIMITED = {
    "GPT2GIGA_MODEL_MAX_CONNECTIONS": '{"GigaChat-2-Max": 1}',
    "GPT2GIGA_MODEL_MAX_CONNECTIONS_ACQUIRE_TIMEOUT": "0",
}


def chat(model: str = "GigaChat-2-Max", stream: bool = False) -> bytes:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return json.dumps(body).encode()


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, int]] = []

    def held(self, model: str, delta: int) -> None:
        self.events.append(("held", model, delta))

    def waiting(self, model: str, delta: int) -> None:
        self.events.append(("waiting", model, delta))

    def refused(self, model: str) -> None:
        self.events.append(("refused", model, 1))


async def settle() -> None:
    """Let every ready task run up to its next wait (a few loop turns, no clock)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_waiters_get_slots_in_arrival_order_and_newcomers_queue_behind() -> None:
    limits = Limits({"M": 1})
    first = await limits.acquire("M")
    order: list[str] = []

    async def take(name: str) -> None:
        release = await limits.acquire("M")
        order.append(name)
        release()

    tasks = []
    for name in ("a", "b", "c"):
        tasks.append(asyncio.ensure_future(take(name)))
        await settle()
    first()
    tasks.append(asyncio.ensure_future(take("late")))  # arrives as the slot is handed on
    await asyncio.gather(*tasks)
    assert order == ["a", "b", "c", "late"]
    assert limits.gates == {}  # idle gates are forgotten


async def test_zero_timeout_refuses_at_once_naming_model_and_limit() -> None:
    observer = Recorder()
    limits = Limits({"GigaChat-2-Max": 2}, timeout=0, observer=observer)
    held = [await limits.acquire("GigaChat-2-Max") for _ in range(2)]
    with pytest.raises(errors.RateLimited) as caught:
        await limits.acquire("GigaChat-2-Max")
    assert caught.value.retry_after == 1
    assert "GigaChat-2-Max" in caught.value.message and "2 at a time" in caught.value.message
    for release in held:
        release()
    assert observer.events == [
        ("held", "GigaChat-2-Max", 1),
        ("held", "GigaChat-2-Max", 1),
        ("refused", "GigaChat-2-Max", 1),
        ("held", "GigaChat-2-Max", -1),
        ("held", "GigaChat-2-Max", -1),
    ]


async def test_a_bounded_wait_times_out_and_leaves_the_queue() -> None:
    observer = Recorder()
    limits = Limits({"M": 1}, timeout=0.02, observer=observer)
    release = await limits.acquire("M")
    with pytest.raises(errors.RateLimited):
        await limits.acquire("M")
    assert not limits.gates["M"].waiters
    release()
    assert limits.gates == {}
    assert ("waiting", "M", 1) in observer.events and ("waiting", "M", -1) in observer.events


async def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    limits = Limits({"M": 1})
    release = await limits.acquire("M")
    gone = asyncio.ensure_future(limits.acquire("M"))
    await settle()
    kept = asyncio.ensure_future(limits.acquire("M"))
    await settle()
    gone.cancel()
    await settle()
    release()
    second = await asyncio.wait_for(kept, 1)
    assert gone.cancelled()
    second()
    assert limits.gates == {}


async def test_a_slot_handed_over_as_the_wait_ends_is_passed_on() -> None:
    limits = Limits({"M": 1})
    release = await limits.acquire("M")
    loser = asyncio.ensure_future(limits.acquire("M"))
    await settle()
    winner = asyncio.ensure_future(limits.acquire("M"))
    await settle()
    release()  # hands the slot to `loser`'s future...
    loser.cancel()  # ...which is cancelled before it could run
    await settle()
    assert loser.cancelled()
    (await asyncio.wait_for(winner, 1))()
    assert limits.gates == {}


async def test_freeing_a_slot_twice_counts_once() -> None:
    limits = Limits({"M": 2})
    release = await limits.acquire("M")
    other = await limits.acquire("M")
    release()
    release()
    assert limits.gates["M"].used == 1
    other()
    assert limits.gates == {}


async def test_unlisted_models_use_the_default_and_unlimited_ones_never_wait() -> None:
    limits = Limits({"A": 3}, default=1, timeout=0)
    await limits.acquire("B")
    with pytest.raises(errors.RateLimited):
        await limits.acquire("B")
    assert [await Limits().acquire("X") for _ in range(50)]


# --- through the app -------------------------------------------------------------


class Held(httpx.AsyncByteStream):
    """An upstream SSE body: one chunk, then nothing until `end` is set."""

    def __init__(self) -> None:
        self.end = asyncio.Event()
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'data: {"choices":[{"delta":{"role":"assistant","content":"Hi"},"index":0}],'
        yield b'"created":1,"model":"GigaChat-2-Max","object":"chat.completion"}\n\n'
        await self.end.wait()
        yield b'data: {"choices":[{"delta":{"content":""},"index":0,"finish_reason":"stop"}],'
        yield b'"created":1,"model":"GigaChat-2-Max","object":"chat.completion"}\n\n'
        yield b"data: [DONE]\n\n"

    async def aclose(self) -> None:
        self.closed = True


async def test_busy_model_is_a_429_with_retry_after_and_other_models_pass(
    upstream: respx.MockRouter,
) -> None:
    release, arrived = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content)["model"])
        if len(calls) == 1:
            arrived.set()
            await release.wait()
        return httpx.Response(200, json=V1_ANSWER)

    upstream.post(V1_CHAT).mock(side_effect=slow)
    async with over(build_app(**LIMITED)) as c:
        first = asyncio.ensure_future(c.post("/v1/chat/completions", content=chat()))
        await asyncio.wait_for(arrived.wait(), 5)
        busy = await c.post("/v1/chat/completions", content=chat())
        other = await c.post("/v1/chat/completions", content=chat("GigaChat-2-Pro"))
        release.set()
        done = await first
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
    assert busy.json()["error"]["type"] == "rate_limit_error"
    assert "GigaChat-2-Max" in busy.json()["error"]["message"]
    assert other.status_code == 200 and done.status_code == 200
    assert calls == ["GigaChat-2-Max", "GigaChat-2-Pro"]  # the refused one never went upstream


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_every_dialect_renders_the_limit_as_its_own_429(dialect: str) -> None:
    app = build_app()
    err = errors.RateLimited("Too many concurrent requests for model M", retry_after=1)
    response = app.error_response(dialect, err)  # type: ignore[arg-type]
    assert response.status == 429
    assert (b"retry-after", b"1") in response.headers
    assert b"Too many concurrent requests" in response.body


async def test_a_stream_holds_its_slot_until_the_client_leaves(upstream: respx.MockRouter) -> None:
    held = Held()
    upstream.post(V1_CHAT).mock(
        side_effect=[
            httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=held),
            httpx.Response(200, json=V1_ANSWER),
        ]
    )
    app = build_app(**LIMITED)
    stream = Call(app, "POST", "/v1/chat/completions", chat(stream=True))
    running = stream.start()
    await stream.sent(lambda body: b'"content":"Hi"' in body)
    async with over(app) as c:
        busy = await c.post("/v1/chat/completions", content=chat())
        stream.leave.set()  # the client hangs up mid-stream
        await asyncio.wait_for(running, 5)
        after = await c.post("/v1/chat/completions", content=chat())
    assert busy.status_code == 429
    assert held.closed  # the upstream stream was closed, not left running
    assert after.status_code == 200
    assert app.limits.gates == {}


async def test_a_finished_stream_frees_its_slot(upstream: respx.MockRouter) -> None:
    held = Held()
    held.end.set()
    upstream.post(V1_CHAT).respond(200, headers={"content-type": "text/event-stream"}, stream=held)
    app = build_app(**LIMITED)
    async with over(app) as c:
        r = await c.post("/v1/chat/completions", content=chat(stream=True))
    assert r.text.endswith("data: [DONE]\n\n")
    assert app.limits.gates == {}
