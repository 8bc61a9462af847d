"""answer: GigaChat answers and stream chunks read once for every dialect."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from gigachat.models import chat_completions as sdk_v2

from gpt2giga.gigachat import answer
from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.answer import Call, Finish, ReasoningDelta, TextDelta
from gpt2giga.gigachat.request import Prepared

STATE = "0b6f1d2e-3c4a-4b5d-8e9f-0a1b2c3d4e5f"
REQ = giga.ChatCompletionRequest(messages=[])
USAGE = giga.ChatUsage(input_tokens=10, output_tokens=3, total_tokens=13)


def prepared(structured: str | None = None, stops: list[str] | None = None) -> Prepared:
    return Prepared(request=REQ, structured=structured, stops=stops or [])


def part(text: str | None = None, **call: Any) -> giga.ChatContentPart:
    if text is not None:
        return giga.ChatContentPart(text=text)
    fc = giga.ChatFunctionCall(name=call.pop("name"), arguments=call)
    return giga.ChatContentPart(function_call=fc)


def message(
    role: str, *parts: giga.ChatContentPart, state: str | None = None
) -> giga.ChatAnswerMessage:
    return giga.ChatAnswerMessage(role=role, content=list(parts), tool_state_id=state)


def response(
    *messages: giga.ChatAnswerMessage, finish: str = "stop", usage: giga.ChatUsage | None = USAGE
) -> giga.ChatCompletionResponse:
    """A v2 answer; the gigachat SDK's v2 model must accept it as it would come off the wire."""
    resp = giga.ChatCompletionResponse(
        model="GigaChat-2-Max:2.0.28.2", messages=list(messages), finish_reason=finish, usage=usage
    )
    sdk_v2.ChatCompletionResponse.model_validate_json(msgspec.json.encode(resp))
    return resp


def read(resp: giga.ChatCompletionResponse, prep: Prepared | None = None) -> answer.Reply:
    return answer.reply(resp, prep or prepared(), "call_", "fallback1")


@pytest.mark.parametrize(
    "content",
    ["Hello", {"text": "Hello"}, ["Hel", {"text": "lo"}], [{"text": "Hello"}, {"files": []}]],
    ids=["text", "one-part", "texts-and-parts", "parts"],
)
def test_reply_reads_every_content_shape_the_sdk_accepts(content: Any) -> None:
    raw = msgspec.json.encode({"messages": [{"role": "assistant", "content": content}]})
    sdk_v2.ChatCompletionResponse.model_validate_json(raw)
    out = read(msgspec.json.decode(raw, type=giga.ChatCompletionResponse))
    assert (out.text, out.finish, out.usage, out.model) == ("Hello", "stop", giga.ChatUsage(), "")


# --- ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "state", "index", "expected"),
    [
        ("call_", STATE, 0, f"call_{STATE}"),
        ("call_", STATE, 1, f"call_{STATE}__1"),
        ("toolu_", STATE, 2, f"toolu_{STATE}__2"),
        ("", STATE, 0, STATE),
        ("call_", "not-a-uuid", 0, "call_fb"),
        ("call_", None, 3, "call_fb__3"),
    ],
)
def test_call_id_embeds_a_uuid_state_or_falls_back(
    prefix: str, state: str | None, index: int, expected: str
) -> None:
    assert answer.call_id(prefix, state, index, "fb") == expected


@pytest.mark.parametrize("prefix", ["call_", "toolu_", "fc_x_"])
@pytest.mark.parametrize("index", [0, 1, 12])
def test_state_of_gives_back_what_call_id_embedded(prefix: str, index: int) -> None:
    assert answer.state_of(answer.call_id(prefix, STATE, index, "fb")) == STATE


@pytest.mark.parametrize(
    "client_id",
    [
        "call_fb",
        "call_fb__1",
        "call_abc123",
        "toolu_01A09q90qw90lq917835lq9",
        "",
        "call_" + STATE + "x",
        "call_" + STATE + "__",
        "call_x" + STATE,
        STATE,
    ],
)
def test_state_of_ids_without_a_state(client_id: str) -> None:
    assert answer.state_of(client_id) is None


