"""A real Redis for the tests: Debian's redis-server on a free loopback port, no persistence.

`make test` installs the package when it is missing (Makefile: redis-server).
Where it is still missing, CI (CI=true) fails the test that needs it; anywhere
else the test is skipped with the command that installs it. Each test gets a
key prefix of its own on the session's server (`redis_url`); a test that stops
and restarts Redis gets a server of its own (`own_redis`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

INSTALL = "make redis-server (apt-get install redis-server)"


def binary() -> str:
    found = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(p, os.X_OK)),
        None,
    )
    if found is None:
        message = f"redis-server is not installed: {INSTALL}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process; `stop` and `start` again keep its port (and lose its data)."""

    def __init__(
        self,
        program: str,
        workdir: Path,
        tls: tuple[Path, Path] | None = None,
        password: str | None = None,
    ) -> None:
        self.program = program
        self.workdir = workdir
        self.port = free_port()
        self.socket = workdir / "redis.sock"
        self.tls = tls
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        if self.tls is None:
            return f"redis://{auth}127.0.0.1:{self.port}/0"
        return f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={self.tls[0]}"

    @property
    def unix_url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def start(self) -> None:
        args = [
            self.program, "--bind", "127.0.0.1", "--port", str(self.port),
            "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
            "--logfile", str(self.workdir / "redis.log"),
        ]  # fmt: skip
        if self.tls is not None:
            cert, key = self.tls
            args[3:5] = ["--port", "0", "--tls-port", str(self.port)]
            args += ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
            args += ["--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.workdir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited ({self.proc.returncode}): {log}")
            if self.ping():
                return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer within 10 s")

    def ping(self) -> bool:
        try:
            return self.command("PING").startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def command(self, *args: str) -> bytes:
        """One command over a raw connection (inline protocol): enough to look at keys."""
        with contextlib.ExitStack() as stack:
            conn = stack.enter_context(socket.create_connection(("127.0.0.1", self.port), 2))
            if self.tls is not None:
                context = ssl.create_default_context(cafile=str(self.tls[0]))
                conn = stack.enter_context(context.wrap_socket(conn, server_hostname="127.0.0.1"))
            if self.password:
                conn.sendall(f"AUTH {self.password}\r\n".encode())
                conn.recv(64)
            conn.sendall(" ".join(args).encode() + b"\r\n")
            return conn.recv(65536)


def started(tls: bool = False, password: str | None = None) -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory(prefix="gpt2giga-redis-") as workdir:
        pair = None
        if tls:
            from tests.certs import self_signed

            pair = self_signed(Path(workdir))
        server = RedisServer(binary(), Path(workdir), pair, password)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    yield from started()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis for one test alone: it may stop and restart it."""
    yield from started()


@pytest.fixture
def tls_redis() -> Iterator[RedisServer]:
    """A Redis that speaks TLS only and wants a password: a rediss:// URL with a secret in it."""
    yield from started(tls=True, password="s3cret-redis-pass")


@pytest.fixture
def redis_prefix() -> str:
    """Keys of one test apart from every other's on the shared server."""
    return f"t{uuid.uuid4().hex[:12]}:"
