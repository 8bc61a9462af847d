"""The Redis backend's own mechanics, against a real Redis: batching and forgotten scripts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from gpt2giga.state.redis import Batches, RedisBackend
from tests.redis_server import RedisServer


class Counting:
    """The client Batches is given, counting how it reaches Redis."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self.alone = 0
        self.pipelines: list[int] = []

    async def execute_command(self, *args: Any) -> Any:
        self.alone += 1
        return await self._client.execute_command(*args)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool) -> Any:
        pipe = self._client.pipeline(transaction=transaction)
        pipelines = self.pipelines
        execute = pipe.execute

        async def counted(raise_on_error: bool = True) -> Any:
            pipelines.append(len(pipe.command_stack))
            return await execute(raise_on_error=raise_on_error)

        pipe.execute = counted  # type: ignore[method-assign]
        return pipe


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
    counting = Counting(client)
    batches = Batches(counting)  # type: ignore[arg-type]
    answers = await asyncio.gather(*(batches.run("GET", f"{redis_prefix}{n}") for n in range(40)))
    assert answers == [f"value {n}".encode() for n in range(40)]
    assert counting.alone == Batches.WINDOW  # the first went alone; the others waited...
    assert sum(counting.pipelines) == 40 - Batches.WINDOW  # ...and went together
    assert len(counting.pipelines) <= 2


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