@pytest.mark.parametrize(
    ("arguments", "text"),
    [
        ({"a": 1}, '{"a":1}'),
        ('{"a": 1}', '{"a": 1}'),  # JSON object text stays as GigaChat sent it
        (None, "{}"),
        # Found by the conformance property tests: OpenAI clients got "" (no JSON at all)
        # or a list where Anthropic and Gemini clients got an object.
        ("", "{}"),
        ("  ", "{}"),
        ("null", "{}"),
        ([1, "x"], '{"value":[1,"x"]}'),
        ('[1, "x"]', '{"value":[1,"x"]}'),
        ("not json", '{"value":"not json"}'),
        ('{"cut": ', '{"value":"{\\"cut\\": "}'),
    ],
)
def test_arguments_text_is_the_json_object_every_client_gets(arguments: object, text: str) -> None:
    assert answer.arguments_text(arguments) == text
    assert msgspec.json.decode(text) == answer.arguments_object(arguments)


# --- reply --------------------------------------------------------------------------------


def test_reply_text_answer() -> None:
    out = read(response(message("assistant", part("Hello"), part(", world"))))
    assert out == answer.Reply(
        text="Hello, world", finish="stop", usage=USAGE, model="GigaChat-2-Max:2.0.28.2"
    )


def test_reply_reasoning_is_kept_apart_from_text() -> None:
    out = read(response(message("reasoning", part("Think.")), message("assistant", part("42"))))
    assert (out.reasoning, out.text) == ("Think.", "42")


def test_reply_several_calls_share_the_state_in_their_ids() -> None:
    resp = response(
        message(
            "assistant",
            part(name="read", path="a"),
            part(name="user_web_search", query="q"),
            state=STATE,
        ),
        finish="function_call",
    )
    out = read(resp)
    assert out.calls == [
        Call(f"call_{STATE}", "read", {"path": "a"}),
        Call(f"call_{STATE}__1", "web_search", {"query": "q"}),
    ]
    assert out.finish == "function_call"
    assert [answer.state_of(c.id) for c in out.calls] == [STATE, STATE]


def test_reply_without_uuid_state_uses_the_fallback_id() -> None:
    resp = response(
        message("assistant", part(name="f"), part(name="g"), state="state-1"),
        finish="function_call",
    )
    assert [c.id for c in read(resp).calls] == ["call_fallback1", "call_fallback1__1"]


def test_reply_reads_a_message_level_function_call() -> None:
    msg = giga.ChatAnswerMessage(
        role="assistant",
        function_call=giga.ChatFunctionCall(name="f", arguments={"x": 1}),
        tools_state_id=STATE,
    )
    assert read(response(msg, finish="function_call")).calls == [
        Call(f"call_{STATE}", "f", {"x": 1})
    ]


def test_reply_structured_call_becomes_json_text_and_stop() -> None:
    resp = response(
        message("assistant", part(name="answer", city="Paris", temp=21), state=STATE),
        finish="function_call",
    )
    out = read(resp, prepared(structured="answer"))
    assert (out.text, out.calls, out.finish) == ('{"city":"Paris","temp":21}', [], "stop")


def test_reply_structured_call_beside_a_real_call_keeps_function_call() -> None:
    resp = response(
        message("assistant", part(name="answer", a=1), part(name="search", q="x"), state=STATE),
        finish="function_call",
    )
    out = read(resp, prepared(structured="answer"))
    assert out.text == '{"a":1}'
    assert out.calls == [Call(f"call_{STATE}", "search", {"q": "x"})]
    assert out.finish == "function_call"


