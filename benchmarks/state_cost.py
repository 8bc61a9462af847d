"""What shared state adds to a request, measured inside one process: CPU and wall time.

The app is driven over ASGI directly (no HTTP server, no load generator in the
measured process), against the GigaChat stand-in over the gateway's own pool,
with its state in memory, in SQLite or in Redis. Rounds alternate between the
variants and the best round counts, so load that other processes put on the
machine hits every variant alike and mostly drops out; `benchmarks/scale_out.py`
runs it and reports it next to the wrk figures. Never collected by pytest.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

Case = tuple[str, str, bytes | None]  # name, path, body (None: continue a stored one)
HEADERS = [(b"host", b"gateway"), (b"content-type", b"application/json")]


async def build(env: dict[str, str]) -> Any:
    from gpt2giga import config
    from gpt2giga.app import App

    app = App(config.load(env))
    await app.startup()
    return app


def call(app: Any, path: str, body: bytes) -> Callable[[], Awaitable[bytes]]:
    """One request through the app; the response body, to check what came back."""
    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"",
             "headers": HEADERS}  # fmt: skip

    async def once() -> bytes:
        sent: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] != 200:
                raise RuntimeError(f"{path}: {message['status']}")
            if message["type"] == "http.response.body":
                sent.append(message.get("body", b""))

        await app(scope, receive, send)
        return b"".join(sent)

    return once


async def continuation(app: Any, create: bytes) -> bytes:
    made = json.loads(await call(app, "/v1/responses", create)())
    follow = {"model": "GigaChat", "input": "more", "previous_response_id": made["id"]}
    return json.dumps(follow).encode()


async def round_of(
    once: Callable[[], Awaitable[bytes]], n: int, concurrency: int
) -> tuple[float, float]:
    """(wall µs, CPU µs) per request over `n` requests, `concurrency` at a time."""

    async def worker(count: int) -> None:
        for _ in range(count):
            await once()

    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
    done = n // concurrency * concurrency
    return (time.perf_counter() - wall) / done * 1e6, (time.process_time() - cpu) / done * 1e6


async def measure(
    envs: dict[str, dict[str, str]], cases: list[Case], create: bytes, rounds: int = 5
) -> dict[str, dict[str, float]]:
    """Per "case|state|c=N": the best round's wall and CPU µs per request."""
    apps = {state: await build(env) for state, env in envs.items()}
    best: dict[str, dict[str, float]] = {}
    try:
        for name, path, body in cases:
            calls = {}
            for state, app in apps.items():
                sent = body if body is not None else await continuation(app, create)
                calls[state] = call(app, path, sent)
                for _ in range(200):  # warm: token, pool, caches, scripts
                    await calls[state]()
            for concurrency, n in ((1, 1000), (16, 3200)):
                for _ in range(rounds):
                    for state, once in calls.items():
                        wall, cpu = await round_of(once, n, concurrency)
                        key = f"{name}|{state}|c={concurrency}"
                        found = best.setdefault(key, {"wall_us": wall, "cpu_us": cpu})
                        found["wall_us"] = min(found["wall_us"], wall)
                        found["cpu_us"] = min(found["cpu_us"], cpu)
    finally:
        for app in apps.values():
            await app.shutdown()
    return best


async def round_trip(redis_url: str, rounds: int = 5, n: int = 1000) -> float:
    """µs per PING through the gateway's own Redis path: the floor of any store call."""
    from gpt2giga.state.redis import RedisBackend

    backend = RedisBackend(
        redis_url, prefix="bench:", max_connections=4, timeout=1.0, lease_seconds=15
    )
    best = float("inf")
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(n):
                await backend.ping()
            best = min(best, (time.perf_counter() - start) / n * 1e6)
    finally:
        await backend.close()
    return best


def rows(
    best: dict[str, dict[str, float]], cases: list[Case], states: tuple[str, ...]
) -> list[str]:
    lines = [
        "| request | state | µs per request, c=1 | added | CPU µs per request, c=16 | added "
        "| vs memory |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, _, _ in cases:
        base1 = best[f"{name}|memory|c=1"]["wall_us"]
        base16 = best[f"{name}|memory|c=16"]["cpu_us"]
        for state in states:
            one = best[f"{name}|{state}|c=1"]["wall_us"]
            many = best[f"{name}|{state}|c=16"]["cpu_us"]
            lines.append(
                f"| {name} | {state} | {one:.0f} | {one - base1:+.0f} | {many:.0f} "
                f"| {many - base16:+.0f} | {(base16 / many - 1) * 100:+.1f} % |"
            )
    return lines


def write(path: Path, best: dict[str, dict[str, float]]) -> None:
    path.write_text(json.dumps(best, indent=1))
