"""config: settings from GPT2GIGA_* / GIGACHAT_* variables and `.env`, with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import gigachat.settings
import pytest

from gpt2giga import config
from gpt2giga.config import ConfigError, Secret

CREDS = {"GIGACHAT_CREDENTIALS": "c2VjcmV0LWNyZWRz"}
SECRET_VALUE = "hunter2-top-secret"


def load(**env: str) -> config.Settings:
    return config.load({**CREDS, **env})


# --- field types ------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["1", "true", "True", "TRUE", "t", "yes", "Y", "on", " on "])
def test_true_spellings(word: str) -> None:
    assert load(GPT2GIGA_ENABLE_REASONING=word).proxy.enable_reasoning is True


@pytest.mark.parametrize("word", ["0", "false", "False", "f", "no", "N", "off", "OFF"])
def test_false_spellings(word: str) -> None:
    assert load(GPT2GIGA_PASS_MODEL=word).proxy.pass_model is False


@pytest.mark.parametrize(
    ("env", "section", "field", "expected"),
    [
        ({"GPT2GIGA_PORT": "9000"}, "proxy", "port", 9000),
        ({"GPT2GIGA_PORT": " 9000 "}, "proxy", "port", 9000),
        ({"GPT2GIGA_HOST": "0.0.0.0"}, "proxy", "host", "0.0.0.0"),
        ({"GPT2GIGA_MODE": "prod", "GPT2GIGA_API_KEY": "k"}, "proxy", "mode", "PROD"),
        ({"GPT2GIGA_LOG_LEVEL": "debug"}, "proxy", "log_level", "DEBUG"),
        ({"GPT2GIGA_GIGACHAT_API_MODE": "V2"}, "proxy", "gigachat_api_mode", "v2"),
        (
            {"GPT2GIGA_STRUCTURED_OUTPUT_MODE": "Native"},
            "proxy",
            "structured_output_mode",
            "native",
        ),
        ({"GPT2GIGA_DEFAULT_MAX_TOKENS": "512"}, "proxy", "default_max_tokens", 512),
        ({"GPT2GIGA_DEFAULT_MAX_TOKENS": ""}, "proxy", "default_max_tokens", None),
        ({"GPT2GIGA_DEFAULT_MAX_TOKENS": "none"}, "proxy", "default_max_tokens", None),
        ({"GPT2GIGA_SHUTDOWN_TIMEOUT_SECONDS": "2.5"}, "proxy", "shutdown_timeout_seconds", 2.5),
        ({"GPT2GIGA_STREAM_KEEPALIVE_SECONDS": "0"}, "proxy", "stream_keepalive_seconds", 0.0),
        (
            {"GPT2GIGA_MODEL_ALIASES": '{"gpt-*": "GigaChat-2-Max", "claude-*": "GigaChat-2-Pro"}'},
            "proxy",
            "model_aliases",
            {"gpt-*": "GigaChat-2-Max", "claude-*": "GigaChat-2-Pro"},
        ),
        ({"GPT2GIGA_MODEL_ALIASES": ""}, "proxy", "model_aliases", {}),
        ({"GIGACHAT_TIMEOUT": "30"}, "gigachat", "timeout", 30.0),
        ({"GIGACHAT_VERIFY_SSL_CERTS": "false"}, "gigachat", "verify_ssl_certs", False),
        ({"GIGACHAT_PROFANITY_CHECK": "yes"}, "gigachat", "profanity_check", True),
        ({"GIGACHAT_PROFANITY_CHECK": ""}, "gigachat", "profanity_check", None),
        ({"GIGACHAT_MODEL": "GigaChat-2-Max"}, "gigachat", "model", "GigaChat-2-Max"),
        ({"GIGACHAT_MAX_RETRIES": "0"}, "gigachat", "max_retries", 0),
        ({"GPT2GIGA_ENABLE_IMAGES": "off"}, "proxy", "enable_images", False),
        (
            {"GPT2GIGA_MAX_IMAGE_FILE_SIZE_BYTES": "1024"},
            "proxy",
            "max_image_file_size_bytes",
            1024,
        ),
        ({"GPT2GIGA_MAX_TEXT_FILE_SIZE_BYTES": "2048"}, "proxy", "max_text_file_size_bytes", 2048),
        (
            {"GPT2GIGA_MAX_AUDIO_IMAGE_TOTAL_SIZE_BYTES": "4096"},
            "proxy",
            "max_audio_image_total_size_bytes",
            4096,
        ),
        ({"GPT2GIGA_ATTACHMENT_URL_ALLOW_HTTP": "1"}, "proxy", "attachment_url_allow_http", True),
        (
            {"GPT2GIGA_ATTACHMENT_URL_ALLOWED_NETWORKS": "10.0.0.5, 192.168.0.0/16,::1"},
            "proxy",
            "attachment_url_allowed_networks",
            ["10.0.0.5", "192.168.0.0/16", "::1"],
        ),
    ],
)
def test_each_field_type_parses(
    env: dict[str, str], section: str, field: str, expected: Any
) -> None:
    settings = load(**env)
    value = getattr(getattr(settings, section), field)
    assert value == expected
    assert type(value) is type(expected)


def test_defaults_without_any_variable_but_credentials() -> None:
    settings = load()
    assert settings.proxy == config.ProxySettings()
    assert settings.gigachat.credentials == Secret("c2VjcmV0LWNyZWRz")
    assert settings.gigachat.model == "GigaChat"


def test_attachment_defaults_are_the_fastapi_gpt2gigas_and_fetch_only_public_https() -> None:
    proxy = load().proxy
    assert proxy.enable_images is True
    assert proxy.max_image_file_size_bytes == 15 * 1024 * 1024
    assert proxy.max_text_file_size_bytes == 40 * 1024 * 1024
    assert proxy.max_audio_image_total_size_bytes == 80 * 1024 * 1024
    assert proxy.attachment_url_allow_http is False
    assert proxy.attachment_url_allowed_networks == []


def test_unknown_variables_are_ignored() -> None:
    assert load(GPT2GIGA_NOT_A_SETTING="x", OTHER="y") == load()


@pytest.mark.parametrize(
    ("raw", "tp", "expected"),
    [
        ("a, b ,,c", list[str], ["a", "b", "c"]),
        ('["a", "b"]', list[str], ["a", "b"]),
        ("[1, 2]", list[int], [1, 2]),
        ("", list[str], []),
        ("1e3", float, 1000.0),
        ("-3", int, -3),
        ("x", Literal["X", "Y"], "X"),
        ("null", int | None, None),
        ("7", int | None, 7),
        ("s3cret", Secret | None, Secret("s3cret")),
    ],
)
def test_parse_value(raw: str, tp: Any, expected: Any) -> None:
    assert config.parse_value("GPT2GIGA_X", raw, tp) == expected


# --- bad values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GPT2GIGA_PORT": "http"}, "GPT2GIGA_PORT: expected an integer, got 'http'"),
        ({"GPT2GIGA_PORT": "1.5"}, "GPT2GIGA_PORT: expected an integer, got '1.5'"),
        ({"GPT2GIGA_PORT": "70000"}, "GPT2GIGA_PORT: expected a port number, got 70000"),
        ({"GPT2GIGA_PORT": "0"}, "GPT2GIGA_PORT: expected a port number, got 0"),
        ({"GPT2GIGA_WORKERS": "0"}, "GPT2GIGA_WORKERS: expected at least 1, got 0"),
        ({"GPT2GIGA_DEMO": "maybe"}, "GPT2GIGA_DEMO: expected true or false, got 'maybe'"),
        ({"GIGACHAT_TIMEOUT": "soon"}, "GIGACHAT_TIMEOUT: expected a number, got 'soon'"),
        ({"GIGACHAT_TIMEOUT": "0"}, "GIGACHAT_TIMEOUT: expected a positive number of seconds"),
        (
            {"GPT2GIGA_MODE": "staging"},
            "GPT2GIGA_MODE: expected one of DEV, PROD, got 'staging'",
        ),
        (
            {"GPT2GIGA_MAX_REQUEST_BODY_BYTES": "10"},
            "GPT2GIGA_MAX_REQUEST_BODY_BYTES: expected at least 1024",
        ),
        (
            {"GPT2GIGA_DEFAULT_MAX_TOKENS": "0"},
            "GPT2GIGA_DEFAULT_MAX_TOKENS: expected a positive integer",
        ),
        ({"GIGACHAT_MAX_CONNECTIONS": "0"}, "GIGACHAT_MAX_CONNECTIONS: expected at least 1"),
        ({"GIGACHAT_MAX_RETRIES": "-1"}, "GIGACHAT_MAX_RETRIES: expected 0 or more"),
        (
            {"GPT2GIGA_STREAM_KEEPALIVE_SECONDS": "-1"},
            "GPT2GIGA_STREAM_KEEPALIVE_SECONDS: expected 0 (off) or more seconds",
        ),
        (
            {"GPT2GIGA_MAX_IMAGE_FILE_SIZE_BYTES": "0"},
            "GPT2GIGA_MAX_IMAGE_FILE_SIZE_BYTES: expected a positive number of bytes",
        ),
        (
            {"GPT2GIGA_MAX_AUDIO_IMAGE_TOTAL_SIZE_BYTES": "-5"},
            "GPT2GIGA_MAX_AUDIO_IMAGE_TOTAL_SIZE_BYTES: expected a positive number of bytes",
        ),
        (
            {"GPT2GIGA_ATTACHMENT_URL_ALLOWED_NETWORKS": "10.0.0.0/8,files.local"},
            "GPT2GIGA_ATTACHMENT_URL_ALLOWED_NETWORKS: 'files.local' is not an address "
            "or a network (e.g. 10.0.0.5 or 10.0.0.0/24)",
        ),
        ({"GIGACHAT_BASE_URL": "giga.chat/v1"}, "GIGACHAT_BASE_URL: expected an http(s) URL"),
        ({"GIGACHAT_AUTH_URL": "ftp://x"}, "GIGACHAT_AUTH_URL: expected an http(s) URL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(**env)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_client_parameter_settings_parse() -> None:
    proxy = load(
        GPT2GIGA_DISABLE_BUILTIN_TOOL_MAPPING="true",
        GPT2GIGA_FORWARD_HEADERS="X-Tenant-ID, x-department",
    ).proxy
    assert proxy.disable_builtin_tool_mapping is True
    assert proxy.forward_headers == ["X-Tenant-ID", "x-department"]
    assert load(GPT2GIGA_FORWARD_HEADERS='["X-A"]').proxy.forward_headers == ["X-A"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Authorization", "carries credentials and is never forwarded"),
        ("x-api-key", "carries credentials and is never forwarded"),
        ("api-key", "carries credentials and is never forwarded"),
        ("Cookie", "carries credentials and is never forwarded"),
        ("x-goog-api-key", "carries credentials and is never forwarded"),
        ("X-Tenant-Token", "carries credentials and is never forwarded"),
        ("x-stainless-os", "is a client SDK's or a proxy's own header and is never forwarded"),
        ("anthropic-version", "is a client SDK's or a proxy's own header and is never forwarded"),
        ("OpenAI-Organization", "is a client SDK's or a proxy's own header and is never forwarded"),
        ("x-goog-api-client", "is a client SDK's or a proxy's own header and is never forwarded"),
        ("proxy-connection", "is a client SDK's or a proxy's own header and is never forwarded"),
        (
            "Content-Length",
            "is written by the gateway for the GigaChat call and cannot be forwarded",
        ),
        ("x-request-id", "is written by the gateway for the GigaChat call and cannot be forwarded"),
        ("bad name", "is not a header name"),
    ],
)
def test_forward_headers_refuses_credentials_cookies_and_sdk_headers(name: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(GPT2GIGA_FORWARD_HEADERS=f"X-Tenant-ID,{name}")
    assert str(caught.value) == f"GPT2GIGA_FORWARD_HEADERS: {name!r} {why}"


@pytest.mark.parametrize(
    "value", ["{not json", '["a"]', '{"gpt-4o": 1}'], ids=["malformed", "list", "wrong-value"]
)
def test_bad_json_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^GPT2GIGA_MODEL_ALIASES: expected JSON \("):
        load(GPT2GIGA_MODEL_ALIASES=value)


@pytest.mark.parametrize(
    "env",
    [
        {"GPT2GIGA_MODE": "PROD"},
        {"GPT2GIGA_ENABLE_API_KEY_AUTH": "true"},
        {"GPT2GIGA_ENABLE_API_KEY_AUTH": "true", "GPT2GIGA_API_KEY": ""},
    ],
    ids=["prod", "api-key-auth", "empty-key"],
)
def test_api_key_is_required_by_prod_and_key_auth(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"^GPT2GIGA_API_KEY: .* requires an API key$"):
        load(**env)


@pytest.mark.parametrize(
    "env",
    [{"GPT2GIGA_MODE": "PROD"}, {"GPT2GIGA_ENABLE_API_KEY_AUTH": "1"}],
)
def test_api_key_auth_with_a_key_loads(env: dict[str, str]) -> None:
    settings = load(GPT2GIGA_API_KEY=SECRET_VALUE, **env)
    assert config.auth_required(settings)
    assert settings.proxy.api_key == Secret(SECRET_VALUE)


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"GIGACHAT_CREDENTIALS": ""},
        {"GIGACHAT_USER": "me"},
        {"GIGACHAT_PASSWORD": SECRET_VALUE},
    ],
    ids=["nothing", "empty", "user-only", "password-only"],
)
def test_missing_gigachat_credentials_refuse_to_start(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"^GIGACHAT_CREDENTIALS: no GigaChat credentials"):
        config.load(env)


@pytest.mark.parametrize(
    "env",
    [
        {"GIGACHAT_CREDENTIALS": "abc"},
        {"GIGACHAT_ACCESS_TOKEN": "tok"},
        {"GIGACHAT_USER": "me", "GIGACHAT_PASSWORD": "pw"},
        {"GPT2GIGA_DEMO": "true"},
        {"GPT2GIGA_PASS_TOKEN": "true"},
    ],
    ids=["credentials", "access-token", "user-password", "demo", "pass-token"],
)
def test_any_upstream_auth_or_demo_or_pass_token_starts(env: dict[str, str]) -> None:
    config.load(env)


# --- secrets ----------------------------------------------------------------------------


def test_secret_never_shows_its_value() -> None:
    secret = Secret(SECRET_VALUE)
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % (secret,)]  # noqa: UP031
    assert all(SECRET_VALUE not in s for s in shown)
    assert repr(secret) == "Secret('***')"
    assert secret.value == SECRET_VALUE
    assert bool(secret) and not bool(Secret(""))
    assert secret == Secret(SECRET_VALUE) != Secret("other")
    assert secret != SECRET_VALUE


def test_settings_repr_hides_every_secret() -> None:
    settings = config.load(
        {
            "GIGACHAT_CREDENTIALS": SECRET_VALUE + "-c",
            "GIGACHAT_ACCESS_TOKEN": SECRET_VALUE + "-t",
            "GIGACHAT_PASSWORD": SECRET_VALUE + "-p",
            "GIGACHAT_USER": "me",
            "GIGACHAT_KEY_FILE_PASSWORD": SECRET_VALUE + "-k",
            "GPT2GIGA_API_KEY": SECRET_VALUE + "-a",
        }
    )
    assert SECRET_VALUE not in repr(settings)
    assert SECRET_VALUE not in str(settings)


@pytest.mark.parametrize(
    ("section", "field", "secret"),
    [
        ("gigachat", "credentials", True),
        ("gigachat", "access_token", True),
        ("gigachat", "password", True),
        ("gigachat", "key_file_password", True),
        ("proxy", "api_key", True),
        ("gigachat", "user", False),
        ("proxy", "host", False),
    ],
)
def test_is_secret(section: str, field: str, secret: bool) -> None:
    assert config.is_secret(section, field) is secret


@pytest.mark.parametrize(
    "env",
    [
        {"GIGACHAT_CREDENTIALS": SECRET_VALUE, "GPT2GIGA_PORT": "bad"},
        {"GPT2GIGA_API_KEY": SECRET_VALUE, "GPT2GIGA_MODE": "PROD", "GIGACHAT_TIMEOUT": "-1"},
        {"GIGACHAT_PASSWORD": SECRET_VALUE},
    ],
)
def test_errors_never_include_a_secret(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(env)
    assert SECRET_VALUE not in str(caught.value)
    assert SECRET_VALUE not in repr(caught.value)


# --- .env -----------------------------------------------------------------------------------


ENV_FILE = """\
# GigaChat access
GIGACHAT_CREDENTIALS="c2VjcmV0 # not a comment"
export GIGACHAT_MODEL=GigaChat-2-Max
  GPT2GIGA_PORT = 9100   # the port
