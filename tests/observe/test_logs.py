"""Logging: structured lines, redaction, shared file rotation, the access line and DEV log views."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx

from gpt2giga.app import App
from gpt2giga.observe import logs
from gpt2giga.observe.redact import Redactor
from tests.conftest import V1_ANSWER, V1_CHAT, Call, build_app, make_settings, over

FIELDS = {
    "request_id": "r-1",
    "route": "/chat/completions",
    "status": 200,
    "duration_ms": 1.5,
    "ttft_ms": None,
    "ignored": "n, seed",
    "disconnected": True,
}


def record(msg: str = "POST /chat/completions", *args: Any, **extra: Any) -> logging.LogRecord:
    return logging.makeLogRecord(
        {
            "name": "gpt2giga.access",
            "levelname": "INFO",
            "levelno": logging.INFO,
            "msg": msg,
            "args": args,
            "created": 1735689600.123,
            "msecs": 123.0,
            **extra,
        }
    )


def test_logfmt_line_quotes_only_what_needs_it_and_skips_empty_fields() -> None:
    line = logs.LogfmtFormatter().format(record(fields=FIELDS))
    assert line == (
        'ts=2025-01-01T00:00:00.123Z level=info logger=gpt2giga.access msg="POST /chat/completions"'
        ' request_id=r-1 route=/chat/completions status=200 duration_ms=1.5 ignored="n, seed"'
        " disconnected=true"
    )


def test_json_line_carries_the_same_fields() -> None:
    line = logs.JsonFormatter().format(record(fields=FIELDS))
    assert json.loads(line) == {
        "ts": "2025-01-01T00:00:00.123Z",
        "level": "info",
        "logger": "gpt2giga.access",
        "msg": "POST /chat/completions",
        **{k: v for k, v in FIELDS.items() if v is not None},
    }


def failing() -> logging.LogRecord:
    try:
        raise RuntimeError("upstream said: Bearer leaked-token-123\nsecond line")
    except RuntimeError:
        import sys

        return record("call failed with %s", "s3cret-value", exc_info=sys.exc_info())


@pytest.mark.parametrize("kind", [logs.LogfmtFormatter, logs.JsonFormatter])
def test_redaction_covers_message_and_traceback_in_one_line(
    kind: type[logs.Structured],
) -> None:
    line = kind(Redactor(["s3cret-value"])).format(failing())
    assert "\n" not in line
    assert "leaked-token-123" not in line and "s3cret-value" not in line
    assert "Bearer ***" in line and "RuntimeError" in line
    plain = kind(None).format(failing())
    assert "leaked-token-123" in plain and "s3cret-value" in plain


def test_formatter_follows_the_settings() -> None:
    settings = make_settings(GPT2GIGA_LOG_FORMAT="json", GIGACHAT_PASSWORD="pass-word-1")
    fmt = logs.formatter(settings)
    line = fmt.format(record("password is %s", "pass-word-1"))
    assert isinstance(fmt, logs.JsonFormatter) and "pass-word-1" not in line
    raw = logs.formatter(make_settings(GPT2GIGA_LOG_REDACT_SENSITIVE="false"))
    assert "pass-word-1" in raw.format(record("password %s", "pass-word-1"))


def test_workers_sharing_a_file_rotate_it_without_losing_lines(tmp_path: Path) -> None:
    path = str(tmp_path / "gpt2giga.log")
    workers = [logs.RotatingFile(path, 1024), logs.RotatingFile(path, 1024)]
    for handler in workers:
        handler.setFormatter(logging.Formatter("%(message)s"))
    for n in range(40):
        workers[n % 2].handle(record(f"line {n:02d} " + "x" * 80))
    for handler in workers:
        handler.close()
    files = sorted(tmp_path.glob("gpt2giga.log*"))
    lines = [
        line for f in files if not f.name.endswith(".lock") for line in f.read_text().splitlines()
    ]
    assert sorted(lines) == sorted(f"line {n:02d} " + "x" * 80 for n in range(40))
    assert (tmp_path / "gpt2giga.log.1").exists()
    assert all(f.stat().st_size <= 1024 + 100 for f in files)


@pytest.fixture
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        root.removeHandler(handler)
        handler.close()
    root.handlers[:] = saved
    root.setLevel(level)


@pytest.mark.usefixtures("root_handlers")
def test_setup_writes_structured_lines_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "out.log"
    logs.setup(make_settings(GPT2GIGA_LOG_FILENAME=str(path), GPT2GIGA_LOG_FORMAT="json"))
    logging.getLogger("gpt2giga").info("hello %s", "world")
    logging.getLogger("httpx").info("chatter")
    for handler in logging.getLogger().handlers:
        handler.flush()
    (line,) = path.read_text().splitlines()
    assert json.loads(line)["msg"] == "hello world"


async def test_each_request_writes_one_access_line(
    upstream: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.post(V1_CHAT).respond(json=V1_ANSWER)
    caplog.set_level(logging.INFO, logger="gpt2giga.access")
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "seed": 1}
    env = {"GPT2GIGA_MODEL_ALIASES": '{"gpt-*": "GigaChat-2-Max"}'}
    async with over(build_app(**env)) as c:
        r = await c.post("/v1/chat/completions", json=body, headers={"x-request-id": "acc-1"})
    (line,) = [rec for rec in caplog.records if rec.name == "gpt2giga.access"]
    fields = line.fields  # type: ignore[attr-defined]
    assert r.status_code == 200
    assert line.getMessage() == "POST /chat/completions 200"
    assert {k: v for k, v in fields.items() if k not in ("duration_ms", "upstream_ms")} == {
        "request_id": "acc-1",
        "dialect": "openai",
        "method": "POST",
        "route": "/chat/completions",
        "contract": "v1",
        "requested_model": "gpt-4o",
        "model": "GigaChat-2-Max",
        "status": 200,
        "ttft_ms": None,
        "tokens_in": 5,
        "tokens_out": 2,
        "ignored": "seed",
        "error": None,
        "upstream_error": None,
        "disconnected": None,
    }
    assert fields["duration_ms"] >= fields["upstream_ms"] > 0


def test_no_access_line_when_the_level_hides_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="gpt2giga.access")
    assert logs.ACCESS.isEnabledFor(logging.INFO) is False
    assert build_app().observers.each == []


async def started(app: App) -> App:
    await app.startup()
    return app


async def test_dev_log_views_tail_and_stream_this_workers_lines() -> None:
    app = await started(build_app(GPT2GIGA_LOG_FORMAT="json"))
    try:
        for n in range(3):
            logging.getLogger("gpt2giga").warning("event %d", n)
        async with over(app) as c:
            tail = await c.get("/logs/2")
            query = await c.get("/logs", params={"lines": "1"})
            bad = await c.get("/logs/many")
        live = Call(app, "GET", "/logs/stream")
        running = live.start()
        await live.sent(lambda body: True)  # headers are out: the reader is subscribed
        logging.getLogger("gpt2giga").warning("while watching")
        await live.sent(lambda body: b"while watching" in body)
        live.leave.set()
        await running
    finally:
        await app.shutdown()
    assert [json.loads(line)["msg"] for line in tail.text.splitlines()] == ["event 1", "event 2"]
    assert tail.headers["content-type"].startswith("text/plain")
    assert [json.loads(line)["msg"] for line in query.text.splitlines()] == ["event 2"]
    assert bad.status_code == 400
    assert live.headers[b"content-type"] == b"text/event-stream"
    assert live.text.startswith(b"data: {") and live.text.endswith(b"\n\n")
    assert app.ring is not None and app.ring._readers == []  # the reader left cleanly


async def test_log_views_are_absent_in_prod_and_keyed_when_auth_is_on() -> None:
    keyed = {"GPT2GIGA_ENABLE_API_KEY_AUTH": "true", "GPT2GIGA_API_KEY": "k-1"}
    async with over(build_app(GPT2GIGA_MODE="PROD", GPT2GIGA_API_KEY="k-1")) as c:
        prod = await c.get("/logs/5", headers={"x-api-key": "k-1"})
    async with over(build_app(**keyed)) as c:
        no_key = await c.get("/logs/5")
        with_key = await c.get("/logs/5", headers={"x-api-key": "k-1"})
    assert prod.status_code == 404
    assert no_key.status_code == 401 and with_key.status_code == 200
