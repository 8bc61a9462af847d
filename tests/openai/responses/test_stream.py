"""GigaChat stream -> OpenAI Responses events: recorded upstream chunks in, exact events out.

The recorded bodies in `tests/fixtures/gigachat/chat_*.sse` are split by the
gateway's SSE parser and decoded as the client does (v1 through
`contract.chunk_from_v1`). Every event framed by `stream.frame` is
read back as a client would, validated with the openai SDK's own event types
and fed to the SDK's `ResponseStreamState` (what `responses.stream()` uses),
which is strict about order, output indexes and content indexes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pydantic
import pytest
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent

from gpt2giga import errors, sse
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat import wire_v1 as giga1
from gpt2giga.gigachat.request import Prepared
from gpt2giga.openai.responses import output, stream
from gpt2giga.openai.responses import wire as rsp
from gpt2giga.openai.responses.translate import Turn
from tests.conftest import recorded, sse_events

FIXTURES = Path(__file__).parents[2] / "fixtures" / "gigachat"
STATE = "3f1c8e0a-5b2d-4c7e-9a61-2d8f0b7c4e15"
CREATED = 1_700_000_000
MODEL = "GigaChat-2-Max:2.0.28.2"
NAMES = {"mcp__docs__search": ("mcp__docs__", "search")}
EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)

_decode_v1 = msgspec.json.Decoder(giga1.ChatCompletionChunkV1).decode
_decode_v2 = msgspec.json.Decoder(giga.ChatCompletionChunk).decode


def ids() -> Callable[[str], str]:
    counter = iter(range(100))
    return lambda prefix: f"{prefix}{next(counter)}"


def translator(structured: str | None = None) -> stream.StreamTranslator:
    prepared = Prepared(
        request=giga.ChatCompletionRequest(model="GigaChat-2-Max", messages=[]),
        structured=structured,
    )
    req = msgspec.json.decode(b'{"input": "x"}', type=rsp.ResponsesRequest)
    base = output.skeleton(req, "resp_1", CREATED, "GigaChat-2-Max")
    return stream.StreamTranslator(Turn(prepared=prepared, names=NAMES), base, ids())


class Run:
    """What a client of one translated stream sees."""

    def __init__(self, body: bytes) -> None:
        self.events: list[dict[str, Any]] = []
        self.state: ResponseStreamState[None] = ResponseStreamState(
            input_tools=omit, text_format=omit
        )
        for name, data in sse_events(body):
            event = msgspec.json.decode(data)
            assert name == event["type"]  # the SSE event name repeats the type
            self.state.handle_event(EVENTS.validate_python(event))
            self.events.append(event)
        numbers = [e["sequence_number"] for e in self.events]
        assert numbers == list(range(len(numbers)))

    @property
    def final(self) -> Response:
        response = self.state._completed_response
        assert response is not None
        return response


def drive(
    chunks: list[giga.ChatCompletionChunk], t: stream.StreamTranslator | None = None
) -> tuple[Run, stream.StreamTranslator]:
    """Drive the translator the way `sse.relay` does, and read the framed bytes back."""
    t = t or translator()
    body = b""
    for chunk in chunks:
        body += stream.frame(t.feed(chunk))
        if t.done:
            break
    body += stream.frame(sse.finish(t))
    return Run(body), t


def brief(event: dict[str, Any]) -> tuple[Any, ...]:
    """An event without its repeated parts: enough to tell a sequence apart."""
    kind = event["type"]
    if "response" in event:
        return (kind, event["response"]["status"])
    if "item" in event:
        return (kind, event["output_index"], event["item"]["type"], event["item"]["id"])
    for key in ("delta", "text", "arguments"):
        if key in event:
            return (kind, event[key])
    if "part" in event:
        return (kind, event["output_index"], event["part"]["text"])
    if kind == "error":
        return (kind, event["code"], event["message"])
    return (kind, event["item_id"])


START = [("response.created", "in_progress"), ("response.in_progress", "in_progress")]


def message(index: int, item_id: str, deltas: list[str]) -> list[tuple[Any, ...]]:
    text = "".join(deltas)
    return [
        ("response.output_item.added", index, "message", item_id),
        ("response.content_part.added", index, ""),
        *[("response.output_text.delta", d) for d in deltas],
        ("response.output_text.done", text),
        ("response.content_part.done", index, text),
        ("response.output_item.done", index, "message", item_id),
    ]


def call(index: int, item_id: str, arguments: str) -> list[tuple[Any, ...]]:
    return [
        ("response.output_item.added", index, "function_call", item_id),
        ("response.function_call_arguments.delta", arguments),
        ("response.function_call_arguments.done", arguments),
        ("response.output_item.done", index, "function_call", item_id),
    ]


COMPLETED = [("response.completed", "completed")]
HELLO = ["Привет", "! Как", " дела?"]
REASONING = [
    ("response.output_item.added", 0, "reasoning", "rs_0"),
    ("response.reasoning_summary_part.added", 0, ""),
    ("response.reasoning_summary_text.delta", "2+2"),
    ("response.reasoning_summary_text.delta", " is 4."),
    ("response.reasoning_summary_text.done", "2+2 is 4."),
    ("response.reasoning_summary_part.done", 0, "2+2 is 4."),
    ("response.output_item.done", 0, "reasoning", "rs_0"),
]


@pytest.mark.parametrize("contract_", ["v1", "v2"])
@pytest.mark.parametrize(
    ("fixture", "expected", "text"),
    [
        ("chat_text", [*START, *message(0, "msg_0", HELLO), *COMPLETED], "Привет! Как дела?"),
        ("chat_reasoning", [*START, *REASONING, *message(1, "msg_1", ["4"]), *COMPLETED], "4"),
        (
            "chat_function_call",
            [*START, *call(0, "fc_0", '{"city":"Москва","unit":"celsius"}'), *COMPLETED],
            "",
        ),
        (
            "chat_namespaced_call",
            [*START, *call(0, "fc_0", '{"query":"gpt2giga"}'), *COMPLETED],
            "",
        ),
    ],
)
def test_recorded_stream_becomes_the_same_events_on_both_contracts(
    contract_: str, fixture: str, expected: list[Any], text: str
) -> None:
    run, t = drive(recorded(f"{fixture}_{contract_}"))
    assert [brief(e) for e in run.events] == expected
    assert run.final.output_text == text
    assert t.response is not None and t.response.status == "completed"


def test_deltas_without_a_role_go_on_in_the_role_named_before() -> None:
    # GigaChat names a message's role on its first delta only (the SDK's ChatMessageChunk).
    run, t = drive(recorded("chat_roleless_v2"))
    assert [brief(e) for e in run.events] == [
        *START,
        *REASONING,
        *message(1, "msg_1", ["Answer: ", "4"]),
        *COMPLETED,
    ]
    assert run.final.output_text == "Answer: 4"
    assert t.response is not None and t.response.status == "completed"


def test_function_call_item_carries_the_state_id_and_whole_arguments() -> None:
    run, t = drive(recorded("chat_function_call_v2"))
    added, delta, done_args, done = run.events[2:6]
    assert added["item"] == {
        "type": "function_call",
        "id": "fc_0",
        "call_id": f"call_{STATE}",
        "name": "get_weather",
        "arguments": "",
        "status": "in_progress",
    }
    assert delta == {
        "type": "response.function_call_arguments.delta",
        "sequence_number": 3,
        "item_id": "fc_0",
        "output_index": 0,
        "delta": '{"city":"Москва","unit":"celsius"}',
    }
    assert done_args["arguments"] == delta["delta"]
    assert done["item"] == {**added["item"], "arguments": delta["delta"], "status": "completed"}
    assert t.reply.finish == "function_call" and t.reply.calls[0].id == f"call_{STATE}"


@pytest.mark.parametrize("contract_", ["v1", "v2"])
def test_namespaced_call_comes_back_under_its_namespace(contract_: str) -> None:
    run, _ = drive(recorded(f"chat_namespaced_call_{contract_}"))
    item = run.final.output[0]
    assert item.type == "function_call"
    assert (item.name, item.namespace, item.call_id) == ("search", "mcp__docs__", f"call_{STATE}")


def test_parallel_calls_are_items_in_order() -> None:
    run, _ = drive(recorded("chat_function_calls_v2"))
    assert [brief(e) for e in run.events] == [
        *START,
        *call(0, "fc_0", '{"city":"Москва"}'),
        *call(1, "fc_1", '{"tz":"Europe/Moscow"}'),
        *COMPLETED,
    ]
    calls = run.final.output
    assert [(c.call_id, c.name) for c in calls if c.type == "function_call"] == [
        (f"call_{STATE}", "get_weather"),
        (f"call_{STATE}__1", "get_time"),
    ]


@pytest.mark.parametrize("contract_", ["v1", "v2"])
def test_structured_output_function_streams_as_text(contract_: str) -> None:
    run, _ = drive(recorded(f"chat_structured_{contract_}"), translator("city_info"))
    json_text = '{"city":"Москва","population":13010112}'
    assert [brief(e) for e in run.events] == [
        *START,
        *message(0, "msg_0", [json_text]),
        *COMPLETED,
    ]


def test_completed_response_carries_usage_and_the_answering_model() -> None:
    run, t = drive(recorded("chat_text_v2"))
    final = run.events[-1]["response"]
    assert final["usage"] == {
        "input_tokens": 12,
        "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 17,
    }
    assert final["model"] == MODEL and run.events[0]["response"]["model"] == "GigaChat-2-Max"
    assert final["output"] == [
        {
            "type": "message",
            "id": "msg_0",
            "status": "completed",
            "role": "assistant",
            "content": [
                {
                    "type": "output_text",
                    "text": "Привет! Как дела?",
                    "annotations": [],
                    "logprobs": [],
                }
            ],
        }
    ]
    assert t.response is not None and msgspec.json.decode(msgspec.json.encode(t.response)) == final


def test_builtin_web_search_run_is_its_own_item_before_the_text() -> None:
    run, t = drive(recorded("chat_web_search_v2"))
    assert [brief(e) for e in run.events] == [
        *START,
        ("response.output_item.added", 0, "web_search_call", "ws_0"),
        ("response.web_search_call.in_progress", "ws_0"),
        ("response.web_search_call.searching", "ws_0"),
        ("response.web_search_call.completed", "ws_0"),
        ("response.output_item.done", 0, "web_search_call", "ws_0"),
        *message(1, "msg_1", ["Курс: 90 ₽."]),
        *COMPLETED,
    ]
    assert t.thread_id == "5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
    assert run.final.output[0].model_dump(exclude_none=True) == {
        "type": "web_search_call",
        "id": "ws_0",
        "status": "completed",
        "action": {"type": "search"},
    }


def text_chunk(text: str, role: str = "assistant") -> giga.ChatCompletionChunk:
    message = giga.ChatMessageChunk(role=role, content=[giga.ChatContentPart(text=text)])
    return giga.ChatCompletionChunk(event="response.message.delta", model=MODEL, messages=[message])


def done_chunk(finish: str) -> giga.ChatCompletionChunk:
    usage = giga.ChatUsage(input_tokens=3, output_tokens=2, total_tokens=5)
    return giga.ChatCompletionChunk(
        event="response.message.done", model=MODEL, finish_reason=finish, usage=usage
    )


def test_length_stop_is_an_incomplete_response() -> None:
    run, _ = drive([text_chunk("Hel"), text_chunk("lo"), done_chunk("length")])
    assert run.events[-1]["type"] == "response.incomplete"
    final = run.events[-1]["response"]
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["output"][0]["status"] == "incomplete"
    assert run.events[-2]["item"]["status"] == "incomplete"


def test_reasoning_after_text_opens_a_new_item() -> None:
    chunks = [
        text_chunk("a"),
        text_chunk("b", role="reasoning"),
        text_chunk("c"),
        done_chunk("stop"),
    ]
    run, _ = drive(chunks)
    added = [brief(e) for e in run.events if e["type"] == "response.output_item.added"]
    assert added == [
        ("response.output_item.added", 0, "message", "msg_0"),
        ("response.output_item.added", 1, "reasoning", "rs_1"),
        ("response.output_item.added", 2, "message", "msg_2"),
    ]
    assert run.final.output_text == "ac"


FAILED = [
    ("response.failed", "failed"),
    ("error", "server_error", "GigaChat ended the stream before the answer was complete"),
]


@pytest.mark.parametrize("contract_", ["v1", "v2"])
def test_stream_ending_without_finish_is_a_failure_not_a_completion(contract_: str) -> None:
    run, t = drive(recorded(f"chat_truncated_{contract_}"))
    assert [brief(e) for e in run.events] == [
        *START,
        ("response.output_item.added", 0, "message", "msg_0"),
        ("response.content_part.added", 0, ""),
        ("response.output_text.delta", "Привет"),
        ("response.output_text.delta", "! Как"),
        *FAILED,
    ]
    failed = run.events[-2]["response"]
    assert failed["error"] == {
        "code": "server_error",
        "message": "GigaChat ended the stream before the answer was complete",
    }
    assert t.response is None  # nothing to store


def test_upstream_error_mid_stream_keeps_the_finished_items() -> None:
    t = translator()
    body = stream.frame(t.feed(recorded("chat_reasoning_v2")[0]))
    body += stream.frame(t.feed(text_chunk("4")))
    body += stream.frame(t.error(errors.RateLimited("GigaChat answered 429: slow down")))
    run = Run(body)
    assert run.events[-1] == {
        "type": "error",
        "sequence_number": len(run.events) - 1,
        "code": "rate_limit_exceeded",
        "message": "GigaChat answered 429: slow down",
        "param": None,
    }
    failed = run.events[-2]["response"]
    assert [item["type"] for item in failed["output"]] == ["reasoning"]
    assert failed["error"]["code"] == "rate_limit_exceeded"


def test_error_before_any_chunk_still_starts_the_response() -> None:
    t = translator()
    run = Run(stream.frame(t.error(errors.UpstreamTimeout("GigaChat did not answer in time"))))
    assert [brief(e) for e in run.events] == [
        *START,
        ("response.failed", "failed"),
        ("error", "server_error", "GigaChat did not answer in time"),
    ]
    assert t.done


def test_finish_after_completion_adds_nothing() -> None:
    t = translator()
    drive(recorded("chat_text_v2"), t)
    assert sse.finish(t) == []
