"""`POST /_debug/translate`: what a route would send GigaChat, or answer its client, with no call.

Every translation runs the route's own handler (decoding, options, the
dialect's to_giga / from_giga, the contract's encoding: the very code a
request meets) against a stand-in for the GigaChat client that captures the
upstream body instead of sending it, or hands back the GigaChat answer it was
given. Attachments are neither fetched nor uploaded: their file ids are
placeholders. Mounted with GPT2GIGA_DEBUG_TRANSLATE_ENABLED, behind the admin key.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, cast

import msgspec

from gpt2giga import errors
from gpt2giga.anthropic import handlers as anthropic
from gpt2giga.anthropic import translate as anthropic_translate
from gpt2giga.asgi import Contract, Request, Response, StreamResponse, check_utf8, too_deep
from gpt2giga.config import Settings
from gpt2giga.context import Context
from gpt2giga.gemini import handlers as gemini
from gpt2giga.gemini import translate as gemini_translate
from gpt2giga.gigachat import contract as giga_contract
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.auth import TokenSource
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.files import Attachment
from gpt2giga.openai import handlers as openai
from gpt2giga.openai import translate as openai_translate
from gpt2giga.openai.responses.handlers import Responses
from gpt2giga.openai.responses.store import ResponseStore
from gpt2giga.ops.auth import AdminKey, detail
from gpt2giga.state.memory import MemoryTable

Handler = Callable[[Context, Request], Awaitable[Response | StreamResponse]]
Spec = tuple[str, str, Handler, None]

GIGACHAT = "gigachat"
NORMALIZED = "normalized"
CONTRACTS = ("v1", "v2")
PROBE_TEXT = "(debug translate)"
NO_NORMALIZED = (
    "The normalized format is the FastAPI gpt2giga's internal layer; this gateway has none: "
    "every dialect translates straight to GigaChat's own structs. Use gigachat as from or to."
)

_encode = msgspec.json.Encoder().encode
_decode_fields = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode


def _decode_object(body: bytes) -> dict[str, msgspec.Raw]:
    """The envelope's fields, refused as the routes refuse a body that is not UTF-8 or
    nests deeper than msgspec can read (skipping a value recurses too)."""
    try:
        check_utf8(body)
        return _decode_fields(body)
    except RecursionError:
        raise Refused(too_deep()) from None
    except errors.BadRequest as err:
        raise Refused(err.message) from None


# Lax like the GigaChat client's own reading of an answer (a count as "12" is a count).
_decode_v1 = msgspec.json.Decoder(giga1.ChatCompletionV1, strict=False).decode
_decode_v2 = msgspec.json.Decoder(giga.ChatCompletionResponse, strict=False).decode


class Dialect(NamedTuple):
    """A dialect's chat route, how it renders errors, and a request that asks for nothing."""

    handler: Handler
    error_body: Callable[[errors.GatewayError], bytes]
    error_status: Callable[[errors.GatewayError], int]
    probe: Callable[[str], dict[str, Any]]
    stream_handler: Handler | None = None  # Gemini streams on a route of its own


def _status(err: errors.GatewayError) -> int:
    return err.status


def _user_turn() -> list[dict[str, Any]]:
    return [{"role": "user", "content": PROBE_TEXT}]


def dialects(responses: Handler) -> dict[str, Dialect]:
    """Each dialect's chat route; `responses` is a Responses create route, over its store."""
    return {
        "openai": Dialect(
            openai.chat_completions,
            openai_translate.error_body,
            _status,
            lambda model: {"model": model, "messages": _user_turn()},
        ),
        "responses": Dialect(
            responses,
            openai_translate.error_body,
            _status,
            lambda model: {"model": model, "input": PROBE_TEXT, "store": False},
        ),
        "anthropic": Dialect(
            anthropic.messages,
            anthropic_translate.error_body,
            anthropic_translate.error_status,
            lambda model: {"model": model, "max_tokens": 1024, "messages": _user_turn()},
        ),
        "gemini": Dialect(
            gemini.generate_content,
            gemini_translate.error_body,
            gemini_translate.error_status,
            lambda model: {"contents": [{"role": "user", "parts": [{"text": PROBE_TEXT}]}]},
            gemini.stream_generate_content,
        ),
    }


FORMATS = sorted(["openai", "responses", "anthropic", "gemini", GIGACHAT, NORMALIZED])


class Refused(Exception):
    """A debug request the envelope rules refuse: answered `{"detail": …}` with a 400."""


class Sent(Exception):
    """The body a handler was about to send GigaChat; it ends the handler's run."""

    def __init__(self, body: bytes, stream: bool) -> None:
        super().__init__("captured")
        self.body = body
        self.stream = stream


