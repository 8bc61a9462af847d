"""gigachat/client.py against respx: the exact requests it sends and the errors it maps.

The gigachat SDK is the reference throughout: its request builders
(`gigachat.api.*`) and pydantic request models say what GigaChat expects.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import respx
from gigachat.api import auth as sdk_auth
from gigachat.api import chat as sdk_chat
from gigachat.api import chat_completions as sdk_chat_v2
from gigachat.api import embeddings as sdk_embeddings
from gigachat.api import files as sdk_files
from gigachat.api import models as sdk_models
from gigachat.api import tools as sdk_tools
from gigachat.api.utils import resolve_primary_chat_url, resolve_request_url
from gigachat.models.chat import Chat
from gigachat.models.chat_completions import ChatCompletionRequest

from gpt2giga import errors
from gpt2giga.config import ConfigError
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.auth import Credentials, TokenSource
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.fake.server import DEMO_CREDENTIALS
from gpt2giga.gigachat.http.transport import Transport
from gpt2giga.gigachat.upstream import Pool, build_pool, chat_urls, ssl_context
from tests.conftest import (
    AUTH,
    BASE,
    FILES,
    V1_CHAT,
    V2_CHAT,
    chunks_of,
    form_fields,
    make_settings,
    no_sleep,
    sent_json,
    uploaded,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gigachat"
NOW = 1_735_689_600.0  # 2025-01-01T00:00:00Z, in seconds
TOKEN_URL = BASE + "/token"
MODELS_URL = BASE + "/models"
EMBEDDINGS_URL = BASE + "/embeddings"
COUNT_URL = BASE + "/tokens/count"
SSE = {"content-type": "text/event-stream"}

HI = giga.ChatCompletionRequest(
    model="GigaChat",
    messages=[giga.ChatMessage(role="user", content=[giga.ChatContentPart(text="hi")])],
)
V1_ANSWER = {
    "choices": [
        {"message": {"role": "assistant", "content": "Hi!"}, "index": 0, "finish_reason": "stop"}
    ],
    "created": 1735689600,
    "model": "GigaChat:2.0.28.2",
    "object": "chat.completion",
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}
V2_ANSWER = {
    "model": "GigaChat:2.0.28.2",
    "created_at": 1735689600,
    "messages": [{"role": "assistant", "content": [{"text": "Hi!"}]}],
    "finish_reason": "stop",
    "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
}
CHAT_URL = {"v1": V1_CHAT, "v2": V2_CHAT}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def oauth(token: str, expires_at: int = 4_102_444_800_000) -> httpx.Response:
    return httpx.Response(200, json={"access_token": token, "expires_at": expires_at})


def gigachat_error(status: int, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"status": status, "message": message}, headers=headers)


def auth_route(upstream: respx.MockRouter, *answers: httpx.Response) -> respx.Route:
    """The OAuth route conftest already mocks, answering `answers` in turn (default: tok-1)."""
    route = upstream.post(AUTH)
    if answers:
        return route.mock(side_effect=list(answers))
    return route.respond(json={"access_token": "tok-1", "expires_at": 4_102_444_800_000})


def contract_text(resp: giga.ChatCompletionResponse) -> str:
    content = resp.messages[-1].content
    assert isinstance(content, list)
    return "".join(p.text or "" for p in content)


def bearers(route: respx.Route) -> list[str]:
    return [call.request.headers.get("authorization", "") for call in route.calls]


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., GigaChatClient]]:
    """`clients(sleeps=None, **env)`: a GigaChatClient on respx; `sleeps` records backoff."""
    made: list[GigaChatClient] = []

    def build(sleeps: list[float] | None = None, **env: str) -> GigaChatClient:
        async def record(seconds: float) -> None:
            assert sleeps is not None
            sleeps.append(seconds)

        settings = make_settings(**env).gigachat
        pool = build_pool(settings, httpx.AsyncHTTPTransport())  # respx intercepts httpx's
        client = GigaChatClient(settings, pool, sleep=no_sleep if sleeps is None else record)
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


def clocked(client: GigaChatClient, now: list[float]) -> TokenSource:
    """Give `client` a token source whose clock reads `now[0]` (seconds)."""
    s = client.settings
    client.auth = TokenSource(
        Credentials.from_settings(s),
        client.pool,
        s.auth_url,
        TOKEN_URL,
        s.token_expiry_buffer_ms,
        clock=lambda: now[0],
    )
    return client.auth


class Broken(httpx.AsyncByteStream):
    """A response body that sends `first` and then fails with `exc`."""

    def __init__(self, first: bytes, exc: Exception) -> None:
        self.first = first
        self.exc = exc

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        raise self.exc


# --- OAuth and tokens ------------------------------------------------------------


@pytest.mark.parametrize("scope", ["GIGACHAT_API_PERS", "GIGACHAT_API_CORP"])
async def test_oauth_request_is_the_one_the_sdk_sends(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient], scope: str
) -> None:
    auth = auth_route(upstream)
    upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    await clients(GIGACHAT_SCOPE=scope).chat(HI, "v1")

    sent = auth.calls[0].request
    sdk = httpx.Request(
        **sdk_auth._get_auth_kwargs(url=AUTH, credentials=DEMO_CREDENTIALS, scope=scope)
    )
    assert (sent.method, sent.url) == (sdk.method, sdk.url) == ("POST", httpx.URL(AUTH))
    assert sent.headers["authorization"] == sdk.headers["authorization"]
    assert sent.headers["authorization"] == f"Basic {DEMO_CREDENTIALS}"
    assert sent.headers["content-type"] == sdk.headers["content-type"]
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.content == sdk.content == f"scope={scope}".encode()
    assert uuid.UUID(sent.headers["rquid"]).version == 4


async def test_each_token_request_has_a_fresh_rquid(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    auth = auth_route(upstream, oauth("tok-1"), oauth("tok-2"))
    upstream.post(V1_CHAT).mock(
        side_effect=[gigachat_error(401, "Token has expired"), httpx.Response(200, json=V1_ANSWER)]
    )
    await clients().chat(HI, "v1")
    rquids = [call.request.headers["rquid"] for call in auth.calls]
    assert len(set(rquids)) == 2


async def test_token_is_cached_and_reused_across_calls(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    auth = auth_route(upstream)
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    client = clients()
    for _ in range(3):
        await client.chat(HI, "v1")
    assert auth.call_count == 1
    assert bearers(chat) == ["Bearer tok-1"] * 3


@pytest.mark.parametrize(
    ("env", "last_cached", "first_renewed"),
    [
        pytest.param({}, 1739, 1741, id="default-60s-buffer"),
        pytest.param({"GIGACHAT_TOKEN_EXPIRY_BUFFER_MS": "300000"}, 1499, 1501, id="300s-buffer"),
        pytest.param({"GIGACHAT_TOKEN_EXPIRY_BUFFER_MS": "0"}, 1799, 1801, id="no-buffer"),
    ],
)
async def test_token_is_refreshed_a_buffer_before_expires_at_in_milliseconds(
    upstream: respx.MockRouter,
    clients: Callable[..., GigaChatClient],
    env: dict[str, str],
    last_cached: int,
    first_renewed: int,
) -> None:
    expires_ms = int((NOW + 1800) * 1000)  # 30 minutes from NOW
    auth = auth_route(upstream, oauth("tok-1", expires_ms), oauth("tok-2", expires_ms + 60_000))
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    now = [NOW]
    client = clients(**env)
    clocked(client, now)
    for offset in (0, last_cached, first_renewed):
        now[0] = NOW + offset
        await client.chat(HI, "v1")
    assert auth.call_count == 2
    assert bearers(chat) == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


async def test_a_hundred_concurrent_calls_fetch_one_token(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow_oauth(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await release.wait()
        return oauth("tok-1")

    auth = upstream.post(AUTH).mock(side_effect=slow_oauth)
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    client = clients()
    calls = asyncio.gather(*(client.chat(HI, "v1") for _ in range(100)))
    await arrived.wait()  # one refresh in flight, the other 99 calls queued behind it
    release.set()
    answers = await calls
    assert auth.call_count == 1
    assert chat.call_count == 100
    assert set(bearers(chat)) == {"Bearer tok-1"}
    assert {contract_text(a) for a in answers} == {"Hi!"}


async def test_user_and_password_get_a_token_from_base_token(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    token = upstream.post(TOKEN_URL).respond(content=fixture("auth_token.json"))
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    client = clients(GIGACHAT_CREDENTIALS="", GIGACHAT_USER="alice", GIGACHAT_PASSWORD="s3cret")
    await client.chat(HI, "v1")

    sent = token.calls[0].request
    with httpx.Client(base_url=BASE) as sdk_client:
        kwargs = sdk_auth._get_token_kwargs(user="alice", password="s3cret")
        sdk = sdk_client.build_request(kwargs["method"], kwargs["url"])
        sdk = next(httpx.BasicAuth(*kwargs["auth"]).auth_flow(sdk))
    assert (sent.method, sent.url) == (sdk.method, sdk.url) == ("POST", httpx.URL(TOKEN_URL))
    expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert sent.headers["authorization"] == sdk.headers["authorization"] == expected
    assert bearers(chat) == ["Bearer eyJhbGciOiJIUzI1NiJ9.password-flow.fixture"]


@pytest.mark.parametrize(
    "exp",
    [
        pytest.param(int(NOW) + 1800, id="seconds"),
        pytest.param(int(NOW * 1000) + 1_800_000, id="milliseconds"),
    ],
)
async def test_token_exp_is_read_in_its_own_unit(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient], exp: int
) -> None:
    token = upstream.post(TOKEN_URL).mock(
        side_effect=[
            httpx.Response(200, json={"tok": "pw-1", "exp": exp}),
            httpx.Response(200, json={"tok": "pw-2", "exp": exp + 3600}),
        ]
    )
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    now = [NOW]
    client = clients(GIGACHAT_CREDENTIALS="", GIGACHAT_USER="u", GIGACHAT_PASSWORD="p")
    clocked(client, now)
    for offset in (0, 1739, 1741):  # the 60 s buffer starts at 1740
        now[0] = NOW + offset
        await client.chat(HI, "v1")
    assert token.call_count == 2
    assert bearers(chat) == ["Bearer pw-1", "Bearer pw-1", "Bearer pw-2"]


async def test_static_access_token_is_used_as_is(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    auth = auth_route(upstream)
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    client = clients(GIGACHAT_CREDENTIALS="", GIGACHAT_ACCESS_TOKEN="static-jwe")
    await client.chat(HI, "v1")
    await client.chat(HI, "v1")
    assert auth.call_count == 0
    assert bearers(chat) == ["Bearer static-jwe"] * 2


async def test_static_token_beside_credentials_falls_back_to_oauth_after_401(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    auth = auth_route(upstream)
    chat = upstream.post(V1_CHAT).mock(
        side_effect=[gigachat_error(401, "Token has expired"), httpx.Response(200, json=V1_ANSWER)]
    )
    await clients(GIGACHAT_ACCESS_TOKEN="static-jwe").chat(HI, "v1")
    assert auth.call_count == 1
    assert bearers(chat) == ["Bearer static-jwe", "Bearer tok-1"]


async def test_pass_token_source_sends_the_callers_token(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    auth = auth_route(upstream)
    chat = upstream.post(V2_CHAT).respond(json=V2_ANSWER)
    client = clients()
    await client.chat(HI, "v2", auth=client.token_source(Credentials(access_token="callers")))
    assert auth.call_count == 0
    assert bearers(chat) == ["Bearer callers"]


# --- 401: one refresh, one retry, no loop ---------------------------------------------


async def test_upstream_401_refreshes_the_token_and_retries_once(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    auth = auth_route(upstream, oauth("tok-1"), oauth("tok-2"))
    chat = upstream.post(V1_CHAT).mock(
        side_effect=[gigachat_error(401, "Token has expired"), httpx.Response(200, json=V1_ANSWER)]
    )
    answer = await clients().chat(HI, "v1")
    assert contract_text(answer) == "Hi!"
    assert auth.call_count == 2
    assert bearers(chat) == ["Bearer tok-1", "Bearer tok-2"]


async def test_second_401_is_unauthorized_without_a_loop(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    auth = auth_route(upstream, oauth("tok-1"), oauth("tok-2"), oauth("tok-3"))
    chat = upstream.post(V1_CHAT).respond(401, content=fixture("error_401.json"))
    with pytest.raises(errors.Unauthorized) as caught:
        await clients(GIGACHAT_MAX_RETRIES="2").chat(HI, "v1")
    assert caught.value.status == 401
    assert caught.value.message == "GigaChat answered 401: Token has expired"
    assert auth.call_count == 2
    assert bearers(chat) == ["Bearer tok-1", "Bearer tok-2"]


async def test_401_on_a_static_token_is_final(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    chat = upstream.post(V1_CHAT).respond(401, content=fixture("error_401.json"))
    client = clients(GIGACHAT_CREDENTIALS="", GIGACHAT_ACCESS_TOKEN="static-jwe")
    with pytest.raises(errors.Unauthorized):
        await client.chat(HI, "v1")
    assert chat.call_count == 1


# --- authorization failures -------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (
            gigachat_error(401, "Can't decode 'Authorization' header"),
            errors.Unauthorized,
            "GigaChat authorization answered 401: Can't decode 'Authorization' header",
        ),
        (
            gigachat_error(400, "scope is not valid"),
            errors.BadRequest,
            "GigaChat authorization answered 400: scope is not valid",
        ),
        (
            httpx.Response(200, content=b"<html>captive portal</html>"),
            errors.UpstreamError,
            "GigaChat authorization sent a malformed answer",
        ),
        (
            httpx.Response(200, json={"expires_at": 1}),
            errors.UpstreamError,
            "GigaChat authorization returned no token",
        ),
        # Found by the conformance property tests: the SDK's AccessToken takes any string,
        # and one that is no header value was a 500 (UnicodeEncodeError in httpx).
        (
            httpx.Response(200, json={"access_token": "tok\u00e9n", "expires_at": 1}),
            errors.UpstreamError,
            "GigaChat authorization returned a token no header can carry",
        ),
        (
            httpx.Response(200, json={"tok": "line\nbreak", "exp": 1}),
            errors.UpstreamError,
            "GigaChat authorization returned a token no header can carry",
        ),
        (
            httpx.ConnectError("[Errno 111] auth.test:443 refused"),
            errors.UpstreamError,
            "GigaChat authorization failed: ConnectError",
        ),
        (
            httpx.ConnectTimeout("auth.test:443"),
            errors.UpstreamTimeout,
            "GigaChat authorization timed out",
        ),
    ],
)
async def test_authorization_failures_are_gateway_errors(
    upstream: respx.MockRouter,
    clients: Callable[..., GigaChatClient],
    answer: httpx.Response | Exception,
    error: type[errors.GatewayError],
    message: str,
) -> None:
    upstream.post(AUTH).mock(side_effect=[answer])
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    with pytest.raises(error) as caught:
        await clients().chat(HI, "v1")
    assert type(caught.value) is error
    assert caught.value.message == message
    assert chat.call_count == 0


# --- retries -----------------------------------------------------------------------


async def test_upstream_429_retry_after_is_honoured(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    chat = upstream.post(V1_CHAT).mock(
        side_effect=[
            gigachat_error(429, "Too Many Requests", **{"Retry-After": "3"}),
            httpx.Response(200, json=V1_ANSWER),
        ]
    )
    sleeps: list[float] = []
    answer = await clients(sleeps, GIGACHAT_MAX_RETRIES="2").chat(HI, "v1")
    assert contract_text(answer) == "Hi!"
    assert sleeps == [3.0]
    assert chat.call_count == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_back_off_exponentially_then_succeed(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient], status: int
) -> None:
    chat = upstream.post(V2_CHAT).mock(
        side_effect=[
            gigachat_error(status, "busy"),
            gigachat_error(status, "busy"),
            httpx.Response(200, json=V2_ANSWER),
        ]
    )
    sleeps: list[float] = []
    answer = await clients(sleeps, GIGACHAT_MAX_RETRIES="2").chat(HI, "v2")
    assert contract_text(answer) == "Hi!"
    assert chat.call_count == 3
    # backoff factor 0.5: 0.5 s then 1 s, each with up to +50 % jitter
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 0.75
    assert 1.0 <= sleeps[1] <= 1.5


async def test_retries_exhausted_raise_the_last_answer(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    chat = upstream.post(V1_CHAT).mock(side_effect=[gigachat_error(503, "overloaded")] * 3)
    sleeps: list[float] = []
    with pytest.raises(errors.Overloaded) as caught:
        await clients(sleeps, GIGACHAT_MAX_RETRIES="2").chat(HI, "v1")
    assert caught.value.message == "GigaChat answered 503: overloaded"
    assert chat.call_count == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
async def test_connection_errors_are_retried(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient], exc: Exception
) -> None:
    chat = upstream.post(V1_CHAT).mock(side_effect=[exc, exc, httpx.Response(200, json=V1_ANSWER)])
    sleeps: list[float] = []
    answer = await clients(sleeps, GIGACHAT_MAX_RETRIES="2").chat(HI, "v1")
    assert contract_text(answer) == "Hi!"
    assert chat.call_count == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("exc", "error", "message"),
    [
        (httpx.ConnectError("giga.test"), errors.UpstreamError, "GigaChat is unreachable"),
        (httpx.ConnectTimeout("giga.test"), errors.UpstreamTimeout, "did not answer in time"),
    ],
)
async def test_connection_errors_after_the_last_retry_keep_their_meaning(
    upstream: respx.MockRouter,
    clients: Callable[..., GigaChatClient],
    exc: Exception,
    error: type[errors.GatewayError],
    message: str,
) -> None:
    chat = upstream.post(V1_CHAT).mock(side_effect=exc)
    with pytest.raises(error) as caught:
        await clients(GIGACHAT_MAX_RETRIES="1").chat(HI, "v1")
    assert type(caught.value) is error
    assert message in caught.value.message
    assert chat.call_count == 2


@pytest.mark.parametrize(
    "failure",
    [gigachat_error(503, "overloaded"), gigachat_error(429, "slow down"), httpx.ConnectError("x")],
)
async def test_no_retry_when_max_retries_is_zero(
    upstream: respx.MockRouter,
    clients: Callable[..., GigaChatClient],
    failure: httpx.Response | Exception,
) -> None:
    chat = upstream.post(V1_CHAT).mock(side_effect=[failure, httpx.Response(200, json=V1_ANSWER)])
    sleeps: list[float] = []
    with pytest.raises(errors.GatewayError):
        await clients(sleeps, GIGACHAT_MAX_RETRIES="0").chat(HI, "v1")
    assert chat.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [400, 403, 404, 413, 422])
async def test_client_errors_are_never_retried(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient], status: int
) -> None:
    chat = upstream.post(V1_CHAT).respond(status, json={"status": status, "message": "no"})
    sleeps: list[float] = []
    with pytest.raises(errors.GatewayError):
        await clients(sleeps, GIGACHAT_MAX_RETRIES="2").chat(HI, "v1")
    assert chat.call_count == 1
    assert sleeps == []


async def test_read_timeouts_are_not_retried(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    # GigaChat may already be generating: a second send would pay twice.
    chat = upstream.post(V1_CHAT).mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(errors.UpstreamTimeout):
        await clients(GIGACHAT_MAX_RETRIES="2").chat(HI, "v1")
    assert chat.call_count == 1


async def test_retry_after_longer_than_the_backoff_cap_is_passed_to_the_caller(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    chat = upstream.post(V1_CHAT).mock(
        side_effect=[gigachat_error(429, "quota", **{"Retry-After": "3600"})]
    )
    sleeps: list[float] = []
    with pytest.raises(errors.RateLimited) as caught:
        await clients(sleeps, GIGACHAT_MAX_RETRIES="2").chat(HI, "v1")
    assert caught.value.retry_after == 3600.0
    assert sleeps == []
    assert chat.call_count == 1


@pytest.mark.parametrize(
    ("header", "retry_after"),
    [("7", 7.0), ("0.5", 0.5), ("-3", 0.0), ("inf", None), ("nan", None), ("Wed, 21 Oct", None)],
)
async def test_retry_after_is_read_as_finite_seconds(
    upstream: respx.MockRouter,
    clients: Callable[..., GigaChatClient],
    header: str,
    retry_after: float | None,
) -> None:
    upstream.post(V1_CHAT).mock(
        side_effect=[gigachat_error(429, "slow", **{"Retry-After": header})]
    )
    with pytest.raises(errors.RateLimited) as caught:
        await clients().chat(HI, "v1")
    assert caught.value.retry_after == retry_after


async def test_streams_are_retried_before_they_are_returned(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    body = b'event: response.message.done\ndata: {"finish_reason":"stop"}\n\n'
    chat = upstream.post(V2_CHAT).mock(
        side_effect=[
            gigachat_error(503, "overloaded"),
            httpx.ConnectError("refused"),
            httpx.Response(200, headers=SSE, content=body),
        ]
    )
    sleeps: list[float] = []
    stream = await clients(sleeps, GIGACHAT_MAX_RETRIES="2").stream(HI, "v2")
    chunks = [chunk async for chunk in chunks_of(stream)]
    await stream.aclose()
    assert [(c.event, c.finish_reason) for c in chunks] == [("response.message.done", "stop")]
    assert chat.call_count == 3
    assert len(sleeps) == 2


async def test_a_returned_stream_is_never_sent_again(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    first = b'event: response.message.delta\ndata: {"messages":[{"role":"assistant"}]}\n\n'
    broken = Broken(first, httpx.ReadError("connection reset"))
    chat = upstream.post(V2_CHAT).mock(
        side_effect=[httpx.Response(200, headers=SSE, stream=broken)]
    )
    sleeps: list[float] = []
    stream = await clients(sleeps, GIGACHAT_MAX_RETRIES="2").stream(HI, "v2")
    chunks = chunks_of(stream)
    assert (await anext(chunks)).event == "response.message.delta"
    with pytest.raises(errors.UpstreamError) as caught:
        await anext(chunks)
    await stream.aclose()
    assert caught.value.message == "GigaChat stream broke: ReadError"
    assert chat.call_count == 1
    assert sleeps == []


# --- error mapping ---------------------------------------------------------------------

STATUS_MAP = [
    (400, errors.BadRequest, 400),
    (401, errors.Unauthorized, 401),
    (403, errors.Forbidden, 403),
    (404, errors.NotFound, 404),
    (413, errors.PayloadTooLarge, 413),
    (422, errors.BadRequest, 400),
    (429, errors.RateLimited, 429),
    (500, errors.UpstreamError, 502),
    (502, errors.UpstreamError, 502),
    (503, errors.Overloaded, 503),
    (504, errors.UpstreamTimeout, 504),
    (418, errors.UpstreamError, 502),
]


@pytest.mark.parametrize(("upstream_status", "error", "status"), STATUS_MAP)
async def test_upstream_status_keeps_its_meaning(
    upstream: respx.MockRouter,
    clients: Callable[..., GigaChatClient],
    upstream_status: int,
    error: type[errors.GatewayError],
    status: int,
) -> None:
    message = f"GigaChat says {upstream_status}"
    upstream.post(V2_CHAT).respond(
        upstream_status, json={"status": upstream_status, "message": message}
    )
    with pytest.raises(error) as caught:
        await clients().chat(HI, "v2")
    assert type(caught.value) is error
    assert caught.value.status == status
    assert caught.value.message == f"GigaChat answered {upstream_status}: {message}"


async def test_recorded_422_keeps_gigachats_explanation(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    upstream.post(V1_CHAT).respond(422, content=fixture("error_422.json"))
    with pytest.raises(errors.BadRequest) as caught:
        await clients().chat(HI, "v1")
    assert caught.value.status == 400
    assert caught.value.message == (
        "GigaChat answered 422: Invalid params: messages[0].role must be one of "
        "[system user assistant function]"
    )


async def test_upstream_429_carries_retry_after(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    upstream.post(V1_CHAT).respond(
        429, content=fixture("error_429.json"), headers={"Retry-After": "12"}
    )
    with pytest.raises(errors.RateLimited) as caught:
        await clients().chat(HI, "v1")
    assert (caught.value.status, caught.value.retry_after) == (429, 12.0)
    assert caught.value.message == "GigaChat answered 429: Too Many Requests"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param(
            httpx.Response(502, content=fixture("error_502.html")),
            "GigaChat answered 502",
            id="html-page",
        ),
        pytest.param(
            httpx.Response(503, html="<h1>maintenance</h1>"),
            "GigaChat answered 503",
            id="html-content-type",
        ),
        pytest.param(
            httpx.Response(503, text="upstream connect error or disconnect/reset"),
            "GigaChat answered 503: upstream connect error or disconnect/reset",
            id="plain-text",
        ),
        pytest.param(
            httpx.Response(500, json={"status": 500}), "GigaChat answered 500", id="no-message"
        ),
        pytest.param(
            httpx.Response(400, json=["not", "an", "object"]),
            'GigaChat answered 400: ["not","an","object"]',
            id="json-array",
        ),
        pytest.param(
            httpx.Response(400, text="x" * 500), "GigaChat answered 400: " + "x" * 200, id="long"
        ),
        pytest.param(httpx.Response(404), "GigaChat answered 404", id="empty"),
    ],
)
async def test_error_bodies_that_are_not_gigachat_json(
    upstream: respx.MockRouter,
    clients: Callable[..., GigaChatClient],
    answer: httpx.Response,
    message: str,
) -> None:
    upstream.post(V1_CHAT).mock(side_effect=[answer])
    with pytest.raises(errors.GatewayError) as caught:
        await clients().chat(HI, "v1")
    assert caught.value.message == message


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.WriteTimeout("write timed out"),
        httpx.PoolTimeout("pool timed out"),
    ],
)
async def test_timeouts_are_upstream_timeout(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient], exc: Exception
) -> None:
    upstream.post(V1_CHAT).mock(side_effect=exc)
    with pytest.raises(errors.UpstreamTimeout) as caught:
        await clients().chat(HI, "v1")
    assert caught.value.status == 504
    assert caught.value.message == "GigaChat did not answer in time"


async def test_a_body_that_stops_arriving_is_upstream_timeout(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    upstream.post(V1_CHAT).mock(
        side_effect=[httpx.Response(200, stream=Broken(b'{"cho', httpx.ReadTimeout("slow")))]
    )
    with pytest.raises(errors.UpstreamTimeout):
        await clients().chat(HI, "v1")


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_a_malformed_answer_is_upstream_error(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient], contract: str
) -> None:
    upstream.post(CHAT_URL[contract]).respond(json={"unexpected": True})
    with pytest.raises(errors.UpstreamError) as caught:
        await clients().chat(HI, contract)  # type: ignore[arg-type]
    assert caught.value.message == "GigaChat sent a malformed answer"


SECRET_BODY = (
    f"rejected Bearer tok-1 for {DEMO_CREDENTIALS} at https://giga.test/api/v1 "
    "via auth.test with password pa55word"
)


@pytest.mark.parametrize(
    ("route", "answer"),
    [
        (V1_CHAT, gigachat_error(400, SECRET_BODY)),
        (V1_CHAT, httpx.Response(400, text=SECRET_BODY)),
        (V1_CHAT, httpx.ConnectError(f"connect to https://giga.test failed: {SECRET_BODY}")),
        (V1_CHAT, httpx.ReadTimeout(f"https://giga.test/api/v1 {SECRET_BODY}")),
        (AUTH, gigachat_error(401, SECRET_BODY)),
        (AUTH, httpx.ConnectError(SECRET_BODY)),
    ],
)
async def test_error_messages_never_carry_hosts_tokens_or_credentials(
    upstream: respx.MockRouter,
    clients: Callable[..., GigaChatClient],
    route: str,
    answer: httpx.Response | Exception,
) -> None:
    auth_route(upstream)
    upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    upstream.post(route).mock(side_effect=[answer])
    client = clients(GIGACHAT_USER="bob", GIGACHAT_PASSWORD="pa55word")
    with pytest.raises(errors.GatewayError) as caught:
        await client.chat(HI, "v1")
    text = str(caught.value) + caught.value.message
    known = ("giga.test", "auth.test", DEMO_CREDENTIALS, "pa55word")
    for secret in known if route == AUTH else (*known, "tok-1"):
        assert secret not in text
    # No httpx exception rides along either: its text names the URL.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


async def test_short_secrets_do_not_mangle_gigachats_message(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    upstream.post(TOKEN_URL).respond(json={"tok": "pw-1", "exp": 4_102_444_800_000})
    upstream.post(V1_CHAT).respond(422, json={"status": 422, "message": "top_p must be in (0, 1]"})
    client = clients(GIGACHAT_CREDENTIALS="", GIGACHAT_USER="u", GIGACHAT_PASSWORD="p")
    with pytest.raises(errors.BadRequest) as caught:
        await client.chat(HI, "v1")
    assert caught.value.message == "GigaChat answered 422: top_p must be in (0, 1]"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.chat(HI, "v1"), id="chat-v1"),
        pytest.param(lambda c: c.chat(HI, "v2"), id="chat-v2"),
        pytest.param(lambda c: c.stream(HI, "v1"), id="stream-v1"),
        pytest.param(lambda c: c.stream(HI, "v2"), id="stream-v2"),
        pytest.param(lambda c: c.models(), id="models"),
        pytest.param(lambda c: c.embeddings("Embeddings", ["a"]), id="embeddings"),
        pytest.param(lambda c: c.tokens_count("GigaChat", ["a"]), id="tokens-count"),
        pytest.param(lambda c: c.upload_file("a.png", b"x", "image/png"), id="upload"),
    ],
)
async def test_every_endpoint_maps_errors_alike(
    upstream: respx.MockRouter,
    clients: Callable[..., GigaChatClient],
    call: Callable[[GigaChatClient], Any],
) -> None:
    for url in (V1_CHAT, V2_CHAT, EMBEDDINGS_URL, COUNT_URL, FILES):
        upstream.post(url).mock(side_effect=[gigachat_error(413, "Payload Too Large")])
    upstream.get(MODELS_URL).mock(side_effect=[gigachat_error(413, "Payload Too Large")])
    with pytest.raises(errors.PayloadTooLarge) as caught:
        await call(clients())
    assert caught.value.message == "GigaChat answered 413: Payload Too Large"


# --- streams ----------------------------------------------------------------------------

V1_SSE = (
    b'data: {"choices":[{"delta":{"content":"Hel","role":"assistant"},"index":0}],'
    b'"created":1735689600,"model":"GigaChat:2.0.28.2","object":"chat.completion"}\n\n'
    b'data: {"choices":[{"delta":{"content":"lo","role":"assistant"},"index":0}],'
    b'"created":1735689600,"model":"GigaChat:2.0.28.2","object":"chat.completion"}\n\n'
    b'data: {"choices":[{"delta":{"content":""},"index":0,"finish_reason":"stop"}],'
    b'"created":1735689600,"model":"GigaChat:2.0.28.2","object":"chat.completion",'
    b'"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,'
    b'"precached_prompt_tokens":1}}\n\n'
    b"data: [DONE]\n\n"
)
V2_SSE = (
    b"event: response.message.delta\n"
    b'data: {"model":"GigaChat:2.0.28.2","created_at":1735689600,'
    b'"messages":[{"role":"assistant","content":[{"text":"Hel"}]}]}\n\n'
    b"event: response.tool.completed\n"
    b'data: {"tool_execution":{"name":"web_search","status":"completed"}}\n\n'
    b"event: response.message.done\n"
    b'data: {"model":"GigaChat:2.0.28.2","created_at":1735689600,"finish_reason":"stop",'
    b'"usage":{"input_tokens":5,"output_tokens":2,"total_tokens":7}}\n\n'
)


def text_message(text: str) -> list[giga.ChatMessageChunk]:
    return [giga.ChatMessageChunk(role="assistant", content=[giga.ChatContentPart(text=text)])]


async def collect(client: GigaChatClient, contract: str) -> list[giga.ChatCompletionChunk]:
    stream = await client.stream(HI, contract)  # type: ignore[arg-type]
    try:
        return [chunk async for chunk in chunks_of(stream)]
    finally:
        await stream.aclose()


async def test_v1_stream_becomes_hub_chunks_and_stops_at_done(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    after_done = b'data: {"choices":[],"created":1,"model":"x","object":"chat.completion"}\n\n'
    upstream.post(V1_CHAT).respond(headers=SSE, content=V1_SSE + after_done)
    common = {"model": "GigaChat:2.0.28.2", "created_at": 1735689600}
    assert await collect(clients(), "v1") == [
        giga.ChatCompletionChunk(
            event="response.message.delta", messages=text_message("Hel"), **common
        ),
        giga.ChatCompletionChunk(
            event="response.message.delta", messages=text_message("lo"), **common
        ),
        giga.ChatCompletionChunk(
            event="response.message.done",
            finish_reason="stop",
            usage=giga.ChatUsage(
                input_tokens=5,
                output_tokens=2,
                total_tokens=7,
                input_tokens_details=giga.ChatUsageInputTokensDetails(cached_tokens=1),
            ),
            **common,
        ),
    ]


async def test_v2_stream_keeps_named_events(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    upstream.post(V2_CHAT).respond(
        headers={"content-type": "text/event-stream; charset=utf-8"}, content=V2_SSE
    )
    chunks = await collect(clients(), "v2")
    assert [c.event for c in chunks] == [
        "response.message.delta",
        "response.tool.completed",
        "response.message.done",
    ]
    assert chunks[0].messages == text_message("Hel")
    assert chunks[1].tool_execution == giga.ChatToolExecution(name="web_search", status="completed")
    assert chunks[2].finish_reason == "stop"
    assert chunks[2].usage == giga.ChatUsage(input_tokens=5, output_tokens=2, total_tokens=7)


async def test_stream_split_at_any_byte_parses_the_same(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    class Trickle(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for i in range(len(V2_SSE)):
                yield V2_SSE[i : i + 1]

    upstream.post(V2_CHAT).mock(
        side_effect=[
            httpx.Response(200, headers=SSE, stream=Trickle()),
            httpx.Response(200, headers=SSE, content=V2_SSE),
        ]
    )
    client = clients()
    assert await collect(client, "v2") == await collect(client, "v2")


@pytest.mark.parametrize("content_type", ["application/json", "text/html", ""])
async def test_stream_answered_without_event_stream_is_upstream_error(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient], content_type: str
) -> None:
    route = upstream.post(V1_CHAT).respond(
        headers={"content-type": content_type}, content=json.dumps(V1_ANSWER).encode()
    )
    with pytest.raises(errors.UpstreamError) as caught:
        await clients().stream(HI, "v1")
    assert caught.value.message == "GigaChat answered a stream request without a stream"
    assert route.calls[0].response.is_closed


@pytest.mark.parametrize(
    ("exc", "error", "message"),
    [
        (
            httpx.RemoteProtocolError("peer closed connection: incomplete chunked read"),
            errors.UpstreamError,
            "GigaChat stream broke: RemoteProtocolError",
        ),
        (httpx.ReadError("reset"), errors.UpstreamError, "GigaChat stream broke: ReadError"),
        (
            httpx.ReadTimeout("giga.test"),
            errors.UpstreamTimeout,
            "GigaChat stopped sending mid-stream",
        ),
    ],
)
async def test_a_stream_that_breaks_midway_raises_from_iteration(
    upstream: respx.MockRouter,
    clients: Callable[..., GigaChatClient],
    exc: Exception,
    error: type[errors.GatewayError],
    message: str,
) -> None:
    first = V1_SSE.split(b"\n\n")[0] + b"\n\n"
    upstream.post(V1_CHAT).mock(
        side_effect=[httpx.Response(200, headers=SSE, stream=Broken(first, exc))]
    )
    stream = await clients().stream(HI, "v1")
    chunks = chunks_of(stream)
    assert (await anext(chunks)).messages == text_message("Hel")
    with pytest.raises(error) as caught:
        await anext(chunks)
    await stream.aclose()
    assert type(caught.value) is error
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("contract", "body"),
    [
        ("v1", b"data: {not json}\n\n"),
        ("v1", b'data: {"choices":[],"created":1,"model":"m"}\n\n'),  # no "object"
        ("v2", b"event: response.message.delta\ndata: [1, 2]\n\n"),
        ("v2", b'event: response.message.delta\ndata: {"messages": "text"}\n\n'),
    ],
)
async def test_a_malformed_chunk_is_upstream_error(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient], contract: str, body: bytes
) -> None:
    upstream.post(CHAT_URL[contract]).respond(headers=SSE, content=body)
    with pytest.raises(errors.UpstreamError) as caught:
        await collect(clients(), contract)
    assert caught.value.message == "GigaChat sent a malformed stream chunk"


@pytest.mark.parametrize("contract", ["v1", "v2"])
async def test_stream_request_headers_and_body_are_the_sdks(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient], contract: str
) -> None:
    route = upstream.post(CHAT_URL[contract]).respond(headers=SSE, content=b"data: [DONE]\n\n")
    await collect(clients(), contract)
    sent = route.calls[0].request
    sdk_api = sdk_chat if contract == "v1" else sdk_chat_v2
    model = Chat if contract == "v1" else ChatCompletionRequest
    with httpx.Client(base_url=BASE) as sdk_client:
        sdk = sdk_api._get_stream_kwargs(  # type: ignore[attr-defined]
            sdk_client, chat=model.model_validate_json(sent.content), access_token="tok-1"
        )
    for header in ("Accept", "Cache-Control", "Content-Type", "Authorization"):
        assert sent.headers[header] == sdk["headers"][header]
    assert json.loads(sent.content) == json.loads(sdk["content"])
    assert json.loads(sent.content)["stream"] is True


# --- request bodies ------------------------------------------------------------------------


def encode(req: giga.ChatCompletionRequest, contract: str, stream: bool, **env: str) -> bytes:
    """The body the client sends for `req`; encoding never touches the pool."""
    settings = make_settings(**env).gigachat
    client = GigaChatClient(settings, build_pool(settings, httpx.AsyncHTTPTransport()))
    return client.encode_chat(req, contract, stream)  # type: ignore[arg-type]


V1_HI = b'{"model":"GigaChat","messages":[{"role":"user","content":"hi"}]'
V2_HI = b'{"model":"GigaChat","messages":[{"role":"user","content":[{"text":"hi"}]}]'


@pytest.mark.parametrize(
    ("contract", "stream", "profanity", "expected"),
    [
        ("v1", False, None, V1_HI + b"}"),
        ("v1", True, None, V1_HI + b',"stream":true}'),
        ("v1", False, "true", V1_HI + b',"profanity_check":true}'),
        ("v1", True, "false", V1_HI + b',"stream":true,"profanity_check":false}'),
        ("v2", False, None, V2_HI + b"}"),
        ("v2", True, None, V2_HI + b',"stream":true}'),
        ("v2", False, "true", V2_HI + b',"disable_filter":false}'),
        ("v2", True, "false", V2_HI + b',"stream":true,"disable_filter":true}'),
    ],
)
def test_encode_chat_gives_exact_bytes(
    contract: str, stream: bool, profanity: str | None, expected: bytes
) -> None:
    env = {"GIGACHAT_PROFANITY_CHECK": profanity} if profanity else {}
    assert encode(HI, contract, stream, **env) == expected


@pytest.mark.parametrize(
    ("contract", "expected"),
    [
        ("v1", V1_HI + b',"profanity_check":false}'),
        ("v2", V2_HI + b',"disable_filter":true}'),
    ],
)
def test_the_requests_own_filter_choice_beats_the_operators_default(
    contract: str, expected: bytes
) -> None:
    req = msgspec.structs.replace(HI, disable_filter=True)
    assert encode(req, contract, False, GIGACHAT_PROFANITY_CHECK="true") == expected


@pytest.mark.parametrize("contract", ["v1", "v2"])
def test_extra_fields_merge_into_the_body_and_typed_fields_win(contract: str) -> None:
    settings = make_settings().gigachat
    client = GigaChatClient(settings, build_pool(settings, httpx.AsyncHTTPTransport()))
    extra = {"new_knob": {"a": 1}, "model": "Other", "messages": []}
    body = client.encode_chat(HI, contract, True, extra)  # type: ignore[arg-type]
    plain = client.encode_chat(HI, contract, True)  # type: ignore[arg-type]
    assert msgspec.json.decode(body) == {"new_knob": {"a": 1}, **msgspec.json.decode(plain)}


@pytest.mark.parametrize("contract", ["v1", "v2"])
@pytest.mark.parametrize("flag", [True, False])
def test_stream_is_on_the_wire_only_when_streaming(contract: str, flag: bool) -> None:
    req = msgspec.structs.replace(HI, stream=flag)
    assert b'"stream"' not in encode(req, contract, stream=False)
    assert b'"stream":true' in encode(req, contract, stream=True)


async def test_chat_posts_json_with_bearer_to_the_contracts_url(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    v1 = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    v2 = upstream.post(V2_CHAT).respond(json=V2_ANSWER)
    client = clients()
    assert contract_text(await client.chat(HI, "v1")) == "Hi!"
    assert contract_text(await client.chat(HI, "v2")) == "Hi!"
    for route, body in ((v1, V1_HI + b"}"), (v2, V2_HI + b"}")):
        sent = route.calls[0].request
        assert sent.content == body
        assert sent.headers["content-type"] == "application/json"
        assert sent.headers["authorization"] == "Bearer tok-1"
        assert sent.headers["user-agent"] == "gpt2giga"


def parts(*items: giga.ChatContentPart) -> list[giga.ChatContentPart]:
    return list(items)


WEATHER = giga.ChatFunctionSpecification(
    name="get_weather",
    description="Weather in a city",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City"},
            "unit": {"type": "string", "enum": ["c", "f"]},
        },
        "required": ["city"],
    },
    few_shot_examples=[giga.ChatFunctionExample(request="Погода в Москве", params={"city": "M"})],
    return_parameters={"type": "object", "properties": {"t": {"type": "number"}}},
)
TIME = giga.ChatFunctionSpecification(
    name="get_time", parameters={"type": "object", "properties": {"tz": {"type": "string"}}}
)
STATE = "3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15"


def user(text: str) -> giga.ChatMessage:
    return giga.ChatMessage(role="user", content=parts(giga.ChatContentPart(text=text)))


def result(name: str, value: Any) -> giga.ChatMessage:
    res = giga.ChatFunctionResult(name=name, result=value)
    return giga.ChatMessage(
        role="tool", content=parts(giga.ChatContentPart(function_result=res)), tools_state_id=STATE
    )


def called(*calls: tuple[str, dict[str, Any]]) -> giga.ChatMessage:
    return giga.ChatMessage(
        role="assistant",
        content=[
            giga.ChatContentPart(function_call=giga.ChatFunctionCall(name=n, arguments=a))
            for n, a in calls
        ],
        tools_state_id=STATE,
    )


REQUESTS = {
    "system-and-user": giga.ChatCompletionRequest(
        model="GigaChat-2-Max",
        messages=[
            giga.ChatMessage(role="system", content=parts(giga.ChatContentPart(text="Be brief"))),
            user("Привет"),
        ],
        model_options=giga.ChatModelOptions(temperature=0.2, top_p=0.9, max_tokens=64),
    ),
    "forced-function": giga.ChatCompletionRequest(
        model="GigaChat",
        messages=[user("weather?")],
        tools=[giga.ChatTool(functions=giga.ChatFunctionsTool(specifications=[WEATHER, TIME]))],
        tool_config=giga.ChatToolConfig(mode="forced", function_name="get_weather"),
    ),
    "auto-functions": giga.ChatCompletionRequest(
        model="GigaChat",
        messages=[user("weather?")],
        tools=[giga.ChatTool(functions=giga.ChatFunctionsTool(specifications=[WEATHER]))],
        tool_config=giga.ChatToolConfig(mode="auto"),
    ),
    "function-result": giga.ChatCompletionRequest(
        model="GigaChat",
        messages=[
            user("weather?"),
            called(("get_weather", {"city": "M"})),
            result("get_weather", {"t": 1}),
        ],
        tools=[giga.ChatTool(functions=giga.ChatFunctionsTool(specifications=[WEATHER]))],
    ),
    "two-calls-two-results": giga.ChatCompletionRequest(
        model="GigaChat",
        messages=[
            user("weather and time?"),
            called(("get_weather", {"city": "M"}), ("get_time", {"tz": "UTC"})),
            result("get_time", "12:00"),
            result("get_weather", {"t": 1}),
        ],
        tools=[giga.ChatTool(functions=giga.ChatFunctionsTool(specifications=[WEATHER, TIME]))],
    ),
    "structured-reasoning": giga.ChatCompletionRequest(
        model="GigaChat-2-Pro",
        messages=[user("a person")],
        model_options=giga.ChatModelOptions(
            reasoning=giga.ChatReasoning(effort="high"),
            response_format=giga.ChatResponseFormat(
                type="json_schema",
                schema={"type": "object", "properties": {"name": {"type": "string"}}},
                strict=True,
            ),
        ),
    ),
    "attachments": giga.ChatCompletionRequest(
        model="GigaChat-2-Max",
        messages=[
            giga.ChatMessage(
                role="user",
                content=parts(
                    giga.ChatContentPart(text="what is on it?"),
                    giga.ChatContentPart(files=[giga.ChatContentFile(id=STATE)]),
                ),
            )
        ],
    ),
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("name", REQUESTS)
def test_v2_body_is_exactly_what_the_sdk_would_send(name: str, stream: bool) -> None:
    body = encode(REQUESTS[name], "v2", stream)
    sdk = ChatCompletionRequest.model_validate_json(body)
    with httpx.Client(base_url=BASE) as sdk_client:
        build = sdk_chat_v2._get_stream_kwargs if stream else sdk_chat_v2._get_chat_kwargs
        kwargs = build(sdk_client, chat=sdk, access_token="t")
    assert json.loads(body) == json.loads(kwargs["content"])


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("name", REQUESTS)
def test_v1_body_validates_against_the_sdks_chat_model(name: str, stream: bool) -> None:
    body = encode(REQUESTS[name], "v1", stream)
    sdk = Chat.model_validate_json(body)
    with httpx.Client(base_url=BASE) as sdk_client:
        build = sdk_chat._get_stream_kwargs if stream else sdk_chat._get_chat_kwargs
        kwargs = build(sdk_client, chat=sdk, access_token="t")
    sent, resent = json.loads(body), json.loads(kwargs["content"])
    # The SDK re-serialises function parameters through its own narrower model
    # (adding defaults); everything else must survive unchanged.
    for function in (*sent.get("functions", ()), *resent.get("functions", ())):
        function["parameters"] = sorted(function["parameters"]["properties"])
    assert sent == resent


def test_v1_two_calls_are_interleaved_with_their_results() -> None:
    body = json.loads(encode(REQUESTS["two-calls-two-results"], "v1", False))
    assert [
        (m["role"], m.get("name") or m.get("function_call", {}).get("name"))
        for m in body["messages"]
    ] == [
        ("user", None),
        ("assistant", "get_weather"),
        ("function", "get_weather"),
        ("assistant", "get_time"),
        ("function", "get_time"),
    ]
    assert body["messages"][4]["content"] == '{"result":"12:00"}'


# --- models, embeddings, tokens/count ----------------------------------------------------


async def test_models_are_listed_as_the_sdk_asks(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    route = upstream.get(MODELS_URL).respond(content=fixture("models.json"))
    models = await clients().models()
    assert [(m.id, m.type) for m in models.data] == [
        ("GigaChat", "chat"),
        ("GigaChat-2-Max", "chat"),
        ("Embeddings", "embedder"),
    ]
    sent = route.calls[0].request
    with httpx.Client(base_url=BASE) as sdk_client:
        kwargs = sdk_models._get_models_kwargs(access_token="tok-1")
        sdk = sdk_client.build_request(kwargs["method"], kwargs["url"], headers=kwargs["headers"])
    assert (sent.method, sent.url) == (sdk.method, sdk.url)
    assert sent.headers["authorization"] == sdk.headers["authorization"] == "Bearer tok-1"


async def test_embeddings_send_the_sdks_body_and_read_per_item_usage(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    route = upstream.post(EMBEDDINGS_URL).respond(content=fixture("embeddings.json"))
    result = await clients().embeddings("Embeddings", ["первый текст", "second"])
    assert [(e.index, e.embedding, e.usage.prompt_tokens) for e in result.data] == [
        (0, [0.0123, -0.0456, 0.0789], 3),
        (1, [-0.5, 0.25, 0.125], 2),
    ]
    sdk = sdk_embeddings._get_embeddings_kwargs(
        input_=["первый текст", "second"], model="Embeddings"
    )
    assert sent_json(route) == json.loads(sdk["content"])
    assert route.calls[0].request.headers["content-type"] == "application/json"


async def test_tokens_count_sends_the_sdks_body_and_reads_a_json_array(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    route = upstream.post(COUNT_URL).respond(content=fixture("tokens_count.json"))
    counts = await clients().tokens_count(
        "GigaChat", ["How many tokens are in this sentence?", "hello"]
    )
    assert counts == [
        giga.TokensCount(object="tokens", tokens=7, characters=36),
        giga.TokensCount(object="tokens", tokens=2, characters=5),
    ]
    sdk = sdk_tools._get_tokens_count_kwargs(
        input_=["How many tokens are in this sentence?", "hello"], model="GigaChat"
    )
    assert sent_json(route) == json.loads(sdk["content"])


async def test_upload_sends_the_sdks_form_and_reads_the_file(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    route = upstream.post(FILES).respond(json=uploaded("file-1", "cat.png", 4))
    found = await clients().upload_file("cat.png", b"\x89PNG", "image/png")
    assert found == giga.UploadedFile(
        id="file-1",
        object="file",
        bytes=4,
        created_at=1735689600,
        filename="cat.png",
        purpose="general",
        access_policy="private",
    )
    sent = route.calls[0].request
    kwargs = sdk_files._upload_file_kwargs(file=("cat.png", b"\x89PNG", "image/png"))
    with httpx.Client(base_url=BASE) as sdk_client:
        sdk = sdk_client.build_request(
            kwargs["method"], kwargs["url"], files=kwargs["files"], data=kwargs["data"]
        )
    assert (sent.method, sent.url) == (sdk.method, sdk.url)
    assert (
        form_fields(sent)
        == form_fields(sdk)
        == {
            "file": ("cat.png", "image/png", b"\x89PNG"),
            "purpose": (None, "text/plain", b"general"),
        }
    )
    assert sent.headers["authorization"] == "Bearer tok-1"
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")


async def test_an_upload_is_retried_whole(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    route = upstream.post(FILES).mock(
        side_effect=[gigachat_error(503, "busy"), httpx.Response(200, json=uploaded("file-2"))]
    )
    found = await clients(GIGACHAT_MAX_RETRIES="1").upload_file(
        "a.pdf", b"%PDF-1", "application/pdf"
    )
    assert found.id == "file-2"
    assert [form_fields(c.request)["file"] for c in route.calls] == [
        ("a.pdf", "application/pdf", b"%PDF-1"),
    ] * 2


@pytest.mark.parametrize(
    ("call", "url", "method"),
    [
        (lambda c: c.upload_file("a.png", b"x", "image/png"), FILES, "POST"),
        (lambda c: c.models(), MODELS_URL, "GET"),
        (lambda c: c.embeddings("Embeddings", ["a"]), EMBEDDINGS_URL, "POST"),
        (lambda c: c.tokens_count("GigaChat", ["a"]), COUNT_URL, "POST"),
    ],
)
async def test_malformed_endpoint_answers_are_upstream_error(
    upstream: respx.MockRouter,
    clients: Callable[..., GigaChatClient],
    call: Callable[[GigaChatClient], Any],
    url: str,
    method: str,
) -> None:
    upstream.route(method=method, url=url).respond(json={"data": "nope"})
    with pytest.raises(errors.UpstreamError) as caught:
        await call(clients())
    assert caught.value.message == "GigaChat sent a malformed answer"


# --- URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base",
    [
        "https://gigachat.devices.sberbank.ru/api/v1",
        "https://gigachat.devices.sberbank.ru/api/v1/",
        "https://api.giga.chat/v1",
        "https://api.giga.chat/v1/",
        "http://localhost:8443/api/v1",
        "https://proxy.test/gigachat",
        "https://proxy.test/gigachat/v10",
    ],
)
def test_chat_urls_are_the_ones_the_sdk_derives(base: str) -> None:
    with httpx.Client(base_url=base) as sdk_client:
        v1 = sdk_client.build_request("POST", resolve_request_url(sdk_client, "/chat/completions"))
        v2 = sdk_client.build_request("POST", resolve_primary_chat_url(sdk_client, None))
    assert chat_urls(base) == {"v1": str(v1.url), "v2": str(v2.url)}


async def test_client_uses_chat_urls_for_its_base(
    upstream: respx.MockRouter, clients: Callable[..., GigaChatClient]
) -> None:
    v2 = upstream.post("https://api.giga.chat/v2/chat/completions").respond(json=V2_ANSWER)
    v1 = upstream.post("https://api.giga.chat/v1/chat/completions").respond(json=V1_ANSWER)
    client = clients(GIGACHAT_BASE_URL="https://api.giga.chat/v1/")
    await client.chat(HI, "v1")
    await client.chat(HI, "v2")
    assert (v1.call_count, v2.call_count) == (1, 1)


# --- the pool and TLS -------------------------------------------------------------------


def connection_pool(pool: Pool) -> Transport:
    assert isinstance(pool.transport, Transport)
    return pool.transport


async def test_pool_limits_and_timeouts_are_as_configured() -> None:
    settings = make_settings(GIGACHAT_TIMEOUT="120", GIGACHAT_MAX_CONNECTIONS="7").gigachat
    pool = build_pool(settings)
    async with pool.client as client:
        assert client.timeout == httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=120.0)
        inner = connection_pool(pool)
        assert inner.max_connections == 7
        assert inner.keepalive_expiry == 30.0
        assert client.headers["user-agent"] == "gpt2giga"
        assert client.trust_env is False


async def test_pool_uses_the_given_transport() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="mocked"))
    pool = build_pool(make_settings().gigachat, transport)
    assert pool.transport is transport
    async with pool.client as client:
        assert (await client.get("https://giga.test/x")).text == "mocked"


def cert(name: str) -> str:
    return str(FIXTURES / name)


def test_tls_verification_off_is_no_context() -> None:
    assert ssl_context(make_settings(GIGACHAT_VERIFY_SSL_CERTS="false").gigachat) is False


async def test_tls_verification_is_on_by_default_with_certifi() -> None:
    ctx = ssl_context(make_settings().gigachat)
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    assert ctx.cert_store_stats()["x509_ca"] > 50
    pool = build_pool(make_settings().gigachat)
    async with pool.client:
        verify = connection_pool(pool).verify
        assert isinstance(verify, ssl.SSLContext)
        assert verify.verify_mode == ssl.CERT_REQUIRED


def test_ca_bundle_replaces_the_default_trust_store() -> None:
    settings = make_settings(GIGACHAT_CA_BUNDLE_FILE=cert("auth_client_cert.pem")).gigachat
    ctx = ssl_context(settings)
    assert isinstance(ctx, ssl.SSLContext)
    subjects = [dict(item[0] for item in ca["subject"]) for ca in ctx.get_ca_certs()]
    assert subjects == [{"commonName": "gpt2giga-test-client"}]


@pytest.mark.parametrize("verify", ["true", "false"])
def test_client_certificate_is_loaded_whether_or_not_tls_is_verified(verify: str) -> None:
    settings = make_settings(
        GIGACHAT_VERIFY_SSL_CERTS=verify,
        GIGACHAT_CERT_FILE=cert("auth_client_cert.pem"),
        GIGACHAT_KEY_FILE=cert("auth_client_key.pem"),
        GIGACHAT_KEY_FILE_PASSWORD="fixture-pass",
    ).gigachat
    ctx = ssl_context(settings)
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == (ssl.CERT_REQUIRED if verify == "true" else ssl.CERT_NONE)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"GIGACHAT_CA_BUNDLE_FILE": "/nonexistent/ca.pem"}, "GIGACHAT_CA_BUNDLE_FILE"),
        (
            {
                "GIGACHAT_CERT_FILE": cert("auth_client_cert.pem"),
                "GIGACHAT_KEY_FILE": cert("auth_client_key.pem"),
                "GIGACHAT_KEY_FILE_PASSWORD": "wrong-pass",
            },
            "GIGACHAT_CERT_FILE",
        ),
    ],
)
def test_unloadable_tls_files_name_their_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ssl_context(make_settings(**env).gigachat)
    assert str(caught.value).startswith(f"{variable}: cannot be loaded")
    assert "wrong-pass" not in str(caught.value)
