"""Settings from the environment and a `.env` file, with the FastAPI gpt2giga's names.

Every field of `ProxySettings` is read from `GPT2GIGA_<NAME>`, every field of
`GigaChatSettings` from `GIGACHAT_<NAME>`. A bad value stops start-up with one
line that names the variable; secret values never appear in that line, in a
repr, or anywhere else this module prints.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import ipaddress
import os
import re
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
    validate(settings)
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


def validate(settings: Settings) -> None:
    proxy, giga = settings.proxy, settings.gigachat
    if not 0 < proxy.port < 65536:
        raise ConfigError(f"GPT2GIGA_PORT: expected a port number, got {proxy.port}")
    if proxy.workers < 1:
        raise ConfigError(f"GPT2GIGA_WORKERS: expected at least 1, got {proxy.workers}")
    if proxy.max_request_body_bytes < 1024:
        raise ConfigError("GPT2GIGA_MAX_REQUEST_BODY_BYTES: expected at least 1024")
    if proxy.default_max_tokens is not None and proxy.default_max_tokens < 1:
        raise ConfigError("GPT2GIGA_DEFAULT_MAX_TOKENS: expected a positive integer")
    if proxy.responses_store_size < 0:
        raise ConfigError("GPT2GIGA_RESPONSES_STORE_SIZE: expected 0 or more")
    if proxy.responses_store_ttl_seconds <= 0:
        raise ConfigError("GPT2GIGA_RESPONSES_STORE_TTL_SECONDS: expected a positive number")
    if proxy.stream_keepalive_seconds < 0:
        raise ConfigError("GPT2GIGA_STREAM_KEEPALIVE_SECONDS: expected 0 (off) or more seconds")
    _validate_attachments(proxy)
    validate_forward_headers(proxy.forward_headers)
    if giga.timeout <= 0:
        raise ConfigError("GIGACHAT_TIMEOUT: expected a positive number of seconds")
    if giga.max_connections < 1:
        raise ConfigError("GIGACHAT_MAX_CONNECTIONS: expected at least 1")
    if giga.max_retries < 0:
        raise ConfigError("GIGACHAT_MAX_RETRIES: expected 0 or more")
    if (proxy.enable_api_key_auth or proxy.mode == "PROD") and not proxy.api_key:
        why = "PROD mode" if proxy.mode == "PROD" else "GPT2GIGA_ENABLE_API_KEY_AUTH"
        raise ConfigError(f"GPT2GIGA_API_KEY: {why} requires an API key")
    if not (proxy.demo or proxy.pass_token or has_upstream_auth(giga)):
        raise ConfigError(
            "GIGACHAT_CREDENTIALS: no GigaChat credentials; set GIGACHAT_CREDENTIALS, "
            "GIGACHAT_ACCESS_TOKEN or GIGACHAT_USER and GIGACHAT_PASSWORD (or run with --demo)"
        )
    for url_name in ("base_url", "auth_url"):
        url = getattr(giga, url_name)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"GIGACHAT_{url_name.upper()}: expected an http(s) URL")
    validate_operations(proxy)
    validate_traces(settings)


def _at_least(name: str, value: float | None, low: float) -> None:
    if value is not None and value < low:
        raise ConfigError(f"GPT2GIGA_{name.upper()}: expected at least {low:g}, got {value:g}")


def validate_operations(proxy: ProxySettings) -> None:
    if not 0 < proxy.shutdown_timeout_seconds <= 300:
        raise ConfigError("GPT2GIGA_SHUTDOWN_TIMEOUT_SECONDS: expected more than 0 and at most 300")
    for name in (
        "pass_token_client_cache_size",
        "model_max_connections_default",
        "traffic_log_queue_size",
        "traffic_log_batch_size",
        "traffic_log_flush_interval_ms",
        "traffic_log_retention_days",
        "traffic_log_purge_interval_seconds",
        "opensearch_bulk_size",
        "opensearch_flush_interval_ms",
    ):
        _at_least(name, getattr(proxy, name), 1)
    _at_least("log_max_size", proxy.log_max_size, 1024)
    _at_least(
        "model_max_connections_acquire_timeout", proxy.model_max_connections_acquire_timeout, 0
    )
    for model, limit in proxy.model_max_connections.items():
        if limit < 1:
            raise ConfigError(
                f"GPT2GIGA_MODEL_MAX_CONNECTIONS: {model!r} needs at least 1, got {limit}"
            )
    if not proxy.metrics_path.startswith("/") or proxy.metrics_path.rstrip("/") == "":
        raise ConfigError(
            f"GPT2GIGA_METRICS_PATH: expected a path such as /metrics, got {proxy.metrics_path!r}"
        )
    validate_traffic_log(proxy)
    for name in ("logs_ip_allowlist", "logs_trusted_proxies"):
        for network in getattr(proxy, name):
            _network(f"GPT2GIGA_{name.upper()}", network)
    if proxy.use_https:
        validate_https(proxy)
    validate_state(proxy)


def validate_state(proxy: ProxySettings) -> None:
    _at_least("redis_max_connections", proxy.redis_max_connections, 1)
    if proxy.redis_timeout_seconds <= 0:
        raise ConfigError("GPT2GIGA_REDIS_TIMEOUT_SECONDS: expected a positive number of seconds")
    if not 1 <= proxy.model_max_connections_lease_seconds <= 30:
        raise ConfigError(
            "GPT2GIGA_MODEL_MAX_CONNECTIONS_LEASE_SECONDS: expected 1 to 30 seconds "
            "(a dead process's slots are free again after it)"
        )
    if proxy.redis_url is None:
        return
    # The value is never echoed: the URL may carry a password.
    if not proxy.redis_url.value.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("GPT2GIGA_REDIS_URL: expected a redis://, rediss:// or unix:// URL")
    if importlib.util.find_spec("redis") is None:
        raise ConfigError(
            "GPT2GIGA_REDIS_URL: Redis support is not installed; pip install 'gpt2giga[redis]'"
        )


def sink_names(proxy: ProxySettings) -> list[SinkName]:
    """The traffic-log sinks asked for, in order, once each; `noop` is none."""
    names = proxy.traffic_log_sinks or [proxy.traffic_log_sink]
    return [n for i, n in enumerate(names) if n != "noop" and n not in names[:i]]


def validate_traffic_log(proxy: ProxySettings) -> None:
    names = sink_names(proxy)
    which = "GPT2GIGA_TRAFFIC_LOG_SINKS" if proxy.traffic_log_sinks else "GPT2GIGA_TRAFFIC_LOG_SINK"
    # The FastAPI gpt2giga quietly wrote nothing here; a sink that cannot work is a
    # start-up error, as every other bad setting is.
    if proxy.traffic_log_enabled and "postgres" in names and not proxy.traffic_log_postgres_dsn:
        raise ConfigError(f"GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN: {which} names postgres; set the DSN")
    if proxy.traffic_log_enabled and "opensearch" in names:
        url = proxy.opensearch_url
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"GPT2GIGA_OPENSEARCH_URL: expected an http(s) URL, got {url!r}")
    if proxy.opensearch_index != proxy.opensearch_index.lower() or not proxy.opensearch_index:
        raise ConfigError("GPT2GIGA_OPENSEARCH_INDEX: expected a lower-case index name")


OTEL_EXTRA = "pip install 'gpt2giga[otel]'"
GRPC_EXTRA = "pip install 'gpt2giga[otel-grpc]'"


def tracing_on(proxy: ProxySettings) -> bool:
    return proxy.observability_enabled and proxy.observability_backend != "noop"


def otlp_protocol(otel: OtelSettings) -> OtlpProtocol:
    return otel.exporter_otlp_traces_protocol or otel.exporter_otlp_protocol


def validate_traces(settings: Settings) -> None:
    """Trace settings; with tracing on, the OpenTelemetry packages it needs must be installed."""
    proxy, otel = settings.proxy, settings.otel
    if not 0 <= proxy.observability_sample_rate <= 1:
        raise ConfigError("GPT2GIGA_OBSERVABILITY_SAMPLE_RATE: expected a number from 0 to 1")
    for name in ("observability_queue_size", "observability_max_content_length"):
        _at_least(name, getattr(proxy, name), 1)
    if (otel.exporter_otlp_traces_timeout or otel.exporter_otlp_timeout) < 1:
        raise ConfigError("OTEL_EXPORTER_OTLP_TIMEOUT: expected a positive number of milliseconds")
    for url_name, url in (
        ("GPT2GIGA_PHOENIX_COLLECTOR_ENDPOINT", proxy.phoenix_collector_endpoint),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otel.exporter_otlp_endpoint),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", otel.exporter_otlp_traces_endpoint),
    ):
        if url and not url.startswith(("http://", "https://")):
            raise ConfigError(f"{url_name}: expected an http(s) URL, got {url!r}")
    for header_name, secret in (
        ("OTEL_EXPORTER_OTLP_HEADERS", otel.exporter_otlp_headers),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", otel.exporter_otlp_traces_headers),
    ):
        if secret and any("=" not in pair for pair in secret.value.split(",") if pair.strip()):
            # The value itself is not repeated: it holds collector keys.
            raise ConfigError(f"{header_name}: expected key=value pairs separated by commas")
    if tracing_on(proxy):
        _validate_exporter(otel)


def _validate_exporter(otel: OtelSettings) -> None:
    """The OpenTelemetry packages the chosen protocol needs are installed (not imported)."""
    import importlib.util  # only here: nothing else in the settings needs it

    protocol = otlp_protocol(otel)
    name = (
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
        if otel.exporter_otlp_traces_protocol
        else "OTEL_EXPORTER_OTLP_PROTOCOL"
    )
    if protocol == "http/json":
        raise ConfigError(f"{name}: http/json is not supported; use http/protobuf or grpc")
    grpc = protocol == "grpc"
    exporter = f"opentelemetry.exporter.otlp.proto.{'grpc' if grpc else 'http'}"
    for module in ("opentelemetry.sdk", exporter):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # a parent package is missing
            found = False
        if not found:
            why = f"{name}=grpc needs" if grpc else "tracing needs"
            extra = GRPC_EXTRA if grpc else OTEL_EXTRA
            raise ConfigError(f"GPT2GIGA_OBSERVABILITY_ENABLED: {why} {module}: {extra}")


def validate_https(proxy: ProxySettings) -> None:
    for name in ("https_cert_file", "https_key_file"):
        path = getattr(proxy, name)
        if not path or not Path(path).is_file():
            what = "is not set" if not path else f"{path!r} is not a file"
            raise ConfigError(f"GPT2GIGA_{name.upper()}: GPT2GIGA_USE_HTTPS needs it; {what}")
    key = Path(proxy.https_key_file or "").read_bytes()
    if b"-----BEGIN PRIVATE KEY-----" not in key:
        # Granian reads unencrypted PKCS#8 only; RSA/EC-specific PEM is common.
        raise ConfigError(
            "GPT2GIGA_HTTPS_KEY_FILE: expected an unencrypted PKCS#8 key (BEGIN PRIVATE KEY); "
            "convert it with: openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem"
        )


# Headers never passed on to GigaChat, whatever GPT2GIGA_FORWARD_HEADERS says:
# a client's credentials and cookies, its SDK's own headers, and the ones the
# gateway writes itself for the upstream call.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie",
     "set-cookie"}
)  # fmt: skip
SDK_HEADER_PREFIXES = ("x-stainless-", "anthropic-", "openai-", "x-goog-")
# Any name with one of these words is taken for a credential (x-tenant-token, x-auth-user).
CREDENTIAL_WORDS = ("auth", "key", "token", "secret", "password", "passwd", "cookie", "credential")
GATEWAY_HEADERS = frozenset(
    {"host", "content-length", "content-type", "content-encoding", "transfer-encoding",
     "connection", "keep-alive", "upgrade", "te", "trailer", "expect", "accept",
     "accept-encoding", "cache-control", "user-agent", "x-request-id", "rquid"}
)  # fmt: skip
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def validate_forward_headers(names: list[str]) -> None:
    for name in names:
        low = name.lower()
        why = None
        if not _HEADER_NAME.fullmatch(name):
            why = "is not a header name"
        elif low in CREDENTIAL_HEADERS or any(word in low for word in CREDENTIAL_WORDS):
            why = "carries credentials and is never forwarded"
        elif low.startswith(SDK_HEADER_PREFIXES) or low.startswith("proxy-"):
            why = "is a client SDK's or a proxy's own header and is never forwarded"
        elif low in GATEWAY_HEADERS:
            why = "is written by the gateway for the GigaChat call and cannot be forwarded"
        if why is not None:
            raise ConfigError(f"GPT2GIGA_FORWARD_HEADERS: {name!r} {why}")


def _validate_attachments(proxy: ProxySettings) -> None:
    for name in (
        "max_image_file_size_bytes",
        "max_text_file_size_bytes",
        "max_audio_image_total_size_bytes",
    ):
        if getattr(proxy, name) < 1:
            raise ConfigError(f"GPT2GIGA_{name.upper()}: expected a positive number of bytes")
    for network in proxy.attachment_url_allowed_networks:
        _network("GPT2GIGA_ATTACHMENT_URL_ALLOWED_NETWORKS", network)


def _network(name: str, network: str) -> None:
    try:
        ipaddress.ip_network(network, strict=False)
    except ValueError:
        raise ConfigError(
            f"{name}: {network!r} is not an address or a network (e.g. 10.0.0.5 or 10.0.0.0/24)"
        ) from None


def auth_required(settings: Settings) -> bool:
    return settings.proxy.enable_api_key_auth or settings.proxy.mode == "PROD"


def has_upstream_auth(giga: GigaChatSettings) -> bool:
    return bool(giga.credentials or giga.access_token or (giga.user and giga.password))
