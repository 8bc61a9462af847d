"""Benchmark experiment: our gateway with aiohttp under httpx (`httpx-aiohttp`), package unchanged.

Installed by `run.py --experiments aiohttp` as a module plus a `.pth` line in an
experiment venv, so it runs at interpreter start, before `gpt2giga.app` binds
`build_pool`: the pool keeps httpx's API (and the client's error mapping,
which sees httpx exceptions either way) while aiohttp carries the bytes.
This is the change measured for `gpt2giga/gigachat/client.py::build_pool`.
"""

from __future__ import annotations

from typing import Any


def install() -> None:
    try:
        import aiohttp
        import httpx
        from httpx_aiohttp import AiohttpTransport

        from gpt2giga.gigachat import client
    except ImportError:  # pip itself runs this interpreter before everything is installed
        return
    original = client.build_pool

    def build_pool(settings: Any, transport: httpx.AsyncBaseTransport | None = None) -> Any:
        if transport is None:
            ssl = client.ssl_context(settings)

            def session() -> aiohttp.ClientSession:
                connector = aiohttp.TCPConnector(
                    limit=settings.max_connections, keepalive_timeout=30.0, ssl=ssl
                )
                return aiohttp.ClientSession(connector=connector, trust_env=False)

            # verify=False: the transport's own context is unused when it gets a session.
            transport = AiohttpTransport(verify=False, client=session)
        return original(settings, transport)

    client.build_pool = build_pool


install()
