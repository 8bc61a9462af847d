"""Command line: settings from flags, the environment and `.env`, then Granian.

Flags carry non-secrets only (a secret on a command line is visible in `ps`);
`--proxy.<name>` and `--gigachat.<name>` are accepted as the FastAPI gpt2giga
spells them. `--demo` starts the built-in fake GigaChat on a free loopback
port and points the gateway at it: an explicit choice, never a fallback.
`gpt2giga doctor` runs the same settings through `doctor.py`'s checks instead;
`gpt2giga migrate` applies the traffic log's PostgreSQL migrations and exits.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from gpt2giga import config
from gpt2giga.gigachat.fake.server import DEMO_CREDENTIALS
from gpt2giga.observe import logs

log = logging.getLogger("gpt2giga")

# Granian kills a worker this long after GPT2GIGA_SHUTDOWN_TIMEOUT_SECONDS: by
# then the gateway has ended its own streams and flushed the traffic log.
KILL_GRACE_S = 5
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
STATE_ENV = "GPT2GIGA_STATE_DIR"
# asyncio's own loop, even where uvloop is installed (Granian's "auto" would pick it):
# the drain's signal hooks need asyncio's, and the gateway is measured and tested on it.
LOOP = "asyncio"

FLAGS = {
    "host": "GPT2GIGA_HOST",
    "port": "GPT2GIGA_PORT",
    "workers": "GPT2GIGA_WORKERS",
    "mode": "GPT2GIGA_MODE",
    "log_level": "GPT2GIGA_LOG_LEVEL",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gpt2giga",
        description="OpenAI, Anthropic and Gemini compatible gateway to GigaChat. "
        "Settings come from GPT2GIGA_* and GIGACHAT_* variables and a .env file; "
        "secrets (credentials, passwords, API keys) only from there.",
        epilog="`gpt2giga migrate` creates or updates the traffic log's PostgreSQL tables "
        "(GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN). "
        "`gpt2giga doctor [options]` checks the settings against GigaChat and exits "
        "non-zero when something needs fixing.",
    )
    p.add_argument("--host", help="address to listen on (GPT2GIGA_HOST, default localhost)")
    p.add_argument("--port", help="port to listen on (GPT2GIGA_PORT, default 8090)")
    p.add_argument("--workers", help="worker processes (GPT2GIGA_WORKERS, default 1)")
    p.add_argument("--mode", help="DEV or PROD (GPT2GIGA_MODE)")
    p.add_argument("--log-level", help="CRITICAL, ERROR, WARNING, INFO or DEBUG")
    p.add_argument("--env-path", help="the .env file to read (default ./.env)")
    p.add_argument(
        "--demo",
        action="store_true",
        help="run against the built-in fake GigaChat (offline, deterministic answers)",
    )
    return p


def overrides(extra: Sequence[str]) -> dict[str, str]:
    """`--proxy.port 8091` / `--gigachat.model=X` as environment names; secrets refused."""
    values: dict[str, str] = {}
    items = list(extra)
    while items:
        item = items.pop(0)
        name, sep, value = item.partition("=")
        section, dot, field = name.removeprefix("--").partition(".")
        if not item.startswith("--") or not dot or section not in ("proxy", "gigachat"):
            raise config.ConfigError(f"unknown argument {name!r}")
        if not sep:
            if not items:
                raise config.ConfigError(f"{name} needs a value")
            value = items.pop(0)
        field = field.replace("-", "_")
        env = config.env_name(section, field)
        cls = config.ProxySettings if section == "proxy" else config.GigaChatSettings
        if field not in {f.name for f in msgspec.structs.fields(cls)}:
            raise config.ConfigError(f"unknown setting {name!r}")
        if config.is_secret(section, field):
            raise config.ConfigError(
                f"{name}: pass secrets through {env} in the environment or .env"
            )
        values[env] = value
    return values


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_fake(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The fake GigaChat in its own process on a loopback port; `env` is pointed at it."""
    port = free_port()
    command = [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--no-ws",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "gpt2giga.gigachat.fake.server:app_from_env",
    ]  # fmt: skip
    proc = subprocess.Popen(command)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("gpt2giga: the fake GigaChat did not start") from None
            time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    env.update(
        GIGACHAT_BASE_URL=f"{base}/api/v1",
        GIGACHAT_AUTH_URL=f"{base}/api/v2/oauth",
        GIGACHAT_CREDENTIALS=DEMO_CREDENTIALS,
        GIGACHAT_SCOPE="GIGACHAT_API_PERS",
        GIGACHAT_VERIFY_SSL_CERTS="false",
        GPT2GIGA_DEMO="true",
    )
    for name in ("GIGACHAT_ACCESS_TOKEN", "GIGACHAT_USER", "GIGACHAT_PASSWORD"):
        env.pop(name, None)
    return proc