@pytest.mark.parametrize(
    ("text", "stops", "cut", "matched", "finish"),
    [
        ("Hello\nUser: hi", ["\nUser:"], "Hello", "\nUser:", "stop"),
        ("a b c", ["c", "b"], "a ", "b", "stop"),
        ("no stops here", ["END"], "no stops here", None, "length"),
        ("END at start", ["END"], "", "END", "stop"),
        ("keep all", [""], "keep all", None, "length"),
    ],
    ids=["one", "earliest-wins", "absent", "at-start", "empty-stop-ignored"],
)
def test_reply_applies_stop_sequences(
    text: str, stops: list[str], cut: str, matched: str | None, finish: str
) -> None:
    out = read(response(message("assistant", part(text)), finish="length"), prepared(stops=stops))
    assert (out.text, out.stop_sequence, out.finish) == (cut, matched, finish)


# Found by the conformance property tests: a whole answer told clients something other
# than the same answer streamed. The whole answer is now read by the stream's rules.


def test_reply_stop_sequence_ends_the_answer_before_a_later_call() -> None:
    resp = response(
        message("assistant", part("0 then")),
        message("assistant", part(name="get_weather", city="Paris"), state=STATE),
        finish="function_call",
    )
    out = read(resp, prepared(stops=["0"]))
    streamed = stream([chunk(*resp.messages, finish="function_call")], prepared(stops=["0"]))
    assert (out.text, out.calls, out.finish, out.stop_sequence) == ("", [], "stop", "0")
    assert streamed == [finish("stop", stop="0", usage=giga.ChatUsage())]


def test_reply_a_call_on_a_reasoning_message_is_still_a_call() -> None:
    resp = response(
        message("reasoning", part("Let me look."), part(name="get_weather", city="Paris")),
        finish="function_call",
    )
    out = read(resp)
    assert out.reasoning == "Let me look."
    assert out.calls == [Call("call_fallback1", "get_weather", {"city": "Paris"})]


def test_reply_structured_json_falls_in_place_among_the_text() -> None:
    resp = response(
        message("assistant", part("Here: "), part(name="answer", a=1), part(" done.")),
        finish="function_call",
    )
    out = read(resp, prepared(structured="answer"))
    assert (out.text, out.finish) == ('Here: {"a":1} done.', "stop")


def test_reply_without_usage_or_messages() -> None:
    out = read(response(usage=None))
    assert (out.text, out.calls, out.usage) == ("", [], giga.ChatUsage())


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("abc", [], ("abc", None)),
        ("abc", ["x"], ("abc", None)),
        ("abcabc", ["c"], ("ab", "c")),
        ("abcdef", ["ef", "cd"], ("ab", "cd")),
        ("abcd", ["bcd", "bc"], ("a", "bcd")),
        ("abc", ["", "b"], ("a", "b")),
    ],
)
def test_cut_at_stop(text: str, stops: list[str], expected: tuple[str, str | None]) -> None:
    assert answer.cut_at_stop(text, stops) == expected


# --- StopScanner --------------------------------------------------------------------------


def scan(stops: list[str], feeds: list[str]) -> tuple[list[str], str | None, str]:
    scanner = answer.StopScanner(stops)
    emitted = [scanner.feed(f) for f in feeds]
    return emitted, scanner.matched, scanner.flush()


