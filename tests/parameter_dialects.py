"""The SDK calls behind `tests/parameters.py`: each dialect's parameters, runner and special cases.

A runner sends one request with the official SDK over the given httpx client
and returns (status, response headers, the answer without ids and times);
status 0 means the SDK refused to send it.
"""

from __future__ import annotations

import typing
from typing import Any

import anthropic
import httpx2
import msgspec
import openai
from anthropic.types import message_create_params as ant_params
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes
from openai.types.chat import completion_create_params as chat_params
from openai.types.responses import response_create_params as rsp_params

from gpt2giga.gigachat import native
from tests.parameters import MODEL, SCHEMA, Case, Dialect, Gateway, Runner

USER = "Ping?"
# The fake answers "Hello from the fake GigaChat! You said: …": a stop sequence
# that occurs in it shows whether the gateway applies it.
STOP = "fake"
BASE_URL = "http://gateway"


def hints(*typed_dicts: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for td in typed_dicts:
        found.update(typing.get_type_hints(td, include_extras=True))
    return found


# --- OpenAI Chat Completions -------------------------------------------------------------------

CHAT_TOOL = {"type": "function", "function": {"name": "sample_tool", "parameters": SCHEMA}}


async def openai_chat(gateway: Gateway, contract: str, params: dict[str, Any]) -> Any:
    async with gateway.http() as http:
        client = openai.AsyncOpenAI(
            base_url=f"{BASE_URL}/{contract}", api_key="-", http_client=http, max_retries=0
        )
        call = {"model": MODEL, "messages": [{"role": "user", "content": USER}], **params}
        try:
            raw = await client.chat.completions.with_raw_response.create(**call)
        except openai.APIStatusError as exc:
            return exc.status_code, exc.response.headers, exc.message
        return 200, raw.headers, await chat_answer(raw.parse(), bool(call.get("stream")))


async def chat_answer(parsed: Any, stream: bool) -> Any:
    if stream:
        text, calls, finish, usage = "", [], None, False
        async for chunk in parsed:
            usage = usage or chunk.usage is not None
            for choice in chunk.choices:
                text += choice.delta.content or ""
                calls += [t.function.name for t in choice.delta.tool_calls or () if t.function]
                finish = choice.finish_reason or finish
        return (text, calls, finish, usage)
    message = parsed.choices[0].message
    calls = [t.function.name for t in message.tool_calls or () if t.type == "function"]
    return (message.content, calls, parsed.choices[0].finish_reason)


OPENAI_CHAT = Dialect(
    title="OpenAI Chat Completions (`CompletionCreateParams`)",
    params=hints(
        chat_params.CompletionCreateParamsBase, chat_params.CompletionCreateParamsStreaming
    ),
    overrides={
        "messages": [Case("messages", {"messages": [{"role": "system", "content": "Be brief."}]})],
        "model": [Case("model", {"model": "GigaChat-2-Pro"})],
        "stop": [Case("stop", {"stop": STOP}), Case("stop (list)", {"stop": [STOP]})],
        "response_format": [
            Case("response_format (text)", {"response_format": {"type": "text"}}, default=True),
            Case(
                "response_format (json_schema)",
                {
                    "response_format": {
                        "type": "json_schema",
                        "json_schema": {"name": "answer", "schema": SCHEMA},
                    }
                },
            ),
            Case("response_format (json_object)", {"response_format": {"type": "json_object"}}),
        ],
    },
    companions={
        "tool_choice": {"tools": [CHAT_TOOL]},
        "parallel_tool_calls": {"tools": [CHAT_TOOL]},
        "function_call": {"functions": [CHAT_TOOL["function"]]},
        "stream_options": {"stream": True},
    },
)


# --- OpenAI Responses --------------------------------------------------------------------------

RSP_TOOL = {"type": "function", "name": "sample_tool", "parameters": SCHEMA, "strict": False}
PREVIOUS = "previous response"


async def openai_responses(gateway: Gateway, contract: str, params: dict[str, Any]) -> Any:
    async with gateway.http() as http:
        client = openai.AsyncOpenAI(
            base_url=f"{BASE_URL}/{contract}", api_key="-", http_client=http, max_retries=0
        )
        call = {"model": MODEL, "input": USER, **params}
        if call.get("previous_response_id") == PREVIOUS:
            first = await client.responses.create(model=MODEL, input="First.")
            call["previous_response_id"] = first.id
        try:
            raw = await client.responses.with_raw_response.create(**call)
        except openai.APIStatusError as exc:
            return exc.status_code, exc.response.headers, exc.message
        return 200, raw.headers, await responses_answer(raw.parse(), bool(call.get("stream")))


async def responses_answer(parsed: Any, stream: bool) -> Any:
    if stream:
        final = None
        async for event in parsed:
            if event.type == "response.completed":
                final = event.response
        assert final is not None
        parsed = final
    items = [(item.type, getattr(item, "name", None)) for item in parsed.output]
    return (parsed.output_text, items, parsed.status)


OPENAI_RESPONSES = Dialect(
    title="OpenAI Responses (`ResponseCreateParams`)",
    params=hints(rsp_params.ResponseCreateParamsBase, rsp_params.ResponseCreateParamsStreaming),
    overrides={
        "input": [
            Case(
                "input",
                {
                    "input": [
                        {"role": "developer", "content": "Be brief."},
                        {"role": "user", "content": USER},
                    ]
                },
            )
        ],
        "model": [Case("model", {"model": "GigaChat-2-Pro"})],
        "previous_response_id": [Case("previous_response_id", {"previous_response_id": PREVIOUS})],
        "tool_choice (allowed_tools)": [
            Case(
                "tool_choice (allowed_tools)",
                {
                    "tool_choice": {
                        "type": "allowed_tools",
                        "mode": "required",
                        "tools": [{"type": "function", "name": "sample_tool"}],
                    }
                },
            )
        ],
        "text": [
            Case("text.format (text)", {"text": {"format": {"type": "text"}}}, default=True),
            Case(
                "text.format (json_schema)",
                {"text": {"format": {"type": "json_schema", "name": "answer", "schema": SCHEMA}}},
            ),
            Case("text.format (json_object)", {"text": {"format": {"type": "json_object"}}}),
            Case("text.verbosity", {"text": {"verbosity": "low"}}),
        ],
    },
    companions={
        "tool_choice": {"tools": [RSP_TOOL]},
        "parallel_tool_calls": {"tools": [RSP_TOOL]},
        "max_tool_calls": {"tools": [RSP_TOOL]},
        "stream_options": {"stream": True},
    },
)


# --- Anthropic Messages ------------------------------------------------------------------------

ANT_TOOL = {"name": "sample_tool", "input_schema": SCHEMA}


async def anthropic_messages(gateway: Gateway, contract: str, params: dict[str, Any]) -> Any:
    base = BASE_URL if contract == "v1" else f"{BASE_URL}/v2"
    call = {
        "model": MODEL,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": USER}],
        **params,
    }
    async with gateway.http(httpx2) as http:
        client = anthropic.AsyncAnthropic(
            base_url=base, api_key="-", http_client=http, max_retries=0
        )
        try:
            raw = await client.messages.with_raw_response.create(**call)
        except anthropic.APIStatusError as exc:
            return exc.status_code, exc.response.headers, exc.message
        # anthropic's raw response parses asynchronously, openai's at once.
        parsed = await raw.parse()
        return 200, raw.headers, await messages_answer(parsed, bool(call.get("stream")))


async def messages_answer(parsed: Any, stream: bool) -> Any:
    if stream:
        blocks: list[Any] = []
        stop = None
        async for event in parsed:
            if event.type == "content_block_start":
                blocks.append(event.content_block.type)
            elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                blocks.append(event.delta.text)
            elif event.type == "message_delta":
                stop = (event.delta.stop_reason, event.delta.stop_sequence)
        return (blocks, stop)
    content = [
        getattr(b, "text", None) or getattr(b, "name", None) or b.type for b in parsed.content
    ]
    return (content, parsed.stop_reason, parsed.stop_sequence)


ANTHROPIC = Dialect(
    title="Anthropic Messages (`MessageCreateParams`)",
    params=hints(ant_params.MessageCreateParamsBase, ant_params.MessageCreateParamsStreaming),
    overrides={
        "max_tokens": [Case("max_tokens", {"max_tokens": 32})],
        "messages": [
            Case(
                "messages",
                {
                    "messages": [
                        {"role": "user", "content": "First."},
                        {"role": "assistant", "content": "Yes."},
                        {"role": "user", "content": USER},
                    ]
                },
            )
        ],
        "model": [Case("model", {"model": "GigaChat-2-Pro"})],
        "stop_sequences": [Case("stop_sequences", {"stop_sequences": [STOP]})],
        "system": [Case("system", {"system": "Be brief."})],
        # Anthropic's own floor for a thinking budget is 1,024 tokens.
        "thinking (enabled)": [
            Case("thinking (enabled)", {"thinking": {"type": "enabled", "budget_tokens": 2048}})
        ],
        # No reasoning is what GigaChat does unless GPT2GIGA_ENABLE_REASONING is on.
        "thinking (disabled)": [
            Case("thinking (disabled)", {"thinking": {"type": "disabled"}}, default=True)
        ],
    },
    companions={"tool_choice": {"tools": [ANT_TOOL]}},
)


# --- Gemini generateContent --------------------------------------------------------------------

GEMINI_TOOL = {"function_declarations": [{"name": "sample_tool", "parameters_json_schema": SCHEMA}]}


async def gemini(gateway: Gateway, contract: str, params: dict[str, Any]) -> Any:
    async with gateway.http() as http:
        options = gtypes.HttpOptions(base_url=f"{BASE_URL}/{contract}", httpx_async_client=http)
        client = genai.Client(api_key="-", http_options=options)
        try:
            config = gtypes.GenerateContentConfig(**params)
            response = await client.aio.models.generate_content(
                model=MODEL, contents=USER, config=config
            )
        except genai_errors.APIError as exc:
            return exc.code, {}, exc.message
        except ValueError as exc:  # the SDK refuses a Vertex-only option for the Gemini API
            return 0, {}, str(exc)
    headers = response.sdk_http_response.headers if response.sdk_http_response else {}
    candidate = (response.candidates or [None])[0]
    calls = [c.name for c in response.function_calls or ()]
    finish = candidate.finish_reason if candidate else None
    return 200, headers or {}, (response.text if not calls else None, calls, finish)


def gemini_tools() -> list[Case]:
    """One case per kind of Gemini tool (a field of `types.Tool`)."""
    from tests.parameters import sample

    cases = [Case("tools (function_declarations)", {"tools": [GEMINI_TOOL]})]
    for name, field in gtypes.Tool.model_fields.items():
        if name != "function_declarations":
            cases.append(Case(f"tools ({name})", {"tools": [{name: sample(field.annotation)}]}))
    return cases


JSON = {"response_mime_type": "application/json"}
GEMINI = Dialect(
    title="Gemini generateContent (`GenerateContentConfig`)",
    params={k: f.annotation for k, f in gtypes.GenerateContentConfig.model_fields.items()},
    overrides={
        "http_options": [Case("http_options", {"http_options": {"headers": {"x-sample": "1"}}})],
        "system_instruction": [Case("system_instruction", {"system_instruction": "Be brief."})],
        "stop_sequences": [Case("stop_sequences", {"stop_sequences": [STOP]})],
        "tools": gemini_tools(),
        # Values the Gemini API takes for a text model.
        "safety_settings": [
            Case(
                "safety_settings",
                {
                    "safety_settings": [
                        {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}
                    ]
                },
            )
        ],
        "response_modalities": [Case("response_modalities", {"response_modalities": ["TEXT"]})],
        "tool_config.function_calling_config": [
            Case(
                "tool_config.function_calling_config",
                {"tool_config": {"function_calling_config": {"mode": "ANY"}}},
            )
        ],
        "response_mime_type": [
            Case("response_mime_type", {"response_mime_type": "text/plain"}, default=True),
            Case("response_mime_type (application/json alone)", JSON),
        ],
        "response_schema": [
            Case(
                "response_schema",
                {
                    **JSON,
                    "response_schema": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}},
                },
            )
        ],
        "response_json_schema": [
            Case("response_json_schema", {**JSON, "response_json_schema": SCHEMA})
        ],
    },
    companions={"tool_config": {"tools": [GEMINI_TOOL]}},
)