def environment(args: argparse.Namespace, extra: Sequence[str]) -> dict[str, str]:
    env_file = Path(args.env_path) if args.env_path else Path.cwd() / ".env"
    if args.env_path and not env_file.is_file():
        raise config.ConfigError(f"--env-path: no such file {args.env_path!r}")
    env = config.read_env_file(env_file) if env_file.is_file() else {}
    env.update(os.environ)
    env.update(overrides(extra))
    for attr, name in FLAGS.items():
        value = getattr(args, attr)
        if value is not None:
            env[name] = value
    return env


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    doctor = argv[:1] == ["doctor"]
    if argv[:1] == ["migrate"]:
        raise SystemExit(migrate(argv[1:]))
    args, extra = parser().parse_known_args(argv[1:] if doctor else argv)
    fake = None
    try:
        env = environment(args, extra)
        if args.demo:
            fake = start_fake(env)
        settings = config.load(env)
    except config.ConfigError as exc:
        if fake is not None:
            fake.terminate()
        raise SystemExit(f"gpt2giga: {exc}") from None
    os.environ.clear()
    os.environ.update(env)
    logs.setup(settings)
    try:
        if doctor:
            from gpt2giga import doctor as checks

            raise SystemExit(checks.main(settings))
        serve(settings)
    finally:
        if fake is not None:
            fake.terminate()
            fake.wait(5)
    leave()


def leave() -> None:
    """End the process once the server has stopped, without finalizing the interpreter.

    Everything the app owns was flushed and closed in its lifespan shutdown. Granian's
    Rust threads can still touch the interpreter while it finalizes, and now and then
    that aborts the process ("panic in a function that cannot unwind": about 1 SIGTERM
    drain in 10 on a loaded machine, granian 2.8.7 and 2.8.9), so exit 0 would be -6.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def migrate(argv: Sequence[str]) -> int:
    """`gpt2giga migrate`: the traffic log's PostgreSQL schema, for a database where the
    gateway's own user may not create tables (run it as the owner). Needs only the DSN."""
    import asyncio

    args, extra = parser().parse_known_args(argv)
    name = "GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN"
    try:
        env = environment(args, extra)
        dsn = config.parse_value(name, env.get(name, ""), config.Secret | None)
    except config.ConfigError as exc:
        raise SystemExit(f"gpt2giga: {exc}") from None
    if dsn is None:
        raise SystemExit(f"gpt2giga migrate: set {name} (in the environment or .env)")
    try:
        from gpt2giga.observe import postgres
    except ImportError:
        raise SystemExit(
            "gpt2giga migrate: needs asyncpg; pip install 'gpt2giga[postgres]'"
        ) from None
    try:
        applied = asyncio.run(postgres.migrate_dsn(dsn.value))
    except Exception as exc:  # the DSN's password is never part of asyncpg's messages
        print(f"gpt2giga migrate: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    done = ", ".join(map(str, applied)) if applied else "none needed"
    print(f"gpt2giga migrate: schema at version {postgres.LATEST} (applied: {done})")
    return 0


def bind_address(host: str) -> str:
    """Granian binds IP addresses only: resolve a name such as the default `localhost`."""
    try:
        return str(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][4][0])
    except socket.gaierror:
        raise SystemExit(f"gpt2giga: GPT2GIGA_HOST: cannot resolve {host!r}") from None


