"""The benchmark's environments: one venv per gateway under benchmarks/.work, and wrk.

Each venv is created once and reinstalled only when what it asks for changes;
our package is always reinstalled (non-editable, so the measured size is the
installed one). Nothing here runs a gateway.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / ".work"
VENVS = WORK / "venvs"
PIP_TIMEOUT = 900


@dataclass(frozen=True)
class Venv:
    name: str
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    def site_packages(self) -> Path:
        return next((self.path / "lib").glob("python3*/site-packages"))


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _pip(venv: Venv, *args: str) -> None:
    command = [str(venv.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"pip install failed in {venv.name}")


def ensure(name: str, requirements: list[str], *, reinstall_repo: bool = False) -> Venv:
    """A venv with `requirements`; with `reinstall_repo`, our package is reinstalled every time."""
    venv = Venv(name, VENVS / name)
    stamp = venv.path / ".bench-stamp"
    wanted = json.dumps(requirements) + _repo_deps_hash(requirements)
    if not venv.python.exists():
        log(f"creating venv {name}")
        subprocess.run([sys.executable, "-m", "venv", str(venv.path)], check=True, timeout=120)
    if not stamp.exists() or stamp.read_text() != wanted:
        log(f"installing into {name}: {' '.join(requirements)}")
        _pip(venv, *requirements)
        stamp.write_text(wanted)
    if reinstall_repo:
        _pip(venv, "--no-deps", "--force-reinstall", str(REPO))
    return venv


def _repo_deps_hash(requirements: list[str]) -> str:
    """Our pyproject.toml's hash when our package is among the requirements."""
    if str(REPO) not in requirements:
        return ""
    return hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:16]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: run `apt-get install wrk` as root (Debian package)")
    log("installing wrk with apt-get")
    subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        timeout=600,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get did not install wrk")
    return found


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10)
    return (out.stdout or out.stderr).splitlines()[0].strip()


def disk_mib(path: Path) -> float:
    """What `du` says: allocated blocks, every file counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total / 2**20


def distributions(venv: Venv) -> dict[str, str]:
    """name -> version of everything installed (what `pip list` shows)."""
    code = (
        "import importlib.metadata as m, json;"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    out = subprocess.run(
        [str(venv.python), "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    found: dict[str, str] = json.loads(out.stdout)
    return found
