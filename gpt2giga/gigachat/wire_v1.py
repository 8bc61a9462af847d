"""GigaChat's v1 chat contract, as the gigachat SDK models it (`models/chat.py`).

v1 (`/v1/chat/completions`, flat messages, `data:` lines ending `[DONE]`)
carries the `V1` suffix and is reached only through `gigachat/contract.py`:
no dialect builds it. Field names are the wire names. This module imports
nothing but msgspec, typing and the v2 wire module.
"""

from __future__ import annotations

from msgspec import UNSET, UnsetType

# The v2 module's base: unset fields stay off the wire, as the SDK's `exclude_none` does.
from gpt2giga.gigachat.wire import JSONObject, _Wire


class FunctionCallV1(_Wire, kw_only=True):
    name: str
    arguments: JSONObject | None = None


class MessageV1(_Wire, kw_only=True):
    role: str
    # The SDK defaults content to "" and always sends it; UNSET keeps "" on the wire.
    content: str | UnsetType = UNSET
    function_call: FunctionCallV1 | None = None
    name: str | None = None
    attachments: list[str] | None = None
    functions_state_id: str | None = None
    reasoning_content: str | None = None


class FewShotExampleV1(_Wire, kw_only=True):
    request: str
    params: JSONObject


class FunctionV1(_Wire, kw_only=True):
    name: str
    description: str | None = None
    parameters: JSONObject | None = None
    few_shot_examples: list[FewShotExampleV1] | None = None
    return_parameters: JSONObject | None = None


class ChatFunctionCallV1(_Wire, kw_only=True):
    """A forced call: `function_call: {"name": ...}`."""

    name: str
    partial_arguments: JSONObject | None = None


class ResponseFormatV1(_Wire, kw_only=True):
    type: str
    schema: JSONObject | None = None
    strict: bool | None = None


class FunctionRankerV1(_Wire, kw_only=True):
    enabled: bool | None = None
    top_n: int | None = None


class ChatV1(_Wire, kw_only=True):
    model: str | None = None
    messages: list[MessageV1]
    temperature: float | None = None
    top_p: float | None = None
    stream: bool | None = None
    max_tokens: int | None = None
    repetition_penalty: float | None = None
    update_interval: float | None = None
    profanity_check: bool | None = None
    function_call: str | ChatFunctionCallV1 | None = None
    functions: list[FunctionV1] | None = None
    flags: list[str] | None = None
    function_ranker: FunctionRankerV1 | None = None
    response_format: ResponseFormatV1 | None = None
    reasoning_effort: str | None = None


class UsageV1(_Wire, kw_only=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    precached_prompt_tokens: int | None = None


class ChoiceV1(_Wire, kw_only=True):
    message: MessageV1
    index: int
    finish_reason: str | None = None


class ChatCompletionV1(_Wire, kw_only=True):
    choices: list[ChoiceV1]
    created: int
    model: str
    usage: UsageV1
    object: str
    thread_id: str | None = None
    message_id: str | None = None


class MessageChunkV1(_Wire, kw_only=True):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    function_call: FunctionCallV1 | None = None
    functions_state_id: str | None = None


class ChoiceChunkV1(_Wire, kw_only=True):
    delta: MessageChunkV1
    index: int
    finish_reason: str | None = None


class ChatCompletionChunkV1(_Wire, kw_only=True):
    choices: list[ChoiceChunkV1]
    created: int
    model: str
    # GigaChat labels stream chunks "chat.completion", not "...chunk".
    object: str
    usage: UsageV1 | None = None
