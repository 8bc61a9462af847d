"""Property: every chat answer and stream the gigachat SDK accepts goes through every dialect.

For SDK-valid GigaChat documents on both contracts, whole and streamed: the
gateway decodes them (refusing none), every dialect's translator turns them
into what its official client SDK parses, nothing but the gateway's own error
family is raised, and the four dialects agree on what the answer was.
"""

from __future__ import annotations

import json
from typing import Any

from gigachat.models import chat as sdk_v1
from gigachat.models import chat_completions as sdk_v2
from hypothesis import given
from hypothesis import strategies as st

from gpt2giga.gigachat import wire as giga
from gpt2giga.gigachat.client import hub_answer
from gpt2giga.gigachat.request import Prepared
from tests.gigachat.conformance import documents as docs
from tests.gigachat.conformance.clients import ASKED, Options, Outcome, streamed, whole


@st.composite
def options(draw: st.DrawFn) -> Options:
    prepared = Prepared(
        request=giga.ChatCompletionRequest(model=ASKED, messages=[]),
        structured=draw(st.none() | st.sampled_from(docs.CALL_NAMES)),
        unwrap=draw(st.none() | st.just("value")),
        stops=draw(st.lists(docs.TEXT.filter(bool), max_size=2)),
    )
    return Options(prepared, thoughts=draw(st.booleans()), include_usage=draw(st.booleans()))


def agree(outcomes: dict[str, Outcome]) -> None:
    """The four clients were told the same answer, each in its own way."""
    gemini = outcomes.pop("gemini")
    openai = outcomes["openai"]
    for name, seen in outcomes.items():
        assert seen.failed == openai.failed, name
        if seen.failed is None:  # what a failed answer had shown so far is each dialect's own
            assert seen.text == openai.text, name
            assert seen.reasoning == openai.reasoning, name
            assert seen.model, f"{name}: a client always learns the model"
            same_calls(seen.calls, openai.calls)
    if gemini.failed is not None and openai.failed is None:
        # Gemini has no empty answer: nothing usable is an error there alone.
        assert (openai.text, openai.calls) == ("", [])
        return
    assert gemini.failed == openai.failed
    if gemini.failed is None:
        assert gemini.text == openai.text
        assert gemini.model
        same_calls(gemini.calls, openai.calls)
        same_usage({**outcomes, "gemini": gemini})


def same_calls(seen: list[tuple[str, Any]], told: list[tuple[str, Any]]) -> None:
    """The same calls: names, and arguments whether as JSON text or as an object."""
    assert [name for name, _ in seen] == [name for name, _ in told]
    for (_, a), (_, b) in zip(seen, told, strict=True):
        assert same_arguments(a, b), (a, b)


def same_arguments(a: Any, b: Any) -> bool:
    if isinstance(a, str) == isinstance(b, str):
        return bool(a == b)
    text, obj = (a, b) if isinstance(a, str) else (b, a)
    try:
        value = json.loads(text)  # what an OpenAI client does with the text
    except ValueError:
        return bool(obj == {"value": text})  # not JSON: the object carries it as it came
    return bool(value == obj or obj == {"value": value})


def same_usage(outcomes: dict[str, Outcome]) -> None:
    """Token counts where a client is told them; Anthropic's input counts cache reads apart."""
    anthropic = outcomes.pop("anthropic").usage
    others = {o.usage for o in outcomes.values() if o.usage is not None}
    assert len(others) <= 1, others
    if anthropic is not None and others:
        ((inputs, output),) = others
        assert anthropic[1] == output
        assert anthropic[0] >= inputs  # max(input - cached, 0) + cached


@given(doc=docs.V2_ANSWER, opts=options())
def test_v2_answers(doc: dict[str, Any], opts: Options) -> None:
    body = json.dumps(docs.sdk_valid(sdk_v2.ChatCompletionResponse, doc)).encode()
    agree(whole(hub_answer(False, body), opts))


@given(doc=docs.V1_ANSWER, opts=options())
def test_v1_answers(doc: dict[str, Any], opts: Options) -> None:
    body = json.dumps(docs.sdk_valid(sdk_v1.ChatCompletion, doc)).encode()
    agree(whole(hub_answer(True, body), opts))


@given(body=docs.v2_stream(), opts=options())
def test_v2_streams(body: bytes, opts: Options) -> None:
    agree(streamed(body, False, opts))


