"""Shared fixtures: settings, the in-process fake GigaChat, the app over ASGI, respx upstream."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import respx
from hypothesis import HealthCheck, settings

from gpt2giga import config, sse
from gpt2giga.app import App
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.fake.server import DEMO_CREDENTIALS, FakeConfig, FakeGigaChat
from gpt2giga.gigachat.reader import UpstreamStream, hub_chunk
from gpt2giga.gigachat.upstream import build_pool
from tests.postgres_server import postgres_dsn, postgres_server  # noqa: F401 - fixtures

# A real Redis on a loopback port, for the shared-state tests.
pytest_plugins = ["tests.redis_server"]
# Property tests: random locally, the same examples on every CI run (CI=true), never a
# deadline (a shared CI machine is slow at times), no example database in the work tree.
# HYPOTHESIS_PROFILE=deep runs many more examples, to hunt for bugs by hand.
_PROPERTIES: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow],
}
settings.register_profile("dev", max_examples=100, **_PROPERTIES)
settings.register_profile("ci", max_examples=100, derandomize=True, **_PROPERTIES)
settings.register_profile("deep", max_examples=3000, **_PROPERTIES)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)

BASE = "https://giga.test/api/v1"
V2_CHAT = "https://giga.test/api/v2/chat/completions"
V1_CHAT = BASE + "/chat/completions"
FILES = BASE + "/files"
AUTH = "https://auth.test/api/v2/oauth"
# A whole v1 answer, as GigaChat sends it, for tests that need any answer at all.
V1_ANSWER = {
    "choices": [{"message": {"role": "assistant", "content": "Hi!"}, "index": 0}],
    "created": 1,
    "model": "GigaChat-2-Max",
    "object": "chat.completion",
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}

ENV = {
    "GIGACHAT_CREDENTIALS": DEMO_CREDENTIALS,
    "GIGACHAT_BASE_URL": BASE,
    "GIGACHAT_AUTH_URL": AUTH,
    "GIGACHAT_MAX_RETRIES": "0",
}


def make_settings(**env: str) -> config.Settings:
    """Settings as the gateway would load them from `ENV` plus `env`."""
    return config.load({**ENV, **env})


async def no_sleep(_: float) -> None:
    return None


def make_client(
    settings: config.Settings, transport: httpx.AsyncBaseTransport | None = None
) -> GigaChatClient:
    """A GigaChat client over `transport`, or over httpx's own, which respx intercepts.

    The gateway's own transport is tested on real sockets (`test_transport.py`, e2e).
    """
    return GigaChatClient(
        settings.gigachat,
        build_pool(settings.gigachat, transport or httpx.AsyncHTTPTransport()),
        sleep=no_sleep,
    )


@pytest.fixture
def fake() -> FakeGigaChat:
    """The fake GigaChat, checking every chat request against the gigachat SDK's models."""
    return FakeGigaChat(FakeConfig(validate=True))


@pytest.fixture
def gateway(fake: FakeGigaChat) -> Callable[..., httpx.AsyncClient]:
    """`gateway(**env)`: an httpx client for the app, whose GigaChat is the in-process fake."""

    def build(**env: str) -> httpx.AsyncClient:
        settings = make_settings(**env)
        app = App(
            settings,
            make_client(settings, httpx.ASGITransport(app=fake, raise_app_exceptions=False)),
        )
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")

    return build


@pytest.fixture
async def client(gateway: Callable[..., httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway() as c:
        yield c


@pytest.fixture
def upstream() -> respx.MockRouter:
    """respx standing in for GigaChat: OAuth already answers; routes are added per test."""
    with respx.mock(assert_all_called=False) as router:
        router.post(AUTH).respond(json={"access_token": "tok-1", "expires_at": 4_102_444_800_000})
        yield router


@pytest.fixture
def respx_app() -> Callable[..., httpx.AsyncClient]:
    """`respx_app(**env)`: an httpx client for the app, talking to respx-mocked GigaChat."""

    def build(**env: str) -> httpx.AsyncClient:
        settings = make_settings(**env)
        app = App(settings, make_client(settings))
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")

    return build


def sent_json(route: respx.Route, n: int = -1) -> Any:
    """The JSON body of the n-th request that reached a respx route."""
    return msgspec.json.decode(route.calls[n].request.content)


def form_fields(request: httpx.Request) -> dict[str, tuple[str | None, str, bytes]]:
    """A multipart body's fields by name: (file name, content type, bytes)."""
    from email.parser import BytesParser

    head = b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n"
    try:
        content = request.content
    except httpx.RequestNotRead:  # built, never sent
        content = request.read()
    form = BytesParser().parsebytes(head + content)
    fields = {}
    for part in form.get_payload():
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = (
            part.get_filename(),
            part.get_content_type(),
            part.get_payload(decode=True),
        )
    return fields


def uploaded(file_id: str, filename: str = "a.png", size: int = 1) -> dict[str, Any]:
    """GigaChat's answer to `POST /files`."""
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": 1735689600,
        "filename": filename,
        "purpose": "general",
        "access_policy": "private",
    }


def sse_events(body: bytes) -> list[tuple[str | None, bytes]]:
    """A whole SSE body as (event, data) pairs."""
    from gpt2giga.sse import SSEParser

    parser = SSEParser()
    return parser.feed(body) + parser.finish()


def build_app(transport: httpx.AsyncBaseTransport | None = None, **env: str) -> App:
    """The app with its own GigaChat client: respx intercepts it unless `transport` is given."""
    settings = make_settings(**env)
    return App(settings, make_client(settings, transport))


def over(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


class Call:
    """One request over raw ASGI, to watch a stream's messages and to leave mid-way.

    httpx's ASGITransport collects the whole body first; a disconnect or a
    shutdown during a stream needs the messages as they are sent.
    """

    def __init__(
        self, app: Any, method: str, path: str, body: bytes = b"", headers: Any = ()
    ) -> None:
        self.scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in dict(headers).items()],
        }
        self.app = app
        self.body = body
        self.messages: list[dict[str, Any]] = []
        self.leave = asyncio.Event()
        self._sent = asyncio.Event()
        self._read = False

    async def _receive(self) -> dict[str, Any]:
        if not self._read:
            self._read = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.leave.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self._sent.set()

    async def run(self) -> None:
        await self.app(self.scope, self._receive, self._send)

    def start(self) -> asyncio.Task[None]:
        return asyncio.ensure_future(self.run())

    async def sent(self, predicate: Callable[[bytes], bool]) -> None:
        """Wait (at most 5 s) until the body sent so far satisfies `predicate`."""
        async with asyncio.timeout(5):
            while not (self.messages and predicate(self.text)):
                self._sent.clear()
                await self._sent.wait()

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])

    @property
    def text(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])


FIXTURES = Path(__file__).parent / "fixtures" / "gigachat"


def recorded(name: str) -> list[giga.ChatCompletionChunk]:
    """A recorded GigaChat stream (`<name>.sse`) as the hub chunks the client yields."""
    chunks = []
    for event, data in sse_events((FIXTURES / f"{name}.sse").read_bytes()):
        if data == sse.DONE:
            break
        chunk = hub_chunk(name.endswith("_v1"), event, data)
        if chunk is not None:
            chunks.append(chunk)
    return chunks


async def chunks_of(stream: UpstreamStream) -> AsyncIterator[giga.ChatCompletionChunk]:
    """A stream's chunks one by one; the gateway itself reads them a network read at a time."""
    async for batch in stream.batches():
        for chunk in batch:
            yield chunk
