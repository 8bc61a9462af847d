"""Per-client GigaChat credentials (`GPT2GIGA_PASS_TOKEN`): parsing and the token-source cache.

A client sends `giga-cred-<credentials>[:<scope>]`, `giga-auth-<access token>`
or `giga-user-<user>:<password>` as its bearer token (or API key). Each
credential gets one TokenSource, kept in a bounded LRU keyed by a hash of the
credential, so its access token is fetched once and reused; a source in use by
a request (a long stream) is never evicted. The connection pool stays the
process's one pool. No credential text ever appears in an error here.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

from gpt2giga import errors
from gpt2giga.config import SDK_SCOPE
from gpt2giga.gigachat.auth import Credentials, TokenSource

PREFIX = "giga-"
# Where SDKs put a key: OpenAI's Authorization bearer, Anthropic's x-api-key,
# Gemini's x-goog-api-key. The first `giga-` value found is the credential.
HEADERS = ("authorization", "x-api-key", "x-goog-api-key")
MALFORMED = (
    "Malformed GigaChat pass-through credentials; expected giga-cred-<credentials>:<scope>, "
    "giga-auth-<access token> or giga-user-<user>:<password>"
)


def find(headers: dict[str, str]) -> str | None:
    """The client's `giga-…` credential, if it sent one."""
    for name in HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if name == "authorization":
            scheme, _, value = value.partition(" ")
            if scheme.lower() != "bearer":
                continue
        value = value.strip()
        if value.startswith(PREFIX):
            return value
    return None


def parse(value: str) -> Credentials:
    """Credentials from a `giga-…` value; Unauthorized (never echoing it) when malformed."""
    kind, _, rest = value.removeprefix(PREFIX).partition("-")
    if kind == "auth" and rest.strip():
        return Credentials(access_token=rest)
    if kind == "cred":
        credentials, sep, scope = rest.partition(":")
        if credentials.strip() and (scope.strip() or not sep):
            return Credentials(credentials=credentials, scope=scope or SDK_SCOPE)
    if kind == "user":
        user, sep, password = rest.partition(":")
        if sep and user.strip() and password.strip():
            return Credentials(user=user, password=password)
    raise errors.Unauthorized(MALFORMED)


class _Entry:
    __slots__ = ("source", "users")

    def __init__(self, source: TokenSource) -> None:
        self.source = source
        self.users = 0


class TokenCache:
    """Token sources by credential hash; at most `size` idle ones are kept."""

    def __init__(self, make: Callable[[Credentials], TokenSource], size: int) -> None:
        self._make = make
        self._size = size
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def lease(self, value: str) -> tuple[TokenSource, Callable[[], None]]:
        """The source for `value` and the call that ends this use of it."""
        key = hashlib.sha256(value.encode()).digest()
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(self._make(parse(value)))
        else:
            self._entries.move_to_end(key)
        entry.users += 1
        self._trim()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                entry.users -= 1
                self._trim()

        return entry.source, release

    def _trim(self) -> None:
        """Drop the least recently used idle sources beyond `size`; busy ones stay."""
        excess = len(self._entries) - self._size
        if excess <= 0:
            return
        for key in [k for k, e in self._entries.items() if e.users == 0][:excess]:
            del self._entries[key]
