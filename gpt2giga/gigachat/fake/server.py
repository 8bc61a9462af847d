"""A fake GigaChat: the real wire contract with deterministic answers, for demo, tests, benchmarks.

This module is the server (routes, auth, threads, files, the SSE stream);
what it answers is `model.py`, its ASGI edge (bodies, error bodies,
multipart forms) `asgi.py`.

It serves OAuth (`/api/v2/oauth`), user/password `/token`, both chat contracts
(`/api/v1/chat/completions` with `data:` lines and `[DONE]`,
`/api/v2/chat/completions` with named events), models, embeddings,
tokens/count and files, with GigaChat's error bodies. Answers follow from the
request alone: text echoes the last user message, offered functions get
called with schema-valid arguments, a requested JSON schema gets a valid
instance. A v2 request with `storage` keeps its thread (the messages sent and
the answer) and answers with its `thread_id`; `storage.thread_id` continues it.
Files referenced by a chat request must have been uploaded, and the answer
names them (`[files: <id>, …]`) so tests can follow the round trip.
Model names `error-<status>` and `stream-break` inject failures.
With `keep_received=N` the last N chat bodies are kept by the caller's
`X-Request-ID` and shown at `GET /api/_fake/received/{id}`: what GigaChat got,
for tests that drive the fake from another process.
With `validate=True` every chat request is checked against the gigachat SDK's
own pydantic models first (imported only then: it is slow and large, and a
test dependency, not the gateway's; demo mode never validates).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.util
import re
import secrets
import time
import uuid

import msgspec

from gpt2giga.gigachat import contract, files
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.fake.asgi import (
    FakeError,
    Receive,
    Scope,
    Send,
    decoded,
    lifespan,
    multipart,
    read_body,
    send_error,
    send_json,
)
from gpt2giga.gigachat.fake.frames import (
    FULL,
    frames_v1,
    frames_v2,
    sdk_check,
    shape_for,
    thread_message,
    v1_answer,
    v2_answer,
)
from gpt2giga.gigachat.fake.model import answer, state_id, v2_from_v1, vector, words

DEMO_CREDENTIALS = base64.b64encode(b"demo-client:demo-secret").decode()
MODELS: tuple[tuple[str, str], ...] = (
    ("GigaChat", "chat"),
    ("GigaChat-2", "chat"),
    ("GigaChat-2-Pro", "chat"),
    ("GigaChat-2-Max", "chat"),
    ("Embeddings", "embedder"),
    ("EmbeddingsGigaR", "embedder"),
)
CHAT_PATHS = {"/api/v1/chat/completions": "v1", "/api/v2/chat/completions": "v2"}
RECEIVED = "/api/_fake/received/"
_encode = msgspec.json.Encoder().encode
_decode_v1 = msgspec.json.Decoder(giga1.ChatV1).decode
_decode_v2 = msgspec.json.Decoder(giga.ChatCompletionRequest).decode
_decode_embeddings = msgspec.json.Decoder(giga.EmbeddingsRequest).decode
_decode_counts = msgspec.json.Decoder(giga.TokensCountRequest).decode


class FakeConfig(msgspec.Struct, kw_only=True):
    credentials: str = DEMO_CREDENTIALS
    user: str = "demo"
    password: str = "demo"
    static_token: str | None = None
    token_ttl_s: int = 1800
    ttfb_ms: float = 0.0
    chunk_ms: float = 0.0
    validate: bool = False
    keep_received: int = 0
    # Vary each answer's shape within what the SDK allows (`frames.Shape`), by the
    # request's bytes and this seed; False sends every optional field, always alike.
    vary: bool = True
    seed: int = 0


class FakeGigaChat:
    """The ASGI app. `requests` keeps every decoded chat request for tests to inspect."""

    def __init__(self, config: FakeConfig | None = None) -> None:
        self.config = config or FakeConfig()
        self.tokens: dict[str, float] = {}
        self.requests: list[tuple[str, bytes]] = []
        self.received: dict[str, tuple[str, bytes]] = {}
        self.files: dict[str, giga.UploadedFile] = {}
        self.threads: dict[str, list[giga.ChatMessage]] = {}
        self.auth_calls = 0
        if self.config.validate and importlib.util.find_spec("gigachat") is None:
            raise RuntimeError(
                "Validating requests needs the gigachat SDK (a test dependency): "
                "pip install 'gigachat>=0.2.3,<0.3'"
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        body = await read_body(receive)
        try:
            await self._route(method, path, scope, body, send)
        except FakeError as exc:
            await send_error(send, exc)

    async def _route(self, method: str, path: str, scope: Scope, body: bytes, send: Send) -> None:
        if path.endswith("/oauth") and method == "POST":
            return await send_json(send, self._oauth(scope, body))
        if path == "/api/v1/token" and method == "POST":
            return await send_json(send, self._password_token(scope))
        if path.startswith(RECEIVED) and method == "GET":
            return await self._shown(path.removeprefix(RECEIVED), send)
        self._check_token(scope)
        if path in CHAT_PATHS and method == "POST":
            contract_ = CHAT_PATHS[path]
            self._keep(scope, contract_, body)
            return await self._chat(body, contract_, send)
        if path == "/api/v1/models" and method == "GET":
            return await send_json(
                send, giga.Models(data=[_model(m, t) for m, t in MODELS], object="list")
            )
        if path.startswith("/api/v1/models/") and method == "GET":
            name = path.removeprefix("/api/v1/models/")
            found = [_model(m, t) for m, t in MODELS if m == name]
            if not found:
                raise FakeError(404, "No such model")
            return await send_json(send, found[0])
        if path == "/api/v1/embeddings" and method == "POST":
            return await send_json(send, self._embeddings(body))
        if path == "/api/v1/tokens/count" and method == "POST":
            req = decoded(_decode_counts, body)
            counts = [
                giga.TokensCount(tokens=words(t) + 1, characters=len(t), object="tokens")
                for t in req.input
            ]
            return await send_json(send, counts)
        if path == "/api/v1/files" and method == "POST":
            return await send_json(send, self._upload(scope, body))
        raise FakeError(404, "Not found")

    def _keep(self, scope: Scope, contract_: str, body: bytes) -> None:
        if not self.config.keep_received:
            return
        request_id = dict(scope["headers"]).get(b"x-request-id", b"").decode()
        self.received.pop(request_id, None)
        self.received[request_id] = (contract_, body)
        while len(self.received) > self.config.keep_received:
            del self.received[next(iter(self.received))]

    async def _shown(self, request_id: str, send: Send) -> None:
        found = self.received.get(request_id)
        if found is None:
            raise FakeError(404, "No chat request with that X-Request-ID was kept")
        contract_, body = found
        await send_json(send, {"contract": contract_, "body": msgspec.Raw(body)})

    # --- auth ------------------------------------------------------------------

    def _issue(self) -> str:
        token = "fake-" + secrets.token_urlsafe(24)
        self.tokens[token] = time.time() + self.config.token_ttl_s
        return token

    def _oauth(self, scope: Scope, body: bytes) -> giga.AccessToken:
        self.auth_calls += 1
        headers = dict(scope["headers"])
        if headers.get(b"authorization", b"") != f"Basic {self.config.credentials}".encode():
            raise FakeError(401, "Can't decode 'Authorization' header")
        try:
            uuid.UUID(headers.get(b"rquid", b"").decode())
        except ValueError:
            raise FakeError(400, "Invalid RqUID") from None
        if not body.startswith(b"scope=GIGACHAT_API_"):
            raise FakeError(400, "scope is not valid")
        token = self._issue()
        return giga.AccessToken(access_token=token, expires_at=int(self.tokens[token] * 1000))

    def _password_token(self, scope: Scope) -> giga.AccessToken:
        self.auth_calls += 1
        expected = base64.b64encode(f"{self.config.user}:{self.config.password}".encode()).decode()
        if dict(scope["headers"]).get(b"authorization", b"") != f"Basic {expected}".encode():
            raise FakeError(401, "Unauthorized")
        token = self._issue()
        return giga.AccessToken(tok=token, exp=int(self.tokens[token] * 1000))

    def _check_token(self, scope: Scope) -> None:
        value = dict(scope["headers"]).get(b"authorization", b"").decode()
        token = value.removeprefix("Bearer ")
        if token and token == self.config.static_token:
            return
        expires = self.tokens.get(token)
        if expires is None or expires < time.time():
            raise FakeError(401, "Token has expired")

    # --- chat ------------------------------------------------------------------

    def _decode_chat(self, body: bytes, contract_: str) -> tuple[giga.ChatCompletionRequest, bool]:
        if self.config.validate:
            self._sdk_validate(body, contract_)
        if contract_ == "v1":
            v1 = decoded(_decode_v1, body)
            return v2_from_v1(v1), bool(v1.stream)
        req = decoded(_decode_v2, body)
        return req, bool(req.stream)

    async def _chat(self, body: bytes, contract_: str, send: Send) -> None:
        self.requests.append((contract_, body))
        req, stream = self._decode_chat(body, contract_)
        self._check_files(req)
        model = req.model or "GigaChat"
        code = model.removeprefix("error-")
        if model.startswith("error-") and code.isdigit() and 400 <= int(code) < 600:
            status = int(code)
            raise FakeError(
                status, f"Injected error {status}", retry_after=1 if status == 429 else None
            )
        if model != "stream-break" and model not in {m for m, t in MODELS if t == "chat"}:
            raise FakeError(404, "No such model")
        req, thread = self._thread(req)
        ans = answer(req)
        state = state_id(body)
        if thread is not None:
            # The thread keeps what the model read and what it said, not its reasoning.
            self.threads[thread] = [*req.messages, thread_message(ans, state)]
        shape = shape_for(body, self.config.seed) if self.config.vary else FULL
        if self.config.ttfb_ms:
            await asyncio.sleep(self.config.ttfb_ms / 1000)
        if not stream:
            whole = (
                v1_answer(ans, model, state, shape)
                if contract_ == "v1"
                else v2_answer(ans, model, state, thread, shape)
            )
            if self.config.validate:
                sdk_check([_encode(whole)], contract_, stream=False)
            return await send_json(send, whole)
        frames = (
            frames_v1(ans, model, state, shape)
            if contract_ == "v1"
            else frames_v2(ans, model, state, thread, shape)
        )
        if self.config.validate:
            sdk_check(frames, contract_, stream=True)
        await self._stream(send, frames, broken=model == "stream-break")

    async def _stream(self, send: Send, frames: list[bytes], broken: bool) -> None:
        """SSE frames, `chunk_ms` apart; `broken` drops the connection after the first."""
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for n, frame in enumerate(frames):
            if n and self.config.chunk_ms:
                await asyncio.sleep(self.config.chunk_ms / 1000)
            if broken and n == 1:
                raise RuntimeError("fake GigaChat drops the connection mid-stream")
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _check_files(self, req: giga.ChatCompletionRequest) -> None:
        for message in req.messages:
            for file_id in contract.files_of(message):
                if file_id not in self.files:
                    raise FakeError(400, f"File {file_id} not found")

    def _thread(
        self, req: giga.ChatCompletionRequest
    ) -> tuple[giga.ChatCompletionRequest, str | None]:
        """The request with its thread's stored messages first, and the thread's id."""
        if req.storage is None:
            return req, None
        thread = req.storage.thread_id
        if thread is None:
            return req, str(uuid.uuid4())
        past = self.threads.get(thread)
        if past is None:
            raise FakeError(404, "Thread not found")
        return msgspec.structs.replace(req, messages=[*past, *req.messages]), thread

    def _sdk_validate(self, body: bytes, contract_: str) -> None:
        from gigachat.models.chat import Chat
        from gigachat.models.chat_completions import ChatCompletionRequest
        from pydantic import ValidationError

        model = Chat if contract_ == "v1" else ChatCompletionRequest
        try:
            model.model_validate_json(body)
        except ValidationError as exc:
            raise FakeError(422, f"gigachat SDK rejects the request: {exc}") from None

    # --- other endpoints -----------------------------------------------------------

    def _embeddings(self, body: bytes) -> giga.Embeddings:
        req = decoded(_decode_embeddings, body)
        if req.model not in {m for m, t in MODELS if t == "embedder"}:
            raise FakeError(404, "No such model")
        return giga.Embeddings(
            model=req.model,
            data=[
                giga.Embedding(
                    embedding=vector(text),
                    index=i,
                    usage=giga.EmbeddingUsage(prompt_tokens=words(text) + 1),
                    object="embedding",
                )
                for i, text in enumerate(req.input)
            ],
            object="list",
        )

    def _upload(self, scope: Scope, body: bytes) -> giga.UploadedFile:
        headers = dict(scope["headers"])
        ctype = headers.get(b"content-type", b"").decode()
        match = re.search(r"boundary=([^;]+)", ctype)
        if not ctype.startswith("multipart/form-data") or match is None:
            raise FakeError(400, "Expected multipart/form-data")
        fields = multipart(body, match.group(1).strip('"').encode())
        if "file" not in fields:
            raise FakeError(400, "No file in the form")
        filename, data, mime = fields["file"]
        if mime not in files.TYPES:
            raise FakeError(400, f"Unsupported file type {mime}")
        purpose = fields.get("purpose", (None, b"general", ""))[1].decode()
        file_id = str(uuid.UUID(hashlib.md5(data).hexdigest()))
        uploaded = giga.UploadedFile(
            id=file_id,
            object="file",
            bytes=len(data),
            created_at=int(time.time()),
            filename=filename or "file",
            purpose=purpose,
        )
        self.files[file_id] = uploaded
        return uploaded


def _model(name: str, kind: str) -> giga.Model:
    return giga.Model(id=name, object="model", owned_by="salutedevices", type=kind)


def app_from_env() -> FakeGigaChat:
    """Granian factory target: the fake configured from `FAKE_GIGACHAT_*` variables."""
    import os

    return FakeGigaChat(
        FakeConfig(
            ttfb_ms=float(os.environ.get("FAKE_GIGACHAT_TTFB_MS", "0")),
            chunk_ms=float(os.environ.get("FAKE_GIGACHAT_CHUNK_MS", "0")),
            validate=os.environ.get("FAKE_GIGACHAT_VALIDATE", "") == "1",
            static_token=os.environ.get("FAKE_GIGACHAT_STATIC_TOKEN") or None,
            keep_received=int(os.environ.get("FAKE_GIGACHAT_KEEP_RECEIVED", "0")),
            vary=os.environ.get("FAKE_GIGACHAT_VARY", "1") != "0",
            seed=int(os.environ.get("FAKE_GIGACHAT_SEED", "0")),
        )
    )
