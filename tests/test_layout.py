"""The import rules of ARCHITECTURE.md, checked on the package's AST."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gpt2giga"
MODULES = sorted(PACKAGE.rglob("*.py"))


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def roots(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


# The rules apply by file name, wherever the module lives: an API's own package
# (openai/responses/) follows them like a dialect's.
# GigaChat keeps its v1 contract apart from the v2 hub: wire_v1.py.
WIRE = [p for p in MODULES if p.name in ("wire.py", "wire_v1.py", "events.py")]
# Responses splits its translator into input (request side) and output (reply side);
# Anthropic keeps its conversation (the request's messages) in input.py.
TRANSLATOR_NAMES = ("translate.py", "stream.py", "input.py", "output.py")
# The attachment table and data-URL reading are pure too: uploads.py does the I/O.
TRANSLATORS = [p for p in MODULES if p.name in TRANSLATOR_NAMES] + [PACKAGE / "gigachat/files.py"]


@pytest.mark.parametrize("path", WIRE, ids=name)
def test_wire_modules_import_only_msgspec_and_typing(path: Path) -> None:
    wire = {name(p).removesuffix(".py").replace("/", ".") for p in WIRE}
    assert roots(imports(path) - wire) <= {"__future__", "msgspec", "typing"}


@pytest.mark.parametrize("path", TRANSLATORS, ids=name)
def test_translators_do_no_io(path: Path) -> None:
    forbidden = {"httpx", "gpt2giga.asgi", "gpt2giga.app", "asyncio", "time", "random"}
    assert not imports(path) & forbidden


def under(path: Path, folder: str) -> bool:
    """Whether `path` lives in the package folder `folder` (e.g. "gigachat/http")."""
    return path.is_relative_to(PACKAGE / folder)


def ours(path: Path) -> set[str]:
    return {m for m in imports(path) if m == "gpt2giga" or m.startswith("gpt2giga.")}


DIALECTS = ("openai", "anthropic", "gemini")


def dialects_in(modules: set[str]) -> set[str]:
    """The dialect packages among `modules` (`gpt2giga.openai.responses` counts as openai)."""
    return {m.split(".")[1] for m in modules if m.count(".") and m.split(".")[1] in DIALECTS}


def test_only_gigachat_imports_httpx() -> None:
    """httpx is the upstream's library: its exceptions are mapped once, in gigachat/."""
    users = [p for p in MODULES if "httpx" in roots(imports(p))]
    # The OpenSearch mirror of the traffic log speaks HTTP with the same library
    # (no second HTTP stack), to a host the operator configured.
    mirror = PACKAGE / "observe/opensearch.py"
    assert users and all(under(p, "gigachat") or p == mirror for p in users), users


@pytest.mark.parametrize("path", [p for p in MODULES if under(p, "gigachat/http")], ids=name)
def test_the_pool_imports_nothing_of_ours(path: Path) -> None:
    """gigachat/http/ is a self-contained HTTP/1.1 stack under httpx's transport interface."""
    assert all(m.startswith("gpt2giga.gigachat.http") for m in ours(path))


@pytest.mark.parametrize("path", [p for p in MODULES if not under(p, "openai")
                                  and not under(p, "anthropic") and not under(p, "gemini")],
                         ids=name)  # fmt: skip
def test_only_the_route_table_imports_a_dialect(path: Path) -> None:
    """The hub, observe/, state/, ops/ and the shared modules serve every dialect alike.

    The route table (routes.py) names every dialect's handlers; the app builds the
    Responses routes (they own a store). Debug translate runs each dialect's own
    chat handler, so it names them too.
    """
    if path not in (PACKAGE / "app.py", PACKAGE / "routes.py", PACKAGE / "ops/debug.py"):
        assert not dialects_in(ours(path))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_dialects_never_import_each_other(dialect: str) -> None:
    for path in MODULES:
        if under(path, dialect):
            assert dialects_in(ours(path)) <= {dialect}, name(path)


