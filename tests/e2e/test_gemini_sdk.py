"""The official google-genai SDK against the real gateway process and the fake GigaChat.

google-genai 3.x puts its API version (`v1`) into every path, so a base URL of
`/` and `/v1` both reach GigaChat's v1 contract and `/v2` its v2 contract.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pydantic
import pytest
from google import genai
from google.genai import errors, types

from tests.e2e.conftest import GatewayFactory
from tests.e2e.slow_upstream import SlowUpstream

MODEL = "GigaChat-2-Max"
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Weather for a city",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={
            "city": types.Schema(type=types.Type.STRING),
            "days": types.Schema(type=types.Type.INTEGER, minimum=1),
        },
        required=["city"],
    ),
)
TOOLS = types.GenerateContentConfig(
    tools=[types.Tool(function_declarations=[WEATHER])],
    automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
)


def connect(url: str) -> genai.Client:
    return genai.Client(api_key="-", http_options={"base_url": url})


@pytest.fixture(params=["", "/v1", "/v2"])
def client(request: pytest.FixtureRequest, gateway_url: str) -> Iterator[genai.Client]:
    with connect(gateway_url + request.param) as c:
        yield c


def test_generate_content_answers_with_the_fake_gigachat_text(client: genai.Client) -> None:
    response = client.models.generate_content(
        model=MODEL,
        contents="Ping?",
        config=types.GenerateContentConfig(system_instruction="Be brief.", temperature=0.2),
    )
    assert response.text == "Hello from the fake GigaChat! You said: Ping?"
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.model_version and response.model_version.startswith(MODEL)
    assert response.usage_metadata and response.usage_metadata.total_token_count
    assert response.sdk_http_response and "x-gpt2giga-ignored" not in (
        response.sdk_http_response.headers or {}
    )


def test_stream_assembles_the_same_text_and_ends_with_finish_and_usage(
    client: genai.Client,
) -> None:
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Count to three"))
    assert len(chunks) > 1
    assert "".join(c.text or "" for c in chunks) == (
        "Hello from the fake GigaChat! You said: Count to three"
    )
    finishes = [c.candidates[0].finish_reason for c in chunks if c.candidates]
    assert finishes[-1] == types.FinishReason.STOP and not any(finishes[:-1])
    assert chunks[-1].usage_metadata and chunks[-1].usage_metadata.candidates_token_count


def test_function_call_round_trip_with_ids(client: genai.Client) -> None:
    question = types.Content(role="user", parts=[types.Part(text="Weather in Paris?")])
    first = client.models.generate_content(model=MODEL, contents=[question], config=TOOLS)
    [call] = first.function_calls or []
    assert (call.name, call.args) == ("get_weather", {"city": "example", "days": 1})
    assert call.id and call.id.startswith("call_")
    assert first.candidates and first.candidates[0].content
    result = types.Part(
        function_response=types.FunctionResponse(id=call.id, name=call.name, response={"t": 21})
    )
    history = [question, first.candidates[0].content, types.Content(role="user", parts=[result])]
    second = client.models.generate_content(model=MODEL, contents=history, config=TOOLS)
    assert second.text == 'Done: get_weather returned {"t":21}.'


def test_streamed_function_call_arrives_whole(client: genai.Client) -> None:
    config = TOOLS.model_copy(
        update={
            "tool_config": types.ToolConfig(
                function_calling_config=types.FunctionCallingConfig(
                    mode=types.FunctionCallingConfigMode.ANY, allowed_function_names=["get_weather"]
                )
            )
        }
    )
    chunks = list(
        client.models.generate_content_stream(model=MODEL, contents="Oslo", config=config)
    )
    calls = [fc for c in chunks for fc in c.function_calls or ()]
    assert [(fc.name, fc.args) for fc in calls] == [("get_weather", {"city": "example", "days": 1})]
    assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason == "STOP"


class Weather(pydantic.BaseModel):
    city: str
    celsius: float


@pytest.mark.parametrize("schema", [Weather, list[Weather]], ids=["object", "list"])
def test_structured_output_is_json_text_the_sdk_parses(client: genai.Client, schema: type) -> None:
    response = client.models.generate_content(
        model=MODEL,
        contents="Weather in Rome as data",
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_schema=schema
        ),
    )
    assert response.function_calls is None
    one = Weather(city="example", celsius=1.5)
    assert response.parsed == (one if schema is Weather else [one])
    assert json.loads(response.text or "") == (
        one.model_dump() if schema is Weather else [one.model_dump()]
    )


def test_structured_output_in_native_mode(start_gateway: GatewayFactory) -> None:
    server = start_gateway(GPT2GIGA_STRUCTURED_OUTPUT_MODE="native")
    schema = {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}
    for base in ("/v1", "/v2"):
        with connect(server.url + base) as c:
            config = types.GenerateContentConfig(
                response_mime_type="application/json", response_json_schema=schema
            )
            response = c.models.generate_content(model=MODEL, contents="Pick", config=config)
            streamed = c.models.generate_content_stream(model=MODEL, contents="Pick", config=config)
            assert response.text == '["a"]'
            assert "".join(chunk.text or "" for chunk in streamed) == '["a"]'


def test_thoughts_come_only_when_asked_for(client: genai.Client) -> None:
    def thoughts(include: bool) -> list[str]:
        config = types.GenerateContentConfig(
            thinking_config=types.ThinkingConfig(thinking_budget=4096, include_thoughts=include)
        )
        response = client.models.generate_content(model=MODEL, contents="Why?", config=config)
        assert response.text == "Hello from the fake GigaChat! You said: Why?"
        parts = response.candidates[0].content.parts if response.candidates else None
        return [p.text or "" for p in parts or () if p.thought]

    assert thoughts(True) == ["The user wrote 1 words; I answer plainly."]
    assert thoughts(False) == []


def test_count_tokens(client: genai.Client) -> None:
    counted = client.models.count_tokens(model=MODEL, contents=["one two three", "four"])
    # The SDK makes the strings one user content, read as one text; the fake
    # counts its words plus one.
    assert counted.total_tokens == 4 + 1


def test_embed_content_single_and_batch(client: genai.Client) -> None:
    one = client.models.embed_content(model="Embeddings", contents="alpha")
    many = client.models.embed_content(model="EmbeddingsGigaR", contents=["alpha", "beta", "alpha"])
    assert one.embeddings and [len(e.values or ()) for e in one.embeddings] == [8]
    assert many.embeddings and len(many.embeddings) == 3
    assert many.embeddings[0].values == many.embeddings[2].values != many.embeddings[1].values
    assert one.embeddings[0].values == many.embeddings[0].values


def test_models_list_and_get(client: genai.Client) -> None:
    listed = {m.name: m for m in client.models.list(config={"page_size": 2})}
    assert list(listed) == [
        "models/GigaChat",
        "models/GigaChat-2",
        "models/GigaChat-2-Pro",
        "models/GigaChat-2-Max",
        "models/Embeddings",
        "models/EmbeddingsGigaR",
    ]
    assert listed["models/Embeddings"].supported_actions == ["embedContent", "batchEmbedContents"]
    assert client.models.get(model=MODEL).supported_actions == [
        "generateContent",
        "streamGenerateContent",
        "countTokens",
    ]
    with pytest.raises(errors.ClientError) as caught:
        client.models.get(model="no-such-model")
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")


def test_unknown_model_is_a_not_found(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="nope", contents="x")
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")
    assert caught.value.message and "No such model" in caught.value.message


def test_bad_input_is_a_400_naming_the_field(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(
            model=MODEL,
            contents="x",
            config=types.GenerateContentConfig(response_mime_type="application/json"),
        )
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert caught.value.message and "responseSchema" in caught.value.message


def test_upstream_429_keeps_its_meaning(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="error-429", contents="x")
    assert (caught.value.code, caught.value.status) == (429, "RESOURCE_EXHAUSTED")
    assert caught.value.response.headers["retry-after"] == "1"


def test_failure_mid_stream_raises_an_api_error_with_an_integer_code(client: genai.Client) -> None:
    stream = client.models.generate_content_stream(model="stream-break", contents="a long answer")
    with pytest.raises(errors.ServerError) as caught:
        list(stream)
    assert (caught.value.code, caught.value.status) == (502, "UNAVAILABLE")
    assert caught.value.message and "GigaChat" in caught.value.message


async def test_async_client_streams_and_raises_the_same_way(gateway_url: str) -> None:
    client = genai.Client(api_key="-", http_options={"base_url": gateway_url + "/v2"})
    stream = await client.aio.models.generate_content_stream(model=MODEL, contents="Async hi")
    text = "".join([chunk.text or "" async for chunk in stream])
    assert text == "Hello from the fake GigaChat! You said: Async hi"
    broken = await client.aio.models.generate_content_stream(model="stream-break", contents="x")
    with pytest.raises(errors.ServerError) as caught:
        async for _ in broken:
            pass
    assert caught.value.code == 502
    await client.aio.aclose()


def test_api_key_is_required_when_enabled(start_gateway: GatewayFactory) -> None:
    server = start_gateway(GPT2GIGA_ENABLE_API_KEY_AUTH="true", GPT2GIGA_API_KEY="s3cret")
    with genai.Client(api_key="s3cret", http_options={"base_url": server.url}) as good:
        assert good.models.count_tokens(model=MODEL, contents="a b").total_tokens == 3
    with (
        genai.Client(api_key="wrong", http_options={"base_url": server.url}) as bad,
        pytest.raises(errors.ClientError) as caught,
    ):
        bad.models.count_tokens(model=MODEL, contents="a b")
    assert (caught.value.code, caught.value.status) == (401, "UNAUTHENTICATED")


@pytest.mark.parametrize("query", ["?alt=sse", ""], ids=["sse", "json-array"])
def test_client_disconnect_cancels_the_upstream_stream(
    start_gateway: GatewayFactory, query: str
) -> None:
    with SlowUpstream() as slow:
        server = start_gateway(upstream=slow.url)
        body = {"contents": [{"role": "user", "parts": [{"text": "go"}]}]}
        path = f"/v1beta/models/{MODEL}:streamGenerateContent{query}"
        with (
            httpx.Client(base_url=server.url) as http,
            http.stream("POST", path, json=body) as response,
        ):
            first = next(response.iter_raw())
            assert b'"role":"model"' in first
        # 300 chunks 0.1 s apart: an upstream still running after 10 s was not cancelled.
        assert slow.closed.wait(10)
