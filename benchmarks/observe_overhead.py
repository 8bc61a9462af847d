"""What per-request recording costs: the exchange, metrics, the access line, the limiter.

Run: .venv/bin/python benchmarks/observe_overhead.py [--multiprocess]

Prints microseconds per call for each piece, then whole requests through the
app (ASGI in-process, the fake GigaChat behind httpx) with everything off and
with metrics on: best of interleaved rounds. Between two identical apps that
figure still moves by about 3%, so the per-call rows are the measurement and
the whole-request rows the scale they are read against. `--multiprocess`
measures prometheus-client's file-backed mode, as several Granian workers use
it. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HEADERS = [
    (b"host", b"localhost:8090"),
    (b"content-type", b"application/json"),
    (b"authorization", b"Bearer sk-anything"),
    (b"user-agent", b"OpenAI/Python 1.60.0"),
    (b"x-stainless-os", b"Linux"),
    (b"x-stainless-lang", b"python"),
    (b"x-session-id", b"session-1"),
    (b"accept", b"application/json"),
]
BODY = b'{"model":"GigaChat-2-Max","messages":[{"role":"user","content":"hi"}]}'


def per_call_us(fn: Callable[[], Any], n: int = 200_000) -> float:
    best = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best.append((time.perf_counter() - start) / n * 1e6)
    return min(best)


def micro() -> list[tuple[str, float]]:
    from gpt2giga import config
    from gpt2giga.observe.exchange import Exchange
    from gpt2giga.observe.metrics import Metrics
    from gpt2giga.observe.observers import access_line

    settings = config.load({"GIGACHAT_CREDENTIALS": "eDp5", "GPT2GIGA_METRICS_ENABLED": "true"})
    metrics = Metrics(settings)
    ex = Exchange.open(HEADERS)
    ex.dialect, ex.route, ex.method, ex.contract = "openai", "/chat/completions", "POST", "v1"
    ex.status, ex.model, ex.tokens_in, ex.tokens_out = 200, "GigaChat-2-Max", 12, 40
    ex.upstream_seconds, ex.finished = 0.8, ex.started + 0.9
    logging.getLogger("gpt2giga.access").addHandler(logging.NullHandler())
    logging.getLogger("gpt2giga.access").propagate = False
    logging.getLogger("gpt2giga.access").setLevel(logging.INFO)
    return [
        ("Exchange.open (8 headers)", per_call_us(lambda: Exchange.open(HEADERS))),
        ("metrics.record (chat, 5 series)", per_call_us(lambda: metrics.record(ex))),
        ("access line (formatted, null sink)", per_call_us(lambda: access_line(ex), 50_000)),
    ]


def tracing() -> list[tuple[str, float]]:
    """The request path's share of tracing (opening the trace) and the worker's (the spans)."""
    from gpt2giga import config
    from gpt2giga.gigachat.traced import describe
    from gpt2giga.observe.spans import Sampler
    from gpt2giga.observe.traces import Tracer

    settings = config.load({"GIGACHAT_CREDENTIALS": "eDp5", "GPT2GIGA_OBSERVABILITY_ENABLED": "1"})
    tracer = Tracer(settings, describe)
    ex = Sampler(1.0).open(HEADERS)
    assert ex.trace is not None
    ex.dialect, ex.route, ex.method, ex.contract = "openai", "/chat/completions", "POST", "v1"
    ex.status, ex.model, ex.finished = 200, "GigaChat-2-Max", ex.started + 0.9
    call = ex.trace.call("POST", "giga:443", "/api/v1/chat/completions", "chat")
    call.status, call.ended, call.body = 200, ex.started + 0.8, BODY
    answer = (
        b'{"choices":[{"message":{"role":"assistant","content":"Hi!"},"index":0,'
        b'"finish_reason":"stop"}],"created":1,"model":"GigaChat-2-Max:2.0",'
        b'"object":"chat.completion","usage":{"prompt_tokens":5,"completion_tokens":2,'
        b'"total_tokens":7}}'
    )
    call.reads = [(ex.started + 0.8, answer)]
    return [
        ("trace opened, kept (Sampler.open)", per_call_us(lambda: Sampler(1.0).open(HEADERS))),
        ("trace opened, not kept", per_call_us(lambda: Sampler(0.0).open(HEADERS))),
        ("spans built, in the worker (2 spans)", per_call_us(lambda: tracer.spans(ex), 20_000)),
    ]


async def limiter() -> list[tuple[str, float]]:
    from gpt2giga.state.limits import UNLIMITED, Limits

    limited = Limits({"GigaChat-2-Max": 100})
    out = []
    for name, limits in (("unlimited", UNLIMITED), ("limited, free slot", limited)):
        n = 100_000
        start = time.perf_counter()
        for _ in range(n):
            (await limits.acquire("GigaChat-2-Max"))()
        out.append((f"limiter acquire+release ({name})", (time.perf_counter() - start) / n * 1e6))
    return out


def build(env: dict[str, str]) -> Any:
    import httpx

    from gpt2giga import config
    from gpt2giga.app import App
    from gpt2giga.gigachat.client import GigaChatClient
    from gpt2giga.gigachat.fake.server import DEMO_CREDENTIALS, FakeGigaChat
    from gpt2giga.gigachat.upstream import build_pool

    settings = config.load(
        {
            "GIGACHAT_CREDENTIALS": DEMO_CREDENTIALS,
            "GIGACHAT_BASE_URL": "http://fake/api/v1",
            "GIGACHAT_AUTH_URL": "http://fake/api/v2/oauth",
            **env,
        }
    )
    transport = httpx.ASGITransport(app=FakeGigaChat())
    return App(
        settings, GigaChatClient(settings.gigachat, build_pool(settings.gigachat, transport))
    )


async def requests(apps: dict[str, Any], rounds: int = 15, n: int = 2000) -> dict[str, float]:
    """Best round per app, rounds interleaved so drift hits every variant alike."""
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions",
             "query_string": b"", "headers": HEADERS}  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    best = dict.fromkeys(apps, float("inf"))
    for app in apps.values():
        for _ in range(200):  # warm: token, pools, caches
            await app(scope, receive, send)
    for _ in range(rounds):
        for name, app in apps.items():
            gc.collect()
            start = time.perf_counter()
            for _ in range(n):
                await app(scope, receive, send)
            best[name] = min(best[name], (time.perf_counter() - start) / n * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--multiprocess", action="store_true")
    args = parser.parse_args()
    if args.multiprocess:
        # Must be set before prometheus_client is imported, as the CLI does for workers.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gpt2giga-bench-")
    logging.getLogger().setLevel(logging.WARNING)
    rows = micro() + asyncio.run(limiter())
    if importlib.util.find_spec("opentelemetry.sdk") is not None:  # the otel extra
        rows += tracing()
    apps = {
        "everything off": build({}),
        "metrics on": build({"GPT2GIGA_METRICS_ENABLED": "true"}),
    }
    whole = asyncio.run(requests(apps))
    mode = "multiprocess (files)" if args.multiprocess else "in-process registry"
    print(f"prometheus-client: {mode}")
    for name, us in rows:
        print(f"  {name:<44} {us:8.2f} us")
    base = whole["everything off"]
    for name, us in whole.items():
        print(f"  {'whole request, ' + name:<44} {us:8.1f} us  ({(us - base) / base:+.1%})")


if __name__ == "__main__":
    main()
