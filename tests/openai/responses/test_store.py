"""The stored-responses store, built from the settings (its bounds: tests/state/test_ttl.py)."""

from __future__ import annotations

import pytest

from gpt2giga import config
from gpt2giga.context import Context
from gpt2giga.openai.responses.store import StoredResponse
from tests.conftest import make_client, make_settings


def stored(body: bytes = b"{}") -> StoredResponse:
    return StoredResponse(body=body)


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
