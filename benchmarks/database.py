"""A throwaway PostgreSQL for the traffic-log variant (`--experiments traffic-pg`).

The same server the tests start (tests/postgres_server.py: initdb into a
temporary directory, a free loopback port), pinned to the load core so that
the gateway's core does only the gateway's work; started on first use,
removed by `stop`.
"""

from __future__ import annotations

import os

from benchmarks import envs, procs
from tests.postgres_server import PostgresServer, bindir

LOAD_CPU = 1
_server: PostgresServer | None = None


def dsn() -> str:
    global _server
    if _server is None:
        found = bindir()
        if found is None:
            raise SystemExit("traffic-pg needs PostgreSQL: make postgres-installed")
        _server = PostgresServer(found)
        _server.init()
        _server.start()
        assert _server.proc is not None
        for pid in procs.tree(_server.proc.pid):  # backends fork from it and inherit this
            os.sched_setaffinity(pid, {LOAD_CPU})
        envs.log(f"PostgreSQL for the traffic log on port {_server.port}")
    return _server.dsn()


def stop() -> None:
    global _server
    if _server is not None:
        _server.remove()
        _server = None
