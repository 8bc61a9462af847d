"""Where and how spans leave the gateway: the OTLP endpoint, protocol, headers and resource.

The settings are read here once, at start-up; `exporter()` imports the
OpenTelemetry exporter for the chosen protocol, so nothing of OpenTelemetry
is loaded while tracing is off. An endpoint is a base URL and `/v1/traces` is
appended, as the OTLP specification says for `OTEL_EXPORTER_OTLP_ENDPOINT`;
only `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is taken as the full URL.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote, urlsplit

from gpt2giga.config import Settings, otlp_protocol

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger("gpt2giga.traces")

SIGNAL_PATH = "/v1/traces"
# Phoenix takes OTLP/HTTP on its UI port and gRPC on 4317; a collector on 4318 and 4317.
DEFAULTS = {
    ("phoenix", False): "http://localhost:6006",
    ("phoenix", True): "http://localhost:4317",
    ("otlp", False): "http://localhost:4318",
    ("otlp", True): "http://localhost:4317",
}
GRPC_PORT = 4317


class Target(NamedTuple):
    url: str
    grpc: bool
    source: str  # the setting the URL came from, for the start-up line and errors


def signal_url(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith(SIGNAL_PATH) else base + SIGNAL_PATH


def target(settings: Settings) -> Target:
    """The endpoint: GPT2GIGA_PHOENIX_COLLECTOR_ENDPOINT (or PHOENIX_COLLECTOR_ENDPOINT),
    then OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, then OTEL_EXPORTER_OTLP_ENDPOINT, then the default."""
    proxy, otel = settings.proxy, settings.otel
    grpc = otlp_protocol(otel) == "grpc"
    if proxy.phoenix_collector_endpoint:
        url, source = proxy.phoenix_collector_endpoint, "GPT2GIGA_PHOENIX_COLLECTOR_ENDPOINT"
    elif otel.exporter_otlp_traces_endpoint:
        # The signal's own variable is the whole URL, used as it is (OTLP spec).
        return Target(
            otel.exporter_otlp_traces_endpoint, grpc, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        )
    elif otel.exporter_otlp_endpoint:
        url, source = otel.exporter_otlp_endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT"
    else:
        backend = "otlp" if proxy.observability_backend == "otlp" else "phoenix"
        url, source = DEFAULTS[backend, grpc], "default"
    # gRPC has no path: the service name travels in the call, not in the URL.
    return Target(url if grpc else signal_url(url), grpc, source)


def pairs(text: str) -> dict[str, str]:
    """`k=v,k2=v2`, values URL-encoded: OTEL_*_HEADERS and OTEL_RESOURCE_ATTRIBUTES."""
    found: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            found[key.strip()] = unquote(value.strip())
    return found


def headers(settings: Settings) -> dict[str, str]:
    """Headers for every export: OTEL_EXPORTER_OTLP_HEADERS, the traces variant over it,
    and Phoenix's API key as a bearer token unless an authorization header is given."""
    otel, proxy = settings.otel, settings.proxy
    found: dict[str, str] = {}
    for secret in (otel.exporter_otlp_headers, otel.exporter_otlp_traces_headers):
        if secret:
            found.update((k.lower(), v) for k, v in pairs(secret.value).items())
    if proxy.phoenix_api_key and "authorization" not in found:
        found["authorization"] = f"Bearer {proxy.phoenix_api_key.value}"
    return found


def resource_attributes(settings: Settings) -> dict[str, str]:
    proxy, otel = settings.proxy, settings.otel
    attributes = pairs(otel.resource_attributes)
    # OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES (OTel spec).
    attributes["service.name"] = otel.service_name or attributes.get("service.name") or "gpt2giga"
    # Phoenix files traces under this project; other backends keep it as a plain attribute.
    attributes.setdefault("openinference.project.name", proxy.phoenix_project_name)
    return attributes


def resource(settings: Settings) -> Resource:
    from opentelemetry.sdk.resources import Resource

    return Resource.create(resource_attributes(settings))


def exporter(settings: Settings) -> SpanExporter:
    """The OTLP exporter for the chosen protocol (the config check made sure it is installed)."""
    where = target(settings)
    otel = settings.otel
    timeout = (otel.exporter_otlp_traces_timeout or otel.exporter_otlp_timeout) / 1000
    sent = headers(settings)
    if where.grpc:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        grpc: SpanExporter = GrpcExporter(
            endpoint=where.url,
            insecure=where.url.startswith("http://"),
            headers=tuple(sent.items()),
            timeout=timeout,
        )
        return grpc
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if urlsplit(where.url).port == GRPC_PORT:
        # The FastAPI gpt2giga spoke gRPC to :4317; OTLP/HTTP there fails on every export.
        log.warning(
            "traces: %s points at port %d (OTLP gRPC) but the protocol is http/protobuf; "
            "use Phoenix's port 6006 (or 4318) or set OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
            where.source,
            GRPC_PORT,
        )
    return OTLPSpanExporter(endpoint=where.url, headers=sent, timeout=timeout)
