"""Real processes: the fake GigaChat and the gateway under Granian, on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gpt2giga.gigachat.fake.server import DEMO_CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(url: str, server: Server, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"exited early ({server.proc.returncode}): {server.output()[-2000:]}"
            )
        try:
            httpx.get(url, timeout=0.5, verify=False)  # up is up, whoever signed its certificate
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


class Server:
    """A child process whose output goes to a temporary file (a pipe could fill and block it)."""

    def __init__(self, args: list[str], env: dict[str, str], url: str) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.url = url

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def spawn(args: list[str], env: dict[str, str], url: str, health_path: str) -> Server:
    server = Server(args, env, url)
    try:
        wait_for(url + health_path, server)
    except RuntimeError:
        server.stop()
        raise
    return server


def base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep}


@pytest.fixture(scope="session")
def fake_gigachat() -> Iterator[Server]:
    """The fake GigaChat under Granian, validating every chat request with the SDK's models."""
    port = free_port()
    env = {**base_env(), "FAKE_GIGACHAT_VALIDATE": "1", "FAKE_GIGACHAT_KEEP_RECEIVED": "1000"}
    args = [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--no-ws",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "gpt2giga.gigachat.fake.server:app_from_env",
    ]  # fmt: skip
    server = spawn(args, env, f"http://127.0.0.1:{port}", "/api/v1/models")
    yield server
    server.stop()


def received(fake: Server, request_id: str) -> tuple[str, dict[str, Any]]:
    """The contract and chat body the fake GigaChat got for a client's `X-Request-ID`."""
    shown = httpx.get(f"{fake.url}/api/_fake/received/{request_id}").json()
    return shown["contract"], shown["body"]


GatewayFactory = Callable[..., Server]


@pytest.fixture(scope="session")
def start_gateway(fake_gigachat: Server) -> Iterator[GatewayFactory]:
    """`start_gateway(**env)`: a gateway process in front of the fake GigaChat."""
    started: list[Server] = []

    def start(upstream: str | None = None, **env: str) -> Server:
        port = free_port()
        upstream = upstream or fake_gigachat.url
        scheme = "https" if env.get("GPT2GIGA_USE_HTTPS") == "true" else "http"
        full = {
            **base_env(),
            "GIGACHAT_BASE_URL": f"{upstream}/api/v1",
            "GIGACHAT_AUTH_URL": f"{upstream}/api/v2/oauth",
            "GIGACHAT_CREDENTIALS": DEMO_CREDENTIALS,
            "GPT2GIGA_HOST": "127.0.0.1",
            "GPT2GIGA_PORT": str(port),
            "GPT2GIGA_LOG_LEVEL": "WARNING",
            **env,
        }
        server = spawn(
            [sys.executable, "-m", "gpt2giga"], full, f"{scheme}://127.0.0.1:{port}", "/health"
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def gateway_url(start_gateway: GatewayFactory) -> str:
    return start_gateway().url
