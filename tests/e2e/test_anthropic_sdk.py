"""The official anthropic SDK against the real gateway process and the fake GigaChat.

The SDK appends `/v1/messages` to its base URL: `/` and `/v1` reach the v1
contract (`/v1/messages`, `/v1/v1/messages`), `/v2` the v2 one (`/v2/v1/messages`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e.conftest import GatewayFactory
from tests.e2e.slow_upstream import SlowUpstream

MODEL = "GigaChat-2-Max"
FIXTURE = Path(__file__).parent.parent / "fixtures" / "anthropic" / "claude_code_request.json"
WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city"],
    },
}


@pytest.fixture(params=["", "/v1", "/v2"])
def client(request: pytest.FixtureRequest, gateway_url: str) -> Iterator[anthropic.Anthropic]:
    base = gateway_url + request.param
    with anthropic.Anthropic(base_url=base, api_key="-", max_retries=0) as c:
        yield c


def test_message_answers_with_the_fake_gigachat_text(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=256,
        system="Be brief.",
        messages=[{"role": "user", "content": "Ping?"}],
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the fake GigaChat! You said: Ping?"
    assert message.stop_reason == "end_turn"
    assert message.model.startswith(MODEL)
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


def test_stream_assembles_the_same_message(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "Count to three"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the fake GigaChat! You said: Count to three"
    assert final.content[0].type == "text" and final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


def test_tool_use_round_trip(client: anthropic.Anthropic) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.messages.create(
        model=MODEL, max_tokens=256, messages=messages, tools=[WEATHER_TOOL]
    )
    assert first.stop_reason == "tool_use"
    use = first.content[-1]
    assert use.type == "tool_use"
    assert use.id.startswith("toolu_")
    assert (use.name, use.input) == ("get_weather", {"city": "example", "days": 1})
    messages += [
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": '{"temp": 21}'}],
        },
    ]
    second = client.messages.create(
        model=MODEL, max_tokens=256, messages=messages, tools=[WEATHER_TOOL]
    )
    assert second.content[0].type == "text"
    assert second.content[0].text == 'Done: get_weather returned {"temp":21}.'


def test_streamed_forced_tool_use_carries_the_whole_input(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": "Weather in Oslo"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": "get_weather"},
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    use = final.content[0]
    assert use.type == "tool_use"
    assert (use.name, use.input) == ("get_weather", {"city": "example", "days": 1})


def test_thinking_comes_back_signed_and_goes_back_unchanged(client: anthropic.Anthropic) -> None:
    first = client.messages.create(
        model=MODEL,
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Think first"}],
    )
    thinking = first.content[0]
    assert thinking.type == "thinking"
    assert thinking.thinking == "The user wrote 2 words; I answer plainly."
    assert thinking.signature
    with client.messages.stream(
        model=MODEL,
        max_tokens=2048,
        thinking={"type": "adaptive"},
        messages=[
            {"role": "user", "content": "Think first"},
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": "And again"},
        ],
    ) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[1].type == "text"
    assert final.content[1].text == "Hello from the fake GigaChat! You said: And again"


def test_count_tokens(client: anthropic.Anthropic) -> None:
    counted = client.messages.count_tokens(
        model=MODEL,
        system="Be brief.",
        messages=[{"role": "user", "content": "How many tokens is this?"}],
        tools=[WEATHER_TOOL],
    )
    assert counted.input_tokens > 5


def test_models_list_and_retrieve(client: anthropic.Anthropic) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == ["GigaChat", "GigaChat-2", "GigaChat-2-Pro", "GigaChat-2-Max"]
    model = client.models.retrieve("GigaChat-2-Max")
    assert (model.id, model.display_name, model.type) == (MODEL, MODEL, "model")
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("no-such-model")


def test_unknown_model_is_a_not_found(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(
            model="nope", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "GigaChat answered 404: No such model"},
    }


def test_bad_input_is_a_400_naming_the_field(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model=MODEL,
            max_tokens=8,
            messages=[{"role": "wizard", "content": "x"}],  # type: ignore[misc, list-item]
        )
    assert "$.messages[0].role" in caught.value.message


@pytest.mark.parametrize(
    ("model", "error", "status"),
    [
        ("error-429", anthropic.RateLimitError, 429),
        ("error-503", anthropic.OverloadedError, 529),
        ("error-500", anthropic.InternalServerError, 502),
    ],
)
def test_upstream_failures_keep_their_meaning(
    client: anthropic.Anthropic, model: str, error: type[anthropic.APIStatusError], status: int
) -> None:
    with pytest.raises(error) as caught:
        client.messages.create(
            model=model, max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == status
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "1"


def test_failure_mid_stream_raises_instead_of_finishing(client: anthropic.Anthropic) -> None:
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(
            model="stream-break",
            max_tokens=256,
            messages=[{"role": "user", "content": "a long answer please"}],
        ) as stream,
    ):
        stream.get_final_message()
    assert "GigaChat" in caught.value.message


def test_claude_code_request_round_trips(gateway_url: str, start_gateway: GatewayFactory) -> None:
    """Claude Code's own body shape, through the SDK with its betas and extra fields."""
    server = start_gateway(GPT2GIGA_MODEL_ALIASES='{"claude-*": "GigaChat-2-Max"}')
    body = json.loads(FIXTURE.read_text())
    extra = {k: body.pop(k) for k in ("output_config", "context_management")}
    body.pop("stream")
    with (
        anthropic.Anthropic(base_url=server.url + "/v2", api_key="-", max_retries=0) as client,
        client.messages.stream(
            **body,
            extra_body=extra,
            extra_headers={
                "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14"
            },
            extra_query={"beta": "true"},
        ) as stream,
    ):
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[1].type == "text"
    assert final.content[1].text == 'Done: Grep returned {"result":"Found 1 file\\n/repo/main.py"}.'
    assert stream.response.headers["x-gpt2giga-ignored"] == (
        "metadata, context_management, anthropic-beta:claude-code-20250219, "
        "anthropic-beta:interleaved-thinking-2025-05-14"
    )


