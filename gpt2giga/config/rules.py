"""The rules a set of settings must pass before the gateway starts.

Each check raises `ConfigError` naming the variable; none echoes a secret's value.
`load()` runs them all, once, at start-up.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import re
from pathlib import Path

from gpt2giga.config import (
    ConfigError,
    OtelSettings,
    ProxySettings,
    Settings,
    has_upstream_auth,
    otlp_protocol,
    sink_names,
    tracing_on,
)


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
