"""wrk, driven with a Lua script that posts a fixed body and writes a JSON summary.

wrk 4.1 corrects its latency histogram for coordinated omission (it adds the
samples a stalled connection would have produced), so its p99 is the honest,
pessimistic one; p50 is barely touched. Every run is bounded by `duration`
plus a hard subprocess timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "wrk" / "post.lua"


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    errors: int  # socket errors, timeouts and non-2xx/3xx answers

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def run(
    wrk: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    connections: int,
    duration: int,
    *,
    cpus: str,
    timeout_s: int = 10,
) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        body_file = Path(tmp) / "body.json"
        out_file = Path(tmp) / "out.json"
        body_file.write_bytes(body)
        env = {
            **os.environ,
            "WRK_BODY": str(body_file),
            "WRK_OUT": str(out_file),
            "WRK_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items()),
        }
        command = [
            "taskset", "-c", cpus, wrk, "-t1", f"-c{connections}", f"-d{duration}s",
            f"--timeout={timeout_s}s", "-s", str(LUA), url,
        ]  # fmt: skip
        subprocess.run(
            command,
            env=env,
            check=True,
            capture_output=True,
            timeout=duration + timeout_s + 30,
        )
        raw = json.loads(out_file.read_text())
    seconds = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    return LoadResult(
        requests=raw["requests"],
        seconds=seconds,
        rps=raw["requests"] / seconds if seconds else 0.0,
        p50_ms=lat["p50"] / 1000,
        p90_ms=lat["p90"] / 1000,
        p99_ms=lat["p99"] / 1000,
        mean_ms=lat["mean"] / 1000,
        errors=sum(raw["errors"].values()),
    )
