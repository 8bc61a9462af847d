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
            assert (seen.text, seen.calls) == (openai.text, openai.calls), name
            assert seen.reasoning == openai.reasoning, name
            assert seen.model, f"{name}: a client always learns the model"
    if gemini.failed is not None and openai.failed is None:
        # Gemini has no empty answer: nothing usable is an error there alone.
        assert (openai.text, openai.calls) == ("", [])
        return
    assert gemini.failed == openai.failed
    if gemini.failed is None:
        assert (gemini.text, gemini.calls) == (openai.text, openai.calls)
        assert gemini.model


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