@given(body=docs.v1_stream(), opts=options())
def test_v1_streams(body: bytes, opts: Options) -> None:
    agree(streamed(body, True, opts))


# --- the same answer, whole and streamed ----------------------------------------------------


def v2_deltas(doc: dict[str, Any]) -> bytes:
    """A whole v2 answer as GigaChat streams it: a delta per part, then `done`."""
    resp = sdk_v2.ChatCompletionResponse.model_validate(doc)
    # The SDK folds the state id into `tools_state_id`, kept among its extra fields here.
    top = {"model": resp.model, "tools_state_id": (resp.model_extra or {}).get("tools_state_id")}
    body = b""
    for message in resp.messages:
        first = message.model_dump(
            exclude_unset=True, by_alias=True, exclude={"content", "finish_reason", "function_call"}
        )
        # A message-level call comes after the message's parts, as the whole answer reads it.
        last = message.model_dump(exclude_unset=True, by_alias=True, include={"function_call"})
        parts = [p.model_dump(exclude_unset=True, by_alias=True) for p in message.content or ()]
        for n, part in enumerate(parts or [None]):
            delta = {**(first if n == 0 else {}), **(last if n == len(parts or [None]) - 1 else {})}
            if part is not None:
                delta = {**delta, "content": [part]}
            body += _event("response.message.delta", {**top, "messages": [delta]})
    finish = answer_finish(doc) or "stop"
    usage = resp.usage.model_dump(exclude_unset=True) if resp.usage else None
    done = {"finish_reason": finish, "usage": usage, "tool_execution": doc.get("tool_execution")}
    return body + _event("response.message.done", done)


def answer_finish(doc: dict[str, Any]) -> str | None:
    reasons = [doc.get("finish_reason")] + [m.get("finish_reason") for m in doc["messages"]]
    return next((r for r in reasons if r), None)


def _event(name: str, chunk: dict[str, Any]) -> bytes:
    clean = {k: v for k, v in chunk.items() if v is not None}
    return f"event: {name}\ndata: {json.dumps(clean)}\n\n".encode()


def v1_deltas(doc: dict[str, Any]) -> bytes:
    """A whole v1 answer as GigaChat streams it: reasoning, text, the call, then the end."""
    head = {"created": doc["created"], "model": doc["model"], "object": "chat.completion"}
    choice = doc["choices"][0] if doc["choices"] else None
    message = choice["message"] if choice else {}
    deltas = [
        {"reasoning_content": message.get("reasoning_content")},
        {"content": message.get("content", "")},
        {"function_call": message.get("function_call")},
    ]
    state = {"functions_state_id": message.get("functions_state_id")}
    body = b""
    for delta in deltas:
        if any(v is not None for v in delta.values()):
            chunk = {**head, "choices": [{"delta": {**delta, **state}, "index": 0}]}
            body += b"data: " + json.dumps(chunk).encode() + b"\n\n"
    end = {"delta": {}, "index": 0, "finish_reason": (choice or {}).get("finish_reason") or "stop"}
    last = {**head, "choices": [end], "usage": doc["usage"]}
    return body + b"data: " + json.dumps(last).encode() + b"\n\ndata: [DONE]\n\n"


def alike(wholes: dict[str, Outcome], streams: dict[str, Outcome]) -> None:
    for name, seen in wholes.items():
        told = streams[name]
        assert (told.failed, told.text, told.calls) == (seen.failed, seen.text, seen.calls), name
        assert told.reasoning == seen.reasoning, name


@given(doc=docs.V2_ANSWER, opts=options())
def test_a_v2_answer_streamed_tells_what_it_tells_whole(doc: dict[str, Any], opts: Options) -> None:
    body = json.dumps(docs.sdk_valid(sdk_v2.ChatCompletionResponse, doc)).encode()
    if answer_finish(doc) is None:
        doc = {**doc, "finish_reason": "stop"}  # a stream says how it ended, or it is cut
    alike(whole(hub_answer(False, body), opts), streamed(v2_deltas(doc), False, opts))


@given(doc=docs.V1_ANSWER, opts=options())
def test_a_v1_answer_streamed_tells_what_it_tells_whole(doc: dict[str, Any], opts: Options) -> None:
    body = json.dumps(docs.sdk_valid(sdk_v1.ChatCompletion, doc)).encode()
    alike(whole(hub_answer(True, body), opts), streamed(v1_deltas(doc), True, opts))
