"""Property: GigaChat's other answers, as the SDK accepts them, reach every dialect's client.

Models, embeddings, token counts, an uploaded file, the OAuth token and error
bodies, generated from the gigachat SDK's models (or, for error bodies, any
bytes at all: the SDK keeps them raw), served to the whole app by a stand-in
GigaChat, and read back by the official client SDKs' own types. Only the
gateway's own answers may come back: a 2xx the client parses, or an error in
the client's own shape, never a 500.
"""

from __future__ import annotations

import array
import asyncio
import json
from base64 import b64decode
from collections.abc import Callable
from typing import Any

import anthropic.types as ant_types
import httpx
import openai.types as oai_types
from gigachat.models import auth as sdk_auth
from gigachat.models import embeddings as sdk_embeddings
from gigachat.models import files as sdk_files
from gigachat.models import models as sdk_models
from gigachat.models import tools as sdk_tools
from google.genai import types as gtypes
from hypothesis import given
from hypothesis import strategies as st

from gpt2giga import errors
from gpt2giga.app import App
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.upstream import build_pool
from tests.conftest import make_settings
from tests.gigachat.conformance import documents as docs

Handler = Callable[[httpx.Request], httpx.Response]
# Any token the SDK's models take, and more often one a header can carry (as GigaChat's are).
USABLE = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1)
TOKEN = st.one_of(
    docs.document(sdk_auth.AccessToken),
    docs.document(sdk_auth.Token),
    st.fixed_dictionaries({"access_token": USABLE, "expires_at": docs.COUNT}),
    st.fixed_dictionaries({"tok": USABLE, "exp": docs.COUNT}),
)
MODELS = docs.document(sdk_models.Models).flatmap(
    lambda doc: st.lists(
        docs.words("chat", "embedder"), min_size=len(doc["data"]), max_size=len(doc["data"])
    ).map(
        lambda kinds: {
            **doc,
            "data": [{**m, "type": k} for m, k in zip(doc["data"], kinds, strict=True)],
        }
    )
) | docs.document(sdk_models.Models)
EMBEDDINGS = docs.document(sdk_embeddings.Embeddings)
COUNTS = st.lists(docs.document(sdk_tools.TokensCount), max_size=3)
FILE = docs.document(sdk_files.UploadedFile)


def valid(model: Any, doc: Any) -> bytes:
    body = json.dumps(doc).encode()
    model.model_validate_json(body)
    return body


