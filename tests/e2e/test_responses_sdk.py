"""The official openai SDK's `client.responses.*` against a real gateway and the fake GigaChat.

Each test runs on the root route and on `/v1` and `/v2`, so both GigaChat
contracts are covered (the fake keeps v2 threads as GigaChat does). The
Codex-shaped request is posted as Codex posts it and read back with the
SDK's own stream assembly.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pydantic
import pytest
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent

from gpt2giga.sse import SSEParser
from tests.e2e.conftest import GatewayFactory
from tests.e2e.slow_upstream import SlowUpstream

MODEL = "GigaChat-2-Max"
ECHO = "Hello from the fake GigaChat! You said: "
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city"],
    },
}
CODEX: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "openai" / "codex_request.json").read_text()
)
EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)


@pytest.fixture(params=["", "/v1", "/v2"])
def client(request: pytest.FixtureRequest, gateway_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway_url + request.param, api_key="-", max_retries=0) as c:
        yield c


def test_create_answers_with_output_text(client: openai.OpenAI) -> None:
    resp = client.responses.create(model=MODEL, instructions="Be brief.", input="Ping?")
    assert resp.output_text == ECHO + "Ping?"
    assert resp.status == "completed" and resp.model.startswith(MODEL)
    assert resp.usage is not None and resp.usage.total_tokens > 0
    assert resp.instructions == "Be brief."


def test_stream_assembles_the_same_text_with_increasing_sequence_numbers(
    client: openai.OpenAI,
) -> None:
    with client.responses.stream(
        model=MODEL, input="Count to three", reasoning={"effort": "medium", "summary": "auto"}
    ) as stream:
        seen = list(stream)
        final = stream.get_final_response()
    numbers = [e.sequence_number for e in seen]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert seen[0].type == "response.created" and seen[-1].type == "response.completed"
    deltas = "".join(e.delta for e in seen if e.type == "response.output_text.delta")
    assert deltas == final.output_text == ECHO + "Count to three"
    assert [o.type for o in final.output] == ["reasoning", "message"]


def test_function_call_round_trip_by_previous_response_id(client: openai.OpenAI) -> None:
    first = client.responses.create(model=MODEL, input="Weather in Paris?", tools=[WEATHER])  # type: ignore[list-item]
    call = first.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "example", "days": 1}
    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"temp": 21}'}],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert second.output_text == 'Done: get_weather returned {"temp":21}.'


def test_function_call_round_trip_without_storage(client: openai.OpenAI) -> None:
    """Codex's way: `store: false` and the whole history sent back each turn."""
    history: list[Any] = [{"role": "user", "content": "Weather in Oslo?"}]
    first = client.responses.create(model=MODEL, input=history, tools=[WEATHER], store=False)  # type: ignore[list-item]
    call = first.output[0]
    assert call.type == "function_call"
    history += [call.model_dump(exclude_none=True)]
    history += [{"type": "function_call_output", "call_id": call.call_id, "output": "cold"}]
    second = client.responses.create(model=MODEL, input=history, tools=[WEATHER], store=False)  # type: ignore[list-item]
    assert second.output_text == 'Done: get_weather returned {"result":"cold"}.'
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)


def test_previous_response_id_continues_the_conversation(client: openai.OpenAI) -> None:
    alone = client.responses.create(model=MODEL, input="and now?")
    first = client.responses.create(model=MODEL, input="one two three four five six")
    second = client.responses.create(model=MODEL, input="and now?", previous_response_id=first.id)
    assert second.output_text == ECHO + "and now?"
    assert second.previous_response_id == first.id
    # The model read the earlier turn too (a rebuilt history on v1, the thread on v2).
    assert second.usage is not None and alone.usage is not None
    assert second.usage.input_tokens > alone.usage.input_tokens + 10


def test_streamed_response_can_be_continued(client: openai.OpenAI) -> None:
    with client.responses.stream(model=MODEL, input="first words here") as stream:
        first = stream.get_final_response()
    second = client.responses.create(model=MODEL, input="next", previous_response_id=first.id)
    assert second.output_text == ECHO + "next"


class Weather(pydantic.BaseModel):
    city: str
    celsius: float


def test_parse_gives_the_pydantic_model(client: openai.OpenAI) -> None:
    parsed = client.responses.parse(
        model=MODEL, input="Weather in Rome as data", text_format=Weather
    )
    assert parsed.output_parsed == Weather(city="example", celsius=1.5)


