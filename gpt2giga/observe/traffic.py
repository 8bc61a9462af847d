"""The traffic-log record: the FastAPI gpt2giga's fields, filled from a finished request.

`Recorder.record` turns an `Exchange` into a `TrafficRecord` in the sinks'
writer, off the request path, once however many sinks there are. Content
(headers and bodies) is kept only when asked for, with secrets masked; the
fingerprints are keyed hashes, never the credential itself. No I/O here.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec

from gpt2giga.asgi import EVENT_STREAM, IGNORED_HEADER
from gpt2giga.config import Settings
from gpt2giga.observe.exchange import Exchange, new_request_id
from gpt2giga.observe.redact import Redactor, normal_key, secret_values

MAX_CONTENT_BYTES = 256 * 1024  # per body; longer content is cut and marked
MAX_CALLER_VALUE = 256
# Without GPT2GIGA_TRAFFIC_LOG_HASH_KEY fingerprints still match across workers and
# restarts (the FastAPI gpt2giga's per-process key made them useless in a database).
DEFAULT_HASH_KEY = b"gpt2giga traffic-log fingerprint v1"
SYSTEM_PREFIXES = ("/health", "/ping", "/ready", "/logs", "/_admin", "/_debug", "/api/hello")
# Headers that hold a credential: masked whatever the redaction settings say.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "x-goog-api-key", "x-admin-api-key"}
)
REPLAY = "gpt2giga.replay"  # the scope extension a replayed request carries


class TrafficRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One request. Field names and meanings are the FastAPI gpt2giga's `TrafficLogEvent`."""

    id: str
    created_at: datetime  # when the request arrived, UTC
    request_id: str
    trace_id: str | None = None
    span_id: str | None = None
    protocol: str
    route: str  # the route template: bounded, unlike the path (kept in metadata)
    method: str
    status_code: int | None = None
    model_requested: str | None = None
    model_effective: str | None = None
    provider: str | None = None
    upstream_status_code: int | None = None
    latency_ms: float | None = None
    upstream_latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    api_key_hash: str | None = None
    client_ip_hash: str | None = None
    metadata: dict[str, Any]
    request_headers_redacted: Any = None
    request_body_redacted: Any = None
    response_body_redacted: Any = None


def content(body: bytes, redactor: Redactor) -> Any:
    """A captured body as JSON when it is JSON (secrets masked), else as text; None if empty."""
    if not body:
        return None
    cut = len(body) > MAX_CONTENT_BYTES
    if not cut:
        try:
            value = msgspec.json.decode(body)
        except msgspec.DecodeError:
            pass
        else:
            return redactor.value(value)
    text = redactor.text(body[:MAX_CONTENT_BYTES].decode("utf-8", "replace"))
    return {"truncated": True, "max_bytes": MAX_CONTENT_BYTES, "body": text} if cut else text


def fingerprint(key: bytes, value: str) -> str:
    return "hmac-sha256:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


