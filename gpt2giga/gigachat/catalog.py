"""GigaChat's model list, cached: one fetch a minute at most, one fetch at a time.

It also owns the lookup every dialect's model route makes: a model id the
list lacks is looked up again under the name the gateway would send it as
(`GPT2GIGA_MODEL_ALIASES`, `GPT2GIGA_PASS_MODEL`), so `GET /models/gpt-4o`
answers for the GigaChat model behind that alias.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.auth import TokenSource
from gpt2giga.gigachat.client import GigaChatClient

MODELS_TTL_S = 60.0


class ModelCatalog:
    """GigaChat's model list, fetched once a minute at most, one fetch at a time.

    `resolve` maps a client's model name to the GigaChat model the gateway sends
    (`Settings.resolve_model`).
    """

    def __init__(
        self,
        client: GigaChatClient,
        resolve: Callable[[str], str],
        ttl: float = MODELS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._resolve = resolve
        self._ttl = ttl
        self._clock = clock
        self._models: giga.Models | None = None
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def list(self, auth: TokenSource | None = None) -> giga.Models:
        if auth is not None:
            return await self._client.models(auth)
        if self._models is not None and self._clock() - self._fetched < self._ttl:
            return self._models
        async with self._lock:
            if self._models is None or self._clock() - self._fetched >= self._ttl:
                self._models = await self._client.models()
                self._fetched = self._clock()
        return self._models

    async def find(self, model_id: str, auth: TokenSource | None = None) -> giga.Model | None:
        """The model `model_id` names, itself or through its alias; None when neither is listed."""
        models = (await self.list(auth)).data
        found = next((m for m in models if m.id == model_id), None)
        target = self._resolve(model_id)
        if found is None and target != model_id:
            found = next((m for m in models if m.id == target), None)
        return found
