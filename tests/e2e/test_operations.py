"""Operations against real Granian processes: several workers, SIGTERM, HTTPS, limits, doctor."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from gpt2giga.gigachat.fake.server import DEMO_CREDENTIALS
from tests.certs import self_signed
from tests.e2e.conftest import ROOT, GatewayFactory, Server, base_env, free_port, spawn
from tests.e2e.slow_upstream import SlowUpstream
from tests.observe.test_metrics import value

MODEL = "GigaChat-2-Max"
HELLO = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**HELLO, "stream": True}


def test_metrics_and_the_log_file_add_up_across_workers(
    start_gateway: GatewayFactory, tmp_path: Path
) -> None:
    log_file = tmp_path / "gpt2giga.log"
    server = start_gateway(
        GPT2GIGA_WORKERS="2",
        GPT2GIGA_METRICS_ENABLED="true",
        GPT2GIGA_LOG_LEVEL="INFO",
        GPT2GIGA_LOG_FORMAT="json",
        GPT2GIGA_LOG_FILENAME=str(log_file),
        TMPDIR=str(tmp_path),
    )
    assert len(list(tmp_path.glob("gpt2giga-metrics-*"))) == 1  # the shared metrics directory
    for n in range(12):  # a new connection each time: the workers share them out
        r = httpx.post(
            server.url + "/v1/chat/completions", json=HELLO, headers={"x-request-id": f"mw-{n}"}
        )
        assert r.status_code == 200
    scrapes = [httpx.get(server.url + "/metrics").text for _ in range(6)]
    labels = {"route": "/chat/completions", "status": "200", "model": MODEL}
    assert [value(s, "gpt2giga_requests_total", **labels) for s in scrapes] == [12.0] * 6
    assert {value(s, "gpt2giga_tokens_output_total", model=MODEL) for s in scrapes} == {12 * 8.0}
    server.stop()
    access = [json.loads(line) for line in log_file.read_text().splitlines()]
    ids = {line.get("request_id") for line in access if line["logger"] == "gpt2giga.access"}
    assert {f"mw-{n}" for n in range(12)} <= ids
    assert not list(tmp_path.glob("gpt2giga-metrics-*"))  # removed at exit


def test_sigterm_past_the_drain_timeout_ends_a_stream_cleanly_and_keeps_its_record(
    start_gateway: GatewayFactory, tmp_path: Path
) -> None:
    traffic = tmp_path / "traffic.jsonl"
    with SlowUpstream(chunks=300, interval=0.1) as slow:  # a 30 s answer
        server = start_gateway(
            upstream=slow.url,
            GPT2GIGA_SHUTDOWN_TIMEOUT_SECONDS="1",
            GPT2GIGA_TRAFFIC_LOG_ENABLED="true",
            GPT2GIGA_TRAFFIC_LOG_JSONL_PATH=str(traffic),
            GPT2GIGA_TRAFFIC_LOG_FLUSH_INTERVAL_MS="600000",
            GPT2GIGA_LOG_LEVEL="INFO",
        )
        with (
            httpx.Client(base_url=server.url, timeout=30) as http,
            http.stream(
                "POST", "/chat/completions", json=STREAM, headers={"x-request-id": "cut-1"}
            ) as response,
        ):
            chunks = response.iter_raw()
            received = [next(chunks)]
            server.proc.send_signal(signal.SIGTERM)
            received.extend(chunks)
        assert slow.closed.wait(5)  # the upstream stream was closed, not left running
        assert server.proc.wait(15) == 0
    body = b"".join(received)
    last = json.loads(body.rstrip(b"\n").rpartition(b"\n\n")[2].removeprefix(b"data: "))
    assert last["error"]["code"] == "overloaded" and b"[DONE]" not in body
    assert "draining" in server.output()
    records = [json.loads(line) for line in traffic.read_text().splitlines()]
    (cut,) = [r for r in records if r["request_id"] == "cut-1"]  # besides start-up's /health
    assert (cut["route"], cut["status_code"], cut["error_type"]) == (
        "/chat/completions",
        200,
        "overloaded",
    )


def test_https_through_granian_serves_the_openai_sdk(
    start_gateway: GatewayFactory, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    server = start_gateway(
        GPT2GIGA_USE_HTTPS="true",
        GPT2GIGA_HTTPS_CERT_FILE=str(cert),
        GPT2GIGA_HTTPS_KEY_FILE=str(key),
    )
    assert server.url.startswith("https://")
    with (
        httpx.Client(verify=ssl.create_default_context(cafile=cert)) as http,
        openai.OpenAI(base_url=server.url + "/v1", api_key="-", http_client=http) as client,
    ):
        reply = client.chat.completions.create(model=MODEL, messages=HELLO["messages"])  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "Hello from the fake GigaChat! You said: hi"
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/health")  # untrusted without the certificate


def test_a_busy_model_refuses_until_a_streaming_client_hangs_up(
    start_gateway: GatewayFactory,
) -> None:
    with SlowUpstream() as slow:
        server = start_gateway(
            upstream=slow.url,
            GPT2GIGA_MODEL_MAX_CONNECTIONS=json.dumps({MODEL: 1}),
            GPT2GIGA_MODEL_MAX_CONNECTIONS_ACQUIRE_TIMEOUT="0",
        )
        with openai.OpenAI(base_url=server.url + "/v1", api_key="-", max_retries=0) as client:
            first = client.chat.completions.create(
                model=MODEL, messages=HELLO["messages"], stream=True
            )  # type: ignore[arg-type]
            next(iter(first))
            with pytest.raises(openai.RateLimitError) as caught:
                client.chat.completions.create(model=MODEL, messages=HELLO["messages"])  # type: ignore[arg-type]
            first.close()  # the client leaves mid-stream
            assert slow.closed.wait(10)
            again = client.chat.completions.create(
                model=MODEL, messages=HELLO["messages"], stream=True
            )  # type: ignore[arg-type]
            assert next(iter(again)).choices[0].delta.role == "assistant"
            again.close()
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.status_code == 429


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gpt2giga", "doctor"],
        env={**base_env(), "GIGACHAT_MODEL": MODEL, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def fake_env(url: str, credentials: str = DEMO_CREDENTIALS) -> dict[str, str]:
    return {
        "GIGACHAT_BASE_URL": f"{url}/api/v1",
        "GIGACHAT_AUTH_URL": f"{url}/api/v2/oauth",
        "GIGACHAT_CREDENTIALS": credentials,
    }


def test_doctor_passes_against_the_fake_and_fails_plainly(fake_gigachat: Server) -> None:
    good = doctor(fake_env(fake_gigachat.url))
    refused = doctor(fake_env(fake_gigachat.url, "d3Jvbmc6a2V5"))
    malformed = doctor(fake_env(fake_gigachat.url, "%%%"))
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.rstrip().endswith("All checks passed.")
    assert refused.returncode == 1 and "FAIL  authorization" in refused.stdout
    assert malformed.returncode == 1 and "FAIL  credentials" in malformed.stdout
    assert "d3Jvbmc6a2V5" not in refused.stdout + refused.stderr


@pytest.fixture
def tls_fake(tmp_path: Path) -> tuple[Server, Path]:
    cert, key = self_signed(tmp_path)
    port = free_port()
    args = [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--no-ws",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "--ssl-certificate", str(cert), "--ssl-keyfile", str(key),
        "gpt2giga.gigachat.fake.server:app_from_env",
    ]  # fmt: skip
    server = spawn(args, base_env(), f"https://127.0.0.1:{port}", "/api/v1/models")
    yield server, cert
    server.stop()


def test_doctor_explains_an_untrusted_chain_and_passes_with_the_bundle(
    tls_fake: tuple[Server, Path],
) -> None:
    server, cert = tls_fake
    untrusted = doctor(fake_env(server.url))
    trusted = doctor({**fake_env(server.url), "GIGACHAT_CA_BUNDLE_FILE": str(cert)})
    assert untrusted.returncode == 1
    assert "FAIL  tls 127.0.0.1" in untrusted.stdout
    assert "GIGACHAT_CA_BUNDLE_FILE=" in untrusted.stdout
    assert trusted.returncode == 0, trusted.stdout
