"""A Compose model for the tests: files merged, variables interpolated, profiles applied.

No Docker engine runs here, so what `docker compose` would do with deploy/'s
files is done by these few rules of the Compose Specification (merge.md,
interpolation.md, profiles.md), enough for the keys those files use: mappings
merge by key, `environment` and `depends_on` are normalized to mappings first,
the lists in APPENDED append (ports, volumes, ...), any other list (commands,
`healthcheck.test`, `profiles`) is replaced; a value tagged `!reset` drops what
earlier files gave, one tagged `!override` replaces it whole (Compose 2.24.4+).
"""

from __future__ import annotations

import copy
import itertools
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

# `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`,
# `${NAME:+alt}`, `${NAME+alt}`, `$NAME`; `$$` is a literal `$`.
VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>\w+)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|(?P<bare>\w+))"
)
APPENDED = ("ports", "volumes", "expose", "extra_hosts", "cap_drop", "cap_add", "tmpfs")


class InterpolationError(ValueError):
    """A `${NAME:?message}` whose variable is unset: Compose stops with the message."""


class Tagged:
    """A value under `!reset` or `!override`: how it merges, not what it is."""

    def __init__(self, tag: str, value: Any) -> None:
        self.tag = tag
        self.value = value


class _Loader(yaml.SafeLoader):
    pass


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Tagged:
    value: Any
    if isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)  # type: ignore[arg-type]
    return Tagged(node.tag, value)


for _tag in ("!reset", "!override"):
    _Loader.add_constructor(_tag, _tagged)


def load_tagged(path: Path) -> dict[str, Any]:
    loaded = yaml.load(path.read_text(), Loader=_Loader)  # a SafeLoader with two tags
    assert isinstance(loaded, dict), path
    return loaded


def untagged(value: Any) -> Any:
    """The file as the schema sees it: tags gone, their values in place."""
    if isinstance(value, Tagged):
        return untagged(value.value)
    if isinstance(value, dict):
        return {k: untagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untagged(v) for v in value]
    return value


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = untagged(load_tagged(path))
    return loaded


def variables(text: str) -> set[str]:
    """Every variable a file interpolates (comments included: commands quoted there count)."""
    return {m["braced"] or m["bare"] for m in VARIABLE.finditer(text) if not m["escaped"]}


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, str):
        return VARIABLE.sub(lambda m: _substitute(m, env), value)
    return value


def _substitute(match: re.Match[str], env: Mapping[str, str]) -> str:
    if match["escaped"]:
        return "$"
    name = match["braced"] or match["bare"]
    op, arg = match["op"], match["arg"] or ""
    value = env.get(name)
    present = value is not None and (value != "" or not (op or "").startswith(":"))
    if op in ("-", ":-"):
        return value if present and value is not None else interpolate(arg, env)
    if op in ("?", ":?"):
        if not present or value is None:
            raise InterpolationError(f"{name}: {arg}")
        return value
    if op in ("+", ":+"):
        return interpolate(arg, env) if present else ""
    return value or ""


def _normalized(service: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(service)
    env = out.get("environment")
    if isinstance(env, list):
        out["environment"] = dict(item.split("=", 1) for item in env)
    deps = out.get("depends_on")
    if isinstance(deps, list):
        out["depends_on"] = {name: {"condition": "service_started"} for name in deps}
    return out


def _merge(base: Any, override: Any, key: str = "") -> Any:
    if isinstance(override, Tagged):
        # `!reset` leaves the key as if no earlier file set it; `!override` replaces it.
        return copy.deepcopy(untagged(override.value))
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for k, v in override.items():
            merged[k] = _merge(base[k], v, k) if k in base else copy.deepcopy(untagged(v))
        return merged
    if isinstance(base, list) and isinstance(override, list) and key in APPENDED:
        return base + [v for v in override if v not in base]
    return copy.deepcopy(override)


def merge(paths: list[Path]) -> dict[str, Any]:
    """The files as one project, later files overriding earlier ones."""
    project: dict[str, Any] = {}
    for path in paths:
        doc = load_tagged(path)
        doc["services"] = {
            name: _normalized(svc or {}) for name, svc in (doc.get("services") or {}).items()
        }
        project = _merge(project, doc)
    return project


def active(project: dict[str, Any], profiles: set[str]) -> dict[str, dict[str, Any]]:
    """The services these profiles start; a dependency left out is Compose's error too."""
    services = {
        name: svc
        for name, svc in project["services"].items()
        if not svc.get("profiles") or profiles & set(svc["profiles"])
    }
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on {dep}, which these profiles leave out"
    return services


def commands(text: str) -> list[list[str]]:
    """Every `docker compose …` command in a text (shell or `#` comments, `\\` continued)."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip().lstrip("#").strip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    found = []
    for line in lines:
        start = line.find("docker compose ")
        if start != -1:
            found.append(shlex.split(line[start:].split("#", 1)[0]))
    return found


def invocation(argv: list[str]) -> tuple[list[str], set[str]]:
    """(the -f files, the --profile names) of one `docker compose` command line."""
    files, profiles = [], set()
    for flag, value in itertools.pairwise(argv):
        if flag == "-f":
            files.append(value)
        elif flag == "--profile":
            profiles.add(value)
    return files, profiles
