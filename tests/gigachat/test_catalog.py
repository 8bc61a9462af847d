"""The model catalog: GigaChat's list cached for a minute, and a model found itself or by alias."""

from __future__ import annotations

from pathlib import Path

import httpx
import respx

from gpt2giga.gigachat.catalog import ModelCatalog
from tests.conftest import BASE, make_client, make_settings

MODELS = (Path(__file__).parents[1] / "fixtures" / "gigachat" / "models.json").read_bytes()


def catalog(now: list[float], **env: str) -> ModelCatalog:
    settings = make_settings(**env)
    return ModelCatalog(make_client(settings), settings.resolve_model, clock=lambda: now[0])


async def test_a_model_is_found_by_its_name_or_its_alias_from_one_cached_list(
    upstream: respx.MockRouter,
) -> None:
    listed = upstream.get(BASE + "/models").mock(return_value=httpx.Response(200, content=MODELS))
    now = [0.0]
    models = catalog(now, GPT2GIGA_MODEL_ALIASES='{"gpt-*": "GigaChat-2-Max"}')
    direct = await models.find("Embeddings")
    alias = await models.find("gpt-4o")
    missing = await models.find("nope")
    assert (direct and direct.id, alias and alias.id, missing) == (
        "Embeddings",
        "GigaChat-2-Max",
        None,
    )
    assert listed.call_count == 1
    now[0] = 60.0  # the list is a minute old: fetched again
    assert await models.find("GigaChat") is not None
    assert listed.call_count == 2
