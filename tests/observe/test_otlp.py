"""Where spans go: endpoint precedence, headers, resource, and the settings checked at start-up."""

from __future__ import annotations

import pytest

from gpt2giga.config import ConfigError
from gpt2giga.observe import otlp
from tests.conftest import make_settings

ON = {"GPT2GIGA_OBSERVABILITY_ENABLED": "true"}


@pytest.mark.parametrize(
    ("env", "url", "source"),
    [
        ({}, "http://localhost:6006/v1/traces", "default"),
        ({"GPT2GIGA_OBSERVABILITY_BACKEND": "otlp"}, "http://localhost:4318/v1/traces", "default"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"},
            "http://collector:4318/v1/traces",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://tempo:443/otlp/traces",
            },
            "https://tempo:443/otlp/traces",  # the signal's own URL is taken as it is
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ),
        (
            {
                "PHOENIX_COLLECTOR_ENDPOINT": "http://phoenix:6006",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318/v1/traces",
            },
            "http://phoenix:6006/v1/traces",
            "GPT2GIGA_PHOENIX_COLLECTOR_ENDPOINT",
        ),
        (
            {
                "GPT2GIGA_PHOENIX_COLLECTOR_ENDPOINT": "http://ours:6006/v1/traces",
                "PHOENIX_COLLECTOR_ENDPOINT": "http://theirs:6006",
            },
            "http://ours:6006/v1/traces",  # never /v1/traces twice
            "GPT2GIGA_PHOENIX_COLLECTOR_ENDPOINT",
        ),
    ],
)
def test_endpoint_precedence_and_the_signal_path(
    env: dict[str, str], url: str, source: str
) -> None:
    where = otlp.target(make_settings(**env))
    assert (where.url, where.grpc, where.source) == (url, False, source)


def test_grpc_takes_the_endpoint_without_a_path() -> None:
    settings = make_settings(
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4317"
    )
    assert otlp.target(settings) == otlp.Target(
        "http://collector:4317", True, "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    assert otlp.target(make_settings(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="grpc")).url == (
        "http://localhost:4317"
    )


def test_headers_merge_and_phoenix_key_is_a_bearer_token() -> None:
    settings = make_settings(
        OTEL_EXPORTER_OTLP_HEADERS="X-Tenant=a%20b,Authorization=Basic%20xyz",
        OTEL_EXPORTER_OTLP_TRACES_HEADERS="x-tenant=traces",
        PHOENIX_API_KEY="phx-key",
    )
    assert otlp.headers(settings) == {"x-tenant": "traces", "authorization": "Basic xyz"}
    assert otlp.headers(make_settings(GPT2GIGA_PHOENIX_API_KEY="phx-key")) == {
        "authorization": "Bearer phx-key"
    }


def test_resource_service_name_and_phoenix_project() -> None:
    attributes = otlp.resource_attributes(
        make_settings(
            OTEL_RESOURCE_ATTRIBUTES="service.name=from-attrs,deployment.environment=prod",
            PHOENIX_PROJECT_NAME="agents",
        )
    )
    assert attributes == {
        "service.name": "from-attrs",
        "deployment.environment": "prod",
        "openinference.project.name": "agents",
    }
    named = otlp.resource_attributes(
        make_settings(OTEL_SERVICE_NAME="edge", OTEL_RESOURCE_ATTRIBUTES="service.name=x")
    )
    assert named["service.name"] == "edge"  # OTEL_SERVICE_NAME wins (OTel spec)
    assert otlp.resource_attributes(make_settings())["service.name"] == "gpt2giga"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GPT2GIGA_OBSERVABILITY_SAMPLE_RATE": "1.5"}, "GPT2GIGA_OBSERVABILITY_SAMPLE_RATE"),
        ({"GPT2GIGA_OBSERVABILITY_QUEUE_SIZE": "0"}, "GPT2GIGA_OBSERVABILITY_QUEUE_SIZE"),
        ({"GPT2GIGA_OBSERVABILITY_MAX_CONTENT_LENGTH": "0"}, "MAX_CONTENT_LENGTH"),
        ({"GPT2GIGA_OBSERVABILITY_BACKEND": "jaeger"}, "GPT2GIGA_OBSERVABILITY_BACKEND"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"PHOENIX_COLLECTOR_ENDPOINT": "phoenix"}, "GPT2GIGA_PHOENIX_COLLECTOR_ENDPOINT"),
        ({**ON, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "http/json is not supported"),
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "0"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
    ],
)
def test_bad_trace_settings_stop_start_up_with_the_variable_named(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_settings(**env)


def test_bad_exporter_headers_are_refused_without_repeating_them() -> None:
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_HEADERS") as err:
        make_settings(OTEL_EXPORTER_OTLP_HEADERS="api-key-without-equals-sign")
    assert "api-key-without" not in str(err.value)


def test_grpc_without_its_extra_is_a_clear_start_up_error() -> None:
    import importlib.util

    env = {**ON, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    if importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is not None:
        # With the extra installed, gRPC is simply chosen.
        assert otlp.target(make_settings(**env)).grpc
        return
    with pytest.raises(ConfigError) as err:
        make_settings(**env)
    assert str(err.value) == (
        "GPT2GIGA_OBSERVABILITY_ENABLED: OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs "
        "opentelemetry.exporter.otlp.proto.grpc: pip install 'gpt2giga[otel-grpc]'"
    )


def test_the_fastapi_gateways_grpc_port_over_http_gets_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    otlp.exporter(make_settings(**ON, PHOENIX_COLLECTOR_ENDPOINT="http://localhost:4317"))
    assert any("port 4317" in r.message for r in caplog.records)