def test_retrieve_and_delete(client: openai.OpenAI) -> None:
    made = client.responses.create(model=MODEL, input="keep me")
    got = client.responses.retrieve(made.id)
    assert got.id == made.id and got.output_text == made.output_text
    client.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve(made.id)
    assert made.id in caught.value.message


def test_bad_input_is_a_400_naming_the_field(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL, input=[{"role": "wizard", "content": "x"}])  # type: ignore[list-item, misc]
    assert "$.input[0].role" in caught.value.message
    with pytest.raises(openai.BadRequestError) as image:
        client.responses.create(
            model=MODEL,
            input=[{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}],  # type: ignore[list-item, misc]
        )
    assert "input[0].content[0]: the URL is refused: only https URLs" in image.value.message


def test_unknown_previous_response_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model=MODEL, input="x", previous_response_id="resp_nope")
    assert caught.value.body is not None
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_upstream_429_keeps_its_meaning(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.create(model="error-429", input="x")
    assert caught.value.response.headers["retry-after"] == "1"


def test_failure_mid_stream_is_response_failed_never_completed(client: openai.OpenAI) -> None:
    with client.responses.stream(model="stream-break", input="a long answer please") as stream:
        seen = list(stream)
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            stream.get_final_response()
    assert [e.type for e in seen][-2:] == ["response.failed", "error"]
    failed = seen[-2]
    assert failed.type == "response.failed"
    assert failed.response.error is not None and "GigaChat" in failed.response.error.message


# --- Codex ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def codex_url(start_gateway: GatewayFactory) -> str:
    # Codex asks for OpenAI model names: an alias maps them onto GigaChat.
    return start_gateway(GPT2GIGA_MODEL_ALIASES='{"gpt-*": "GigaChat-2-Max"}').url


def post_stream(url: str, body: dict[str, Any]) -> tuple[httpx.Response, Response]:
    """POST as Codex does and assemble the events with the SDK's own stream state."""
    state: ResponseStreamState[None] = ResponseStreamState(
        input_tools=openai.omit, text_format=openai.omit
    )
    parser = SSEParser()
    with httpx.Client(timeout=30) as http, http.stream("POST", url, json=body) as r:
        for chunk in r.iter_bytes():
            for _, data in parser.feed(chunk):
                state.handle_event(EVENTS.validate_json(data))
    final = state._completed_response
    assert final is not None
    return r, final


@pytest.mark.parametrize("prefix", ["/v1", "/v2"])
def test_codex_turn_after_a_tool_result_round_trips(codex_url: str, prefix: str) -> None:
    r, final = post_stream(codex_url + prefix + "/responses", CODEX)
    assert r.status_code == 200
    assert r.headers["x-gpt2giga-ignored"].startswith("include, store, prompt_cache_key")
    output = "Exit code: 0\nWall time: 0.1 seconds\nOutput:\nMakefile\nREADME.md\nsrc\n"
    assert (
        final.output_text
        == f"Done: shell_command returned {json.dumps({'result': output}, separators=(',', ':'))}."
    )
    assert final.status == "completed" and final.store is False


@pytest.mark.parametrize("prefix", ["/v1", "/v2"])
def test_codex_namespaced_tool_call_comes_back_under_its_namespace(
    codex_url: str, prefix: str
) -> None:
    body = copy.deepcopy(CODEX)
    ask = {"type": "message", "role": "user", "content": "Use mcp__docs__search for gpt2giga."}
    body["input"] = [*body["input"][:3], ask]
    _, final = post_stream(codex_url + prefix + "/responses", body)
    calls = [o for o in final.output if o.type == "function_call"]
    assert [(c.name, c.namespace) for c in calls] == [("search", "mcp__docs__")]
    assert json.loads(calls[0].arguments) == {"query": "example"}


def test_client_disconnect_cancels_the_upstream_stream(start_gateway: GatewayFactory) -> None:
    with SlowUpstream() as slow:
        server = start_gateway(upstream=slow.url)
        body = {"model": MODEL, "stream": True, "input": "go"}
        with (
            httpx.Client(base_url=server.url) as http,
            http.stream("POST", "/v1/responses", json=body) as response,
        ):
            first = next(response.iter_raw())
            assert b"response.created" in first
        # 300 chunks 0.1 s apart: an upstream still running after 10 s was not cancelled.
        assert slow.closed.wait(10)
