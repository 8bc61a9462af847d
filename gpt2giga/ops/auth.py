"""The admin key that guards the admin and debug routes, and their `{"detail": …}` answers.

The key is `GPT2GIGA_ADMIN_API_KEY`, sent as `x-admin-api-key` or
`Authorization: Bearer`; it is compared in constant time, and the proxy's own
API key never stands in for it. The answers are the FastAPI gpt2giga's: its
admin and debug clients read `detail`.
"""

from __future__ import annotations

import hmac

import msgspec

from gpt2giga.asgi import Headers, Response
from gpt2giga.config import Secret

_encode = msgspec.json.Encoder().encode

KEY_REQUIRED = "Admin API key is required"
KEY_INVALID = "Invalid admin API key"


def detail(status: int, message: str) -> Response:
    return Response(_encode({"detail": message}), status=status)


def presented(headers: Headers) -> bytes | None:
    """The key a request carries: `x-admin-api-key` when present and not empty, else Bearer.

    A header of only spaces is a key that is empty, not an absent header: there
    is no falling back to `Authorization` then (as in the FastAPI gpt2giga).
    """
    admin: bytes | None = None
    bearer: bytes | None = None
    for name, value in headers:
        if name == b"x-admin-api-key" and value:
            admin = value.strip()
        elif name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            if scheme.lower() == b"bearer":
                bearer = token.strip()
    return admin if admin is not None else bearer


class AdminKey:
    """Checks one request against the configured admin key."""

    def __init__(self, key: Secret | None) -> None:
        self._key = key.value.encode() if key else None

    def refusal(self, headers: Headers) -> Response | None:
        """None when the request may pass; else the 403 to answer with."""
        if self._key is None:
            return detail(403, KEY_REQUIRED)
        sent = presented(headers)
        # compare_digest may reveal the key's length, never its content (Python's docs).
        if not sent or not hmac.compare_digest(sent, self._key):
            return detail(403, KEY_INVALID)
        return None
