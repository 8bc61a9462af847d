"""Processes the benchmark starts: pinned launch, health wait, memory and CPU of a process tree.

Memory and CPU are read from /proc for the whole tree (a Granian server is a
main process plus workers), so every gateway is charged for all it runs.
Every process started here is stopped by `Proc.stop`, children included.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    kids = children_map()
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(kids.get(p, ()))
    return found


def rss_bytes(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    return total


def pss_bytes(pids: Sequence[int]) -> int:
    """Proportional set size: shared pages split between the processes sharing them."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
    return total


def cpu_seconds(pids: Sequence[int]) -> float:
    """user + system time of the processes (all their threads), in seconds."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLK_TCK


def core_busy_seconds(core: int) -> float:
    """Time `core` spent not idle since boot, by everyone (from /proc/stat)."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            ticks = [int(v) for v in line.split()[1:]]
            return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLK_TCK  # minus idle, iowait
    raise ValueError(f"no cpu{core} in /proc/stat")


class Proc:
    """A process started pinned to `cpus`; stop() ends it and every descendant."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        cpus: str,
        env: dict[str, str],
        cwd: Path,
        log: Path,
    ) -> None:
        self.name = name
        cwd.mkdir(parents=True, exist_ok=True)
        self._log = log.open("ab")
        self.started = time.monotonic()
        self.popen = subprocess.Popen(
            ["taskset", "-c", cpus, *command],
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def pids(self) -> list[int]:
        return tree(self.pid)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        pids = self.pids() if self.alive() else []
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        for pid in pids:  # workers a crashed parent left behind
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self._log.close()


def get(port: int, path: str, timeout: float = 1.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def post(
    port: int, path: str, body: bytes, headers: dict[str, str], timeout: float = 30.0
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_healthy(proc: Proc, port: int, path: str = "/health", timeout: float = 30.0) -> float:
    """Seconds from the process's start to its first 200 on `path`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited during start-up (see its log)")
        try:
            status, _ = get(port, path, timeout=1.0)
            if status == 200:
                return time.monotonic() - proc.started
        except OSError:
            pass
        time.sleep(0.002)
    raise RuntimeError(f"{proc.name} was not healthy after {timeout} s")


class PeakRSS:
    """Samples a process tree's summed RSS every `interval` seconds in a thread."""

    def __init__(self, proc: Proc, interval: float = 0.05) -> None:
        self._proc = proc
        self._interval = interval
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        pids = self._proc.pids()
        n = 0
        while not self._stop.is_set():
            n += 1
            if n % 20 == 0:
                pids = self._proc.pids()
            self.peak = max(self.peak, rss_bytes(pids))
            self._stop.wait(self._interval)
