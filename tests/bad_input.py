"""What the bad-input tables share: a GigaChat that notes whatever reaches it, and the edge cases.

Each route family has one table (`tests/*/test_bad_input.py`); every case is
sent through the whole app to the fake GigaChat, and must come back as a 4xx
in the caller's shape while the fake sees no request but a token's: no chat,
no count, no embedding, no upload.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import httpx
import pytest

from gpt2giga.app import App
from gpt2giga.gigachat.fake.server import FakeConfig, FakeGigaChat
from tests.conftest import make_client, make_settings

Scope = dict[str, Any]


class Watched:
    """The fake GigaChat (checking requests with the SDK's models), noting each request."""

    def __init__(self) -> None:
        self.fake = FakeGigaChat(FakeConfig(validate=True))
        self.calls: list[str] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].endswith(("/oauth", "/token")):
            self.calls.append(f"{scope['method']} {scope['path']}")
        await self.fake(scope, receive, send)


async def send(path: str, body: bytes, **env: str) -> tuple[httpx.Response, list[str]]:
    """POST `body` to the gateway; the answer and what reached GigaChat."""
    upstream = Watched()
    settings = make_settings(**env)
    transport = httpx.ASGITransport(app=upstream, raise_app_exceptions=False)
    app = App(settings, make_client(settings, transport))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as client:
        r = await client.post(path, content=body, headers={"content-type": "application/json"})
    return r, upstream.calls


class Case(NamedTuple):
    path: str
    body: bytes
    says: str  # words the message must hold: the field's path, the depth or the encoding
    param: str | None = None  # what OpenAI's `param` must be
    status: int = 400
    code: str | None = None  # OpenAI's `code`: "unsupported" for what GigaChat cannot do


def body(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


# 2,000 levels: twice what msgspec (Python's recursion limit) decodes.
DEEP = b'{"a":' * 2000 + b"1" + b"}" * 2000


def edge_cases(path: str, valid: dict[str, Any]) -> list[Any]:
    """Bodies no route may take: not JSON, not UTF-8, nested too deeply (one set per route)."""
    good = body(valid)
    assert good.endswith(b"}")

    def extra(raw: bytes) -> bytes:  # `valid` with one more field the route does not know
        return good[:-1] + b', "x_unknown": ' + raw + b"}"

    cases = {
        "not-json": Case(path, good[:-1] + b",", "Request body is not valid JSON"),
        "empty": Case(path, b"", "Request body is empty"),
        "array": Case(path, b"[1, 2]", "Expected `object`, got `array`"),
        "deep": Case(path, DEEP, "JSON nested too deeply"),
        "deep-in-unknown-field": Case(path, extra(DEEP), "JSON nested too deeply"),
        "invalid-byte": Case(path, extra(b'"\xff"'), "not valid UTF-8: invalid start byte"),
        "overlong": Case(path, extra(b'"\xc0\xaf"'), "not valid UTF-8: invalid start byte"),
        "truncated": Case(
            path, extra(b'"ab\xe2\x82"'), "not valid UTF-8: invalid continuation byte"
        ),
        "truncated-at-end": Case(path, good + b"\xe2\x82", "not valid UTF-8: unexpected end"),
        "surrogate": Case(path, extra(b'"\xed\xa0\x80"'), "not valid UTF-8"),
        "latin-1": Case(path, extra('"café"'.encode("latin-1")), "not valid UTF-8"),
    }
    return [pytest.param(case, id=f"{path}:{name}") for name, case in cases.items()]


async def check_openai_refusal(case: Case) -> None:
    """An OpenAI-shaped 400 naming the field, on both contracts, and GigaChat reached by
    nothing but a token request (the checks come before either contract's call)."""
    for prefix in ("", "/v2"):
        r, reached = await send(prefix + case.path, case.body)
        assert r.status_code == case.status, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {
            "error": {
                "message": r.json()["error"]["message"],
                "type": "invalid_request_error",
                "param": case.param,
                "code": case.code,
            }
        }
        assert case.says in r.json()["error"]["message"]
        assert reached == []
