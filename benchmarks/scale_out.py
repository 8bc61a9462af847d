"""Scale-out on this box: one worker against two, and what shared state costs per request.

Run: .venv/bin/python -m benchmarks.scale_out [--reps 3] [--duration 5]
(about ten minutes; writes benchmarks/SCALE-OUT.md and .work/scale_out.json).

Three parts, against the zero-delay GigaChat stand-in (`standin.py`); the
first two with wrk, the third inside this process (`state_cost.py`):

1. Workers: `GPT2GIGA_WORKERS=1` against `=2` (their state then shared in the
   SQLite file), OpenAI chat at 16 and 64 in flight. Nothing is pinned: the
   machine has two cores, and the load generator and the stand-in need them too,
   as they would on a small box serving its own clients.
2. State: one worker on core 0, the load and Redis on core 1, with the state in
   memory, in SQLite and in Redis, for the requests that touch it: a chat call
   under a model limit (a lease taken and given back), a stored Responses create
   (one write) and a continuation (one read, one write). p50 at 1 in flight,
   throughput at 16.
3. The same cases through the app in this process, best of alternating rounds:
   the figures other load on the machine disturbs least.

Variants are measured in turn within each repetition; the report gives medians.
Never collected by pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import envs, loadgen, procs, state_cost
from benchmarks.run import CREDENTIALS

WORK = envs.BENCH / ".work" / "scale_out"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# Free ports: other benchmarks may be running on this machine.
STANDIN_PORT, REDIS_PORT, GATEWAY_PORT = free_port(), free_port(), free_port()
# Only GigaChat-2-Max is limited: the chat case measures the limits, the Responses cases
# (on GigaChat) the store alone.
LIMITED = {
    "GPT2GIGA_MODEL_MAX_CONNECTIONS": '{"GigaChat-2-Max": 10000}',
    # Room for every response a run stores: the one continued must not be pushed out.
    "GPT2GIGA_RESPONSES_STORE_SIZE": "200000",
}
CHAT = b'{"model":"GigaChat-2-Max","messages":[{"role":"user","content":"hi"}]}'
CREATE = b'{"model":"GigaChat","input":"hi"}'
STATES = ("memory", "sqlite", "redis")


def gateway_env(workers: int, state: str, extra: dict[str, str]) -> dict[str, str]:
    base = f"http://127.0.0.1:{STANDIN_PORT}"
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "GIGACHAT_CREDENTIALS": CREDENTIALS,
        "GIGACHAT_BASE_URL": f"{base}/api/v1",
        "GIGACHAT_AUTH_URL": f"{base}/api/v2/oauth",
        "GIGACHAT_MAX_CONNECTIONS": "512",
        "GPT2GIGA_HOST": "127.0.0.1",
        "GPT2GIGA_PORT": str(GATEWAY_PORT),
        "GPT2GIGA_WORKERS": str(workers),
        "GPT2GIGA_LOG_LEVEL": "WARNING",
        **extra,
    }
    if state == "sqlite":
        env["GPT2GIGA_STATE_DIR"] = str(WORK / "state")
    elif state == "redis":
        env["GPT2GIGA_REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"
    return env


def start_gateway(env: dict[str, str], cpus: str) -> procs.Proc:
    command = [sys.executable, "-m", "gpt2giga"]
    proc = procs.Proc("gateway", command, cpus=cpus, env=env, cwd=WORK, log=WORK / "gateway.log")
    procs.wait_healthy(proc, GATEWAY_PORT)
    return proc


def load(
    wrk: str,
    gateway: procs.Proc,
    path: str,
    body: bytes,
    connections: int,
    duration: int,
    cpus: str,
) -> dict[str, float]:
    """wrk's figures, plus the gateway's CPU time per request: the figure other
    load on the machine disturbs least."""
    url = f"http://127.0.0.1:{GATEWAY_PORT}{path}"
    loadgen.run(wrk, url, body, {}, connections, 1, cpus=cpus)  # warm-up, not measured
    pids = gateway.pids()
    before = procs.cpu_seconds(pids)
    result = loadgen.run(wrk, url, body, {}, connections, duration, cpus=cpus)
    used = procs.cpu_seconds(pids) - before
    if result.errors:
        status, answer = procs.post(GATEWAY_PORT, path, body, {})
        raise RuntimeError(
            f"{result.errors} errors on {path} at c={connections}; now: {status} {answer[:300]!r}"
        )
    return {**result.as_dict(), "cpu_us": used / max(1, result.requests) * 1e6}


def workers_part(wrk: str, reps: int, duration: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {}
    for _ in range(reps):
        for workers in (1, 2):
            state = "memory" if workers == 1 else "sqlite"
            gateway = start_gateway(gateway_env(workers, state, {}), cpus="0,1")
            try:
                for c in (16, 64):
                    result = load(wrk, gateway, "/v1/chat/completions", CHAT, c, duration, "0,1")
                    runs.setdefault(f"{workers}w c={c}", []).append(result)
            finally:
                gateway.stop()
    return runs


def continuation_body() -> bytes:
    status, raw = procs.post(GATEWAY_PORT, "/v1/responses", CREATE, {})
    assert status == 200, raw[:300]
    previous = json.loads(raw)["id"]
    follow = {"model": "GigaChat", "input": "more", "previous_response_id": previous}
    return json.dumps(follow).encode()


CASES = (
    ("chat under a limit", "/v1/chat/completions", CHAT),
    ("Responses create, stored", "/v1/responses", CREATE),
    ("Responses continuation", "/v1/responses", None),
)


def state_part(wrk: str, reps: int, duration: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {}
    for _ in range(reps):
        for state in STATES:
            shutil.rmtree(WORK / "state", ignore_errors=True)
            gateway = start_gateway(gateway_env(1, state, LIMITED), cpus="0")
            try:
                for name, path, body in CASES:
                    sent = body if body is not None else continuation_body()
                    for c in (1, 16):
                        result = load(wrk, gateway, path, sent, c, duration, "1")
                        runs.setdefault(f"{name}|{state}|c={c}", []).append(result)
            finally:
                gateway.stop()
    return runs


IN_PROCESS = """
## The same, measured inside one process

