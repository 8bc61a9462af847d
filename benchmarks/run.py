"""`make bench`: our gateway, its FastAPI variant and the FastAPI gpt2giga, side by side.

Each gateway runs one worker pinned to core 0; wrk and the GigaChat stand-in
share core 1. Cells (scenario x concurrency) are measured in turn for every
gateway and for the stand-in alone ("direct"), in an order that rotates from
cell to cell, and repeated; the report gives medians and ratios. Writes
benchmarks/results.json and benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import database, envs, loadgen, procs, report
from benchmarks.scenarios import Scenario, by_name

GATEWAY_CPU = "0"
LOAD_CPU = "1"
STANDIN_PORT, SLOW_PORT = 18101, 18102
# The fake GigaChat's demo credentials (gpt2giga.gigachat.fake.DEMO_CREDENTIALS).
CREDENTIALS = base64.b64encode(b"demo-client:demo-secret").decode()
ZERO_DELAY = (1, 16, 64)
SLOW = 256
TTFB_MS, CHUNK_MS = 50.0, 3.0


@dataclass(frozen=True)
class Mode:
    name: str
    reps: int
    duration: int  # seconds per measured wrk run (wrk takes whole seconds)
    warmup: int  # seconds of unmeasured load before each measured run
    slow_duration: int  # the 256-in-flight runs: 256 connections need a while to ramp up
    startup_reps: int
    import_reps: int


FULL = Mode("full", 3, duration=8, warmup=1, slow_duration=10, startup_reps=3, import_reps=7)
QUICK = Mode("quick", 1, duration=1, warmup=0, slow_duration=3, startup_reps=1, import_reps=3)


@dataclass
class Gateway:
    key: str
    label: str
    venv: envs.Venv
    port: int
    command: list[str]
    import_module: str
    pythonpath: str | None = None
    proc: procs.Proc | None = None
    broken: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # settings of an experiment


def gateway_env(gw: Gateway, upstream_port: int) -> dict[str, str]:
    base = f"http://127.0.0.1:{upstream_port}"
    env = {
        "PATH": f"{gw.venv.path / 'bin'}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "GIGACHAT_CREDENTIALS": CREDENTIALS,
        "GIGACHAT_SCOPE": "GIGACHAT_API_PERS",
        "GIGACHAT_BASE_URL": f"{base}/api/v1",
        "GIGACHAT_AUTH_URL": f"{base}/api/v2/oauth",
        "GIGACHAT_VERIFY_SSL_CERTS": "False",
        # httpx's default of 100 connections would cap the 256-in-flight cells.
        "GIGACHAT_MAX_CONNECTIONS": "512",
        "GIGACHAT_TIMEOUT": "60",
        "GPT2GIGA_HOST": "127.0.0.1",
        "GPT2GIGA_PORT": str(gw.port),
        "GPT2GIGA_WORKERS": "1",
        "GPT2GIGA_MODE": "DEV",
        # No per-request access log for anyone: the stack is measured, not the logger.
        "GPT2GIGA_LOG_LEVEL": "WARNING",
    }
    if gw.pythonpath:
        env["PYTHONPATH"] = gw.pythonpath
    env.update(gw.env)
    return env


OTEL = ["opentelemetry-sdk>=1.30,<2", "opentelemetry-exporter-otlp-proto-http>=1.30,<2"]
# Variants of our gateway for before/after measurements: name -> (extra packages, how).
EXPERIMENTS: dict[str, tuple[list[str], str]] = {
    # Before the embedded server: Granian's multiprocess server with one worker process.
    "mp": ([], "granian-mp"),
    # Before the gateway's own transport: httpx's pool (benchmarks/pools.py).
    "httpx-pool": ([], "pool-patch"),
    # aiohttp under httpx (benchmarks/pools.py).
    "aiohttp": (["httpx-aiohttp"], "pool-patch"),
    # The traffic log's PostgreSQL sink on (vs. "ours": sinks off); the database is a
    # throwaway server on the load core, as a database on another machine would be.
    "traffic-pg": (["asyncpg>=0.29"], "traffic-postgres"),
    # Traces on (the otel extra), exported over OTLP/HTTP to the stand-in, all or 1 in 10 kept.
    "otel-1.0": (OTEL, "env"),
    "otel-0.1": (OTEL, "env"),
}
EXPERIMENT_ENV: dict[str, dict[str, str]] = {
    f"otel-{rate}": {
        "GPT2GIGA_OBSERVABILITY_ENABLED": "true",
        "GPT2GIGA_OBSERVABILITY_BACKEND": "otlp",
        "GPT2GIGA_OBSERVABILITY_SAMPLE_RATE": rate,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{STANDIN_PORT}",
    }
    for rate in ("1.0", "0.1")
}


def experiment(name: str, port: int) -> Gateway:
    extra, how = EXPERIMENTS[name]
    venv = envs.ensure(f"ours-{name}", [str(envs.REPO), *extra], reinstall_repo=True)
    command = [str(venv.bin("gpt2giga"))]
    if how == "granian-mp":
        command = [
            str(venv.python), "-m", "granian", "--interface", "asgi", "--factory", "--no-ws",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--backlog", "1024",
            "--log-level", "warning", "gpt2giga.app:from_environment",
        ]  # fmt: skip
    if how == "pool-patch":
        site = venv.site_packages()
        (site / "_bench_pools.py").write_bytes((envs.BENCH / "pools.py").read_bytes())
        (site / "_bench_pools.pth").write_text(
            f"import _bench_pools; _bench_pools.install({name!r})\n"
        )
    env = EXPERIMENT_ENV.get(name, {})
    if how == "traffic-postgres":
        env = {
            "GPT2GIGA_TRAFFIC_LOG_ENABLED": "true",
            "GPT2GIGA_TRAFFIC_LOG_SINK": "postgres",
            "GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN": database.dsn(),
        }
    return Gateway(f"ours-{name}", f"ours + {name}", venv, port, command, "gpt2giga.app", env=env)


def build_gateways(wanted: list[str] | None, experiments: list[str]) -> list[Gateway]:
    unknown = [e for e in experiments if e not in EXPERIMENTS]
    if unknown:
        raise SystemExit(f"unknown experiment(s) {unknown}; known: {', '.join(EXPERIMENTS)}")
    keys = wanted or ["ours", "variant", "theirs"]
    gateways = []
    if "ours" in keys:
        ours = envs.ensure("ours", [str(envs.REPO)], reinstall_repo=True)
        gateways.append(Gateway("ours", "ours (Granian + msgspec)", ours, 18201,
                                [str(ours.bin("gpt2giga"))], "gpt2giga.app"))  # fmt: skip
    if "variant" in keys:
        variant = envs.ensure(
            "variant",
            [str(envs.REPO), "fastapi", "uvicorn", "uvloop", "httptools"],
            reinstall_repo=True,
        )
        uvicorn = [
            str(variant.python), "-m", "uvicorn", "--factory", "--app-dir", str(envs.BENCH),
            "fastapi_variant:create_app", "--host", "127.0.0.1", "--port", "18203",
            "--log-level", "warning", "--no-access-log", "--loop", "uvloop", "--http", "httptools",
        ]  # fmt: skip
        gateways.append(Gateway("variant", "ours on FastAPI + uvicorn", variant, 18203, uvicorn,
                                "fastapi_variant", pythonpath=str(envs.BENCH)))  # fmt: skip
    if "theirs" in keys:
        theirs = envs.ensure("theirs", ["gpt2giga==0.3.0"])
        gateways.append(Gateway("theirs", "gpt2giga 0.3.0 (FastAPI)", theirs, 18202,
                                [str(theirs.bin("gpt2giga"))], "gpt2giga.api_server"))  # fmt: skip
    gateways += [experiment(name, 18210 + i) for i, name in enumerate(experiments)]
    return gateways


# --- static figures ---------------------------------------------------------------


# A neutral working directory: from the repository root `import gpt2giga` is the source tree.
NEUTRAL = envs.WORK / "run"


def _timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=NEUTRAL, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - start


def import_figures(gw: Gateway, reps: int) -> dict[str, Any]:
    """Median wall time of `import <module>` minus a bare interpreter, and where it goes."""
    env = gateway_env(gw, STANDIN_PORT)
    pin = ["taskset", "-c", GATEWAY_CPU, str(gw.venv.python)]
    _timed([*pin, "-c", f"import {gw.import_module}"], env)  # warm the page cache
    bare = statistics.median(_timed([*pin, "-c", "pass"], env) for _ in range(reps))
    full = statistics.median(
        _timed([*pin, "-c", f"import {gw.import_module}"], env) for _ in range(reps)
    )
    out = subprocess.run(
        [*pin, "-X", "importtime", "-c", f"import {gw.import_module}"],
        env=env,
        cwd=NEUTRAL,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {
        "module": gw.import_module,
        "import_ms": (full - bare) * 1000,
        "interpreter_ms": bare * 1000,
        "top_packages_ms": top_packages(out.stderr),
    }


def top_packages(importtime: str, n: int = 8) -> dict[str, float]:
    """Self time summed by top-level package, from `-X importtime` output."""
    totals: dict[str, float] = {}
    for line in importtime.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            package = m.group(2).split(".")[0]
            totals[package] = totals.get(package, 0.0) + int(m.group(1)) / 1000
    return dict(sorted(totals.items(), key=lambda kv: -kv[1])[:n])


def static_figures(gw: Gateway, mode: Mode) -> dict[str, Any]:
    dists = envs.distributions(gw.venv)
    versions = {
        name: dists[name]
        for name in ("gpt2giga", "granian", "msgspec", "httpx", "httpx-aiohttp", "aiohttp",
                     "fastapi", "starlette", "uvicorn", "pydantic", "uvloop", "gigachat")
        if name in dists
    }  # fmt: skip
    return {
        "venv_mib": envs.disk_mib(gw.venv.path),
        "site_packages_mib": envs.disk_mib(gw.venv.site_packages()),
        "packages": len(dists),
        "versions": versions,
        **import_figures(gw, mode.import_reps),
    }


# --- running gateways ---------------------------------------------------------------


def start(gw: Gateway, upstream_port: int) -> float:
    run_dir = envs.WORK / "run" / gw.key
    gw.proc = procs.Proc(
        gw.key,
        gw.command,
        cpus=GATEWAY_CPU,
        env=gateway_env(gw, upstream_port),
        cwd=run_dir,
        log=envs.WORK / "run" / f"{gw.key}.log",
    )
    return procs.wait_healthy(gw.proc, gw.port)


def stop(gw: Gateway) -> None:
    if gw.proc is not None:
        gw.proc.stop()
        gw.proc = None


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def startup_figures(gateways: list[Gateway], mode: Mode) -> dict[str, dict[str, Any]]:
    """Start-to-healthy and fresh idle RSS, each gateway started `startup_reps` times."""
    samples: dict[str, list[tuple[float, int]]] = {gw.key: [] for gw in gateways}
    for gw in gateways:  # an unmeasured start first: the page cache holds everyone's files
        try:
            start(gw, STANDIN_PORT)
        finally:
            stop(gw)
    for _ in range(mode.startup_reps):
        for gw in gateways:
            try:
                healthy = start(gw, STANDIN_PORT)
                time.sleep(0.5)
                assert gw.proc is not None
                samples[gw.key].append((healthy, procs.rss_bytes(gw.proc.pids())))
            finally:
                stop(gw)
            time.sleep(0.3)
    return {
        key: {
            "healthy_ms": statistics.median(s[0] for s in got) * 1000,
            "idle_fresh_mib": statistics.median(s[1] for s in got) / 2**20,
        }
        for key, got in samples.items()
    }


def check(gw: Gateway, scenarios: list[Scenario]) -> None:
    """One real request per scenario; a wrong answer takes the gateway out of that scenario."""
    for sc in scenarios:
        try:
            status, body = procs.post(gw.port, sc.path, sc.body, sc.headers)
            problem = f"HTTP {status}: {body[:200]!r}" if status != 200 else sc.check(body)
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            gw.broken[sc.name] = problem
            envs.log(f"{gw.key} fails {sc.name}: {problem}")


# --- cells ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    scenario: Scenario
    concurrency: int
    slow: bool


def measure(
    wrk: str, cell: Cell, target: str, gw: Gateway | None, mode: Mode
) -> dict[str, Any] | None:
    sc = cell.scenario
    if gw is None:
        port = SLOW_PORT if cell.slow else STANDIN_PORT
        url = f"http://127.0.0.1:{port}{sc.upstream_path}"
        headers = {"Authorization": "Bearer bench"}
        pids: list[int] = []
    else:
        if sc.name in gw.broken or gw.proc is None:
            return None
        url = f"http://127.0.0.1:{gw.port}{sc.path}"
        headers = sc.headers
        pids = gw.proc.pids()

    def load(seconds: int) -> loadgen.LoadResult:
        return loadgen.run(wrk, url, sc.body, headers, cell.concurrency, seconds, cpus=LOAD_CPU)

    if mode.warmup:
        load(mode.warmup)
        drain(pids)
    cpu0 = procs.cpu_seconds(pids)
    busy0 = procs.core_busy_seconds(int(GATEWAY_CPU))
    began = time.monotonic()
    result = load(mode.slow_duration if cell.slow else mode.duration)
    wall = time.monotonic() - began
    cpu = procs.cpu_seconds(pids) - cpu0
    # An overloaded gateway still works through requests wrk abandoned when it stopped;
    # the next run (another gateway, same core) starts only once this one is idle.
    drained = drain(pids)
    # What else ran on the gateway's core meanwhile (other processes on this machine).
    foreign = procs.core_busy_seconds(int(GATEWAY_CPU)) - busy0 - cpu
    row: dict[str, Any] = {
        "scenario": sc.name,
        "concurrency": cell.concurrency,
        "upstream": f"{TTFB_MS:g} ms" if cell.slow else "zero-delay",
        "target": target,
        **result.as_dict(),
        "foreign_core_share": max(0.0, foreign / wall),
        "drain_s": drained,
    }
    if not result.requests:  # wrk's latency of no answer at all is 0: leave it out
        row.update(p50_ms=None, p90_ms=None, p99_ms=None, mean_ms=None)
    elif gw is not None:
        row["cpu_s_per_1k"] = cpu / result.requests * 1000
    return row


def drain(pids: list[int], limit: float = 60.0) -> float:
    """Seconds until the processes use under 2 % of a core over 0.25 s (at most `limit`)."""
    start = time.monotonic()
    before = procs.cpu_seconds(pids)
    while pids and time.monotonic() - start < limit:
        time.sleep(0.25)
        now = procs.cpu_seconds(pids)
        if now - before < 0.005:
            break
        before = now
    return time.monotonic() - start


def run_cells(
    wrk: str,
    cells: list[Cell],
    gateways: list[Gateway],
    mode: Mode,
    rep: int,
    rows: list[dict[str, Any]],
) -> None:
    targets: list[tuple[str, Gateway | None]] = [(gw.key, gw) for gw in gateways]
    targets.append(("direct", None))
    for i, cell in enumerate(cells):
        shift = (rep + i) % len(targets)
        for key, gw in targets[shift:] + targets[:shift]:
            row = measure(wrk, cell, key, gw, mode)
            if row is not None:
                row["rep"] = rep
                rows.append(row)
                with (envs.WORK / "runs.jsonl").open("a") as f:  # survives a crash
                    f.write(json.dumps(row) + "\n")
                envs.log(
                    f"rep {rep + 1} {cell.scenario.name} c={cell.concurrency} "
                    f"{row['upstream']} {key}: {row['rps']:.0f} req/s, "
                    f"p50 {report._n(row['p50_ms'], 2)} ms, errors {row['errors']}"
                )


def phase(
    wrk: str,
    gateways: list[Gateway],
    scenarios: list[Scenario],
    cells: list[Cell],
    mode: Mode,
    upstream_port: int,
    rows: list[dict[str, Any]],
) -> dict[str, dict[str, float]]:
    """Start every gateway against one upstream, run the cells, return memory figures."""
    memory: dict[str, dict[str, float]] = {}
    samplers: dict[str, procs.PeakRSS] = {}
    try:
        for gw in gateways:
            start(gw, upstream_port)
            check(gw, scenarios)
        for gw in gateways:  # warm every code path once, then let it settle
            for sc in scenarios:
                if sc.name not in gw.broken:
                    for _ in range(20):
                        procs.post(gw.port, sc.path, sc.body, sc.headers)
        time.sleep(1.0)
        for gw in gateways:
            assert gw.proc is not None
            memory[gw.key] = {"idle_warm_mib": procs.rss_bytes(gw.proc.pids()) / 2**20}
            samplers[gw.key] = procs.PeakRSS(gw.proc).__enter__()
        for rep in range(mode.reps):
            run_cells(wrk, cells, gateways, mode, rep, rows)
        for gw in gateways:
            assert gw.proc is not None
            memory[gw.key]["pss_after_mib"] = procs.pss_bytes(gw.proc.pids()) / 2**20
    finally:
        for sampler in samplers.values():
            sampler.__exit__(None, None, None)
        for key, sampler in samplers.items():
            memory[key]["peak_mib"] = sampler.peak / 2**20
        for gw in gateways:
            stop(gw)
    return memory


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="one repetition, short runs (~1 min)")
    p.add_argument("--scenarios", nargs="*", help="scenario names (default: all)")
    p.add_argument("--gateways", nargs="*", help="ours, variant, theirs (default: all)")
    p.add_argument(
        "--experiments", nargs="*", help=f"our gateway's variants too: {', '.join(EXPERIMENTS)}"
    )
    p.add_argument("--reps", type=int, help="repetitions of every cell")
    p.add_argument("--duration", type=int, help="seconds per measured zero-delay run")
    p.add_argument(
        "--out",
        help="where results.json and RESULTS.md go (default: benchmarks/, "
        "or benchmarks/.work/quick/ with --quick)",
    )
    args = p.parse_args(argv)
    mode = QUICK if args.quick else FULL
    if args.reps or args.duration:
        mode = Mode(
            mode.name,
            reps=args.reps or mode.reps,
            duration=args.duration or mode.duration,
            warmup=mode.warmup,
            slow_duration=mode.slow_duration,
            startup_reps=mode.startup_reps,
            import_reps=mode.import_reps,
        )
    if os.cpu_count() is None or (os.cpu_count() or 0) < 2:
        raise SystemExit("the benchmark pins gateways and load to two different cores")
    scenarios = by_name(args.scenarios)
    began = time.monotonic()
    wrk = envs.ensure_wrk()
    tools = envs.ensure("tools", ["uvloop"])
    gateways = build_gateways(args.gateways, args.experiments or [])
    envs.log("static figures (venv size, packages, import time)")
    NEUTRAL.mkdir(parents=True, exist_ok=True)  # a fresh checkout has no .work/run yet
    static = {gw.key: static_figures(gw, mode) for gw in gateways}
    standin = procs.Proc(
        "standin",
        [str(tools.python), str(envs.BENCH / "standin.py"), "--port", str(STANDIN_PORT),
         "--slow-port", str(SLOW_PORT), "--ttfb-ms", str(TTFB_MS), "--chunk-ms", str(CHUNK_MS)],
        cpus=LOAD_CPU, env=dict(os.environ), cwd=envs.WORK / "run", log=envs.WORK / "run" /
        "standin.log",
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    (envs.WORK / "runs.jsonl").write_text("")
    try:
        wait_port(STANDIN_PORT)
        envs.log("start-up figures")
        startup = startup_figures(gateways, mode)
        envs.log("zero-delay upstream")
        fast = [Cell(sc, c, False) for sc in scenarios for c in ZERO_DELAY]
        mem_fast = phase(wrk, gateways, scenarios, fast, mode, STANDIN_PORT, rows)
        envs.log(f"{TTFB_MS:g} ms upstream, {SLOW} in flight")
        slow = [Cell(sc, SLOW, True) for sc in scenarios]
        mem_slow = phase(wrk, gateways, scenarios, slow, mode, SLOW_PORT, rows)
    finally:
        standin.stop()
        database.stop()
    results = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": mode.name,
        "command": "python -m benchmarks.run "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "seconds": round(time.monotonic() - began, 1),
        "machine": machine(),
        "wrk": envs.wrk_version(wrk),
        "settings": {
            "reps": mode.reps,
            "duration_s": mode.duration,
            "slow_duration_s": mode.slow_duration,
            "warmup_s": mode.warmup,
            "ttfb_ms": TTFB_MS,
            "chunk_ms": CHUNK_MS,
            "gateway_cpu": GATEWAY_CPU,
            "load_cpu": LOAD_CPU,
        },
        "scenarios": {sc.name: {"title": sc.title, "bytes": len(sc.body)} for sc in scenarios},
        "gateways": {
            gw.key: {
                "label": gw.label,
                **static[gw.key],
                **startup[gw.key],
                "idle_warm_mib": mem_fast[gw.key]["idle_warm_mib"],
                "peak_zero_delay_mib": mem_fast[gw.key]["peak_mib"],
                "peak_256_mib": mem_slow[gw.key]["peak_mib"],
                "pss_after_256_mib": mem_slow[gw.key]["pss_after_mib"],
                "broken": gw.broken,
            }
            for gw in gateways
        },
        "runs": rows,
    }
    out = Path(args.out) if args.out else envs.WORK / "quick" if args.quick else envs.BENCH
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")  # raw, first
    results["summary"] = report.summarize(results)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "RESULTS.md").write_text(report.markdown(results))
    envs.log(f"wrote {out / 'RESULTS.md'} in {results['seconds']:.0f} s")
    for t in results["summary"]["targets"]:
        verdict = "met" if t["met"] else "NOT met"
        print(f"{t['name']}: {report._n(t['value'], 2)} (goal {t['goal']}) {verdict}")


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem) / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    main(sys.argv[1:])
