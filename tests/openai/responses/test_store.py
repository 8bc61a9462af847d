"""The stored-responses store, built from the settings (its bounds: tests/state/test_ttl.py)."""

from __future__ import annotations

import pytest

from gpt2giga import config
from gpt2giga.openai.responses.store import StoredResponse
from tests.conftest import build_app, make_settings


def stored(body: bytes = b"{}") -> StoredResponse:
    return StoredResponse(body=body)


async def test_the_app_builds_the_store_from_settings() -> None:
    app = build_app(GPT2GIGA_RESPONSES_STORE_SIZE="1", GPT2GIGA_RESPONSES_STORE_TTL_SECONDS="5")
    app.responses.store.put("resp_a", stored())
    app.responses.store.put("resp_b", stored())
    assert len(app.responses.store) == 1
    assert app.ctx is not None
    await app.ctx.upstream.aclose()


@pytest.mark.parametrize(
    ("name", "value"),
    [("GPT2GIGA_RESPONSES_STORE_SIZE", "-1"), ("GPT2GIGA_RESPONSES_STORE_TTL_SECONDS", "0")],
)
def test_bad_store_settings_stop_start_up(name: str, value: str) -> None:
    with pytest.raises(config.ConfigError, match=name):
        make_settings(**{name: value})
