"""The floor under the gateway: Granian's ASGI interface with (almost) nothing on top.

`python benchmarks/floor.py static` answers every request with a fixed body;
`python benchmarks/floor.py proxy` reads the body, posts it to the stand-in
through the gateway's own transport (`gpt2giga/gigachat/http/transport.py`) and
returns the answer: what any ASGI gateway on this stack costs before it
translates anything. Listens on 127.0.0.1:18201, one embedded worker, like
`run.py`'s gateways; `PROFILE.md` says how to load it with wrk.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx

from gpt2giga.gigachat.http.transport import Transport

BODY = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}]}'
UPSTREAM = httpx.URL("http://127.0.0.1:18101/api/v1/chat/completions")
HEADERS = {"Authorization": "Bearer floor", "Content-Type": "application/json"}
TIMEOUTS = {"connect": 10.0, "read": 60.0, "write": 30.0, "pool": 60.0}
START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"json")]}


def build(proxy: bool) -> Any:
    transport = Transport(verify=False)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = (await receive()).get("body", b"")
        answer = BODY
        if proxy:
            request = httpx.Request(
                "POST", UPSTREAM, headers=HEADERS, content=body, extensions={"timeout": TIMEOUTS}
            )
            response = await transport.handle_async_request(request)
            answer = await response.aread()
        await send(START)
        await send({"type": "http.response.body", "body": answer})

    return app


def main(mode: str) -> None:
    from granian.constants import Interfaces
    from granian.server.embed import Server

    app = build(proxy=mode == "proxy")
    server = Server(
        lambda: app,
        address="127.0.0.1",
        port=18201,
        interface=Interfaces.ASGI,
        factory=True,
        websockets=False,
        backlog=1024,
    )
    asyncio.run(server.serve())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "static")
