"""The stored-responses store: bounded by count and by age, with an injected clock."""

from __future__ import annotations

import pytest

from gpt2giga import config
from gpt2giga.context import Context
from gpt2giga.openai.responses.store import ResponseStore, StoredResponse
from tests.conftest import make_client, make_settings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def stored(body: bytes = b"{}") -> StoredResponse:
    return StoredResponse(body=body)


def test_oldest_goes_first_when_full() -> None:
    store = ResponseStore(2, 60.0, Clock())
    for n in range(3):
        store.put(f"resp_{n}", stored(str(n).encode()))
    assert [store.get(f"resp_{n}") is not None for n in range(3)] == [False, True, True]
    assert len(store) == 2


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    store = ResponseStore(10, 60.0, clock)
    store.put("resp_a", stored())
    clock.now = 30.0
    store.put("resp_b", stored())
    clock.now = 60.0
    assert store.get("resp_a") is None  # expired exactly at its TTL
    assert store.get("resp_b") is not None
    clock.now = 95.0
    store.put("resp_c", stored())  # a put sweeps what has expired
    assert len(store) == 1


def test_size_zero_keeps_nothing() -> None:
    store = ResponseStore(0, 60.0, Clock())
    store.put("resp_a", stored())
    assert store.get("resp_a") is None and len(store) == 0


def test_delete_is_true_only_for_a_live_entry() -> None:
    clock = Clock()
    store = ResponseStore(10, 60.0, clock)
    store.put("resp_a", stored())
    store.put("resp_b", stored())
    assert store.delete("resp_a") is True
    assert store.delete("resp_a") is False
    clock.now = 61.0
    assert store.delete("resp_b") is False  # expired counts as gone


def test_putting_an_id_again_replaces_it_and_renews_its_place() -> None:
    store = ResponseStore(2, 60.0, Clock())
    store.put("resp_a", stored(b"1"))
    store.put("resp_b", stored())
    store.put("resp_a", stored(b"2"))
    store.put("resp_c", stored())
    found = store.get("resp_a")
    assert found is not None and found.body == b"2"
    assert store.get("resp_b") is None


async def test_context_builds_the_store_from_settings() -> None:
    settings = make_settings(
        GPT2GIGA_RESPONSES_STORE_SIZE="1", GPT2GIGA_RESPONSES_STORE_TTL_SECONDS="5"
    )
    ctx = Context(settings, make_client(settings))
    ctx.responses.put("resp_a", stored())
    ctx.responses.put("resp_b", stored())
    assert len(ctx.responses) == 1
    await ctx.upstream.aclose()


@pytest.mark.parametrize(
    ("name", "value"),
    [("GPT2GIGA_RESPONSES_STORE_SIZE", "-1"), ("GPT2GIGA_RESPONSES_STORE_TTL_SECONDS", "0")],
)
def test_bad_store_settings_stop_start_up(name: str, value: str) -> None:
    with pytest.raises(config.ConfigError, match=name):
        make_settings(**{name: value})
