"""deploy/: the Dockerfile, checked as text, since no Docker engine runs here.

The Dockerfile is split into instructions the way Docker reads it (comments,
line continuations, exec-form JSON). What a broken image would hide until
someone builds it is asserted here: every COPY source exists and survives the
ignore file, the extras argument reaches pip, the entrypoint gets signals, the
user is not root, the health check needs nothing but Python. The compose
files and reverse-proxy configurations are tests/test_deploy_compose.py's.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from pathlib import Path

import msgspec
import pytest

from gpt2giga import config

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER",
}  # fmt: skip
COMPILERS = ("gcc", "g++", "build-essential", "clang", "cargo", "rustc", "make ")


def known_env_names() -> set[str]:
    return {
        config.env_name(section, field.name)
        for section, _, cls in config.PREFIXES
        for field in msgspec.structs.fields(cls)
    }


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction; continuations joined, comments dropped."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction is dropped too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        found.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a line continuation"
    return found


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions((DEPLOY / "Dockerfile").read_text())


def stages(dockerfile: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile:
        if keyword == "FROM":
            out.append([])
        if out:
            out[-1].append((keyword, args))
    return out


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def flags_and_words(args: str) -> tuple[dict[str, str], list[str]]:
    flags: dict[str, str] = {}
    words = args.split()
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    return flags, words


def test_every_instruction_is_one_docker_knows(dockerfile: list[tuple[str, str]]) -> None:
    assert dockerfile[0][0] in ("ARG", "FROM")
    assert {keyword for keyword, _ in dockerfile} <= INSTRUCTIONS


def test_multi_stage_build_on_a_slim_python_base(dockerfile: list[tuple[str, str]]) -> None:
    froms = [args for keyword, args in dockerfile if keyword == "FROM"]
    assert len(froms) >= 2
    assert all(re.match(r"python:\$\{PYTHON_VERSION\}-slim\b", f) for f in froms)
    assert froms[0].endswith(" AS builder")
    runtime = stages(dockerfile)[-1]
    copies = [args for keyword, args in runtime if keyword == "COPY"]
    assert copies and all("--from=builder" in c for c in copies), "runtime copies only the venv"


def test_no_compiler_is_installed_in_any_stage(dockerfile: list[tuple[str, str]]) -> None:
    for keyword, args in dockerfile:
        if keyword == "RUN":
            assert not any(c in args for c in COMPILERS), args


def test_every_copy_source_exists_and_is_not_ignored(dockerfile: list[tuple[str, str]]) -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in ignore if p.strip() and not p.startswith("#")]
    checked = 0
    for keyword, args in dockerfile:
        if keyword not in ("COPY", "ADD"):
            continue
        flags, words = flags_and_words(args)
        if "from" in flags:
            continue
        *sources, _dest = words
        for source in sources:
            assert (ROOT / source).exists(), f"COPY source {source} is missing"
            assert not ignored(source, patterns), f"COPY source {source} is in the ignore file"
            checked += 1
    assert checked >= 2


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if fnmatch.fnmatch(path, pattern.lstrip("!")):
            result = not negated
    return result


def test_runtime_runs_as_a_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    users = [args for keyword, args in stages(dockerfile)[-1] if keyword == "USER"]
    assert users, "the runtime stage sets no USER"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_entrypoint_is_exec_form_so_signals_reach_granian(
    dockerfile: list[tuple[str, str]],
) -> None:
    entrypoints = [args for keyword, args in dockerfile if keyword == "ENTRYPOINT"]
    assert exec_form(entrypoints[-1]) == ["gpt2giga"]
    assert ("STOPSIGNAL", "SIGTERM") in dockerfile


def test_healthcheck_asks_health_with_python(dockerfile: list[tuple[str, str]]) -> None:
    checks = [args for keyword, args in dockerfile if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    flags, words = flags_and_words(checks[0])
    assert set(flags) <= {"interval", "timeout", "start-period", "start-interval", "retries"}
    assert words[0] == "CMD"
    command = exec_form(checks[0].split("CMD", 1)[1].strip())
    assert command[0] == "python"
    assert "/health" in command[-1]
    assert not any(tool in " ".join(command) for tool in ("curl", "wget"))


def test_image_listens_everywhere_with_configurable_workers(
    dockerfile: list[tuple[str, str]],
) -> None:
    env = " ".join(args for keyword, args in stages(dockerfile)[-1] if keyword == "ENV")
    assert "GPT2GIGA_HOST=0.0.0.0" in env
    assert "GPT2GIGA_WORKERS=" in env
    names = set(re.findall(r"\b(GPT2GIGA_\w+|GIGACHAT_\w+)=", env))
    assert names <= known_env_names()


def test_extras_argument_reaches_pip_install(
    dockerfile: list[tuple[str, str]], tmp_path: Path
) -> None:
    """ARG EXTRAS is declared inside the builder (an ARG before FROM is out of scope
    there), and its comma list becomes one `wheel[a,b]` requirement; none: no brackets."""
    builder = stages(dockerfile)[0]
    assert ("ARG", 'EXTRAS=""') in builder
    [install] = [args for keyword, args in builder if keyword == "RUN" and "pip install" in args]
    requirement = re.search(r'pip install ("[^"]+")', install)
    assert requirement is not None and "${EXTRAS" in requirement[1]
    (tmp_path / "gpt2giga-1.0-py3-none-any.whl").touch()
    word = requirement[1].replace("/wheels/", f"{tmp_path}/")
    for extras, expected in [
        ("postgres,otel", "gpt2giga-1.0-py3-none-any.whl[postgres,otel]"),
        ("postgres", "gpt2giga-1.0-py3-none-any.whl[postgres]"),
        ("", "gpt2giga-1.0-py3-none-any.whl"),
    ]:
        shown = subprocess.run(
            ["sh", "-c", f"printf %s {word}"],
            env={"EXTRAS": extras, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert shown == f"{tmp_path}/{expected}"
