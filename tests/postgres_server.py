"""A throwaway PostgreSQL server for the tests: initdb into a temporary directory,
`postgres` on a free 127.0.0.1 port, removed when the session ends.

The binaries come from the system (`make test` installs Debian's package with
scripts/install-postgres.sh). initdb refuses to run as root, so under root the
server runs as the `postgres` user the package creates. With CI=true a missing
server fails the tests that need it; elsewhere they are skipped with the hint.
Stopping and starting again keeps the port and the data: the sink's
reconnect test restarts the database under traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

USER = "gpt2giga"
START_TIMEOUT_S = 30.0
# A test server: durability is not the point, speed is.
FAST = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")


def bindir() -> Path | None:
    """Where initdb and postgres are: on PATH, else Debian's versioned directory."""
    found = shutil.which("initdb")
    if found is not None:
        return Path(os.path.realpath(found)).parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(versions[-1]).parent if versions else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresServer:
    """One server process; `dsn(db)` for a database on it, `stop`/`start` to bounce it."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="gpt2giga-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._as: dict[str, Any] = {}
        if os.getuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "running as root, and there is no `postgres` user to run initdb as"
                ) from None
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        self.dir.chmod(0o700)

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            args, cwd=self.dir, capture_output=True, check=False, timeout=120, **self._as
        )

    def init(self) -> None:
        done = self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust",
            "-E", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.decode(errors='replace')[-2000:]}")

    def start(self) -> None:
        log = open(self.dir / "server.log", "ab")  # noqa: SIM115 - the process keeps it
        self.proc = subprocess.Popen(
            [
                str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1", *FAST,
            ],
            cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, **self._as,
        )  # fmt: skip
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log_tail()}")
            probe = self._run(
                str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"
            )
            if probe.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"postgres did not get ready: {self.log_tail()}")

    def stop(self) -> None:
        """Fast shutdown (SIGINT): open connections are cut, as when a database restarts."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "server.log").read_text(errors="replace")[-2000:]
        return ""

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with the server's own psql (no driver needed); the output, unaligned."""
        done = self._run(
            str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", database, "-c", sql,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(done.stderr.decode(errors="replace"))
        return done.stdout.decode().strip()

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def missing(reason: str) -> None:
    """A missing server is a failure in CI, a skip with the remedy elsewhere."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(f"{reason}; run `make postgres-installed` (Debian: apt-get install postgresql)")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server, started on first use."""
    bin_dir = bindir()
    if bin_dir is None:
        missing("no PostgreSQL server binaries (initdb) found")
    assert bin_dir is not None
    server = PostgresServer(bin_dir)
    try:
        server.init()
        server.start()
    except RuntimeError as exc:
        server.remove()
        missing(str(exc))
    try:
        yield server
    finally:
        server.remove()


_counter = iter(range(1_000_000))


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """A fresh, empty database for one test."""
    if postgres_server.proc is None:  # a test that stopped the server left it down
        postgres_server.start()
    return postgres_server.create_database(f"t{os.getpid()}_{next(_counter)}")


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll until `check()` is true: a database has no event to wait on."""
    deadline = time.monotonic() + within
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s")
        await asyncio.sleep(0.05)
