"""Several gateway processes, one state: real Granian processes, a real Redis, the SDKs.

Two gateways on one Redis stand for two replicas; `GPT2GIGA_WORKERS=2`
without Redis is one box with two workers sharing a SQLite file. What must
hold: a continuation finds its response whichever process answers, a model
limit of 1 is 1 in total, a killed process's slot comes back by itself, and
Redis going away and coming back breaks only what needs it, for as long as
it is away.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.conftest import GatewayFactory, Server
from tests.e2e.slow_upstream import SlowUpstream
from tests.redis_server import RedisServer

MODEL = "GigaChat-2-Max"
HELLO = [{"role": "user", "content": "hi"}]
LIMIT_ONE = {
    "GPT2GIGA_MODEL_MAX_CONNECTIONS": json.dumps({MODEL: 1}),
    "GPT2GIGA_MODEL_MAX_CONNECTIONS_ACQUIRE_TIMEOUT": "0",
}


def sdk(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="-", max_retries=0)


def redis_env(server: RedisServer, prefix: str, **extra: str) -> dict[str, str]:
    return {"GPT2GIGA_REDIS_URL": server.url, "GPT2GIGA_REDIS_KEY_PREFIX": prefix, **extra}


def test_a_conversation_continues_on_the_other_replica(
    start_gateway: GatewayFactory, redis_server: RedisServer, redis_prefix: str
) -> None:
    one, two = (start_gateway(**redis_env(redis_server, redis_prefix)) for _ in range(2))
    with sdk(one) as a, sdk(two) as b:
        first = a.responses.create(model="GigaChat", input="Меня зовут Ада")
        second = b.responses.create(
            model="GigaChat", input="Как меня зовут?", previous_response_id=first.id
        )
        # The same turn with its history spelled out: GigaChat must have read the same.
        spelled = a.responses.create(
            model="GigaChat",
            store=False,
            input=[
                {"role": "user", "content": "Меня зовут Ада"},
                {"role": "assistant", "content": first.output_text},
                {"role": "user", "content": "Как меня зовут?"},
            ],
        )
        assert second.usage is not None and spelled.usage is not None
        assert second.usage.input_tokens == spelled.usage.input_tokens
        assert second.output_text == "Hello from the fake GigaChat! You said: Как меня зовут?"
        assert a.responses.retrieve(second.id).output_text == second.output_text
        b.responses.delete(first.id)
        with pytest.raises(openai.NotFoundError):
            a.responses.retrieve(first.id)


@contextmanager
def holding(server: Server) -> Iterator[None]:
    """A stream through `server` that holds the model's slot until the block ends."""
    with (
        httpx.Client(base_url=server.url, timeout=30) as http,
        http.stream(
            "POST", "/v1/chat/completions", json={"model": MODEL, "messages": HELLO, "stream": True}
        ) as response,
    ):
        assert response.status_code == 200
        chunks = response.iter_raw()  # kept: a dropped iterator closes the response
        next(chunks)
        yield