GPT2GIGA_HOST='0.0.0.0'  # quoted, then a comment
GPT2GIGA_MODEL_ALIASES={"gpt-*": "GigaChat-2-Pro"}
GPT2GIGA_LOG_LEVEL=
GPT2GIGA_EMBEDDINGS=Embeddings#2
not a setting line
GIGACHAT_SCOPE= # only a comment
"""


def test_env_file_parsing(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(ENV_FILE, encoding="utf-8")
    assert config.read_env_file(path) == {
        "GIGACHAT_CREDENTIALS": "c2VjcmV0 # not a comment",
        "GIGACHAT_MODEL": "GigaChat-2-Max",
        "GPT2GIGA_PORT": "9100",
        "GPT2GIGA_HOST": "0.0.0.0",
        "GPT2GIGA_MODEL_ALIASES": '{"gpt-*": "GigaChat-2-Pro"}',
        "GPT2GIGA_LOG_LEVEL": "",
        "GPT2GIGA_EMBEDDINGS": "Embeddings#2",
        "GIGACHAT_SCOPE": "",
    }


def test_environment_overrides_the_env_file(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "GIGACHAT_CREDENTIALS=from-file\nGPT2GIGA_PORT=9100\nGIGACHAT_MODEL=GigaChat-2\n",
        encoding="utf-8",
    )
    settings = config.load({"GPT2GIGA_PORT": "9200"}, env_file=path)
    assert settings.proxy.port == 9200
    assert settings.gigachat.model == "GigaChat-2"
    assert settings.gigachat.credentials == Secret("from-file")


def test_missing_env_file_is_not_an_error(tmp_path: Path) -> None:
    assert config.load(CREDS, env_file=tmp_path / "absent.env") == load()


# --- models -----------------------------------------------------------------------------


ALIASES = '{"gpt-4o*": "GigaChat-2-Max", "gpt-*": "GigaChat-2", "gpt-4o-mini": "GigaChat-2-Lite"}'


@pytest.mark.parametrize(
    ("requested", "pass_model", "expected"),
    [
        ("gpt-4o-2024-08-06", "true", "GigaChat-2-Max"),
        ("gpt-4.1", "true", "GigaChat-2"),
        ("gpt-4o-mini", "true", "GigaChat-2-Lite"),
        ("GigaChat-2-Pro", "true", "GigaChat-2-Pro"),
        ("GPT-4.1", "true", "GPT-4.1"),
        (None, "true", "GigaChat"),
        ("", "true", "GigaChat"),
        ("gpt-4o", "false", "GigaChat"),
        ("GigaChat-2-Pro", "false", "GigaChat"),
    ],
    ids=[
        "first-glob", "second-glob", "exact-beats-earlier-glob", "pass-through",
        "case-sensitive", "none", "empty", "pass-model-off", "pass-model-off-giga",
    ],
)  # fmt: skip
def test_resolve_model(requested: str | None, pass_model: str, expected: str) -> None:
    settings = load(GPT2GIGA_MODEL_ALIASES=ALIASES, GPT2GIGA_PASS_MODEL=pass_model)
    assert settings.resolve_model(requested) == expected


# --- SDK defaults ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "sdk"),
    [
        (config.SDK_BASE_URL, gigachat.settings.BASE_URL),
        (config.SDK_AUTH_URL, gigachat.settings.AUTH_URL),
        (config.SDK_SCOPE, gigachat.settings.SCOPE),
    ],
    ids=["base-url", "auth-url", "scope"],
)
def test_defaults_follow_the_gigachat_sdk(ours: str, sdk: str) -> None:
    assert ours == sdk


def test_env_name() -> None:
    assert config.env_name("proxy", "api_key") == "GPT2GIGA_API_KEY"
    assert config.env_name("gigachat", "base_url") == "GIGACHAT_BASE_URL"