def credential(headers: dict[str, str], query: dict[str, str]) -> str | None:
    """The client's credential, looked for where the FastAPI gpt2giga looked, in its order."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, rest = auth.partition(" ")
        return rest.strip() if scheme.lower() == "bearer" else auth
    for found in (
        headers.get("x-api-key"),
        headers.get("x-goog-api-key"),
        query.get("x-api-key"),
        query.get("key"),
    ):
        if found:
            return found
    return None


def caller(headers: dict[str, str]) -> dict[str, str]:
    """Who called, from the User-Agent and x-agent-id: a coarse, bounded description."""
    ua = " ".join(headers.get("user-agent", "").split())[:MAX_CALLER_VALUE]
    low = ua.lower()
    found: dict[str, str] = {}
    agent = next((a for a in ("claude-code", "qwen-code", "codex") if a in low), None)
    if agent is not None:
        found = {"category": "agent", "name": agent, "agent": agent}
    elif low.startswith(("openai/", "asyncopenai/")):
        found = {"category": "sdk", "name": "openai-python", "sdk": "openai-python"}
    elif low.startswith(("anthropic/", "asyncanthropic/")):
        found = {"category": "sdk", "name": "anthropic-python", "sdk": "anthropic-python"}
    elif "google-genai-sdk" in low or "x-goog-api-client" in headers:
        found = {"category": "sdk", "name": "google-genai", "sdk": "google-genai"}
    elif low.startswith("mozilla/"):
        found = {"category": "browser", "name": "browser"}
    elif ua:
        found = {"category": "http_client", "name": ua.split("/")[0].split(" ")[0]}
    else:
        found = {"category": "unknown"}
    if ua:
        found["user_agent"] = ua
    agent_id = headers.get("x-agent-id", "").strip()[:MAX_CALLER_VALUE]
    if agent_id:
        found["agent_id"] = agent_id
    return found


# The headers a record reads when content is not captured (ASGI names are lower-case).
READ_HEADERS = frozenset(
    {
        b"authorization", b"x-api-key", b"x-goog-api-key", b"x-goog-api-client",
        b"user-agent", b"x-agent-id", b"x-trace-id", b"x-span-id", b"traceparent",
    }
)  # fmt: skip
CACHE_SIZE = 4096  # fingerprints and caller descriptions: clients repeat themselves


def header_dict(
    raw: list[tuple[bytes, bytes]], only: frozenset[bytes] | None = None
) -> dict[str, str]:
    found: dict[str, str] = {}
    for k, v in raw:
        if only is not None and k not in only:
            continue
        name, value = k.decode("latin-1").lower(), v.decode("latin-1")
        found[name] = f"{found[name]}, {value}" if name in found else value
    return found


class Recorder:
    """Builds records with the settings' capture, redaction and fingerprint key."""

    def __init__(self, settings: Settings) -> None:
        p = settings.proxy
        self.capture = p.traffic_log_capture_content
        secrets = secret_values(settings)
        # Off, content is kept as sent, except the gateway's own secrets: never written.
        self.redactor = (
            Redactor(secrets, p.traffic_log_redact_extra_keys)
            if p.traffic_log_redact_sensitive
            else Redactor(secrets, only_secrets=True)
        )
        key = p.traffic_log_hash_key
        self._key = key.value.encode() if key else DEFAULT_HASH_KEY
        self._system = (*SYSTEM_PREFIXES, p.metrics_path.rstrip("/"))
        self._read = None if self.capture else READ_HEADERS
        self._fingerprints: dict[str, str] = {}
        self._callers: dict[tuple[str, str], dict[str, str]] = {}

    def fingerprint(self, value: str) -> str:
        found = self._fingerprints.get(value)
        if found is None:
            if len(self._fingerprints) >= CACHE_SIZE:
                self._fingerprints.clear()
            found = self._fingerprints[value] = fingerprint(self._key, value)
        return found

    def caller(self, headers: dict[str, str]) -> dict[str, str]:
        """`caller(headers)`, remembered by user agent and agent id; a copy per record."""
        key = (headers.get("user-agent", ""), headers.get("x-agent-id", ""))
        found = self._callers.get(key)
        if found is None:
            if len(self._callers) >= CACHE_SIZE:
                self._callers.clear()
            found = self._callers[key] = caller(headers)
        return dict(found)

    def record(self, ex: Exchange) -> TrafficRecord:
        # Long only because the record has 26 fields; each is one expression.
        scope = ex.scope
        headers = header_dict(scope.get("headers", ()), self._read)
        raw_query: bytes = scope.get("query_string", b"")
        query = dict(parse_qsl(raw_query.decode("latin-1"))) if raw_query else {}
        protocol = self.protocol(ex)
        status, lifecycle, error_type = outcome(ex)
        secret = credential(headers, query)
        peer = scope.get("client")
        tokens = ex.tokens_in + ex.tokens_out
        return TrafficRecord(
            id=new_request_id(),
            created_at=datetime.fromtimestamp(time.time() - ex.age, UTC),
            request_id=ex.request_id,
            trace_id=trace_id(headers, ex.trace.trace_id if ex.trace else None),
            span_id=headers.get("x-span-id", "").strip()
            or (ex.trace.span_id if ex.trace else None),
            protocol=protocol,
            route=ex.route,
            method=ex.method,
            status_code=status,
            model_requested=ex.requested or None,
            model_effective=ex.model or None,
            provider=None if protocol == "system" else "gigachat",
            upstream_status_code=ex.upstream_status or None,
            latency_ms=round(ex.duration * 1000, 3),
            upstream_latency_ms=round(ex.upstream_seconds * 1000, 3)
            if ex.upstream_seconds
            else None,
            input_tokens=ex.tokens_in if tokens else None,
            output_tokens=ex.tokens_out if tokens else None,
            total_tokens=tokens or None,
            error_type=error_type,
            error_message=self.redactor.text(ex.error_message)
            if self.capture and ex.error_message
            else None,
            api_key_hash=self.fingerprint(secret) if secret else None,
            client_ip_hash=self.fingerprint(str(peer[0])) if peer else None,
            metadata=self.metadata(ex, protocol, lifecycle, headers, query),
            **self.captured(ex, headers),
        )

    def protocol(self, ex: Exchange) -> str:
        if ex.route.startswith(self._system):
            return "system"
        return "litellm" if ex.route == "/model/info" else ex.dialect or "openai"

    def metadata(
        self,
        ex: Exchange,
        protocol: str,
        lifecycle: str,
        headers: dict[str, str],
        query: dict[str, str],
    ) -> dict[str, Any]:
        found: dict[str, Any] = {
            "lifecycle": lifecycle,
            "annotations": {"caller": self.caller(headers)},
            "path": ex.scope.get("path", ""),
        }
        safe = [(k, v) for k, v in query.items() if normal_key(k) not in self.redactor.keys]
        if safe:
            found["query"] = urlencode(safe)
        if ex.contract and protocol != "system":
            found["contract"] = ex.contract
        if ex.first_chunk:
            found["ttft_ms"] = round((ex.first_chunk - ex.started) * 1000, 3)
        ignored = next((v.decode() for k, v in ex.response_headers if k == IGNORED_HEADER), None)
        if ignored:
            found["ignored"] = ignored
        if ex.upstream_error:
            found["upstream_error"] = ex.upstream_error
        replay = ex.scope.get("extensions", {}).get(REPLAY)
        if replay:
            found["replay"] = replay
        return found

    def captured(self, ex: Exchange, headers: dict[str, str]) -> dict[str, Any]:
        if not self.capture:
            return {}
        shown = {k: "***" if k in CREDENTIAL_HEADERS else v for k, v in headers.items()}
        return {
            "request_headers_redacted": self.redactor.value(shown),
            "request_body_redacted": content(ex.request_body, self.redactor),
            "response_body_redacted": content(ex.response_body, self.redactor),
        }


def trace_id(headers: dict[str, str], traced: str | None = None) -> str:
    """x-trace-id, else the trace the gateway recorded (so a record leads to its spans;
    the FastAPI gpt2giga's two ids never matched), else the W3C traceparent's, else new."""
    given = headers.get("x-trace-id", "").strip()
    if given:
        return given[:128]
    if traced:
        return traced
    parts = headers.get("traceparent", "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32:
        return parts[1]
    return new_request_id()


def outcome(ex: Exchange) -> tuple[int, str, str | None]:
    """(status_code, metadata.lifecycle, error_type) as the FastAPI gpt2giga reports them."""
    stream = False
    for name, value in ex.response_headers:
        if name == b"content-type":
            stream = value.startswith(EVENT_STREAM)
            break
    if ex.disconnected:  # the client left: 499, nginx's word for it, as the contract has it
        if stream:
            return 499, "streaming_aborted", "stream_cancelled"
        return 499, "request_aborted", "request_cancelled"
    lifecycle = "streaming_completed" if stream else "request_completed"
    error = ex.error or ex.upstream_error or None
    if error is None and ex.status >= 400:
        error = f"http_{ex.status}"
    return ex.status, lifecycle, error