def attempt(server: Server) -> httpx.Response:
    """One call on a new connection (several workers share connections out)."""
    body = {"model": MODEL, "messages": HELLO, "stream": True}
    with (
        httpx.Client(base_url=server.url, timeout=30) as http,
        http.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        if response.status_code == 200:
            next(response.iter_raw())
        else:
            response.read()
        return response


def until_free(server: Server, within: float) -> float:
    """Seconds until a call gets the slot; fails past `within`."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if attempt(server).status_code == 200:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"the slot was not free within {within} s")


def test_a_limit_of_one_is_one_across_two_replicas(
    start_gateway: GatewayFactory, redis_server: RedisServer, redis_prefix: str
) -> None:
    with SlowUpstream() as slow:
        env = redis_env(redis_server, redis_prefix, **LIMIT_ONE)
        one, two = start_gateway(upstream=slow.url, **env), start_gateway(upstream=slow.url, **env)
        with holding(one):
            refused = attempt(two)
            assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
            assert refused.json()["error"]["message"] == (
                f"Too many concurrent requests for model {MODEL}; the gateway allows 1 at a time"
            )
        assert until_free(two, within=5) < 5


def test_a_killed_replicas_slot_is_free_again_within_its_lease(
    start_gateway: GatewayFactory, redis_server: RedisServer, redis_prefix: str
) -> None:
    with SlowUpstream(chunks=600) as slow:
        lease = {"GPT2GIGA_MODEL_MAX_CONNECTIONS_LEASE_SECONDS": "2", **LIMIT_ONE}
        env = redis_env(redis_server, redis_prefix, **lease)
        one, two = start_gateway(upstream=slow.url, **env), start_gateway(upstream=slow.url, **env)
        with holding(one):
            one.proc.send_signal(signal.SIGKILL)  # no release, no goodbye
            one.proc.wait(5)
            assert attempt(two).status_code == 429  # the lease outlives its holder for a while
            waited = until_free(two, within=6)
        assert 0 < waited <= 2 + 1  # the lease time, plus a poll or two


def test_redis_stopped_and_restarted_mid_run(
    start_gateway: GatewayFactory, own_redis: RedisServer, redis_prefix: str
) -> None:
    env = redis_env(own_redis, redis_prefix, GPT2GIGA_REDIS_TIMEOUT_SECONDS="0.5")
    one, two = start_gateway(**env), start_gateway(**env)
    with sdk(one) as a, sdk(two) as b:
        kept = a.responses.create(model="GigaChat", input="before")
        own_redis.stop()
        chat = a.chat.completions.create(model="GigaChat", messages=HELLO)  # type: ignore[arg-type]
        assert chat.choices[0].message.content == "Hello from the fake GigaChat! You said: hi"
        with pytest.raises(openai.InternalServerError) as down:
            b.responses.create(model="GigaChat", input="more", previous_response_id=kept.id)
        assert down.value.status_code == 503
        assert "state store (Redis) is unavailable" in down.value.message
        ready = httpx.get(one.url + "/ready").json()
        assert ready["status"] == "degraded" and ready["state_store"] == "down"

        own_redis.start()  # empty: what it held is gone
        for server in (one, two):
            ready_again(server)
        with pytest.raises(openai.NotFoundError):
            b.responses.create(model="GigaChat", input="more", previous_response_id=kept.id)
        fresh = a.responses.create(model="GigaChat", input="after")
        follow = b.responses.create(model="GigaChat", input="and?", previous_response_id=fresh.id)
        assert follow.output_text == "Hello from the fake GigaChat! You said: and?"
    assert "state store Redis unreachable" in one.output()
    assert "state store Redis reachable again" in one.output()


def ready_again(server: Server) -> None:
    for _ in range(100):
        if httpx.get(server.url + "/ready").json()["status"] == "ready":
            return
        time.sleep(0.05)
    raise AssertionError(f"{server.url} still degraded after 5 s")


# --- one box, two workers, no Redis ----------------------------------------------------------


def test_two_workers_without_redis_share_responses_and_limits(
    start_gateway: GatewayFactory, tmp_path: Path
) -> None:
    with SlowUpstream() as slow:
        limited = start_gateway(upstream=slow.url, GPT2GIGA_WORKERS="2", **LIMIT_ONE)
        with holding(limited):
            codes = [attempt(limited).status_code for _ in range(10)]
        assert codes == [429] * 10  # per worker, about half would have gone through
    server = start_gateway(GPT2GIGA_WORKERS="2", GPT2GIGA_LOG_LEVEL="INFO", TMPDIR=str(tmp_path))
    [run_dir] = tmp_path.glob("gpt2giga-state-*")  # private to the gateway's user
    assert run_dir.stat().st_mode & 0o777 == 0o700
    for n in range(20):  # new connections each time: either worker may answer either call
        with sdk(server) as first_client, sdk(server) as second_client:
            made = first_client.responses.create(model="GigaChat", input=f"turn {n}")
            more = second_client.responses.create(
                model="GigaChat", input="next", previous_response_id=made.id
            )
            assert more.output_text == "Hello from the fake GigaChat! You said: next"
    assert f"shared by the workers of this box in SQLite under {run_dir}" in server.output()
    server.stop()
    assert not run_dir.exists()  # removed with the gateway
