"""Per-client GigaChat credentials: parsing, the bounded source cache, their use in the app."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from gpt2giga import errors
from gpt2giga.context import NO_CREDENTIALS
from gpt2giga.gigachat.auth import Credentials, TokenSource
from gpt2giga.passtoken import TokenCache, find, parse
from tests.conftest import AUTH, BASE, ENV, V1_CHAT, Call, build_app, over

V1_ANSWER = {
    "choices": [{"message": {"role": "assistant", "content": "Hi!"}, "index": 0}],
    "created": 1,
    "model": "GigaChat",
    "object": "chat.completion",
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}
HELLO = {"model": "GigaChat", "messages": [{"role": "user", "content": "hi"}]}
PASS = {"GPT2GIGA_PASS_TOKEN": "true"}
ALICE = base64.b64encode(b"alice-id:alice-secret").decode()
BOB = base64.b64encode(b"bob-id:bob-secret").decode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "giga-cred-abc:GIGACHAT_API_CORP",
            Credentials(credentials="abc", scope="GIGACHAT_API_CORP"),
        ),
        ("giga-cred-abc", Credentials(credentials="abc", scope="GIGACHAT_API_PERS")),
        ("giga-auth-tok.en", Credentials(access_token="tok.en")),
        ("giga-user-u:p:with:colons", Credentials(user="u", password="p:with:colons")),
    ],
)
def test_pass_token_forms(value: str, expected: Credentials) -> None:
    assert parse(value) == expected


@pytest.mark.parametrize(
    "value",
    ["giga-cred-", "giga-cred-s3cr3tkey:", "giga-auth-", "giga-user-s3cr3tuser", "giga-user-:pw",
     "giga-other-s3cr3t", "giga-"],
)  # fmt: skip
def test_malformed_forms_are_refused_without_echoing_them(value: str) -> None:
    with pytest.raises(errors.Unauthorized) as caught:
        parse(value)
    assert "s3cr3t" not in caught.value.message and "expected giga-cred-" in caught.value.message


@pytest.mark.parametrize(
    ("headers", "found"),
    [
        ({"authorization": "Bearer giga-auth-t"}, "giga-auth-t"),
        ({"authorization": "bearer giga-auth-t"}, "giga-auth-t"),
        ({"x-api-key": "giga-cred-c"}, "giga-cred-c"),
        ({"x-goog-api-key": "giga-cred-c"}, "giga-cred-c"),
        ({"authorization": "Bearer proxy-key", "x-api-key": "giga-auth-t"}, "giga-auth-t"),
        ({"authorization": "Basic giga-auth-t"}, None),
        ({"authorization": "Bearer sk-openai"}, None),
        ({}, None),
    ],
)
def test_the_credential_is_found_where_sdks_put_keys(
    headers: dict[str, str], found: str | None
) -> None:
    assert find(headers) == found


def cache(size: int) -> tuple[TokenCache, list[Credentials]]:
    made: list[Credentials] = []

    def make(creds: Credentials) -> TokenSource:
        made.append(creds)
        return TokenSource(creds, httpx.AsyncClient(), AUTH, BASE + "/token")

    return TokenCache(make, size), made


def test_the_least_recently_used_idle_source_goes_first() -> None:
    tokens, made = cache(2)
    a, _ = tokens.lease("giga-auth-a")  # held, like a running stream
    _, done_b = tokens.lease("giga-auth-b")
    done_b()
    _, done_c = tokens.lease("giga-auth-c")
    done_c()
    assert len(tokens) == 2  # b, idle and oldest, was dropped; a is busy
    again, done = tokens.lease("giga-auth-a")
    done()
    assert again is a
    tokens.lease("giga-auth-b")[1]()
    assert [c.access_token for c in made] == ["a", "b", "c", "b"]


def test_busy_sources_are_never_evicted_and_the_cache_shrinks_when_they_end() -> None:
    tokens, _ = cache(1)
    leases = [tokens.lease(f"giga-auth-{n}") for n in "xyz"]
    assert len(tokens) == 3
    for _, release in leases:
        release()
        release()  # a second release is harmless
    assert len(tokens) == 1


# --- through the app ----------------------------------------------------------------


@pytest.fixture
def oauth(upstream: respx.MockRouter) -> respx.Route:
    """OAuth that answers `tok-<client id>` for any base64 client_id:secret key."""

    def issue(request: httpx.Request) -> httpx.Response:
        key = request.headers["authorization"].removeprefix("Basic ")
        client_id = base64.b64decode(key).split(b":")[0].decode()
        scope = request.content.decode()
        return httpx.Response(
            200, json={"access_token": f"tok-{client_id}-{scope}", "expires_at": 4102444800000}
        )

    return upstream.post(AUTH).mock(side_effect=issue)


def bearers(route: respx.Route) -> list[str]:
    return [call.request.headers["authorization"] for call in route.calls]


async def test_each_client_credential_gets_its_own_token_once(
    upstream: respx.MockRouter, oauth: respx.Route
) -> None:
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    alice = {"authorization": f"Bearer giga-cred-{ALICE}:GIGACHAT_API_CORP"}
    bob = {"x-api-key": f"giga-cred-{BOB}"}
    async with over(build_app(**PASS)) as c:
        for headers in (alice, bob, alice, bob, {}):
            assert (await c.post("/chat/completions", json=HELLO, headers=headers)).is_success
    assert bearers(chat) == [
        "Bearer tok-alice-id-scope=GIGACHAT_API_CORP",
        "Bearer tok-bob-id-scope=GIGACHAT_API_PERS",
        "Bearer tok-alice-id-scope=GIGACHAT_API_CORP",
        "Bearer tok-bob-id-scope=GIGACHAT_API_PERS",
        "Bearer tok-demo-client-scope=GIGACHAT_API_PERS",  # no giga- key: the gateway's own
    ]
    assert [c.request.headers["authorization"] for c in oauth.calls] == [
        f"Basic {ALICE}",
        f"Basic {BOB}",
        f"Basic {ENV['GIGACHAT_CREDENTIALS']}",
    ]


async def test_access_token_and_user_password_forms_reach_gigachat(
    upstream: respx.MockRouter, oauth: respx.Route
) -> None:
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    token = upstream.post(BASE + "/token").respond(json={"tok": "tok-user", "exp": 4102444800000})
    async with over(build_app(**PASS)) as c:
        direct = {"authorization": "Bearer giga-auth-callers-own-token"}
        user = {"authorization": "Bearer giga-user-ivan:pa:ss"}
        for headers in (direct, user, user):
            assert (await c.post("/chat/completions", json=HELLO, headers=headers)).is_success
    assert bearers(chat) == ["Bearer callers-own-token", "Bearer tok-user", "Bearer tok-user"]
    basic = base64.b64encode(b"ivan:pa:ss").decode()
    assert bearers(token) == [f"Basic {basic}"]
    assert not oauth.calls


async def test_a_refused_client_credential_is_a_401_that_never_repeats_it(
    upstream: respx.MockRouter,
) -> None:
    upstream.post(AUTH).respond(401, json={"status": 401, "message": f"bad key {ALICE}"})
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    async with over(build_app(**PASS)) as c:
        refused = await c.post(
            "/chat/completions", json=HELLO, headers={"authorization": f"Bearer giga-cred-{ALICE}"}
        )
        malformed = await c.post(
            "/chat/completions", json=HELLO, headers={"authorization": "Bearer giga-user-s3cr3t"}
        )
    assert refused.status_code == 401 and ALICE not in refused.text
    assert malformed.status_code == 401 and "s3cr3t" not in malformed.text
    assert malformed.json()["error"]["code"] == "invalid_api_key"
    assert not chat.calls


async def test_without_own_credentials_a_client_must_bring_its_own(
    upstream: respx.MockRouter,
) -> None:
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    app = build_app(**PASS, GIGACHAT_CREDENTIALS="")
    async with over(app) as c:
        r = await c.post("/chat/completions", json=HELLO)
    assert r.status_code == 401 and r.json()["error"]["message"] == NO_CREDENTIALS
    assert not chat.calls


async def test_with_api_key_auth_the_proxy_key_travels_in_x_api_key(
    upstream: respx.MockRouter, oauth: respx.Route
) -> None:
    chat = upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    env = {**PASS, "GPT2GIGA_ENABLE_API_KEY_AUTH": "true", "GPT2GIGA_API_KEY": "proxy-key"}
    creds = {"authorization": f"Bearer giga-cred-{ALICE}"}
    async with over(build_app(**env)) as c:
        ok = await c.post(
            "/chat/completions", json=HELLO, headers={**creds, "x-api-key": "proxy-key"}
        )
        no_key = await c.post("/chat/completions", json=HELLO, headers=creds)
    assert ok.status_code == 200 and no_key.status_code == 401
    assert bearers(chat) == ["Bearer tok-alice-id-scope=GIGACHAT_API_PERS"]


class Held(httpx.AsyncByteStream):
    def __init__(self) -> None:
        self.end = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'data: {"choices":[{"delta":{"content":"Hi"},"index":0}],"created":1,'
        yield b'"model":"GigaChat","object":"chat.completion"}\n\n'
        await self.end.wait()


async def test_a_streaming_clients_token_outlives_cache_pressure(
    upstream: respx.MockRouter, oauth: respx.Route
) -> None:
    held = Held()
    upstream.post(V1_CHAT).mock(
        side_effect=[
            httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=held),
            *[httpx.Response(200, json=V1_ANSWER) for _ in range(3)],
        ]
    )
    app = build_app(**PASS, GPT2GIGA_PASS_TOKEN_CLIENT_CACHE_SIZE="1")
    alice = {"authorization": f"Bearer giga-cred-{ALICE}"}
    body = json.dumps({**HELLO, "stream": True}).encode()
    stream = Call(app, "POST", "/chat/completions", body, alice)
    running = stream.start()
    await stream.sent(lambda sent: b'"content":"Hi"' in sent)
    async with over(app) as c:
        bob = {"authorization": f"Bearer giga-cred-{BOB}"}
        assert (await c.post("/chat/completions", json=HELLO, headers=bob)).is_success
        assert (await c.post("/chat/completions", json=HELLO, headers=alice)).is_success
        stream.leave.set()
        await asyncio.wait_for(running, 5)
        assert (await c.post("/chat/completions", json=HELLO, headers=bob)).is_success
    logins = [c.request.headers["authorization"] for c in oauth.calls]
    # Alice's source stayed while her stream ran (no second login); Bob's idle one was
    # dropped when the cache (size 1) had to make room, so he logs in again.
    assert logins == [f"Basic {ALICE}", f"Basic {BOB}", f"Basic {BOB}"]