def serve(settings: config.Settings) -> None:
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    p = settings.proxy
    mode = "demo (fake GigaChat)" if p.demo else p.mode
    log.info(
        "gpt2giga on %s://%s:%d, %s, GigaChat %s contract by default",
        "https" if p.use_https else "http",
        p.host,
        p.port,
        mode,
        p.gigachat_api_mode,
    )
    options: dict[str, Any] = dict(
        address=bind_address(p.host),
        port=p.port,
        interface=Interfaces.ASGI,
        factory=True,
        websockets=False,
        # The embedded server's default (128) would cap one worker at 128 requests in flight.
        backlog=1024,
        log_level=LogLevels(p.log_level.lower() if p.log_level != "CRITICAL" else "critical"),
        **tls_options(p),
    )
    # The app's drain ends streams at the shutdown timeout; Granian kills after a grace.
    kill_timeout = math.ceil(p.shutdown_timeout_seconds) + KILL_GRACE_S
    with metrics_dir(settings), state_dir(settings):
        log.info("state (stored responses, model limits, upload cache): %s", state_mode(settings))
        if p.workers == 1:
            serve_embedded(options, kill_timeout)
            return
        Server(
            "gpt2giga.app:from_environment",
            loop=Loops(LOOP),
            workers=p.workers,
            workers_kill_timeout=kill_timeout,
            **options,
        ).serve()


def serve_embedded(options: dict[str, Any], kill_timeout: int) -> None:
    """One worker in this process: a worker process would cost a second interpreter.

    Measured: 28 MiB less RSS and 35 ms sooner healthy (benchmarks/RESULTS.md).
    SIGTERM stops accepting and lets requests in flight finish for `kill_timeout` s.
    """
    import asyncio
    import signal

    from granian._loops import loops
    from granian.server.embed import Server

    from gpt2giga.app import from_environment

    server = Server(from_environment, **options)
    server.workers_kill_timeout = kill_timeout

    async def run() -> None:
        running = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            running.add_signal_handler(sig, server.stop)
        try:
            await server.serve()
        except TimeoutError:
            log.warning("requests still in flight after %d s were cut off", kill_timeout)

    with asyncio.Runner(loop_factory=lambda: loops.get(LOOP)) as runner:
        runner.run(run())


def tls_options(p: config.ProxySettings) -> dict[str, Any]:
    """Granian's HTTPS arguments, when GPT2GIGA_USE_HTTPS is on."""
    from granian.constants import SSLProtocols

    if not (p.use_https and p.https_cert_file and p.https_key_file):
        return {}
    # TLS 1.2 as the floor: Granian's default (1.3) shuts out older corporate clients.
    return {
        "ssl_cert": Path(p.https_cert_file),
        "ssl_key": Path(p.https_key_file),
        "ssl_protocol_min": SSLProtocols.tls12,
    }


@contextlib.contextmanager
def metrics_dir(settings: config.Settings) -> Iterator[None]:
    """Several workers share metrics through files in a fresh directory, removed at exit.

    prometheus-client picks its mode from PROMETHEUS_MULTIPROC_DIR when a worker
    imports it, so this is decided here, before any worker starts; one worker
    keeps an in-process registry (no files), whatever the environment says.
    """
    os.environ.pop(MULTIPROC_ENV, None)
    if not (settings.proxy.metrics_enabled and settings.proxy.workers > 1):
        yield
        return
    path = tempfile.mkdtemp(prefix="gpt2giga-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def state_dir(settings: config.Settings) -> Iterator[None]:
    """Several workers without Redis share state in a SQLite file in a fresh run directory.

    Made here, before any worker starts, and named to them in GPT2GIGA_STATE_DIR;
    private to this user (mkdtemp: 0700) and removed at exit. A directory named
    in the settings is the operator's: used as it is and kept.
    """
    p = settings.proxy
    if p.workers == 1 or p.redis_url or p.state_dir:
        yield
        return
    path = tempfile.mkdtemp(prefix="gpt2giga-state-")
    os.environ[STATE_ENV] = path
    try:
        yield
    finally:
        os.environ.pop(STATE_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def state_mode(settings: config.Settings) -> str:
    p = settings.proxy
    if p.redis_url:
        return f"shared through Redis (key prefix {p.redis_key_prefix!r})"
    directory = p.state_dir or os.environ.get(STATE_ENV)
    if directory:
        return f"shared by the workers of this box in SQLite under {directory}"
    return "in this process's memory"