# --- GigaChat's own fields through extra_body ------------------------------------------------


async def extra_body(gateway: Gateway, contract: str, params: dict[str, Any]) -> Any:
    """The fields in a literal `extra_body` (the SDK call's `extra_body={"extra_body": …}`)."""
    literal = {"extra_body": {"extra_body": params}} if params else {}
    return await openai_chat(gateway, contract, literal)


JSON_FORMAT = {"type": "json_schema", "schema": SCHEMA}
GIGACHAT = Dialect(
    title="GigaChat's own fields in a literal `extra_body` object "
    "(OpenAI Chat Completions shown; Responses and Anthropic Messages take them alike)",
    params={f.name: f.type for f in msgspec.structs.fields(native.Native)},
    overrides={
        "model_options.reasoning": [
            Case("model_options.reasoning", {"model_options": {"reasoning": {"effort": "high"}}})
        ],
        "model_options.response_format": [
            Case(
                "model_options.response_format", {"model_options": {"response_format": JSON_FORMAT}}
            )
        ],
        "reasoning": [Case("reasoning", {"reasoning": {"effort": "high"}})],
        "response_format": [Case("response_format", {"response_format": JSON_FORMAT})],
        "additional_fields": [Case("additional_fields", {"additional_fields": {"new_knob": 1}})],
    },
)

DIALECTS: list[tuple[Dialect, Runner]] = [
    (OPENAI_CHAT, openai_chat),
    (OPENAI_RESPONSES, openai_responses),
    (ANTHROPIC, anthropic_messages),
    (GEMINI, gemini),
    (GIGACHAT, extra_body),
]
