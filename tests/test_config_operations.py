"""The operations settings: the FastAPI gpt2giga's names, parsed and checked in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gpt2giga import config
from gpt2giga.config import ConfigError
from tests.certs import self_signed

CREDS = {"GIGACHAT_CREDENTIALS": "c2VjcmV0LWNyZWRz"}


def load(**env: str) -> config.Settings:
    return config.load({**CREDS, **env})


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        ({"GPT2GIGA_METRICS_ENABLED": "True"}, "metrics_enabled", True),
        ({"GPT2GIGA_METRICS_PATH": "/prom"}, "metrics_path", "/prom"),
        (
            {"GPT2GIGA_MODEL_MAX_CONNECTIONS": '{"GigaChat-2-Max": 5}'},
            "model_max_connections",
            {"GigaChat-2-Max": 5},
        ),
        ({"GPT2GIGA_MODEL_MAX_CONNECTIONS_DEFAULT": "3"}, "model_max_connections_default", 3),
        (
            {"GPT2GIGA_MODEL_MAX_CONNECTIONS_ACQUIRE_TIMEOUT": "0"},
            "model_max_connections_acquire_timeout",
            0.0,
        ),
        ({"GPT2GIGA_PASS_TOKEN_CLIENT_CACHE_SIZE": "8"}, "pass_token_client_cache_size", 8),
        ({"GPT2GIGA_CORS_ALLOW_ORIGINS": "*"}, "cors_allow_origins", ["*"]),
        (
            {"GPT2GIGA_CORS_ALLOW_ORIGINS": '["https://a.example","http://b:3000"]'},
            "cors_allow_origins",
            ["https://a.example", "http://b:3000"],
        ),
        ({"GPT2GIGA_CORS_ALLOW_METHODS": "GET, POST"}, "cors_allow_methods", ["GET", "POST"]),
        ({"GPT2GIGA_LOG_FORMAT": "JSON"}, "log_format", "json"),
        ({"GPT2GIGA_LOG_FILENAME": "gpt2giga.log"}, "log_filename", "gpt2giga.log"),
        ({"GPT2GIGA_LOG_MAX_SIZE": "2048"}, "log_max_size", 2048),
        ({"GPT2GIGA_LOG_REDACT_SENSITIVE": "false"}, "log_redact_sensitive", False),
        ({"GPT2GIGA_TRAFFIC_LOG_ENABLED": "true"}, "traffic_log_enabled", True),
        ({"GPT2GIGA_TRAFFIC_LOG_SINK": "noop"}, "traffic_log_sink", "noop"),
        (
            {"GPT2GIGA_TRAFFIC_LOG_REDACT_EXTRA_KEYS": "tenant, project"},
            "traffic_log_redact_extra_keys",
            ["tenant", "project"],
        ),
        ({"GPT2GIGA_TRAFFIC_LOG_FLUSH_INTERVAL_MS": "250"}, "traffic_log_flush_interval_ms", 250),
        # As in the FastAPI gpt2giga: a JSON array or a comma list, any case, trimmed.
        (
            {"GPT2GIGA_TRAFFIC_LOG_SINKS": " Postgres, opensearch"},
            "traffic_log_sinks",
            ["postgres", "opensearch"],
        ),
        (
            {"GPT2GIGA_TRAFFIC_LOG_SINKS": '["JSONL", " noop"]'},
            "traffic_log_sinks",
            ["jsonl", "noop"],
        ),
        ({"GPT2GIGA_TRAFFIC_LOG_SINKS": ""}, "traffic_log_sinks", []),
        (
            {"GPT2GIGA_TRAFFIC_LOG_DROP_ON_BACKPRESSURE": "no"},
            "traffic_log_drop_on_backpressure",
            False,
        ),
        (
            {"GPT2GIGA_TRAFFIC_LOG_PURGE_INTERVAL_SECONDS": "60"},
            "traffic_log_purge_interval_seconds",
            60,
        ),
        ({"GPT2GIGA_OPENSEARCH_DATA_STREAM": "false"}, "opensearch_data_stream", False),
        ({"GPT2GIGA_OPENSEARCH_BULK_SIZE": "50"}, "opensearch_bulk_size", 50),
        ({"GPT2GIGA_ADMIN_API_ENABLED": "true"}, "admin_api_enabled", True),
        ({"GPT2GIGA_REPLAY_ENABLED": "on"}, "replay_enabled", True),
    ],
)
def test_operations_settings_parse(env: dict[str, str], field: str, expected: Any) -> None:
    assert getattr(load(**env).proxy, field) == expected


def test_defaults_keep_every_operations_feature_off_or_safe() -> None:
    p = load().proxy
    assert (p.metrics_enabled, p.traffic_log_enabled, p.use_https, p.pass_token) == (
        False,
        False,
        False,
        False,
    )
    assert p.cors_allow_origins == [] and p.cors_allow_methods == ["*"]
    assert p.log_redact_sensitive and p.traffic_log_redact_sensitive
    assert p.log_filename is None and p.model_max_connections_acquire_timeout is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"GPT2GIGA_SHUTDOWN_TIMEOUT_SECONDS": "0"},
            "GPT2GIGA_SHUTDOWN_TIMEOUT_SECONDS: expected more than 0 and at most 300",
        ),
        (
            {"GPT2GIGA_MODEL_MAX_CONNECTIONS": '{"GigaChat": 0}'},
            "GPT2GIGA_MODEL_MAX_CONNECTIONS: 'GigaChat' needs at least 1, got 0",
        ),
        (
            {"GPT2GIGA_MODEL_MAX_CONNECTIONS_ACQUIRE_TIMEOUT": "-1"},
            "GPT2GIGA_MODEL_MAX_CONNECTIONS_ACQUIRE_TIMEOUT: expected at least 0, got -1",
        ),
        (
            {"GPT2GIGA_PASS_TOKEN_CLIENT_CACHE_SIZE": "0"},
            "GPT2GIGA_PASS_TOKEN_CLIENT_CACHE_SIZE: expected at least 1, got 0",
        ),
        (
            {"GPT2GIGA_TRAFFIC_LOG_QUEUE_SIZE": "0"},
            "GPT2GIGA_TRAFFIC_LOG_QUEUE_SIZE: expected at least 1, got 0",
        ),
        ({"GPT2GIGA_LOG_MAX_SIZE": "10"}, "GPT2GIGA_LOG_MAX_SIZE: expected at least 1024, got 10"),
        (
            {"GPT2GIGA_METRICS_PATH": "metrics"},
            "GPT2GIGA_METRICS_PATH: expected a path such as /metrics, got 'metrics'",
        ),
        (
            {"GPT2GIGA_TRAFFIC_LOG_ENABLED": "true", "GPT2GIGA_TRAFFIC_LOG_SINK": "postgres"},
            "GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN: GPT2GIGA_TRAFFIC_LOG_SINK names postgres; "
            "set the DSN",
        ),
        (
            {"GPT2GIGA_TRAFFIC_LOG_ENABLED": "1", "GPT2GIGA_TRAFFIC_LOG_SINKS": "jsonl,postgres"},
            "GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN: GPT2GIGA_TRAFFIC_LOG_SINKS names postgres; "
            "set the DSN",
        ),
        (
            {"GPT2GIGA_TRAFFIC_LOG_SINKS": "jsonl, elastic"},
            "GPT2GIGA_TRAFFIC_LOG_SINKS: expected one of noop, jsonl, postgres, opensearch, "
            "got 'elastic'",
        ),
        (
            {"GPT2GIGA_TRAFFIC_LOG_RETENTION_DAYS": "0"},
            "GPT2GIGA_TRAFFIC_LOG_RETENTION_DAYS: expected at least 1, got 0",
        ),
        (
            {
                "GPT2GIGA_TRAFFIC_LOG_ENABLED": "1",
                "GPT2GIGA_TRAFFIC_LOG_SINK": "opensearch",
                "GPT2GIGA_OPENSEARCH_URL": "opensearch:9200",
            },
            "GPT2GIGA_OPENSEARCH_URL: expected an http(s) URL, got 'opensearch:9200'",
        ),
        (
            {"GPT2GIGA_OPENSEARCH_INDEX": "Traffic"},
            "GPT2GIGA_OPENSEARCH_INDEX: expected a lower-case index name",
        ),
        (
            {"GPT2GIGA_TRAFFIC_LOG_SINKS": "jsonl,elastic"},
            "GPT2GIGA_TRAFFIC_LOG_SINKS: expected one of noop, jsonl, postgres, opensearch, "
            "got 'elastic'",
        ),
        (
            {"GPT2GIGA_LOGS_IP_ALLOWLIST": '["127.0.0.1", "office"]'},
            "GPT2GIGA_LOGS_IP_ALLOWLIST: 'office' is not an address or a network "
            "(e.g. 10.0.0.5 or 10.0.0.0/24)",
        ),
        (
            {"GPT2GIGA_LOGS_TRUSTED_PROXIES": "10.0.0.0/33"},
            "GPT2GIGA_LOGS_TRUSTED_PROXIES: '10.0.0.0/33' is not an address or a network "
            "(e.g. 10.0.0.5 or 10.0.0.0/24)",
        ),
        (
            {"GPT2GIGA_USE_HTTPS": "true"},
            "GPT2GIGA_HTTPS_CERT_FILE: GPT2GIGA_USE_HTTPS needs it; is not set",
        ),
    ],
)
def test_bad_operations_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(**env)
    assert str(caught.value) == message


def test_sinks_replace_the_single_sink_once_each_without_noop() -> None:
    one = load(GPT2GIGA_TRAFFIC_LOG_SINK="opensearch").proxy
    assert config.sink_names(one) == ["opensearch"]
    many = load(
        GPT2GIGA_TRAFFIC_LOG_SINK="jsonl", GPT2GIGA_TRAFFIC_LOG_SINKS="postgres,noop,jsonl,postgres"
    ).proxy
    assert config.sink_names(many) == ["postgres", "jsonl"]
    assert config.sink_names(load(GPT2GIGA_TRAFFIC_LOG_SINK="noop").proxy) == []


def test_traffic_log_secrets_are_secrets() -> None:
    p = load(
        GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN="postgresql://u:pw-123@db/x",
        GPT2GIGA_ADMIN_API_KEY="admin-key-1",
        GPT2GIGA_OPENSEARCH_PASSWORD="os-pass-1",
    ).proxy
    assert "pw-123" not in repr(p) and "admin-key-1" not in repr(p) and "os-pass-1" not in repr(p)
    for field in ("traffic_log_postgres_dsn", "admin_api_key", "opensearch_password"):
        assert config.is_secret("proxy", field)


def test_https_files_must_exist_and_the_key_be_pkcs8(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    env = {"GPT2GIGA_USE_HTTPS": "true", "GPT2GIGA_HTTPS_CERT_FILE": str(cert)}
    assert load(**env, GPT2GIGA_HTTPS_KEY_FILE=str(key)).proxy.use_https
    with pytest.raises(ConfigError, match=r"GPT2GIGA_HTTPS_KEY_FILE: .*'/nope' is not a file"):
        load(**env, GPT2GIGA_HTTPS_KEY_FILE="/nope")
    rsa_style = tmp_path / "rsa.pem"
    rsa_style.write_text("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="openssl pkcs8 -topk8 -nocrypt"):
        load(**env, GPT2GIGA_HTTPS_KEY_FILE=str(rsa_style))


def test_every_traffic_log_and_admin_setting_is_documented() -> None:
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    example = (root / ".env.example").read_text()
    prefixes = ("traffic_log_", "opensearch_", "admin_api_", "replay_")
    names = [
        config.env_name("proxy", f)
        for f in config.ProxySettings.__struct_fields__
        if f.startswith(prefixes)
    ]
    assert len(names) > 20
    for name in names:
        assert name in readme, name
        assert name in example, name


def test_log_access_lists_take_json_or_commas_and_the_sinks_settings_are_known() -> None:
    proxy = load(
        GPT2GIGA_LOGS_IP_ALLOWLIST='["127.0.0.1", "10.1.0.0/16"]',
        GPT2GIGA_LOGS_TRUSTED_PROXIES="172.18.0.2, 172.19.0.0/16",
        GPT2GIGA_TRAFFIC_LOG_SINKS='["jsonl", "opensearch"]',
        GPT2GIGA_ADMIN_API_KEY="admin-secret",
        GPT2GIGA_DEBUG_TRANSLATE_ENABLED="true",
    ).proxy
    assert proxy.logs_ip_allowlist == ["127.0.0.1", "10.1.0.0/16"]
    assert proxy.logs_trusted_proxies == ["172.18.0.2", "172.19.0.0/16"]
    assert proxy.traffic_log_sinks == ["jsonl", "opensearch"]
    assert proxy.admin_api_key is not None and proxy.admin_api_key.value == "admin-secret"
    assert "admin-secret" not in repr(proxy)
    assert proxy.debug_translate_enabled
