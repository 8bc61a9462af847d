"""Which store the settings open, the URLs it takes, and what it never says about them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gpt2giga import config, errors
from gpt2giga.state.local import SqliteBackend
from gpt2giga.state.store import SQLITE_FILE, Health, MemoryStore, SharedStore, open_store
from tests.conftest import make_settings
from tests.redis_server import RedisServer


async def test_the_settings_choose_memory_sqlite_or_redis(
    tmp_path: Path, redis_server: RedisServer, redis_prefix: str
) -> None:
    assert isinstance(open_store(make_settings()), MemoryStore)
    local = open_store(make_settings(GPT2GIGA_STATE_DIR=str(tmp_path / "run")))
    shared = open_store(
        make_settings(
            GPT2GIGA_STATE_DIR=str(tmp_path / "ignored"),  # Redis wins: it reaches replicas too
            GPT2GIGA_REDIS_URL=redis_server.url,
            GPT2GIGA_REDIS_KEY_PREFIX=redis_prefix,
        )
    )
    assert (local.kind, shared.kind) == ("sqlite", "redis")
    table = local.table("responses", 10, 60)
    await table.put("resp_a", b"a")
    assert (tmp_path / "run" / SQLITE_FILE).is_file()
    await shared.table("responses", 10, 60).put("resp_a", b"a")
    assert redis_server.command("GET", f"{redis_prefix}t:responses:resp_a") == b"$1\r\na\r\n"
    assert (await local.ready(), await shared.ready()) == (None, None)
    await local.close()
    await shared.close()
    assert not (tmp_path / "ignored").exists()


@pytest.mark.parametrize("url", ["unix", "rediss"])
async def test_unix_sockets_and_tls_with_a_password_are_urls_like_any_other(
    url: str, request: pytest.FixtureRequest, redis_prefix: str
) -> None:
    if url == "unix":
        server: RedisServer = request.getfixturevalue("redis_server")
        address = server.unix_url
    else:
        server = request.getfixturevalue("tls_redis")
        address = server.url
        assert address.startswith("rediss://:s3cret-redis-pass@")
    store = open_store(
        make_settings(GPT2GIGA_REDIS_URL=address, GPT2GIGA_REDIS_KEY_PREFIX=redis_prefix)
    )
    table = store.table("responses", 10, 60)
    await table.put("resp_a", b"over " + url.encode())
    assert await table.get("resp_a") == b"over " + url.encode()
    assert server.command("EXISTS", f"{redis_prefix}t:responses:resp_a") == b":1\r\n"
    await store.close()


async def test_a_store_that_fails_is_named_but_its_url_and_password_never_are(
    tls_redis: RedisServer, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "gpt2giga")
    store = open_store(
        make_settings(
            GPT2GIGA_REDIS_URL=tls_redis.url,
            GPT2GIGA_REDIS_KEY_PREFIX=redis_prefix,
            GPT2GIGA_REDIS_TIMEOUT_SECONDS="0.5",
        )
    )
    tls_redis.stop()
    with pytest.raises(errors.StateUnavailable) as caught:
        await store.table("responses", 10, 60).get("resp_a")
    said = caught.value.message + caplog.text + str(await store.ready())
    assert caught.value.message == (
        "The gateway's shared state store (Redis) is unavailable; retry shortly"
    )
    for secret in ("s3cret-redis-pass", str(tls_redis.port), "rediss://", "127.0.0.1"):
        assert secret not in said
    await store.close()


async def test_a_store_that_is_down_refuses_at_once_without_asking_it(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "state.sqlite3", lease_seconds=15)
    health = Health(backend, None)
    health.failed(OSError("disk gone"))
    asked: list[str] = []

    async def op() -> str:
        asked.append("op")
        return "never"

    with pytest.raises(errors.StateUnavailable, match=r"\(SQLite\)"):
        await health.run(op)
    assert asked == []
    await health.close()
    await backend.close()


async def test_closing_a_shared_store_gives_back_what_its_limits_hold(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    settings = make_settings(
        GPT2GIGA_REDIS_URL=redis_server.url, GPT2GIGA_REDIS_KEY_PREFIX=redis_prefix
    )
    store = open_store(settings)
    assert isinstance(store, SharedStore)
    limits = store.limits({"M": 1}, None, None, None)
    (await limits.acquire("M"))()  # the lease goes back in the background...
    await store.close()  # ...and closing waits for it
    assert redis_server.command("ZCARD", f"{redis_prefix}limit:M:held") == b":0\r\n"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("GPT2GIGA_REDIS_URL", "http://user:pw@host:6379", "redis://, rediss:// or unix://"),
        ("GPT2GIGA_REDIS_TIMEOUT_SECONDS", "0", "positive number"),
        ("GPT2GIGA_REDIS_MAX_CONNECTIONS", "0", "at least 1"),
        ("GPT2GIGA_MODEL_MAX_CONNECTIONS_LEASE_SECONDS", "31", "1 to 30 seconds"),
        ("GPT2GIGA_MODEL_MAX_CONNECTIONS_LEASE_SECONDS", "0.5", "1 to 30 seconds"),
    ],
)
def test_bad_state_settings_stop_start_up_naming_the_variable(
    name: str, value: str, says: str
) -> None:
    with pytest.raises(config.ConfigError) as caught:
        make_settings(**{name: value})
    assert str(caught.value).startswith(name) and says in str(caught.value)
    assert "pw@" not in str(caught.value)  # the URL may hold a password: never echoed


def test_the_redis_url_is_a_secret_kept_off_command_lines_and_reprs() -> None:
    settings = make_settings(GPT2GIGA_REDIS_URL="redis://:pw-123@redis:6379/0")
    assert "pw-123" not in repr(settings)
    assert config.is_secret("proxy", "redis_url")
