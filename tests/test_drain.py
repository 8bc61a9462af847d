"""Stopping: /ready, 503 for new work while draining, the drain timeout's clean cut, SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from gpt2giga import drain
from tests.conftest import AUTH, ENV, V1_CHAT, Call, build_app, over

HELLO = json.dumps({"model": "GigaChat", "messages": [{"role": "user", "content": "hi"}]})
V1_ANSWER = {
    "choices": [{"message": {"role": "assistant", "content": "Hi!"}, "index": 0}],
    "created": 1,
    "model": "GigaChat",
    "object": "chat.completion",
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}


async def test_ready_turns_503_while_draining_and_new_work_is_refused_in_dialect(
    upstream: respx.MockRouter,
) -> None:
    app = build_app()
    async with over(app) as c:
        assert (await c.get("/ready")).json() == {"status": "ready"}
        app.drain.begin()
        ready = await c.get("/ready")
        health = await c.get("/health")
        chat = await c.post("/v1/chat/completions", content=HELLO)
    assert ready.status_code == 503 and ready.json() == {"status": "draining"}
    assert health.status_code == 200
    assert chat.status_code == 503 and chat.headers["retry-after"] == "1"
    assert chat.json()["error"]["code"] == "overloaded"
    assert "shutting down" in chat.json()["error"]["message"]


async def test_ready_reports_failing_gigachat_authorization_without_secrets(
    upstream: respx.MockRouter,
) -> None:
    credentials = ENV["GIGACHAT_CREDENTIALS"]
    upstream.post(AUTH).mock(
        side_effect=[
            httpx.Response(401, json={"status": 401, "message": f"bad key {credentials}"}),
            httpx.Response(200, json={"access_token": "t", "expires_at": 4102444800000}),
        ]
    )
    async with over(build_app()) as c:
        failing = await c.get("/ready")
        recovered = await c.get("/ready")
    assert failing.status_code == 503
    assert failing.json()["status"] == "gigachat authorization failing"
    assert "401" in failing.json()["reason"] and credentials not in failing.text
    assert recovered.status_code == 200


class Endless(httpx.AsyncByteStream):
    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'data: {"choices":[{"delta":{"content":"Hi"},"index":0}],"created":1,'
        yield b'"model":"GigaChat","object":"chat.completion"}\n\n'
        await asyncio.Event().wait()

    async def aclose(self) -> None:
        self.closed = True


async def test_the_drain_timeout_ends_streams_with_an_error_event_and_answers_calls(
    upstream: respx.MockRouter,
) -> None:
    endless, arrived = Endless(), asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        if b'"stream":true' in request.content:
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, stream=endless
            )
        arrived.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    upstream.post(V1_CHAT).mock(side_effect=hang)
    app = build_app(GPT2GIGA_MODEL_MAX_CONNECTIONS_DEFAULT="5")
    await app.startup()
    stream = Call(app, "POST", "/v1/chat/completions", HELLO[:-1].encode() + b',"stream":true}')
    streaming = stream.start()
    await stream.sent(lambda body: b'"content":"Hi"' in body)
    async with over(app) as c:
        call = asyncio.ensure_future(c.post("/v1/chat/completions", content=HELLO))
        await asyncio.wait_for(arrived.wait(), 5)
        app.drain.begin()
        app.drain.cut()  # what the timer does after GPT2GIGA_SHUTDOWN_TIMEOUT_SECONDS
        answered = await asyncio.wait_for(call, 5)
    await asyncio.wait_for(streaming, 5)
    await app.shutdown()
    last = stream.text.rstrip(b"\n").rpartition(b"\n\n")[2]
    assert json.loads(last.removeprefix(b"data: "))["error"]["code"] == "overloaded"
    assert b"[DONE]" not in stream.text and endless.closed
    assert answered.status_code == 503 and answered.json()["error"]["code"] == "overloaded"
    assert app.limits.gates == {}  # both slots came back


async def test_sigterm_starts_the_drain_and_still_reaches_the_servers_handler() -> None:
    loop = asyncio.get_running_loop()
    servers = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, servers.set)  # stands in for Granian's handler
    app = build_app()
    try:
        assert app.drain.hook_signals()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(servers.wait(), 5)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGINT)
    assert app.drain.draining


async def test_sigterm_is_seen_while_the_loops_own_wakeup_socket_is_full() -> None:
    # Under load Granian's threads fill the socket call_soon_threadsafe writes to;
    # asyncio's own signal byte would be dropped there and the stop never seen.
    loop = asyncio.get_running_loop()
    servers = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, servers.set)
    app = build_app()
    try:
        assert app.drain.hook_signals()
        self_pipe = loop._csock  # type: ignore[attr-defined]
        with contextlib.suppress(BlockingIOError):
            while True:
                self_pipe.send(b"\0")
        signal.raise_signal(signal.SIGTERM)
        await asyncio.wait_for(servers.wait(), 5)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGINT)
    assert app.drain.draining


async def test_the_cut_also_ends_live_log_readers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gpt2giga")
    app = build_app()
    await app.startup()
    live = Call(app, "GET", "/logs/stream")
    running = live.start()
    await live.sent(lambda body: True)
    app.drain.begin()
    await live.sent(lambda body: b"draining" in body)  # the reader sees the drain start
    app.drain.cut()
    await asyncio.wait_for(running, 5)  # ended by the gateway, the client never left
    await app.shutdown()
    assert live.messages[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_the_signal_sockets_are_closed_at_exit_and_signals_stop_writing_there() -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: None)
    app = build_app()
    try:
        assert app.drain.hook_signals()
        pairs = list(drain._WAKEUP_SOCKETS)
        writer_fd = pairs[-1][1].fileno()
        assert signal.set_wakeup_fd(writer_fd) == writer_fd  # signals write into our pair
        loop.remove_reader(pairs[-1][0].fileno())
        drain.close_wakeup_sockets()  # what atexit runs
        assert all(r.fileno() == -1 and w.fileno() == -1 for r, w in pairs)
        assert drain._WAKEUP_SOCKETS == []
        assert signal.set_wakeup_fd(-1) != writer_fd
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGINT)
