"""Settings from the environment and a `.env` file, with the FastAPI gpt2giga's names.

Every field of `ProxySettings` is read from `GPT2GIGA_<NAME>`, every field of
`GigaChatSettings` from `GIGACHAT_<NAME>`. A bad value stops start-up with one
line that names the variable; secret values never appear in that line, in a
repr, or anywhere else this module prints. What a loaded set must satisfy is
`rules.py`.
"""

from __future__ import annotations

import fnmatch
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable."""


class Secret:
    """A string that never shows itself in a repr, a log line or an error."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __bool__(self) -> bool:
        return bool(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


# The gigachat SDK's defaults (gigachat/settings.py); a test keeps them in step.
SDK_BASE_URL = "https://api.giga.chat/v1"
SDK_AUTH_URL = "https://ngw.devices.sberbank.ru:9443/api/v2/oauth"
SDK_SCOPE = "GIGACHAT_API_PERS"

Contract = Literal["v1", "v2"]
SinkName = Literal["noop", "jsonl", "postgres", "opensearch"]


class ProxySettings(msgspec.Struct, frozen=True, kw_only=True):
    mode: Literal["DEV", "PROD"] = "DEV"
    host: str = "localhost"
    port: int = 8090
    workers: int = 1
    enable_api_key_auth: bool = False
    api_key: Secret | None = None
    pass_model: bool = True
    pass_token: bool = False
    embeddings: str = "EmbeddingsGigaR"
    gigachat_api_mode: Contract = "v1"
    max_request_body_bytes: int = 10 * 1024 * 1024
    log_level: Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"] = "INFO"
    default_max_tokens: int | None = None
    structured_output_mode: Literal["function_call", "native"] = "function_call"
    enable_reasoning: bool = False
    disable_reasoning: bool = False
    model_aliases: dict[str, str] = {}
    shutdown_timeout_seconds: float = 10.0
    # Responses API: how many answered responses to keep for `previous_response_id`, and how long.
    responses_store_size: int = 1000
    responses_store_ttl_seconds: float = 3600.0
    # Seconds of upstream silence before a stream sends a keep-alive (dialects
    # with a ping event); 0 turns it off.
    stream_keepalive_seconds: float = 10.0
    # Images and documents: uploaded to GigaChat's files API (limits as GigaChat documents them).
    enable_images: bool = True
    max_image_file_size_bytes: int = 15 * 1024 * 1024
    max_text_file_size_bytes: int = 40 * 1024 * 1024
    max_audio_image_total_size_bytes: int = 80 * 1024 * 1024
    # Attachment URLs are fetched over https only, and never from a non-public
    # address unless it is inside one of these networks (a trusted file server).
    attachment_url_allow_http: bool = False
    attachment_url_allowed_networks: list[str] = []
    demo: bool = False
    # --- operations: names and meanings as in the FastAPI gpt2giga ---
    use_https: bool = False
    https_key_file: str | None = None
    https_cert_file: str | None = None
    pass_token_client_cache_size: int = 32
    # Empty: CORS off (the FastAPI gpt2giga allowed every origin by default).
    cors_allow_origins: list[str] = []
    cors_allow_methods: list[str] = msgspec.field(default_factory=lambda: ["*"])
    cors_allow_headers: list[str] = msgspec.field(default_factory=lambda: ["*"])
    model_max_connections: dict[str, int] = {}
    model_max_connections_default: int | None = None
    # None: wait as long as it takes; 0: refuse at once when no slot is free.
    model_max_connections_acquire_timeout: float | None = None
    metrics_enabled: bool = False
    metrics_path: str = "/metrics"
    log_format: Literal["logfmt", "json"] = "logfmt"
    log_filename: str | None = None
    log_max_size: int = 10 * 1024 * 1024
    log_redact_sensitive: bool = True
    # --- traffic log: sinks, PostgreSQL, OpenSearch, admin API (the FastAPI gpt2giga names) ---
    traffic_log_enabled: bool = False
    traffic_log_sink: SinkName = "jsonl"
    # Non-empty: the sinks, in order, instead of `traffic_log_sink` (a mirror setup).
    traffic_log_sinks: list[SinkName] = []
    traffic_log_jsonl_path: str = "traffic_logs.jsonl"
    traffic_log_postgres_dsn: Secret | None = None
    traffic_log_capture_content: bool = False
    traffic_log_queue_size: int = 10_000
    traffic_log_batch_size: int = 500
    traffic_log_flush_interval_ms: int = 2_000
    traffic_log_drop_on_backpressure: bool = True
    traffic_log_redact_sensitive: bool = True
    traffic_log_redact_extra_keys: list[str] = []
    traffic_log_retention_days: int = 30
    traffic_log_purge_interval_seconds: int = 3_600
    # The HMAC key of the api_key_hash / client_ip_hash fingerprints; unset: a fixed
    # key, so that fingerprints match across workers and restarts.
    traffic_log_hash_key: Secret | None = None
    opensearch_url: str = "http://localhost:9200"
    opensearch_username: str | None = None
    opensearch_password: Secret | None = None
    opensearch_index: str = "gpt2giga-traffic"
    opensearch_data_stream: bool = True
    opensearch_bulk_size: int = 500
    opensearch_flush_interval_ms: int = 2_000
    admin_api_enabled: bool = False
    # The secret of the admin and debug routes; never the proxy key.
    admin_api_key: Secret | None = None
    replay_enabled: bool = False
    # --- traces (OpenTelemetry): names and defaults as in the FastAPI gpt2giga ---
    observability_enabled: bool = False
    observability_backend: Literal["phoenix", "otlp", "noop"] = "phoenix"
    # For traces the gateway starts; a client's traceparent decides for its own trace.
    observability_sample_rate: float = 1.0
    observability_queue_size: int = 10_000
    observability_drop_on_backpressure: bool = True
    observability_capture_content: bool = False
    observability_capture_messages: bool = False
    observability_capture_tool_args: bool = False
    observability_capture_responses: bool = False
    observability_max_content_length: int = 8000
    observability_redaction_enabled: bool = True
    # Each falls back to the unprefixed PHOENIX_* variable (FALLBACKS).
    phoenix_collector_endpoint: str | None = None
    phoenix_project_name: str = "gpt2giga"
    phoenix_api_key: Secret | None = None
    debug_translate_enabled: bool = False
    # Who may read /logs*: addresses or networks (empty: anyone the API key lets in);
    # X-Forwarded-For counts only when the peer is one of the trusted proxies.
    logs_ip_allowlist: list[str] = []
    logs_trusted_proxies: list[str] = []
    # --- client parameters ---
    # Provider built-in tools (web search, web fetch, code execution) are accepted
    # and named ignored instead of becoming GigaChat v2's built-ins.
    disable_builtin_tool_mapping: bool = False
    # Client headers passed on to GigaChat besides the tracing set; credentials,
    # cookies and SDK headers are refused at start-up.
    forward_headers: list[str] = []
    # --- shared state: several workers and replicas (README, deploy/README.md) ---
    # Redis that every worker and replica shares: redis://, rediss:// (TLS) or unix://.
    # A secret: the URL may carry a password.
    redis_url: Secret | None = None
    redis_key_prefix: str = "gpt2giga:"
    redis_max_connections: int = 32
    # Bounds each Redis call, and each wait for a pooled connection.
    redis_timeout_seconds: float = 1.0
    # Several workers on one box without Redis share state in a SQLite file in this
    # directory; the CLI makes a fresh one (removed at exit) when GPT2GIGA_WORKERS > 1.
    state_dir: str | None = None
    # A model slot's lease lasts this long unless its holder renews it (every third of
    # it): a process that dies frees its slots within this time.
    model_max_connections_lease_seconds: float = 15.0


class GigaChatSettings(msgspec.Struct, frozen=True, kw_only=True):
    base_url: str = SDK_BASE_URL
    auth_url: str = SDK_AUTH_URL
    credentials: Secret | None = None
    scope: str = SDK_SCOPE
    access_token: Secret | None = None
    model: str = "GigaChat"
    user: str | None = None
    password: Secret | None = None
    # Read timeout in seconds; the SDK's 30 s cuts long reasoning answers, so
    # the gateway's default is the length of a long agent turn.
    timeout: float = 600.0
    verify_ssl_certs: bool = True
    ca_bundle_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    key_file_password: Secret | None = None
    max_connections: int = 100
    max_retries: int = 2
    retry_backoff_factor: float = 0.5
    token_expiry_buffer_ms: int = 60_000
    profanity_check: bool | None = None


OtlpProtocol = Literal["http/protobuf", "grpc", "http/json"]


class OtelSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The standard OpenTelemetry variables (OTEL_*) the trace exporter honours."""

    service_name: str | None = None  # else service.name from the resource, else gpt2giga
    resource_attributes: str = ""
    exporter_otlp_endpoint: str | None = None
    exporter_otlp_traces_endpoint: str | None = None
    exporter_otlp_protocol: OtlpProtocol = "http/protobuf"
    exporter_otlp_traces_protocol: OtlpProtocol | None = None
    # `key=value,key2=value2` (values URL-encoded): collector API keys live here.
    exporter_otlp_headers: Secret | None = None
    exporter_otlp_traces_headers: Secret | None = None
    exporter_otlp_timeout: int = 10_000  # milliseconds
    exporter_otlp_traces_timeout: int | None = None


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    proxy: ProxySettings = ProxySettings()
    gigachat: GigaChatSettings = GigaChatSettings()
    otel: OtelSettings = OtelSettings()

    def resolve_model(self, requested: str | None) -> str:
        """The GigaChat model for a client's model name (aliases, then pass-through)."""
        if requested and self.proxy.pass_model:
            aliases = self.proxy.model_aliases
            if requested in aliases:  # an exact name beats any glob listed before it
                return aliases[requested]
            for pattern, target in aliases.items():
                if fnmatch.fnmatchcase(requested, pattern):
                    return target
            return requested
        return self.gigachat.model


PREFIXES: tuple[tuple[str, str, type[msgspec.Struct]], ...] = (
    ("proxy", "GPT2GIGA_", ProxySettings),
    ("gigachat", "GIGACHAT_", GigaChatSettings),
    ("otel", "OTEL_", OtelSettings),
)
# The FastAPI gpt2giga read Phoenix's own variable names when its prefixed ones were unset.
FALLBACKS = {
    "GPT2GIGA_PHOENIX_COLLECTOR_ENDPOINT": "PHOENIX_COLLECTOR_ENDPOINT",
    "GPT2GIGA_PHOENIX_PROJECT_NAME": "PHOENIX_PROJECT_NAME",
    "GPT2GIGA_PHOENIX_API_KEY": "PHOENIX_API_KEY",
}

TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def env_name(section: str, field: str) -> str:
    prefix = next(p for s, p, _ in PREFIXES if s == section)
    return prefix + field.upper()


def is_secret(section: str, field: str) -> bool:
    cls = next(c for s, _, c in PREFIXES if s == section)
    hints = typing.get_type_hints(cls, globalns=globals())
    return Secret in typing.get_args(hints[field])


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse a `.env` file: `KEY=value` lines, `export` and quotes allowed."""
    values: dict[str, str] = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = _env_value(value)
    return values


def _env_value(value: str) -> str:
    """A `.env` value: a quoted string ends at its closing quote, a bare one at ` #`."""
    text = value.strip()
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        if end != -1:
            return text[1:end]
    return value.split(" #", 1)[0].strip()


def load(
    environ: Mapping[str, str] | None = None, env_file: str | os.PathLike[str] | None = None
) -> Settings:
    """Settings from `environ` (default: os.environ) over an optional `.env` file."""
    env = dict(os.environ if environ is None else environ)
    if env_file is not None and Path(env_file).is_file():
        env = {**read_env_file(env_file), **env}
    for name, fallback in FALLBACKS.items():
        if name not in env and fallback in env:
            env[name] = env[fallback]
    sections = {section: _load_section(cls, prefix, env) for section, prefix, cls in PREFIXES}
    settings = Settings(**sections)
    from gpt2giga.config import rules  # the rules read this module's types

    rules.validate(settings)
    return settings


def _load_section(cls: type[msgspec.Struct], prefix: str, env: Mapping[str, str]) -> Any:
    hints = typing.get_type_hints(cls, globalns=globals())
    values: dict[str, Any] = {}
    for field in msgspec.structs.fields(cls):
        name = prefix + field.name.upper()
        raw = env.get(name)
        if raw is None:
            continue
        values[field.name] = parse_value(name, raw, hints[field.name])
    return cls(**values)


def parse_value(name: str, raw: str, tp: Any) -> Any:
    """Parse one variable's text into `tp`, or raise ConfigError naming `name`."""
    text = raw.strip()
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        if text == "" or text.lower() in ("none", "null"):
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return parse_value(name, raw, inner)
    if tp is Secret:
        return Secret(text)
    if tp is bool:
        if text.lower() in TRUE:
            return True
        if text.lower() in FALSE:
            return False
        raise ConfigError(f"{name}: expected true or false, got {text!r}")
    if tp in (int, float):
        try:
            return tp(text)
        except ValueError:
            kind = "an integer" if tp is int else "a number"
            raise ConfigError(f"{name}: expected {kind}, got {text!r}") from None
    if typing.get_origin(tp) is Literal:
        for option in args:
            if text.lower() == option.lower():
                return option
        raise ConfigError(f"{name}: expected one of {', '.join(args)}, got {text!r}")
    if typing.get_origin(tp) in (dict, list):
        return _parse_json(name, text, tp)
    return text


def _parse_json(name: str, text: str, tp: Any) -> Any:
    if not text:
        return typing.get_origin(tp)()
    (item_type, *_) = typing.get_args(tp)
    if typing.get_origin(tp) is list and not text.startswith("["):
        items = [item.strip() for item in text.split(",") if item.strip()]
        return [parse_value(name, item, item_type) for item in items]
    if typing.get_origin(tp) is list and typing.get_origin(item_type) is Literal:
        # Names in a JSON list are matched like a single one: trimmed, any case.
        words = _parse_json(name, text, list[str])
        return [parse_value(name, word, item_type) for word in words]
    try:
        return msgspec.json.decode(text, type=tp)
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{name}: expected JSON ({exc})") from None


def sink_names(proxy: ProxySettings) -> list[SinkName]:
    """The traffic-log sinks asked for, in order, once each; `noop` is none."""
    names = proxy.traffic_log_sinks or [proxy.traffic_log_sink]
    return [n for i, n in enumerate(names) if n != "noop" and n not in names[:i]]


def tracing_on(proxy: ProxySettings) -> bool:
    return proxy.observability_enabled and proxy.observability_backend != "noop"


def otlp_protocol(otel: OtelSettings) -> OtlpProtocol:
    return otel.exporter_otlp_traces_protocol or otel.exporter_otlp_protocol


def auth_required(settings: Settings) -> bool:
    return settings.proxy.enable_api_key_auth or settings.proxy.mode == "PROD"


def has_upstream_auth(giga: GigaChatSettings) -> bool:
    return bool(giga.credentials or giga.access_token or (giga.user and giga.password))