@pytest.mark.parametrize(
    ("stops", "feeds", "emitted", "matched", "rest"),
    [
        (["STOP"], ["hello ", "world"], ["hello ", "world"], None, ""),
        (["STOP"], ["abc S", "T", "O", "P tail"], ["abc ", "", "", ""], "STOP", ""),
        (["STOP"], ["xS", "TOx"], ["x", "STOx"], None, ""),
        (["STOP"], ["end S"], ["end "], None, "S"),
        (["aab"], ["xaa", "ab"], ["x", "a"], "aab", ""),
        (["aab"], ["a", "a", "a", "a", "b!"], ["", "", "a", "a", ""], "aab", ""),
        (["</s>", "<|end|>"], ["text <", "|e", "nd|> more"], ["text ", "", ""], "<|end|>", ""),
        (["ab", "b"], ["xa", "b"], ["x", ""], "ab", ""),
        (["\n\n"], ["line\n", "\nnext"], ["line", ""], "\n\n", ""),
        (["x"], ["axb", "more"], ["a", ""], "x", ""),
        (["", "z"], ["abc"], ["abc"], None, ""),
    ],
    ids=[
        "no-stop", "split-over-many-feeds", "false-start-released", "held-until-flush",
        "overlapping-prefix", "overlapping-one-char-feeds", "second-stop", "shorter-inside-longer",
        "newlines", "nothing-after-match", "empty-stop-ignored",
    ],
)  # fmt: skip
def test_stop_scanner(
    stops: list[str], feeds: list[str], emitted: list[str], matched: str | None, rest: str
) -> None:
    assert scan(stops, feeds) == (emitted, matched, rest)


@pytest.mark.parametrize(
    ("text", "stops"),
    [
        ("The quick brown fox jumps over the lazy dog. END of story", ["END", "fox!"]),
        ("aaaaaaaab", ["aab"]),
        ("abababac", ["abac", "bab!"]),
        ("no match at all, but s t o p-ish", ["stop", "STOP"]),
    ],
)
def test_stop_scanner_byte_by_byte_equals_cut_at_stop(text: str, stops: list[str]) -> None:
    scanner = answer.StopScanner(stops)
    streamed = "".join(scanner.feed(ch) for ch in text)
    if scanner.matched is None:
        streamed += scanner.flush()
    assert (streamed, scanner.matched) == answer.cut_at_stop(text, stops)


# --- ChunkReader --------------------------------------------------------------------------


def chunk(
    *messages: giga.ChatAnswerMessage,
    finish: str | None = None,
    usage: giga.ChatUsage | None = None,
    state: str | None = None,
) -> giga.ChatCompletionChunk:
    """A v2 stream event; the gigachat SDK's chunk model must accept it."""
    c = giga.ChatCompletionChunk(
        event="response.message.done" if finish else "response.message.delta",
        model="GigaChat-2-Max:2.0.28.2",
        messages=list(messages) or None,
        finish_reason=finish,
        usage=usage,
        tool_state_id=state,
    )
    sdk_v2.ChatCompletionChunk.model_validate_json(msgspec.json.encode(c))
    return c


def stream(chunks: list[giga.ChatCompletionChunk], prep: Prepared | None = None) -> list[Any]:
    reader = answer.ChunkReader(prep or prepared(), "call_", "fb")
    pieces = [p for c in chunks for p in reader.feed(c)]
    assert reader.done == any(isinstance(p, Finish) for p in pieces)
    return pieces


def finish(reason: str, stop: str | None = None, usage: giga.ChatUsage = USAGE) -> Finish:
    return Finish(reason=reason, usage=usage, stop_sequence=stop, model="GigaChat-2-Max:2.0.28.2")


def test_stream_text_and_reasoning_deltas_then_finish_with_usage() -> None:
    pieces = stream(
        [
            chunk(message("reasoning", part("Let me "))),
            chunk(message("reasoning", part("think."))),
            chunk(message("assistant", part("Hel"))),
            chunk(message("assistant", part("lo"))),
            chunk(finish="stop", usage=USAGE),
        ]
    )
    assert pieces == [
        ReasoningDelta("Let me "),
        ReasoningDelta("think."),
        TextDelta("Hel"),
        TextDelta("lo"),
        finish("stop"),
    ]


def test_stream_calls_get_indexed_ids_from_the_message_or_chunk_state() -> None:
    pieces = stream(
        [
            chunk(message("assistant", part(name="read", path="a"), state=STATE)),
            chunk(message("assistant", part(name="user_code_interpreter", code="1")), state=STATE),
            chunk(finish="function_call", usage=USAGE),
        ]
    )
    assert pieces == [
        Call(f"call_{STATE}", "read", {"path": "a"}),
        Call(f"call_{STATE}__1", "code_interpreter", {"code": "1"}),
        finish("function_call"),
    ]


