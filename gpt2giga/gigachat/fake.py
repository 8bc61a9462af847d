"""A fake GigaChat: the real wire contract with deterministic answers, for demo, tests, benchmarks.

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
With `validate=True` every chat request is checked against the gigachat SDK's
own pydantic models first (imported only then: it is slow and large).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from gpt2giga.gigachat import contract, files
from gpt2giga.gigachat import wire as giga

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
T = TypeVar("T")

DEMO_CREDENTIALS = base64.b64encode(b"demo-client:demo-secret").decode()
MODELS: tuple[tuple[str, str], ...] = (
    ("GigaChat", "chat"),
    ("GigaChat-2", "chat"),
    ("GigaChat-2-Pro", "chat"),
    ("GigaChat-2-Max", "chat"),
    ("Embeddings", "embedder"),
    ("EmbeddingsGigaR", "embedder"),
)
MODEL_VERSION = ":2.0.28.2"
EMBEDDING_SIZE = 8
MAX_DEPTH = 8  # nesting of generated examples before only required parts are kept

_encode = msgspec.json.Encoder().encode
_decode_v1 = msgspec.json.Decoder(giga.ChatV1).decode
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


class FakeError(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def words(text: str) -> int:
    return len(text.split())


# Values for string formats agents use; anything else gets plain text.
FORMATS = {
    "date": "2025-01-01",
    "date-time": "2025-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
}


def example_for(schema: Any, depth: int = 0, root: Any = None) -> Any:
    """A value that satisfies a function's parameters or a response format schema.

    Covers what agents send: `type` (also as a list), `enum`/`const`, `$ref`
    into `$defs`, `anyOf`/`oneOf` (first non-null branch), `allOf`, numeric
    bounds, string lengths and item counts (not `pattern`).
    """
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 2 * MAX_DEPTH:
        return "example"
    schema = _resolved(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = _kind(schema)
    deep = depth >= MAX_DEPTH  # past it only what is required: recursive schemas end
    if kind == "object":
        props = schema.get("properties") or {}
        needed = schema.get("required") or () if deep else props
        return {k: example_for(v, depth + 1, root) for k, v in props.items() if k in needed}
    if kind == "array":
        count = int(schema.get("minItems", 0 if deep else 1))
        count = min(max(count, 0 if deep else 1), int(schema.get("maxItems", count)))
        return [example_for(schema.get("items") or {}, depth + 1, root) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = FORMATS.get(schema.get("format", ""), "example")
    text = text.ljust(int(schema.get("minLength", 0)), "x")
    return text[: schema["maxLength"]] if "maxLength" in schema else text


def _kind(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        return next((k for k in kind if k != "null"), "null")
    if kind is None:
        return "object" if "properties" in schema else "array" if "items" in schema else "string"
    return kind


def _resolved(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    """`schema` with `$ref`, `anyOf`/`oneOf` and `allOf` replaced by what they point at."""
    for _ in range(8):  # a bound, not a loop count: refs may be circular
        if isinstance(ref := schema.get("$ref"), str):
            target = _pointer(root, ref)
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**(target if isinstance(target, dict) else {}), **rest}
            continue
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf", "allOf")}
        if isinstance(branches := schema.get("anyOf") or schema.get("oneOf"), list):
            dicts = [b for b in branches if isinstance(b, dict)]
            real = [b for b in dicts if b.get("type") != "null"]
            schema = {**rest, **(real or dicts or [{}])[0]}
        elif isinstance(schema.get("allOf"), list):
            for part in schema["allOf"]:
                part = _resolved(part, root) if isinstance(part, dict) else {}
                props = {**rest.get("properties", {}), **part.get("properties", {})}
                rest = {**rest, **part, "properties": props} if props else {**rest, **part}
            schema = rest
        else:
            return schema
    return schema


def _pointer(root: Any, ref: str) -> Any:
    node = root
    for key in ref.removeprefix("#").strip("/").split("/") if ref != "#" else ():
        key = key.replace("~1", "/").replace("~0", "~")
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    def bound(name: str) -> float | None:
        value = schema.get(name)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    low, x_low = bound("minimum"), bound("exclusiveMinimum")
    high, x_high = bound("maximum"), bound("exclusiveMaximum")
    if integer:
        lo = math.ceil(low) if low is not None else None
        lo = math.floor(x_low) + 1 if lo is None and x_low is not None else lo
        hi = math.floor(high) if high is not None else None
        hi = math.ceil(x_high) - 1 if hi is None and x_high is not None else hi
        value = lo if lo is not None else min(1, hi) if hi is not None else 1
        multiple = bound("multipleOf")
        return int(math.ceil(value / multiple) * multiple) if multiple else value
    lo_f = low if low is not None else x_low
    hi_f = high if high is not None else x_high
    if lo_f is not None and hi_f is not None:
        return (lo_f + hi_f) / 2  # inside both inclusive and exclusive bounds
    if lo_f is not None:
        return lo_f + 1.5
    return hi_f - 1.5 if hi_f is not None else 1.5


class Answer(msgspec.Struct):
    """What the fake model 'says', independent of the contract it is said on."""

    text: str = ""
    reasoning: str = ""
    calls: list[giga.ChatFunctionCall] = []
    finish: str = "stop"
    input_tokens: int = 0


def answer(req: giga.ChatCompletionRequest) -> Answer:
    """The deterministic reply to a (v2-shaped) request."""
    msgs = req.messages
    last = msgs[-1] if msgs else giga.ChatMessage(role="user")
    prompt = contract.text_of(last)
    result = Answer(input_tokens=sum(words(contract.text_of(m)) for m in msgs) + 3)
    opts = req.model_options or giga.ChatModelOptions()
    if opts.reasoning and opts.reasoning.effort:
        result.reasoning = f"The user wrote {words(prompt)} words; I answer plainly."
    specs = [s for t in req.tools or () if t.functions for s in t.functions.specifications or ()]
    config = req.tool_config or giga.ChatToolConfig()
    if specs and config.mode != "none" and last.role != "tool":
        chosen = _chosen(specs, config, prompt)
        if chosen:
            result.calls = [
                giga.ChatFunctionCall(name=s.name, arguments=example_for(s.parameters))
                for s in chosen
            ]
            result.finish = "function_call"
            return result
    fmt = opts.response_format
    if fmt is not None and fmt.type == "json_schema" and isinstance(fmt.schema, dict):
        result.text = _encode(example_for(fmt.schema)).decode()
    elif last.role == "tool":
        outputs = [
            f"{p.function_result.name} returned {_encode(p.function_result.result).decode()}"
            for p in last.content or ()
            if not isinstance(p, str) and p.function_result is not None
        ]
        result.text = "Done: " + "; ".join(outputs) + "."
    else:
        result.text = f"Hello from the fake GigaChat! You said: {prompt[:300]}"
        received = [file_id for m in msgs for file_id in contract.files_of(m)]
        if received:
            result.text += f" [files: {', '.join(received)}]"
    if opts.max_tokens is not None and words(result.text) > opts.max_tokens:
        result.text = " ".join(result.text.split()[: opts.max_tokens])
        result.finish = "length"
    return result


def _chosen(
    specs: list[giga.ChatFunctionSpecification], config: giga.ChatToolConfig, prompt: str
) -> list[giga.ChatFunctionSpecification]:
    if config.mode == "forced" and config.function_name:
        return [s for s in specs if s.name == config.function_name][:1]
    named = [s for s in specs if re.search(rf"\b{re.escape(s.name)}\b", prompt)]
    return named or specs[:1]


def state_id(req_body: bytes) -> str:
    return str(uuid.UUID(hashlib.md5(req_body).hexdigest()))


def usage(ans: Answer) -> giga.ChatUsage:
    out = words(ans.text) + words(ans.reasoning) + 5 * len(ans.calls)
    return giga.ChatUsage(
        input_tokens=ans.input_tokens,
        input_tokens_details=giga.ChatUsageInputTokensDetails(
            prompt_tokens=ans.input_tokens, cached_tokens=0
        ),
        output_tokens=out,
        total_tokens=ans.input_tokens + out,
    )


def v2_messages(ans: Answer, state: str, text: str | None = None) -> list[giga.ChatMessage]:
    messages = []
    if ans.reasoning:
        messages.append(
            giga.ChatMessage(role="reasoning", content=[giga.ChatContentPart(text=ans.reasoning)])
        )
    parts = [giga.ChatContentPart(text=ans.text if text is None else text)] if ans.text else []
    parts += [giga.ChatContentPart(function_call=c) for c in ans.calls]
    messages.append(
        giga.ChatMessage(
            role="assistant", content=parts, tool_state_id=state if ans.calls else None
        )
    )
    return messages


def v1_usage(ans: Answer) -> giga.UsageV1:
    u = usage(ans)
    return giga.UsageV1(
        prompt_tokens=u.input_tokens,
        completion_tokens=u.output_tokens,
        total_tokens=u.total_tokens,
        precached_prompt_tokens=0,
    )


def v1_message(ans: Answer, state: str) -> giga.MessageV1:
    call = ans.calls[0] if ans.calls else None
    return giga.MessageV1(
        role="assistant",
        content=ans.text,
        function_call=giga.FunctionCallV1(name=call.name, arguments=call.arguments)
        if call
        else None,
        functions_state_id=state if call else None,
        reasoning_content=ans.reasoning or None,
    )


def pieces(text: str, size: int = 3) -> list[str]:
    tokens = re.findall(r"\S+\s*|\s+", text)
    return ["".join(tokens[i : i + size]) for i in range(0, len(tokens), size)] or [""]


class FakeGigaChat:
    """The ASGI app. `requests` keeps every decoded chat request for tests to inspect."""

    def __init__(self, config: FakeConfig | None = None) -> None:
        self.config = config or FakeConfig()
        self.tokens: dict[str, float] = {}
        self.requests: list[tuple[str, bytes]] = []
        self.files: dict[str, giga.UploadedFile] = {}
        self.threads: dict[str, list[giga.ChatMessage]] = {}
        self.auth_calls = 0
        self._validators: dict[str, Callable[[bytes], None]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        body = await _body(receive)
        try:
            await self._route(method, path, scope, body, send)
        except FakeError as exc:
            headers = [(b"content-type", b"application/json")]
            if exc.retry_after is not None:
                headers.append((b"retry-after", str(exc.retry_after).encode()))
            await _send(
                send, exc.status, _encode({"status": exc.status, "message": exc.message}), headers
            )

    async def _route(self, method: str, path: str, scope: Scope, body: bytes, send: Send) -> None:
        if path.endswith("/oauth") and method == "POST":
            return await _json(send, self._oauth(scope, body))
        if path == "/api/v1/token" and method == "POST":
            return await _json(send, self._password_token(scope))
        self._check_token(scope)
        if path == "/api/v1/chat/completions" and method == "POST":
            return await self._chat(body, "v1", send)
        if path == "/api/v2/chat/completions" and method == "POST":
            return await self._chat(body, "v2", send)
        if path == "/api/v1/models" and method == "GET":
            return await _json(
                send, giga.Models(data=[_model(m, t) for m, t in MODELS], object="list")
            )
        if path.startswith("/api/v1/models/") and method == "GET":
            name = path.removeprefix("/api/v1/models/")
            found = [_model(m, t) for m, t in MODELS if m == name]
            if not found:
                raise FakeError(404, "No such model")
            return await _json(send, found[0])
        if path == "/api/v1/embeddings" and method == "POST":
            return await _json(send, self._embeddings(body))
        if path == "/api/v1/tokens/count" and method == "POST":
            req = _decoded(_decode_counts, body)
            counts = [
                giga.TokensCount(tokens=words(t) + 1, characters=len(t), object="tokens")
                for t in req.input
            ]
            return await _json(send, counts)
        if path == "/api/v1/files" and method == "POST":
            return await _json(send, self._upload(scope, body))
        raise FakeError(404, "Not found")

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
            v1 = _decoded(_decode_v1, body)
            return _v2_from_v1(v1), bool(v1.stream)
        req = _decoded(_decode_v2, body)
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
            self.threads[thread] = [*req.messages, *v2_messages(ans, state)[-1:]]
        if self.config.ttfb_ms:
            await asyncio.sleep(self.config.ttfb_ms / 1000)
        if not stream:
            return await _json(send, self._complete(ans, model, state, contract_, thread))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        frames = (
            _frames_v1(ans, model, state)
            if contract_ == "v1"
            else _frames_v2(ans, model, state, thread)
        )
        for n, frame in enumerate(frames):
            if n and self.config.chunk_ms:
                await asyncio.sleep(self.config.chunk_ms / 1000)
            if model == "stream-break" and n == 1:
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

    @staticmethod
    def _complete(
        ans: Answer, model: str, state: str, contract_: str, thread: str | None = None
    ) -> Any:
        now = int(time.time())
        if contract_ == "v1":
            return giga.ChatCompletionV1(
                choices=[
                    giga.ChoiceV1(message=v1_message(ans, state), index=0, finish_reason=ans.finish)
                ],
                created=now,
                model=model + MODEL_VERSION,
                usage=v1_usage(ans),
                object="chat.completion",
            )
        return giga.ChatCompletionResponse(
            model=model + MODEL_VERSION,
            created_at=now,
            messages=v2_messages(ans, state),
            thread_id=thread,
            finish_reason=ans.finish,
            usage=usage(ans),
        )

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
        req = _decoded(_decode_embeddings, body)
        if req.model not in {m for m, t in MODELS if t == "embedder"}:
            raise FakeError(404, "No such model")
        return giga.Embeddings(
            model=req.model,
            data=[
                giga.Embedding(
                    embedding=_vector(text),
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
        fields = _multipart(body, match.group(1).strip('"').encode())
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


def _decoded(decode: Callable[[bytes], T], body: bytes) -> T:
    try:
        return decode(body)
    except msgspec.ValidationError as exc:
        raise FakeError(422, f"Invalid request: {exc}") from None
    except msgspec.DecodeError:
        raise FakeError(400, "Request body is not valid JSON") from None


def _v2_from_v1(v1: giga.ChatV1) -> giga.ChatCompletionRequest:
    """Read a v1 request through the same eyes as a v2 one, to answer alike."""
    messages = [_message_from_v1(m) for m in v1.messages]
    forced = v1.function_call
    config = giga.ChatToolConfig(
        mode="forced" if isinstance(forced, giga.ChatFunctionCallV1) else forced,
        function_name=forced.name if isinstance(forced, giga.ChatFunctionCallV1) else None,
    )
    specs = [
        giga.ChatFunctionSpecification(name=f.name, parameters=f.parameters or {})
        for f in v1.functions or ()
    ]
    fmt = v1.response_format
    return giga.ChatCompletionRequest(
        model=v1.model,
        messages=messages,
        tools=[giga.ChatTool(functions=giga.ChatFunctionsTool(specifications=specs))]
        if specs
        else None,
        tool_config=config,
        model_options=giga.ChatModelOptions(
            max_tokens=v1.max_tokens,
            reasoning=giga.ChatReasoning(effort=v1.reasoning_effort)
            if v1.reasoning_effort
            else None,
            response_format=giga.ChatResponseFormat(type=fmt.type, schema=fmt.schema)
            if fmt
            else None,
        ),
    )


def _message_from_v1(m: giga.MessageV1) -> giga.ChatMessage:
    if m.role == "function":
        # GigaChat reads a v1 function result as a JSON object in a string.
        result = giga.ChatFunctionResult(
            name=m.name or "", result=contract.result_object(m.content or "")
        )
        return giga.ChatMessage(role="tool", content=[giga.ChatContentPart(function_result=result)])
    parts = [giga.ChatContentPart(text=m.content or "")]
    if m.attachments:
        refs = [giga.ChatContentFile(id=file_id) for file_id in m.attachments]
        parts.append(giga.ChatContentPart(files=refs))
    return giga.ChatMessage(role=m.role, content=parts)


def _frames_v1(ans: Answer, model: str, state: str) -> list[bytes]:
    now = int(time.time())
    name = model + MODEL_VERSION

    def chunk(delta: giga.MessageChunkV1, finish: str | None = None, u: Any = None) -> bytes:
        body = giga.ChatCompletionChunkV1(
            choices=[giga.ChoiceChunkV1(delta=delta, index=0, finish_reason=finish)],
            created=now,
            model=name,
            usage=u,
            object="chat.completion",
        )
        return b"data: " + _encode(body) + b"\n\n"

    frames = []
    if ans.reasoning:
        frames.append(chunk(giga.MessageChunkV1(role="assistant", reasoning_content=ans.reasoning)))
    for n, piece in enumerate(pieces(ans.text) if ans.text else []):
        frames.append(
            chunk(giga.MessageChunkV1(role="assistant" if n == 0 else None, content=piece))
        )
    if ans.calls:
        c = ans.calls[0]
        call = giga.FunctionCallV1(name=c.name, arguments=c.arguments)
        delta = giga.MessageChunkV1(
            role="assistant", content="", function_call=call, functions_state_id=state
        )
        frames.append(chunk(delta, ans.finish, v1_usage(ans)))
    else:
        frames.append(chunk(giga.MessageChunkV1(content=""), ans.finish, v1_usage(ans)))
    frames.append(b"data: [DONE]\n\n")
    return frames


def _frames_v2(ans: Answer, model: str, state: str, thread: str | None = None) -> list[bytes]:
    now = int(time.time())
    name = model + MODEL_VERSION

    def event(kind: str, **fields: Any) -> bytes:
        body = giga.ChatCompletionChunk(model=name, created_at=now, thread_id=thread, **fields)
        return b"event: " + kind.encode() + b"\ndata: " + _encode(body) + b"\n\n"

    frames = []
    if ans.reasoning:
        msg = giga.ChatMessage(role="reasoning", content=[giga.ChatContentPart(text=ans.reasoning)])
        frames.append(event("response.message.delta", messages=[msg]))
    for piece in pieces(ans.text) if ans.text else []:
        msg = giga.ChatMessage(role="assistant", content=[giga.ChatContentPart(text=piece)])
        frames.append(event("response.message.delta", messages=[msg]))
    if ans.calls:
        parts = [giga.ChatContentPart(function_call=c) for c in ans.calls]
        msg = giga.ChatMessage(role="assistant", content=parts, tool_state_id=state)
        frames.append(event("response.message.delta", messages=[msg]))
    frames.append(event("response.message.done", finish_reason=ans.finish, usage=usage(ans)))
    return frames


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round((b - 128) / 128, 6) for b in digest[:EMBEDDING_SIZE]]


def _model(name: str, kind: str) -> giga.Model:
    return giga.Model(id=name, object="model", owned_by="salutedevices", type=kind)


def _multipart(body: bytes, boundary: bytes) -> dict[str, tuple[str | None, bytes, str]]:
    """Form fields by name: (filename or None, bytes, content type or "")."""
    fields: dict[str, tuple[str | None, bytes, str]] = {}
    for part in body.split(b"--" + boundary):
        head, sep, data = part.partition(b"\r\n\r\n")
        name = re.search(rb'\bname="([^"]*)"', head)
        if sep and name:
            file = re.search(rb'filename="([^"]*)"', head)
            filename = file.group(1).decode() if file else None
            ctype = re.search(rb"(?i)content-type:\s*([^\r\n;]+)", head)
            mime = ctype.group(1).decode().strip().lower() if ctype else ""
            fields[name.group(1).decode()] = (filename, data.removesuffix(b"\r\n"), mime)
    return fields


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Send, value: Any) -> None:
    await _send(send, 200, _encode(value), [(b"content-type", b"application/json")])


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def app_from_env() -> FakeGigaChat:
    """Granian factory target: the fake configured from `FAKE_GIGACHAT_*` variables."""
    import os

    return FakeGigaChat(
        FakeConfig(
            ttfb_ms=float(os.environ.get("FAKE_GIGACHAT_TTFB_MS", "0")),
            chunk_ms=float(os.environ.get("FAKE_GIGACHAT_CHUNK_MS", "0")),
            validate=os.environ.get("FAKE_GIGACHAT_VALIDATE", "") == "1",
            static_token=os.environ.get("FAKE_GIGACHAT_STATIC_TOKEN") or None,
        )
    )
