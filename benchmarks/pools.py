"""Benchmark experiments: our gateway over another pool under httpx, package unchanged.

`run.py --experiments httpx-pool|aiohttp` copies this module into an experiment
venv with a `.pth` line that calls `install(name)` at interpreter start, before
`gpt2giga.app` binds `build_pool`. The client keeps httpx's API and its error
mapping either way; only the transport under it changes:

- `httpx-pool`: httpx's own pool (httpcore), the gateway's transport before
  `gpt2giga/gigachat/http/transport.py`;
- `aiohttp`: aiohttp's connector through `httpx-aiohttp`.
"""

from __future__ import annotations

from typing import Any


def install(name: str) -> None:
    try:
        import httpx

        from gpt2giga.gigachat import upstream
    except ImportError:  # pip itself runs this interpreter before everything is installed
        return
    original = upstream.build_pool
    make = {"httpx-pool": _httpcore, "aiohttp": _aiohttp}[name]

    def build_pool(settings: Any, transport: httpx.AsyncBaseTransport | None = None) -> Any:
        return original(settings, transport or make(settings, upstream.ssl_context(settings)))

    upstream.build_pool = build_pool


def _httpcore(settings: Any, ssl: Any) -> Any:
    import httpx

    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
        keepalive_expiry=30.0,
    )
    return httpx.AsyncHTTPTransport(verify=ssl, limits=limits, trust_env=False)


def _aiohttp(settings: Any, ssl: Any) -> Any:
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=settings.max_connections, keepalive_timeout=30.0, ssl=ssl
        )
        return aiohttp.ClientSession(connector=connector, trust_env=False)

    # verify=False: the transport's own context is unused when it gets a session.
    return AiohttpTransport(verify=False, client=session)
