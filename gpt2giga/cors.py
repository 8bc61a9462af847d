"""CORS for browser clients: preflights answered here, headers added to every response.

Only wrapped around the app when `GPT2GIGA_CORS_ALLOW_ORIGINS` is set; a
preflight never reaches a handler, the API-key check or GigaChat (browsers send
it without credentials). Nothing here knows a dialect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gpt2giga.asgi import Headers, Message, Receive, Scope, Send
from gpt2giga.config import ProxySettings

HTTP = Callable[[Scope, Receive, Send], Awaitable[None]]
EXPOSE = b"x-request-id, x-gpt2giga-ignored, retry-after"
MAX_AGE = b"600"


class Policy:
    def __init__(self, proxy: ProxySettings) -> None:
        self.any_origin = "*" in proxy.cors_allow_origins
        self.origins = {o.rstrip("/").encode() for o in proxy.cors_allow_origins}
        self.methods = ", ".join(proxy.cors_allow_methods).encode()
        self.any_header = "*" in proxy.cors_allow_headers
        self.headers = ", ".join(proxy.cors_allow_headers).encode()

    def allows(self, origin: bytes) -> bool:
        return self.any_origin or origin in self.origins

    def response_headers(self, origin: bytes) -> Headers:
        # The origin is echoed (with Vary) so a cache never serves one origin's answer to another.
        return [
            (b"access-control-allow-origin", b"*" if self.any_origin else origin),
            (b"access-control-expose-headers", EXPOSE),
            *([] if self.any_origin else [(b"vary", b"origin")]),
        ]

    def preflight_headers(self, origin: bytes, requested: bytes) -> Headers:
        allow = requested if self.any_header and requested else self.headers
        return [
            *self.response_headers(origin),
            (b"access-control-allow-methods", self.methods),
            (b"access-control-allow-headers", allow),
            (b"access-control-max-age", MAX_AGE),
        ]


def wrap(http: HTTP, policy: Policy) -> HTTP:
    async def with_cors(scope: Scope, receive: Receive, send: Send) -> None:
        origin = requested = b""
        preflight = False
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                preflight = True
            elif name == b"access-control-request-headers":
                requested = value
        if not origin:
            await http(scope, receive, send)
        elif preflight and scope["method"] == "OPTIONS":
            await _preflight(send, policy, origin, requested)
        elif not policy.allows(origin):
            await http(scope, receive, send)
        else:
            extra = policy.response_headers(origin)

            async def send_with_cors(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], *extra]
                await send(message)

            await http(scope, receive, send_with_cors)

    return with_cors


async def _preflight(send: Send, policy: Policy, origin: bytes, requested: bytes) -> None:
    if policy.allows(origin):
        status, headers = 204, policy.preflight_headers(origin, requested)
    else:
        status, headers = 403, [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    body = b"" if status == 204 else b"CORS origin not allowed"
    await send({"type": "http.response.body", "body": body})
