"""Redaction: configured secrets, token-shaped text and sensitive JSON keys are masked."""

from __future__ import annotations

from typing import Any

import pytest

from gpt2giga.observe.redact import Redactor, secret_values
from tests.conftest import make_settings

REDACTOR = Redactor(secrets=["configured-secret-value", "abc"], extra_keys=["X-Tenant"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer sk-12345", "Authorization: ***"),
        ("auth bearer eyJhbGciOi.x-y", "auth bearer ***"),
        ("header Basic ZGVtbzpkZW1v==", "header Basic ***"),
        ("token giga-cred-QUJD:GIGACHAT_API_PERS here", "token *** here"),
        ('{"api_key": "sk-1", "model": "GigaChat"}', '{"api_key": "***", "model": "GigaChat"}'),
        ("password=hunter2&user=ivan", "password=***&user=ivan"),
        ("failed with configured-secret-value inside", "failed with *** inside"),
        (
            "abc is too short to be treated as a secret",
            "abc is too short to be treated as a secret",
        ),
        ("tokens_in=12 model=GigaChat-2-Max", "tokens_in=12 model=GigaChat-2-Max"),
    ],
)
def test_text(text: str, expected: str) -> None:
    assert REDACTOR.text(text) == expected


def test_json_values_of_sensitive_and_extra_keys_are_masked_at_any_depth() -> None:
    value: Any = {
        "model": "GigaChat",
        "metadata": {"Password": "p", "x-tenant": "acme", "note": "Bearer abcdef"},
        "messages": [{"role": "user", "content": "my key is giga-auth-tok123"}],
        "Access-Token": "t",
        "n": 1,
    }
    assert REDACTOR.value(value) == {
        "model": "GigaChat",
        "metadata": {"Password": "***", "x-tenant": "***", "note": "Bearer ***"},
        "messages": [{"role": "user", "content": "my key is ***"}],
        "Access-Token": "***",
        "n": 1,
    }


def test_every_secret_setting_is_collected() -> None:
    settings = make_settings(
        GIGACHAT_PASSWORD="pw-1234", GPT2GIGA_API_KEY="key-5678", GIGACHAT_USER="ivan"
    )
    found = secret_values(settings)
    assert {"pw-1234", "key-5678", settings.gigachat.credentials.value} <= set(found)  # type: ignore[union-attr]
    assert "ivan" not in found
