"""Path matching: `[/v1|/v2][/v1beta][/v1]<route>` to a route, its contract and parameters.

The first segment picks the GigaChat contract (none: `GPT2GIGA_GIGACHAT_API_MODE`),
`/v1beta` is Gemini's prefix, and a second `/v1` is what SDKs append to a base
URL that already ends in a version. The table itself is `app.py`'s; nothing
here knows a dialect's handlers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, NamedTuple

from gpt2giga.asgi import Contract, Request, Response, Scope, StreamResponse

if TYPE_CHECKING:
    from gpt2giga.context import Context

Dialect = Literal["openai", "anthropic", "gemini"]
Handler = Callable[["Context", Request], Awaitable[Response | StreamResponse]]


class Route(NamedTuple):
    handler: Handler
    dialect: Dialect | None  # None: the caller's headers tell (shared /models)
    public: bool = False
    template: str = ""  # the metrics and log label: bounded, unlike the path


RouteSpec = tuple[str, str, Handler, Dialect | None]


class Match(NamedTuple):
    route: Route | None
    contract: Contract | None
    params: dict[str, str]
    allowed: tuple[str, ...] = ()


class Router:
    """Static paths in a dict, templated ones as regexes; both keyed by method."""

    def __init__(self, routes: list[RouteSpec], public: list[RouteSpec]) -> None:
        self._static: dict[str, dict[str, Route]] = {}
        self._patterns: list[tuple[re.Pattern[str], dict[str, Route]]] = []
        for specs, is_public in ((routes, False), (public, True)):
            for method, template, handler, dialect in specs:
                self._add(method, template, Route(handler, dialect, is_public, template))

    def _add(self, method: str, template: str, route: Route) -> None:
        if "{" not in template:
            self._static.setdefault(template, {})[method] = route
            return
        regex = re.escape(template)
        regex = re.sub(r"\\\{(\w+):path\\\}", r"(?P<\1>.+)", regex)
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        pattern = re.compile(f"^{regex}$")
        for existing, methods in self._patterns:
            if existing.pattern == pattern.pattern:
                methods[method] = route
                return
        self._patterns.append((pattern, {method: route}))

    def _lookup(self, path: str, method: str) -> tuple[dict[str, Route], dict[str, str]] | None:
        methods = self._static.get(path)
        if methods is not None:
            return methods, {}
        for pattern, by_method in self._patterns:
            found = pattern.match(path)
            if found is not None:
                return by_method, found.groupdict()
        return None

    def match(self, path: str, method: str) -> Match:
        contract, rest = split_prefix(path)
        found = self._lookup(rest, method)
        if found is None and rest.startswith("/v1/"):
            found = self._lookup(rest[3:], method)
        if found is None:
            return Match(None, contract, {})
        methods, params = found
        route = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
        return Match(route, contract, params, tuple(methods))


def split_prefix(path: str) -> tuple[Contract | None, str]:
    contract: Contract | None = None
    for prefix in ("/v1", "/v2"):
        if path == prefix or path.startswith(prefix + "/"):
            contract = "v1" if prefix == "/v1" else "v2"
            path = path[3:] or "/"
            break
    if path == "/v1beta" or path.startswith("/v1beta/"):
        path = path[7:] or "/"
    return contract, path


def sniff(scope: Scope) -> Dialect:
    """The caller's dialect from its headers and path, for shared routes and 404s."""
    names = {name for name, _ in scope["headers"]}
    if b"anthropic-version" in names:
        return "anthropic"
    path: str = scope["path"]
    if (
        b"x-goog-api-key" in names
        or b"x-goog-api-client" in names
        or "/v1beta" in path
        or ":" in path.rpartition("/")[2]
        or b"key=" in scope.get("query_string", b"")
    ):
        return "gemini"
    return "openai"
