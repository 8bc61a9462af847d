"""The Redis backend's own mechanics, against a real Redis: batching and forgotten scripts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from gpt2giga.state.redis import Batches, Command, RedisBackend
from tests.redis_server import RedisServer


class Counting(Batches):
    """Batches that note the size of every send."""

    def __init__(self, client: Redis) -> None:
        super().__init__(client)
        self.sends: list[int] = []

    async def _send(self, commands: list[Command]) -> list[Any]:
        self.sends.append(len(commands))
        return await super()._send(commands)


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    found = Redis.from_url(redis_server.url)
    yield found
    await found.aclose()


async def test_concurrent_commands_share_a_round_trip_and_each_gets_its_own_answer(
    client: Redis, redis_prefix: str
) -> None:
    for n in range(40):
        await client.set(f"{redis_prefix}{n}", f"value {n}")
    batches = Counting(client)
    answers = await asyncio.gather(*(batches.run("GET", f"{redis_prefix}{n}") for n in range(40)))
    assert answers == [f"value {n}".encode() for n in range(40)]
    # The first WINDOW went alone, at once; the others waited for them and went together.
    assert batches.sends[: Batches.WINDOW] == [1] * Batches.WINDOW
    assert sum(batches.sends) == 40 and len(batches.sends) <= Batches.WINDOW + 2


async def test_a_failing_command_fails_alone_in_its_batch(client: Redis, redis_prefix: str) -> None:
    await client.set(f"{redis_prefix}text", "x")
    batches = Batches(client)
    results = await asyncio.gather(
        batches.run("GET", f"{redis_prefix}text"),
        batches.run("INCR", f"{redis_prefix}text"),  # not a number
        batches.run("GET", f"{redis_prefix}text"),
        return_exceptions=True,
    )
    assert results[0] == results[2] == b"x"
    assert isinstance(results[1], ResponseError)


async def test_a_script_redis_forgot_is_loaded_again(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    backend = RedisBackend(
        redis_server.url, prefix=redis_prefix, max_connections=4, timeout=1, lease_seconds=15
    )
    assert await backend.take("M", "h1", 1) is True
    assert redis_server.command("SCRIPT", "FLUSH") == b"+OK\r\n"  # as after a restart
    assert await backend.take("M", "h2", 1) is False
    await backend.give_back("M", "h1")
    assert await backend.take("M", "h2", 1) is True
    await backend.close()


async def test_a_connection_redis_closed_is_replaced_once_without_failing_the_command(
    own_redis: RedisServer, redis_prefix: str
) -> None:
    backend = RedisBackend(
        own_redis.url, prefix=redis_prefix, max_connections=4, timeout=1, lease_seconds=15
    )
    await backend.put("responses", "resp_a", b"before", 10, 60)
    own_redis.stop()  # every pooled connection is now dead
    own_redis.start()
    assert await backend.get("responses", "resp_a") is None  # a new, empty Redis answered
    await backend.put("responses", "resp_a", b"after", 10, 60)  # its script loaded again
    assert await backend.get("responses", "resp_a") == b"after"
    await backend.close()