def test_claude_code_probe(gateway_url: str) -> None:
    assert httpx.head(gateway_url + "/api/hello").status_code == 200


def test_long_upstream_silences_are_filled_with_pings(start_gateway: GatewayFactory) -> None:
    with SlowUpstream(chunks=3, interval=0.5) as slow:
        server = start_gateway(upstream=slow.url, GPT2GIGA_STREAM_KEEPALIVE_SECONDS="0.1")
        body = {
            "model": MODEL,
            "max_tokens": 64,
            "stream": True,
            "messages": [{"role": "user", "content": "go"}],
        }
        response = httpx.post(server.url + "/v1/messages", json=body, timeout=30)
        with (
            anthropic.Anthropic(base_url=server.url, api_key="-", max_retries=0) as client,
            client.messages.stream(**{k: v for k, v in body.items() if k != "stream"}) as stream,
        ):
            assert stream.get_final_text() == "word0 word1 word2 "
    frames = response.text.split("\n\n")
    names = [f.partition("\n")[0] for f in frames if f]
    assert names[:2] == ["event: message_start", "event: ping"]
    assert names[-2:] == ["event: message_delta", "event: message_stop"]
    # Three chunks 0.5 s apart with a 0.1 s keep-alive: pings between the deltas.
    between = names[names.index("event: content_block_delta") :]
    assert between.count("event: ping") >= 2


def test_client_disconnect_cancels_the_upstream_stream(start_gateway: GatewayFactory) -> None:
    with SlowUpstream() as slow:
        server = start_gateway(upstream=slow.url)
        body = {
            "model": MODEL,
            "max_tokens": 64,
            "stream": True,
            "messages": [{"role": "user", "content": "go"}],
        }
        with (
            httpx.Client(base_url=server.url) as http,
            http.stream("POST", "/v1/messages", json=body) as response,
        ):
            first = next(response.iter_raw())
            assert b"event: message_start" in first
        # 300 chunks 0.1 s apart: an upstream still running after 10 s was not cancelled.
        assert slow.closed.wait(10)
