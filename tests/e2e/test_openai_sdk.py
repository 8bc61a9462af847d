"""The official openai SDK against the real gateway process and the fake GigaChat."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator

import httpx
import openai
import pydantic
import pytest

from tests.e2e.conftest import GatewayFactory
from tests.e2e.slow_upstream import SlowUpstream

MODEL = "GigaChat-2-Max"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(params=["", "/v1", "/v2"])
def client(request: pytest.FixtureRequest, gateway_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway_url + request.param, api_key="-", max_retries=0) as c:
        yield c


def test_chat_answers_with_the_fake_gigachat_text(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Ping?"}],
    )
    choice = completion.choices[0]
    assert choice.message.content == "Hello from the fake GigaChat! You said: Ping?"
    assert choice.finish_reason == "stop"
    assert completion.model.startswith(MODEL)
    assert completion.usage is not None and completion.usage.total_tokens > 0


def test_stream_assembles_the_same_text(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Count to three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the fake GigaChat! You said: Count to three"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_tool_call_round_trip(client: openai.OpenAI) -> None:
    messages: list[dict[str, object]] = [
        {"role": "user", "content": "What is the weather in Paris?"}
    ]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "example", "days": 1}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
    ]
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == 'Done: get_weather returned {"temp":21}.'


def test_streamed_tool_call_carries_whole_arguments(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Oslo"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    calls = [tc for c in stream if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert [(c.index, c.function.name) for c in calls] == [(0, "get_weather")]
    assert json.loads(calls[0].function.arguments) == {"city": "example", "days": 1}


class Weather(pydantic.BaseModel):
    city: str
    celsius: float


def test_structured_output_parses_into_the_model(client: openai.OpenAI) -> None:
    parsed = client.chat.completions.parse(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Rome as data"}],
        response_format=Weather,
    )
    assert parsed.choices[0].message.parsed == Weather(city="example", celsius=1.5)


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert "GigaChat-2-Max" in ids and "EmbeddingsGigaR" in ids
    assert client.models.retrieve("Embeddings").id == "Embeddings"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_embeddings_default_base64_decode_to_floats(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="Embeddings", input=["alpha", "beta"])
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 8
    assert all(-1.0 <= x <= 1.0 for x in result.data[0].embedding)
    assert result.usage.prompt_tokens == 4


def test_unknown_model_is_an_openai_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert "No such model" in caught.value.message


def test_bad_input_is_a_400_naming_the_field(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=[{"role": "wizard", "content": "x"}])  # type: ignore[list-item, misc]
    assert "$.messages[0].role" in caught.value.message


def test_upstream_429_keeps_its_meaning(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="error-429", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.response.headers["retry-after"] == "1"


def test_failure_mid_stream_raises_instead_of_finishing(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="stream-break",
        messages=[{"role": "user", "content": "a long answer please"}],
        stream=True,
    )
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert "GigaChat" in caught.value.message


def test_api_key_is_required_when_enabled(start_gateway: GatewayFactory) -> None:
    server = start_gateway(GPT2GIGA_ENABLE_API_KEY_AUTH="true", GPT2GIGA_API_KEY="s3cret")
    with openai.OpenAI(base_url=server.url, api_key="s3cret", max_retries=0) as good:
        assert good.models.list().data
    with (
        openai.OpenAI(base_url=server.url, api_key="wrong", max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError),
    ):
        bad.models.list()


def test_client_disconnect_cancels_the_upstream_stream(start_gateway: GatewayFactory) -> None:
    with SlowUpstream() as slow:
        server = start_gateway(upstream=slow.url)
        body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "go"}]}
        with (
            httpx.Client(base_url=server.url) as http,
            http.stream("POST", "/chat/completions", json=body) as response,
        ):
            first = next(response.iter_raw())
            assert b'"role":"assistant"' in first
        # 300 chunks 0.1 s apart: an upstream still running after 10 s was not cancelled.
        assert slow.closed.wait(10)


def test_sigterm_lets_an_inflight_stream_finish(start_gateway: GatewayFactory) -> None:
    with SlowUpstream(chunks=20, interval=0.1) as slow:
        server = start_gateway(upstream=slow.url)
        body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "go"}]}
        with (
            httpx.Client(base_url=server.url, timeout=30) as http,
            http.stream("POST", "/chat/completions", json=body) as response,
        ):
            chunks = response.iter_raw()
            received = [next(chunks)]
            assert slow.streams_started.wait(5)
            server.proc.send_signal(signal.SIGTERM)
            received.extend(chunks)
        text = b"".join(received)
        assert text.endswith(b"data: [DONE]\n\n")
        assert text.count(b'"content":"word') == 20
        assert server.proc.wait(15) == 0, server.output()