def test_chat_completions_and_responses_never_import_each_other() -> None:
    """Two OpenAI APIs, two rooms: what they share lives in gigachat/ or pipeline.py."""
    for path in MODULES:
        found = ours(path)
        if under(path, "openai/responses"):
            assert not {m for m in found if m.startswith("gpt2giga.openai.")} - {
                m for m in found if m.startswith("gpt2giga.openai.responses")
            }, name(path)
        elif under(path, "openai"):
            assert not any(m.startswith("gpt2giga.openai.responses") for m in found), name(path)


def test_http1_framing_is_sans_io() -> None:
    assert roots(imports(PACKAGE / "gigachat/http/http1.py")) <= {
        "__future__",
        "collections",
        "re",
        "typing",
    }


def test_only_the_remote_fetcher_opens_connections_to_client_chosen_hosts() -> None:
    """Client-named URLs go through one SSRF-checked module, never GigaChat's pool."""
    httpcore = {name(p) for p in MODULES if "httpcore" in roots(imports(p))}
    sockets = {name(p) for p in MODULES if "socket" in roots(imports(p))}
    assert httpcore == {"gpt2giga/gigachat/remote.py"}
    # The CLI probes its own loopback ports at start-up (demo mode); the drain makes
    # a local socket pair for signals; nothing else.
    assert sockets <= {"gpt2giga/gigachat/remote.py", "gpt2giga/cli.py", "gpt2giga/drain.py"}
    assert "httpx" not in roots(imports(PACKAGE / "gigachat/remote.py"))


@pytest.mark.parametrize("path", MODULES, ids=name)
def test_no_pydantic_or_sdk_on_the_import_path(path: Path) -> None:
    """pydantic and the gigachat SDK cost start-up time and memory: never imported at load."""
    assert not roots(imports(path, top_level_only=True)) & {"pydantic", "gigachat"}


def test_prometheus_client_loads_only_when_metrics_are_on() -> None:
    """Importing the app must not pull prometheus-client in: it costs start-up time and memory."""
    import subprocess
    import sys

    code = "import sys, gpt2giga.app; print('prometheus_client' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_optional_integrations_load_only_when_configured() -> None:
    """asyncpg (the postgres extra) and the OpenSearch mirror stay out of a default app."""
    import subprocess
    import sys

    code = (
        "import sys, gpt2giga.app, gpt2giga.cli; from tests.conftest import build_app; "
        "build_app(); "
        "print(sorted(m for m in ('asyncpg', 'gpt2giga.observe.postgres', "
        "'gpt2giga.observe.opensearch') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parent,
    )
    assert result.stdout.strip() == "[]"


def test_opentelemetry_loads_only_when_tracing_is_on() -> None:
    """The SDK and its exporter cost start-up time and memory: a gateway without traces has none."""
    import subprocess
    import sys

    code = (
        "import sys, gpt2giga.app, gpt2giga.gigachat.client;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'opentelemetry', 'google'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
    users = {name(p) for p in MODULES if "opentelemetry" in roots(imports(p, top_level_only=True))}
    assert users == {"gpt2giga/observe/traces.py"}


def test_the_state_store_client_loads_only_when_configured() -> None:
    """One process: neither redis-py nor sqlite3, even with the app built and limits set."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from gpt2giga import config\n"
        "from gpt2giga.app import App\n"
        "settings = config.load({'GIGACHAT_CREDENTIALS': 'x', "
        "'GPT2GIGA_MODEL_MAX_CONNECTIONS_DEFAULT': '1'})\n"
        "App(settings)\n"
        "print(sorted({'redis', 'sqlite3'} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("path", sorted((PACKAGE / "state").glob("*.py")), ids=name)
def test_state_never_imports_a_dialect(path: Path) -> None:
    dialects = {"gpt2giga.openai", "gpt2giga.anthropic", "gpt2giga.gemini"}
    assert not {m for m in imports(path) if m.startswith(tuple(dialects))}


BENCHMARKS = sorted((PACKAGE.parent / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_benchmarks_import_only_names_the_package_has(path: Path) -> None:
    """pytest never runs the benchmarks: a name moved in the package must not break them."""
    import importlib.util

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gpt2giga"):
            module = importlib.import_module(str(node.module))
            for alias in node.names:
                assert hasattr(module, alias.name) or importlib.util.find_spec(
                    f"{node.module}.{alias.name}"
                ), f"{node.module}.{alias.name}"