class DryRun:
    """Stands in for the GigaChat client: captures a request, or returns the answer given."""

    def __init__(self, real: GigaChatClient, answer: giga.ChatCompletionResponse | None) -> None:
        self._real = real
        self._answer = answer
        self.settings = real.settings
        self.token_source = real.token_source

    async def chat(
        self,
        req: giga.ChatCompletionRequest,
        contract: Contract,
        auth: TokenSource | None = None,
        extra: dict[str, Any] | None = None,
    ) -> giga.ChatCompletionResponse:
        if self._answer is None:
            raise Sent(self._real.encode_chat(req, contract, False, extra), stream=False)
        return self._answer

    async def stream(
        self,
        req: giga.ChatCompletionRequest,
        contract: Contract,
        auth: TokenSource | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Any:
        if self._answer is None:
            raise Sent(self._real.encode_chat(req, contract, True, extra), stream=True)
        raise errors.Unsupported(
            "Debug translate turns a whole answer: send `request` without streaming",
            param="stream",
        )


class Placeholders:
    """Stands in for the uploader: each attachment gets a placeholder id, nothing is read."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def resolve(self, found: Sequence[Attachment], auth: TokenSource | None) -> None:
        for attachment in found:
            attachment.file.id = f"<upload: {attachment.where}>"
            source = "url" if attachment.url else "text" if attachment.text is not None else "data"
            seen = {"where": attachment.where, "id": attachment.file.id, "source": source}
            if attachment.mime:
                seen["mime"] = attachment.mime
            self.seen.append(seen)


def _dry(ctx: Context, answer: giga.ChatCompletionResponse | None) -> tuple[Context, Placeholders]:
    """The context a handler runs in here: a stand-in client and uploader, no credentials.
    Answers get a context of their own."""
    stand_in = cast(GigaChatClient, DryRun(ctx.upstream, answer))
    dry = Context(ctx.settings, stand_in) if answer is not None else copy.copy(ctx)
    dry.upstream = stand_in
    placeholders = Placeholders()
    dry.uploads = cast(Any, placeholders)
    dry.pass_tokens = None  # no credentials are needed when nothing is sent
    return dry, placeholders


def _text(fields: dict[str, msgspec.Raw], name: str) -> str | None:
    raw = fields.get(name)
    if raw is None:
        return None
    value = msgspec.json.decode(raw)
    if not isinstance(value, str):
        raise Refused(f"Expected {name} to be a string")
    return value


def _format(fields: dict[str, msgspec.Raw], name: str) -> str:
    raw = fields.get(name)
    value = msgspec.json.decode(raw) if raw is not None else None
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"Expected {name} to be one of: {', '.join(FORMATS)}")
    word = value.strip().lower()
    if word not in FORMATS:
        raise Refused(f"Unsupported {name} format: {value}")
    return word


def _object(raw: msgspec.Raw | None, message: str) -> bytes:
    body = bytes(raw) if raw is not None else b""
    if not body.lstrip().startswith(b"{"):
        raise Refused(message)
    return body


def _contract(value: str | None, default: Contract) -> Contract:
    if value is None:
        return default
    if value not in CONTRACTS:
        raise Refused(f"Expected contract to be one of: {', '.join(CONTRACTS)}")
    return cast(Contract, value)


class Job(NamedTuple):
    """One translation, read from the envelope or from a short route."""

    source: str
    target: str
    payload: bytes
    contract: Contract
    model: str | None = None
    request: bytes | None = None  # the client's request an answer is for
    stream: bool = False


class Debug:
    """`responses`: the gateway's Responses create route. Requests run through it, to read
    `previous_response_id` from the gateway's store (nothing is written: the run ends at
    the call); answers through one over a store that keeps nothing, so a Responses answer
    is stored nowhere."""

    def __init__(self, settings: Settings, responses: Handler | None = None) -> None:
        self.admin = AdminKey(settings.proxy.admin_api_key)
        self.settings = settings
        unstored = Responses(ResponseStore(MemoryTable(0, 1.0))).create
        self.requests = dialects(responses or unstored)
        self.answers = dialects(unstored)

    def routes(self) -> list[Spec]:
        """Public routes: the admin key guards them, never the proxy key."""
        return [
            ("POST", "/_debug/translate", self.translate, None),
            ("POST", "/_debug/translate/{pair}", self.short, None),
        ]

    async def translate(self, ctx: Context, request: Request) -> Response:
        """`{"from", "to", "payload", "contract"?, "requested_model"?, "request"?, "stream"?}`."""
        refusal = self.admin.refusal(request.scope["headers"])
        if refusal is not None:
            return refusal
        try:
            job = self._envelope(request)
            out = await self.run(ctx, request, job)
        except Refused as why:
            return detail(400, str(why))
        if isinstance(out, Response):
            return out
        body = {"from": job.source, "to": job.target, "contract": job.contract, **out}
        return Response(_encode(body))

    async def short(self, ctx: Context, request: Request) -> Response:
        """`/_debug/translate/<from>-to-<to>`: the body is the payload; `?contract=` optional."""
        refusal = self.admin.refusal(request.scope["headers"])
        if refusal is not None:
            return refusal
        source, sep, target = request.params["pair"].partition("-to-")
        try:
            if not sep or source not in FORMATS or target not in FORMATS:
                raise Refused(f"Unsupported translation route: {request.params['pair']}")
            payload = _object(msgspec.Raw(request.body), "Expected a JSON object")
            contract = _contract(request.query.get("contract"), request.contract)
            job = Job(source, target, payload, contract, request.query.get("requested_model"))
            out = await self.run(ctx, request, job)
        except Refused as why:
            return detail(400, str(why))
        if isinstance(out, Response):
            return out
        key = "gigachat_payload" if target == GIGACHAT else target
        body = {"source": source, "target": target, "contract": contract, key: out["payload"]}
        body.update((k, v) for k, v in out.items() if k != "payload")
        return Response(_encode(body))

    def _envelope(self, request: Request) -> Job:
        try:
            fields = _decode_object(request.body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise Refused("Expected a JSON object") from None
        try:
            source, target = _format(fields, "from"), _format(fields, "to")
            stream = fields.get("stream")
            return Job(
                source,
                target,
                _object(fields.get("payload"), "Expected payload to be an object"),
                _contract(_text(fields, "contract"), request.contract),
                _text(fields, "requested_model"),
                _object(fields["request"], "Expected request to be an object")
                if "request" in fields
                else None,
                stream is not None and msgspec.json.decode(stream) is True,
            )
        except msgspec.DecodeError as exc:  # a field of the envelope is not JSON
            raise Refused(f"Expected a JSON object ({exc})") from None

    async def run(self, ctx: Context, request: Request, job: Job) -> dict[str, Any] | Response:
        """The translated payload (and what else the direction tells), or the dialect's error."""
        if NORMALIZED in (job.source, job.target):
            raise Refused(NO_NORMALIZED)
        if job.source == job.target:  # as the FastAPI gpt2giga: echoed, not validated
            return {"payload": msgspec.Raw(job.payload)}
        if job.target == GIGACHAT:
            return await self._to_gigachat(ctx, request, job)
        if job.source == GIGACHAT:
            return await self._from_gigachat(ctx, request, job)
        raise Refused(
            f"Unsupported translation pair: {job.source} -> {job.target} (requests translate "
            "to gigachat, and gigachat answers back to each dialect)"
        )

    async def _to_gigachat(
        self, ctx: Context, request: Request, job: Job
    ) -> dict[str, Any] | Response:
        dialect = self.requests[job.source]
        handler = dialect.stream_handler if job.stream and dialect.stream_handler else None
        dry, placeholders = _dry(ctx, None)
        model = job.model or self.settings.gigachat.model
        sub = Request(request.scope, job.payload, job.contract, {"model": model})
        try:
            await (handler or dialect.handler)(dry, sub)
        except Sent as sent:
            return {
                "payload": msgspec.Raw(sent.body),
                "stream": sent.stream,
                "attachments": placeholders.seen,
            }
        except errors.GatewayError as err:  # the very 4xx the route gives, in its shape
            return Response(dialect.error_body(err), status=dialect.error_status(err))
        raise errors.GatewayError(f"The {job.source} route answered without calling GigaChat")

    async def _from_gigachat(
        self, ctx: Context, request: Request, job: Job
    ) -> dict[str, Any] | Response:
        dialect = self.answers[job.target]
        answer, model = self._answer(job)
        dry, _ = _dry(ctx, answer)
        model = model or answer.model or self.settings.gigachat.model
        body = job.request if job.request is not None else _encode(dialect.probe(model))
        try:
            sub = Request(request.scope, body, job.contract, {"model": model})
            out = await dialect.handler(dry, sub)
        except errors.GatewayError as err:
            return Response(dialect.error_body(err), status=dialect.error_status(err))
        assert isinstance(out, Response), "a whole answer is never streamed"
        return {"payload": msgspec.Raw(out.body)}

    def _answer(self, job: Job) -> tuple[giga.ChatCompletionResponse, str | None]:
        """The GigaChat answer on the job's contract; the payload may wrap it as the FastAPI
        gpt2giga's did: `{"response": {...}, "requested_model": "..."}`."""
        body, model = job.payload, job.model
        try:
            fields = _decode_object(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise Refused("Expected a GigaChat response object") from None
        if "response" in fields:
            body = _object(fields["response"], "Expected a GigaChat response object")
            if model is None and "requested_model" in fields:
                model = _text(fields, "requested_model")
        try:
            if job.contract == "v1":
                return giga_contract.from_v1(_decode_v1(body)), model
            return _decode_v2(body), model
        except msgspec.DecodeError as exc:
            raise Refused(
                f"Expected a GigaChat response object on the {job.contract} contract: {exc}"
            ) from None
