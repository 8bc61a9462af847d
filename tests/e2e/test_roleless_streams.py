"""A /v2 stream whose later deltas carry no role, end to end with each official SDK.

The fake GigaChat names a message's role on its first delta only, as GigaChat
does (the SDK's `ChatMessageChunk.role` is optional); the first test proves
the deltas really come that way, the others that each client still assembles
the whole answer and its reasoning through a real Granian gateway on `/v2`.
"""

from __future__ import annotations

import anthropic
import httpx
import openai
from gigachat.api import auth as sdk_auth
from gigachat.api import chat_completions as sdk_chat
from gigachat.models.chat_completions import ChatCompletionRequest
from google import genai
from google.genai import types

from gpt2giga.gigachat.fake.server import DEMO_CREDENTIALS
from tests.e2e.conftest import Server

MODEL = "GigaChat-2-Max"
PROMPT = "Tell me a long story about six words"
ECHO = "Hello from the fake GigaChat! You said: " + PROMPT
THOUGHT = "The user wrote 8 words; I answer plainly."


def test_the_fake_names_each_messages_role_on_its_first_delta_only(fake_gigachat: Server) -> None:
    with httpx.Client(base_url=fake_gigachat.url + "/api/v1") as http:
        token = sdk_auth.auth_sync(
            http,
            url=fake_gigachat.url + "/api/v2/oauth",
            credentials=DEMO_CREDENTIALS,
            scope="GIGACHAT_API_PERS",
        ).access_token
        chat = ChatCompletionRequest.model_validate(
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": PROMPT}],
                "model_options": {"reasoning": {"effort": "low"}},
            }
        )
        chunks = list(sdk_chat.stream_sync(http, chat=chat, access_token=token))
    roles = [m.role for c in chunks for m in c.messages or ()]
    # Three words a delta: the thought in three deltas, the answer's 15 words in five.
    assert roles == ["reasoning", None, None, "assistant", None, None, None, None]


def test_openai_chat(gateway_url: str) -> None:
    with openai.OpenAI(base_url=gateway_url + "/v2", api_key="-", max_retries=0) as client:
        chunks = list(
            client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": PROMPT}],
                reasoning_effort="low",
                stream=True,
            )
        )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join(d.content or "" for d in deltas) == ECHO
    reasoning = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
    assert reasoning == THOUGHT
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_openai_responses(gateway_url: str) -> None:
    with (
        openai.OpenAI(base_url=gateway_url + "/v2", api_key="-", max_retries=0) as client,
        client.responses.stream(
            model=MODEL, input=PROMPT, reasoning={"effort": "low", "summary": "auto"}
        ) as stream,
    ):
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert deltas == final.output_text == ECHO
    reasoning = [o for o in final.output if o.type == "reasoning"]
    assert [s.text for o in reasoning for s in o.summary] == [THOUGHT]
    assert final.status == "completed"


def test_anthropic(gateway_url: str) -> None:
    with (
        anthropic.Anthropic(base_url=gateway_url + "/v2", api_key="-", max_retries=0) as client,
        client.messages.stream(
            model=MODEL,
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": PROMPT}],
        ) as stream,
    ):
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == ECHO
    assert [
        (b.type, getattr(b, "thinking", None) or getattr(b, "text", None)) for b in final.content
    ] == [
        ("thinking", THOUGHT),
        ("text", ECHO),
    ]
    assert final.stop_reason == "end_turn"


def test_google_genai(gateway_url: str) -> None:
    client = genai.Client(api_key="-", http_options={"base_url": gateway_url + "/v2"})
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(thinking_budget=1024, include_thoughts=True)
    )
    with client:
        chunks = list(
            client.models.generate_content_stream(model=MODEL, contents=PROMPT, config=config)
        )
    parts = [
        p
        for c in chunks
        for p in (c.candidates[0].content.parts or ())
        if c.candidates and c.candidates[0].content
    ]
    assert "".join(p.text or "" for p in parts if not p.thought) == ECHO
    assert "".join(p.text or "" for p in parts if p.thought) == THOUGHT
    last = chunks[-1].candidates
    assert last and last[0].finish_reason == types.FinishReason.STOP
