"""Hiding secrets in what the gateway writes down: log lines and traffic-log records.

Three nets: the configured secret values themselves, token-shaped text
(`Bearer …`, `Basic …`, `giga-cred-…`, `key=value` pairs with a secret-looking
key) and, in JSON, the values of sensitive keys. Pure functions; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from gpt2giga.config import Secret, Settings

MASK = "***"
# Keys whose values are secrets wherever they appear; compared lower-case with `-` as `_`.
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "api_key",
        "apikey",
        "x_api_key",
        "x_goog_api_key",
        "key",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "credentials",
        "cookie",
        "set_cookie",
        "private_key",
        "key_file_password",
        # the operations settings' secrets, as the FastAPI gpt2giga lists them
        "admin_api_key",
        "x_admin_api_key",
        "opensearch_password",
        "phoenix_api_key",
        "harness_model_key",
        "secret_key",
    }
)
MIN_SECRET = 4  # shorter values (a test password) would mangle text more than hide it

_TOKEN_TEXT = re.compile(
    r"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=:\-]{4,}"
    r"|giga-(?:cred|auth|user)-[^\s\"',;&]+"
    r"|(\b(?:api[_-]?key|password|secret|access[_-]?token|token|credentials|authorization)"
    r"\"?\s*[:=]\s*\"?)(?:(?:bearer|basic)\s+)?[^\s\"',;&}]+"
)


def _masked(match: re.Match[str]) -> str:
    prefix = match.group(1) or match.group(2) or ""
    return prefix + MASK


def normal_key(key: str) -> str:
    return key.strip().lower().replace("-", "_")


class Redactor:
    """Masks known secret values, token-shaped text and values of sensitive keys."""

    def __init__(
        self,
        secrets: Iterable[str] = (),
        extra_keys: Iterable[str] = (),
        *,
        only_secrets: bool = False,
    ) -> None:
        """`only_secrets`: mask the configured secret values and nothing else."""
        values = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)
        self._secrets = re.compile("|".join(map(re.escape, values))) if values else None
        self._patterns = not only_secrets
        self.keys = (
            frozenset() if only_secrets else SENSITIVE_KEYS | {normal_key(k) for k in extra_keys}
        )

    def text(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(MASK, text)
        return _TOKEN_TEXT.sub(_masked, text) if self._patterns else text

    def value(self, value: Any) -> Any:
        """A redacted copy of a decoded JSON value."""
        if isinstance(value, dict):
            return {
                k: MASK if normal_key(str(k)) in self.keys else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold, as text: what must never be written anywhere."""
    found: list[str] = []
    for section in (settings.proxy, settings.gigachat, settings.otel):
        for name in section.__struct_fields__:
            value = getattr(section, name)
            if isinstance(value, Secret):
                found.append(value.value)
    return found