def test_stream_call_without_state_uses_the_fallback() -> None:
    pieces = stream([chunk(message("assistant", part(name="f"))), chunk(finish="function_call")])
    assert pieces == [Call("call_fb", "f", {}), finish("function_call", usage=giga.ChatUsage())]


def test_stream_structured_call_becomes_text_and_stop() -> None:
    pieces = stream(
        [
            chunk(message("assistant", part(name="answer", ok=True), state=STATE)),
            chunk(finish="function_call", usage=USAGE),
        ],
        prepared(structured="answer"),
    )
    assert pieces == [TextDelta('{"ok":true}'), finish("stop")]


def test_stream_stop_sequence_split_across_chunks_ends_the_answer() -> None:
    pieces = stream(
        [
            chunk(message("assistant", part("Hello\nUs"))),
            chunk(message("assistant", part("er: more"))),
            chunk(message("assistant", part("never read"))),
            chunk(finish="stop", usage=USAGE),
        ],
        prepared(stops=["\nUser:"]),
    )
    # The stop ends the answer before the finish chunk, so no usage is known yet.
    assert pieces == [TextDelta("Hello"), finish("stop", "\nUser:", usage=giga.ChatUsage())]


def test_stream_held_text_is_flushed_at_finish() -> None:
    pieces = stream(
        [
            chunk(message("assistant", part("almost </"))),
            chunk(finish="length", usage=USAGE),
        ],
        prepared(stops=["</s>"]),
    )
    assert pieces == [TextDelta("almost "), TextDelta("</"), finish("length")]


def test_stream_stop_inside_structured_json() -> None:
    pieces = stream(
        [chunk(message("assistant", part(name="answer", a="x END y")))],
        prepared(structured="answer", stops=["END"]),
    )
    assert pieces == [TextDelta('{"a":"x '), finish("stop", "END", usage=giga.ChatUsage())]


def test_stream_reasoning_is_not_cut_by_stops() -> None:
    pieces = stream(
        [chunk(message("reasoning", part("END is a word"))), chunk(finish="stop")],
        prepared(stops=["END"]),
    )
    assert pieces == [ReasoningDelta("END is a word"), finish("stop", usage=giga.ChatUsage())]


def test_reader_ignores_everything_after_done() -> None:
    reader = answer.ChunkReader(prepared(), "call_", "fb")
    assert reader.feed(chunk(message("assistant", part("x")), finish="stop")) == [
        TextDelta("x"),
        finish("stop", usage=giga.ChatUsage()),
    ]
    assert reader.done
    assert reader.feed(chunk(message("assistant", part("late")))) == []


def test_reader_keeps_the_last_model_and_usage_seen() -> None:
    reader = answer.ChunkReader(prepared(), "call_", "fb")
    reader.feed(chunk(message("assistant", part("x")), usage=USAGE))
    assert reader.model == "GigaChat-2-Max:2.0.28.2"
    assert not reader.done
    (done,) = reader.feed(giga.ChatCompletionChunk(finish_reason="stop"))
    assert done == finish("stop")


def sdk_chunk(body: dict[str, Any]) -> giga.ChatCompletionChunk:
    """A v2 stream event as GigaChat may send it: the SDK's model accepts it first."""
    raw = msgspec.json.encode(body)
    sdk_v2.ChatCompletionChunk.model_validate_json(raw)
    return msgspec.json.decode(raw, type=giga.ChatCompletionChunk)


def test_a_delta_with_no_role_at_all_is_the_assistant_speaking() -> None:
    pieces = stream(
        [
            sdk_chunk({"messages": [{"content": [{"text": "Hi"}]}]}),
            sdk_chunk({"messages": [{"content": "!"}], "finish_reason": "stop"}),
        ]
    )
    assert pieces == [
        TextDelta("Hi"),
        TextDelta("!"),
        Finish(reason="stop", usage=giga.ChatUsage()),
    ]


