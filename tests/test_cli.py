"""The command line: flags to settings, secrets kept off it, one-line start-up errors, demo mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gpt2giga import cli, config
from tests.e2e.conftest import ROOT, Server, free_port, wait_for

SECRET = "c2VjcmV0LWNyZWRlbnRpYWxz"


def test_fastapi_style_flags_become_settings() -> None:
    env = cli.overrides(
        ["--proxy.port", "9001", "--gigachat.model=GigaChat-2-Pro", "--proxy.pass-model", "false"]
    )
    assert env == {
        "GPT2GIGA_PORT": "9001",
        "GIGACHAT_MODEL": "GigaChat-2-Pro",
        "GPT2GIGA_PASS_MODEL": "false",
    }


@pytest.mark.parametrize(
    "flag", ["--proxy.api-key", "--gigachat.credentials", "--gigachat.password"]
)
def test_secrets_are_refused_on_the_command_line(flag: str) -> None:
    with pytest.raises(config.ConfigError, match="pass secrets through") as caught:
        cli.overrides([flag, SECRET])
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("args", [["--proxy.nope", "1"], ["--other.port", "1"], ["--proxy.port"]])
def test_unknown_or_incomplete_flags_are_refused(args: list[str]) -> None:
    with pytest.raises(config.ConfigError):
        cli.overrides(args)


def test_flags_win_over_environment_and_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("GPT2GIGA_PORT=1111\nGIGACHAT_MODEL=FromFile\nGPT2GIGA_MODE=DEV\n")
    monkeypatch.setenv("GIGACHAT_MODEL", "FromEnv")
    args, extra = cli.parser().parse_known_args(["--env-path", str(env_file), "--port", "2222"])
    env = cli.environment(args, extra)
    assert (env["GPT2GIGA_PORT"], env["GIGACHAT_MODEL"], env["GPT2GIGA_MODE"]) == (
        "2222",
        "FromEnv",
        "DEV",
    )


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    return subprocess.run(
        [sys.executable, "-m", "gpt2giga", *args],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_bad_value_stops_start_up_with_one_line_naming_it() -> None:
    result = run(["--port", "eighty"], GIGACHAT_CREDENTIALS=SECRET)
    assert result.returncode != 0
    assert result.stderr.strip() == "gpt2giga: GPT2GIGA_PORT: expected an integer, got 'eighty'"


def test_prod_refuses_to_start_without_an_api_key() -> None:
    result = run([], GPT2GIGA_MODE="PROD", GIGACHAT_CREDENTIALS=SECRET)
    assert result.returncode != 0
    assert "GPT2GIGA_API_KEY: PROD mode requires an API key" in result.stderr
    assert SECRET not in result.stderr + result.stdout


def test_real_mode_without_credentials_refuses_instead_of_faking() -> None:
    result = run([])
    assert result.returncode != 0
    assert "GIGACHAT_CREDENTIALS" in result.stderr and "--demo" in result.stderr


def test_help_shows_no_secret_values() -> None:
    result = run(["--help"], GIGACHAT_CREDENTIALS=SECRET, GPT2GIGA_API_KEY="key-123")
    assert result.returncode == 0
    assert "--demo" in result.stdout
    assert SECRET not in result.stdout and "key-123" not in result.stdout


def test_demo_mode_answers_through_the_fake_gigachat() -> None:
    port = free_port()
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    server = Server(
        [sys.executable, "-m", "gpt2giga", "--demo", "--port", str(port)],
        base,
        f"http://127.0.0.1:{port}",
    )
    try:
        wait_for(server.url + "/health", server)
        r = httpx.post(
            server.url + "/v1/chat/completions",
            json={"model": "GigaChat-2-Max", "messages": [{"role": "user", "content": "demo?"}]},
            timeout=10,
        )
        assert (
            r.json()["choices"][0]["message"]["content"]
            == "Hello from the fake GigaChat! You said: demo?"
        )
    finally:
        server.stop()