The app driven over ASGI in this process (no HTTP server, no wrk), pinned to
core 0; stand-in and Redis on core 1; best of the rounds, variants alternating
(`benchmarks/state_cost.py`). Other load on the machine shows least here.
"c=1": wall time per request one at a time, Redis's round trip included;
"c=16": CPU per request with 16 in flight, the figure throughput follows when
a worker is busy; "vs memory": the throughput that CPU allows against memory's.

"""


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def report(workers: dict[str, Any], state: dict[str, Any], reps: int, duration: int) -> str:
    lines = [
        "# Scale-out figures",
        "",
        f"`python -m benchmarks.scale_out --reps {reps} --duration {duration}` on "
        f"{os.cpu_count()} cores ({time.strftime('%Y-%m-%d')}); medians of {reps} runs "
        f"of {duration} s after a 1 s warm-up; wrk, the zero-delay stand-in.",
        "",
        "## One worker against two (OpenAI chat; nothing pinned)",
        "",
        "| workers | in flight | req/s | p50 ms | p99 ms | CPU µs/request |",
        "|---|---|---|---|---|---|",
    ]
    for key, runs in workers.items():
        label, c = key.split(" c=")
        lines.append(
            f"| {label[:-1]} | {c} | {median(runs, 'rps'):.0f} | "
            f"{median(runs, 'p50_ms'):.2f} | {median(runs, 'p99_ms'):.2f} | "
            f"{median(runs, 'cpu_us'):.0f} |"
        )
    lines += [
        "",
        "## What shared state costs (one worker on core 0; wrk, stand-in, Redis on core 1)",
        "",
        "| request | state | p50 ms, c=1 | added | req/s, c=16 | vs memory "
        "| CPU µs/req, c=16 | added |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, _, _ in CASES:
        base = {c: state[f"{name}|memory|c={c}"] for c in (1, 16)}
        for s in STATES:
            one, many = state[f"{name}|{s}|c=1"], state[f"{name}|{s}|c=16"]
            p50, rps, cpu = median(one, "p50_ms"), median(many, "rps"), median(many, "cpu_us")
            lines.append(
                f"| {name} | {s} | {p50:.3f} | {p50 - median(base[1], 'p50_ms'):+.3f} "
                f"| {rps:.0f} | {(rps / median(base[16], 'rps') - 1) * 100:+.1f} % "
                f"| {cpu:.0f} | {cpu - median(base[16], 'cpu_us'):+.0f} |"
            )
    return "\n".join(lines) + "\n"


def in_process(reps: int) -> tuple[dict[str, Any], list[str]]:
    """The state part again, inside this process pinned to core 0 (state_cost.py)."""
    shutil.rmtree(WORK / "state", ignore_errors=True)
    settings = {s: gateway_env(1, s, LIMITED) for s in STATES}
    cases = list(CASES)
    pinned = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        best = asyncio.run(state_cost.measure(settings, cases, CREATE, rounds=max(3, reps + 2)))
        ping = asyncio.run(state_cost.round_trip(settings["redis"]["GPT2GIGA_REDIS_URL"]))
    finally:
        os.sched_setaffinity(0, pinned)
    lines = state_cost.rows(best, cases, STATES)
    lines.append(
        f"\nOne Redis round trip (PING) from this process, best of 5 × 1000: {ping:.0f} µs."
    )
    return {**best, "redis_ping_us": {"wall_us": ping, "cpu_us": 0.0}}, lines


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--duration", type=int, default=5)
    args = p.parse_args(argv)
    wrk = envs.ensure_wrk()
    redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
    shutil.rmtree(WORK, ignore_errors=True)  # logs of an earlier run
    WORK.mkdir(parents=True)
    standin = procs.Proc(
        "standin",
        [sys.executable, str(envs.BENCH / "standin.py"), "--port", str(STANDIN_PORT)],
        cpus="1",
        env={**os.environ},
        cwd=WORK,
        log=WORK / "standin.log",
    )
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as redis_dir:
        redis = procs.Proc(
            "redis",
            [redis_server, "--bind", "127.0.0.1", "--port", str(REDIS_PORT), "--save", "",
             "--appendonly", "no", "--dir", redis_dir],
            cpus="1",
            env={**os.environ},
            cwd=WORK,
            log=WORK / "redis.log",
        )  # fmt: skip
        try:
            time.sleep(0.5)
            # Each part's figures are kept as soon as it ends: a later failure loses no run.
            results["workers"] = workers = workers_part(wrk, args.reps, args.duration)
            (WORK / "scale_out.json").write_text(json.dumps(results))
            results["state"] = state = state_part(wrk, args.reps, args.duration)
            (WORK / "scale_out.json").write_text(json.dumps(results))
            inside, rows = in_process(args.reps)
            results["in_process"] = inside
            (WORK / "scale_out.json").write_text(json.dumps(results))
        finally:
            redis.stop()
            standin.stop()
    text = report(workers, state, args.reps, args.duration) + IN_PROCESS + "\n".join(rows) + "\n"
    (envs.BENCH / "SCALE-OUT.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
