"""What the traffic log's PostgreSQL sink costs the gateway's process, per request.

Run: .venv/bin/python -m benchmarks.traffic_overhead

Whole chat requests through the app in process (ASGI, the fake GigaChat behind
httpx) with sinks off and with the postgres sink on, in interleaved rounds:
CPU seconds of this process per request, the sink's background writes
included (each round waits until its records are stored). The database is a
throwaway server pinned to core 1, this process to core 0, as a database on
another machine would be. Then per-call figures for the record and the row.
The machine is shared: numbers are indicative, the interleaving keeps the
comparison fair. `benchmarks.run --experiments traffic-pg` measures the same
over HTTP with wrk. Not collected by pytest.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from typing import Any

from benchmarks import database
from benchmarks.observe_overhead import BODY, HEADERS, build, per_call_us


async def rounds(apps: dict[str, Any], rounds: int = 9, n: int = 2000) -> dict[str, float]:
    """Best round per app: CPU µs per request, writes included."""
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions",
             "query_string": b"", "headers": HEADERS, "client": ("127.0.0.1", 50000)}  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    for app in apps.values():
        await app.startup()
        for _ in range(200):
            await app(scope, receive, send)
    best = dict.fromkeys(apps, float("inf"))
    for _ in range(rounds):
        for name, app in apps.items():
            await settled(app)
            gc.collect()
            start = time.process_time()
            for _ in range(n):
                await app(scope, receive, send)
            await settled(app)
            best[name] = min(best[name], (time.process_time() - start) / n * 1e6)
    for app in apps.values():
        await app.shutdown()
    return best


async def settled(app: Any) -> None:
    """Every queued record stored: the round pays for its own writes."""
    traffic = app.observers.traffic
    if traffic is None:
        return
    while True:
        if not any(q._queue.qsize() for q in traffic.queues):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # the batch in flight


def micro() -> list[tuple[str, float]]:
    from gpt2giga import config
    from gpt2giga.observe.exchange import Exchange
    from gpt2giga.observe.postgres import row
    from gpt2giga.observe.traffic import Recorder

    recorder = Recorder(config.load({"GIGACHAT_CREDENTIALS": "eDp5"}))
    ex = Exchange.open(HEADERS)
    ex.scope = {"headers": HEADERS, "path": "/v1/chat/completions", "client": ("10.0.0.1", 1)}
    ex.dialect, ex.route, ex.method, ex.contract = "openai", "/chat/completions", "POST", "v1"
    ex.status, ex.model, ex.tokens_in, ex.tokens_out = 200, "GigaChat-2-Max", 12, 40
    ex.upstream_seconds, ex.upstream_status, ex.finished = 0.8, 200, ex.started + 0.9
    record = recorder.record(ex)
    return [
        ("Recorder.record (8 headers)", per_call_us(lambda: recorder.record(ex), 50_000)),
        ("postgres.row", per_call_us(lambda: row(record), 50_000)),
    ]


def main() -> None:
    logging.getLogger().setLevel(logging.WARNING)
    os.sched_setaffinity(0, {0})
    try:
        dsn = database.dsn()
        apps = {
            "sinks off": build({}),
            "postgres sink": build(
                {
                    "GPT2GIGA_TRAFFIC_LOG_ENABLED": "true",
                    "GPT2GIGA_TRAFFIC_LOG_SINK": "postgres",
                    "GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN": dsn,
                }
            ),
        }
        whole = asyncio.run(rounds(apps))
    finally:
        database.stop()
    for name, us in micro():
        print(f"  {name:<44} {us:8.2f} us")
    base = whole["sinks off"]
    for name, us in whole.items():
        print(f"  {'whole request, ' + name:<44} {us:8.1f} us CPU  ({(us - base) / base:+.1%})")


if __name__ == "__main__":
    main()