def call(
    token: dict[str, Any], answers: dict[str, tuple[int, bytes]], method: str, path: str, **kw: Any
) -> httpx.Response:
    """One request to the whole app, whose GigaChat answers `answers[path suffix]`."""

    def gigachat(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(("/oauth", "/token")):
            return httpx.Response(200, json=token)
        for suffix, (status, body) in answers.items():
            if request.url.path.endswith(suffix):
                return httpx.Response(status, content=body)
        return httpx.Response(404, json={"status": 404, "message": "no such route"})

    async def run() -> httpx.Response:
        settings = make_settings()
        pool = build_pool(settings.gigachat, httpx.MockTransport(gigachat))
        app = App(settings, GigaChatClient(settings.gigachat, pool))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            return await client.request(method, path, **kw)

    return asyncio.run(run())


def ok_or_error(r: httpx.Response, error: Callable[[Any], Any]) -> Any:
    """The JSON body of a 2xx; an error answer must be in the client's own error shape."""
    assert r.status_code != 500, r.text
    if r.status_code >= 400:
        error(r.json())
        return None
    return r.json()


def openai_error(body: Any) -> None:
    assert isinstance(body["error"]["message"], str) and isinstance(body["error"]["type"], str)


def anthropic_error(body: Any) -> None:
    if body["error"]["type"] == "request_too_large":  # Anthropic's 413, not in the SDK's union
        assert body["type"] == "error" and isinstance(body["error"]["message"], str)
        return
    ant_types.ErrorResponse.model_validate(body)


def gemini_error(body: Any) -> None:
    error = body["error"]
    assert isinstance(error["code"], int) and isinstance(error["message"], str)
    assert isinstance(error["status"], str)


ANTHROPIC = {"anthropic-version": "2023-06-01"}


@given(doc=MODELS, token=TOKEN)
def test_models(doc: dict[str, Any], token: dict[str, Any]) -> None:
    answers = {"/models": (200, valid(sdk_models.Models, doc))}
    ids = [m["id"] for m in doc["data"]]
    listed = ok_or_error(call(token, answers, "GET", "/v1/models"), openai_error)
    if listed is not None:
        assert [oai_types.Model.model_validate(m).id for m in listed["data"]] == ids
    paged = ok_or_error(
        call(token, answers, "GET", "/v1/models", headers=ANTHROPIC), anthropic_error
    )
    if paged is not None:
        chat = [m["id"] for m in doc["data"] if m.get("type") != "embedder"]
        assert [ant_types.ModelInfo.model_validate(m).id for m in paged["data"]] == chat[:20]
    found = ok_or_error(call(token, answers, "GET", "/v1beta/models"), gemini_error)
    if found is not None:  # google-genai converts the REST names itself: read them as it does
        assert [m["name"] for m in found["models"]] == [f"models/{i}" for i in ids]


@given(doc=EMBEDDINGS, token=TOKEN, base64=st.booleans())
def test_embeddings(doc: dict[str, Any], token: dict[str, Any], base64: bool) -> None:
    answers = {"/embeddings": (200, valid(sdk_embeddings.Embeddings, doc))}
    body = {
        "model": "Embeddings",
        "input": ["a", "b"],
        "encoding_format": "base64" if base64 else "float",
    }
    made = ok_or_error(call(token, answers, "POST", "/v1/embeddings", json=body), openai_error)
    if made is not None:
        if base64:  # as the openai SDK reads what it asked for by default: float32 LE, base64
            for e in made["data"]:
                e["embedding"] = array.array("f", b64decode(e["embedding"])).tolist()
        out = oai_types.CreateEmbeddingResponse.model_validate(made)
        assert [e.index for e in out.data] == [e["index"] for e in doc["data"]]
    one = {"content": {"parts": [{"text": "a"}]}}
    path = "/v1beta/models/embedding-001:embedContent"
    single = ok_or_error(call(token, answers, "POST", path, json=one), gemini_error)
    if single is not None:  # the REST shape, which google-genai converts to its own types
        assert all(isinstance(v, float) for v in single["embedding"]["values"])
    batch = {"requests": [one, one]}
    path = "/v1beta/models/embedding-001:batchEmbedContents"
    many = ok_or_error(call(token, answers, "POST", path, json=batch), gemini_error)
    if many is not None:
        assert all(isinstance(v, float) for e in many["embeddings"] for v in e["values"])


@given(doc=COUNTS, token=TOKEN)
def test_token_counts(doc: list[dict[str, Any]], token: dict[str, Any]) -> None:
    for item in doc:
        valid(sdk_tools.TokensCount, item)
    answers = {"/tokens/count": (200, json.dumps(doc).encode())}
    body = {"model": "GigaChat", "messages": [{"role": "user", "content": "one two"}]}
    r = call(token, answers, "POST", "/v1/messages/count_tokens", json=body, headers=ANTHROPIC)
    counted = ok_or_error(r, anthropic_error)
    if counted is not None:
        total = ant_types.MessageTokensCount.model_validate(counted).input_tokens
        assert total == sum(item["tokens"] for item in doc)
    gemini = {"contents": [{"role": "user", "parts": [{"text": "one two"}]}]}
    r = call(token, answers, "POST", "/v1beta/models/GigaChat:countTokens", json=gemini)
    found = ok_or_error(r, gemini_error)
    if found is not None:
        assert gtypes.CountTokensResponse.model_validate(found).total_tokens == sum(
            item["tokens"] for item in doc
        )


@given(doc=FILE, token=TOKEN)
def test_an_uploaded_file_is_read(doc: dict[str, Any], token: dict[str, Any]) -> None:
    body = valid(sdk_files.UploadedFile, doc)

    async def run() -> str | errors.GatewayError:
        settings = make_settings()
        pool = build_pool(
            settings.gigachat,
            httpx.MockTransport(
                lambda r: (
                    httpx.Response(200, json=token)
                    if r.url.path.endswith(("/oauth", "/token"))
                    else httpx.Response(200, content=body)
                )
            ),
        )
        client = GigaChatClient(settings.gigachat, pool)
        try:
            return (await client.upload_file("a.png", b"x", "image/png")).id
        except errors.GatewayError as err:  # the token: only the gateway's own errors
            return err

    uploaded = asyncio.run(run())
    assert uploaded == doc["id"] or isinstance(uploaded, errors.UpstreamError)


ERROR_BODY = st.one_of(
    st.binary(max_size=40),
    docs.JSON.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={"status": docs.JSON, "message": docs.JSON}).map(
        lambda v: json.dumps(v).encode()
    ),
)


@given(status=st.integers(400, 599), body=ERROR_BODY, token=TOKEN)
def test_error_bodies_keep_their_status_and_the_clients_shape(
    status: int, body: bytes, token: dict[str, Any]
) -> None:
    answers = {"/models": (status, body)}
    for headers, shape in [({}, openai_error), (ANTHROPIC, anthropic_error)]:
        r = call(token, answers, "GET", "/v1/models", headers=headers)
        assert r.status_code >= 400
        ok_or_error(r, shape)
