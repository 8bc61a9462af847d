"""The bounded map behind every in-process store: count bound, age bound, injected clock."""

from __future__ import annotations

from gpt2giga.state.ttl import TTLMap


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_oldest_goes_first_when_full() -> None:
    store = TTLMap[str, bytes](2, 60.0, Clock())
    for n in range(3):
        store.put(f"resp_{n}", str(n).encode())
    assert [store.get(f"resp_{n}") is not None for n in range(3)] == [False, True, True]
    assert len(store) == 2


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    store = TTLMap[str, bytes](10, 60.0, clock)
    store.put("resp_a", b"{}")
    clock.now = 30.0
    store.put("resp_b", b"{}")
    clock.now = 60.0
    assert store.get("resp_a") is None  # expired exactly at its TTL
    assert store.get("resp_b") is not None
    clock.now = 95.0
    store.put("resp_c", b"{}")  # a put sweeps what has expired
    assert len(store) == 1


def test_size_zero_keeps_nothing() -> None:
    store = TTLMap[str, bytes](0, 60.0, Clock())
    store.put("resp_a", b"{}")
    assert store.get("resp_a") is None and len(store) == 0


def test_delete_is_true_only_for_a_live_entry() -> None:
    clock = Clock()
    store = TTLMap[str, bytes](10, 60.0, clock)
    store.put("resp_a", b"{}")
    store.put("resp_b", b"{}")
    assert store.delete("resp_a") is True
    assert store.delete("resp_a") is False
    clock.now = 61.0
    assert store.delete("resp_b") is False  # expired counts as gone


def test_putting_an_id_again_replaces_it_and_renews_its_place() -> None:
    store = TTLMap[str, bytes](2, 60.0, Clock())
    store.put("resp_a", b"1")
    store.put("resp_b", b"{}")
    store.put("resp_a", b"2")
    store.put("resp_c", b"{}")
    found = store.get("resp_a")
    assert found == b"2"
    assert store.get("resp_b") is None
