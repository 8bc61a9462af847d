"""GigaChat's model list, cached: one fetch a minute at most, one fetch at a time.

It owns the cache only; the alias fallback that handlers apply to a model id
the list lacks is a rule of each route, not of the list.
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
    """GigaChat's model list, fetched once a minute at most, one fetch at a time."""

    def __init__(
        self,
        client: GigaChatClient,
        ttl: float = MODELS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
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
        models = await self.list(auth)
        return next((m for m in models.data if m.id == model_id), None)