def test_a_role_less_delta_after_reasoning_is_still_reasoning() -> None:
    pieces = stream(
        [
            sdk_chunk({"messages": [{"role": "reasoning", "content": [{"text": "a"}]}]}),
            sdk_chunk({"messages": [{"content": [{"text": "b"}]}]}),
            sdk_chunk({"messages": [{"role": "assistant", "content": [{"text": "c"}]}]}),
            sdk_chunk({"messages": [{"content": [{"text": "d"}]}], "finish_reason": "stop"}),
        ]
    )
    assert pieces[:4] == [ReasoningDelta("a"), ReasoningDelta("b"), TextDelta("c"), TextDelta("d")]


def test_a_finish_reason_on_the_message_alone_ends_the_answer() -> None:
    # The SDK has `finish_reason` on the chunk and on each of its messages.
    message_only = sdk_chunk({"messages": [{"content": "x", "finish_reason": "length"}]})
    assert stream([message_only])[-1] == Finish(reason="length", usage=giga.ChatUsage())


def test_usage_counts_may_be_null_or_missing() -> None:
    usage = sdk_chunk(
        {"finish_reason": "stop", "usage": {"input_tokens": None, "output_tokens": 4}}
    ).usage
    assert usage is not None
    assert (usage.tokens_in, usage.tokens_out, usage.tokens_total, usage.cached_tokens) == (
        0,
        4,
        4,
        0,
    )


# --- a wrapped (non-object) structured answer ---------------------------------------------


def wrapped(structured: str | None = None, stops: list[str] | None = None) -> Prepared:
    return Prepared(request=REQ, structured=structured, unwrap="value", stops=stops or [])


def test_reply_structured_call_gives_back_the_wrapped_value() -> None:
    resp = response(
        message("assistant", part(name="answer", value=[{"city": "Paris"}]), state=STATE),
        finish="function_call",
    )
    out = read(resp, wrapped(structured="answer"))
    assert (out.text, out.calls, out.finish) == ('[{"city":"Paris"}]', [], "stop")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"value": [1, 2]}', "[1,2]"),
        ('{"value": "x"}', '"x"'),
        ('{"other": 1}', '{"other": 1}'),
        ("[1, 2]", "[1, 2]"),
        ("not json", "not json"),
    ],
)
def test_reply_native_json_text_is_unwrapped_when_it_can_be(text: str, expected: str) -> None:
    out = read(response(message("assistant", part(text))), wrapped())
    assert out.text == expected


def test_stream_wrapped_answer_is_held_and_unwrapped_at_finish() -> None:
    pieces = stream(
        [
            chunk(message("reasoning", part("hmm"))),
            chunk(message("assistant", part('{"value": ['))),
            chunk(message("assistant", part("1, 2]}"))),
            chunk(finish="stop", usage=USAGE),
        ],
        wrapped(),
    )
    assert pieces == [ReasoningDelta("hmm"), TextDelta("[1,2]"), finish("stop")]


def test_stream_wrapped_structured_call_and_stop_sequence() -> None:
    pieces = stream(
        [
            chunk(message("assistant", part(name="answer", value=["a", "END", "b"]), state=STATE)),
            chunk(finish="function_call", usage=USAGE),
        ],
        wrapped(structured="answer", stops=["END"]),
    )
    assert pieces == [TextDelta('["a","'), finish("stop", "END")]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"city": "Москва"}, {"city": "Москва"}),
        ('{"city": "Москва"}', {"city": "Москва"}),
        ("", {}),
        (None, {}),
        ("not json", {"value": "not json"}),
        ([1, 2], {"value": [1, 2]}),
    ],
)
def test_arguments_object_is_always_an_object(arguments: Any, expected: Any) -> None:
    """What Anthropic's `input` and Gemini's `args` get from GigaChat's arguments."""
    assert answer.arguments_object(arguments) == expected
