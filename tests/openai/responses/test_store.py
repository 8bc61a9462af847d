"""The stored-responses store: what goes in comes back whole, through whichever table holds it.

The tables' own bounds (count, age) and their shared backends are tested in
tests/state/ (test_ttl.py, test_tables.py); here, the record and how the app builds the store.
"""

from __future__ import annotations

import pytest

from gpt2giga import config
from gpt2giga.gigachat import wire as giga
from gpt2giga.openai.responses.store import ResponseStore, StoredResponse
from gpt2giga.state.memory import MemoryTable
from tests.conftest import build_app, make_settings


def conversation() -> StoredResponse:
    call = giga.ChatFunctionCall(name="get_weather", arguments={"city": "Paris", "days": [1, 2.5]})
    result = giga.ChatFunctionResult(name="get_weather", result={"temp": -3, "ok": True})
    return StoredResponse(
        body=b'{"id":"resp_1","object":"response"}',
        system=["Be brief.", "Answer in French."],
        messages=[
            giga.ChatMessage(
                role="user",
                content=[
                    giga.ChatContentPart(text="Weather?"),
                    giga.ChatContentPart(files=[giga.ChatContentFile(id="file-1")]),
                ],
            ),
            giga.ChatMessage(
                role="assistant",
                content=[giga.ChatContentPart(function_call=call)],
                tools_state_id="state-1",
            ),
            giga.ChatMessage(role="tool", content=[giga.ChatContentPart(function_result=result)]),
            giga.ChatMessage(role="assistant", content="Il fait froid."),
        ],
        calls={"call_1": "get_weather"},
        thread_id="thread-9",
        thread_system="Be brief.",
    )


async def test_a_whole_conversation_comes_back_equal_and_as_a_copy() -> None:
    store = ResponseStore(MemoryTable(10, 60.0))
    kept = conversation()
    await store.put("resp_1", kept)
    found = await store.get("resp_1")
    assert found == kept
    assert found is not kept  # a continuation may change what it read: the record stays
    found.messages.append(giga.ChatMessage(role="user", content="more"))
    assert await store.get("resp_1") == kept


async def test_delete_says_whether_there_was_something_to_delete() -> None:
    store = ResponseStore(MemoryTable(10, 60.0))
    await store.put("resp_1", conversation())
    assert await store.delete("resp_1") is True
    assert await store.get("resp_1") is None
    assert await store.delete("resp_1") is False


async def test_the_app_builds_the_store_from_settings() -> None:
    app = build_app(GPT2GIGA_RESPONSES_STORE_SIZE="1", GPT2GIGA_RESPONSES_STORE_TTL_SECONDS="5")
    await app.responses.store.put("resp_a", conversation())
    await app.responses.store.put("resp_b", conversation())
    assert await app.responses.store.get("resp_a") is None
    assert await app.responses.store.get("resp_b") == conversation()
    assert app.ctx is not None
    await app.ctx.upstream.aclose()


@pytest.mark.parametrize(
    ("name", "value"),
    [("GPT2GIGA_RESPONSES_STORE_SIZE", "-1"), ("GPT2GIGA_RESPONSES_STORE_TTL_SECONDS", "0")],
)
def test_bad_store_settings_stop_start_up(name: str, value: str) -> None:
    with pytest.raises(config.ConfigError, match=name):
        make_settings(**{name: value})
