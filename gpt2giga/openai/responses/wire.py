"""OpenAI Responses API wire structs: the request, its input items and tools, the Response object.

Input items and tools stay raw in the request (`msgspec.Raw`) and are decoded
one by one by the translator: the SDK sends messages without a `type` tag,
which a msgspec tagged union cannot default, and tools are echoed back into
the Response exactly as sent. Output structs follow the openai SDK's types:
fields OpenAI always sends have no UNSET default, constant `type`/`object`
fields are msgspec tags. The stream events live in `events.py`.
Imports only msgspec and typing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Raw, Struct, UnsetType

# --- requests ---------------------------------------------------------------------


# OpenAI's documented ranges: a value outside them is the client's mistake, not
# something to send GigaChat.
Temperature = Annotated[float, Meta(ge=0, le=2)]
TopP = Annotated[float, Meta(ge=0, le=1)]
# Counts are int32 on the vendors' wires (Gemini's proto says so); anything
# larger is no count at all, and would only fail upstream.
Positive = Annotated[int, Meta(ge=1, le=2**31 - 1)]
Name = Annotated[str, Meta(min_length=1)]  # a function GigaChat can call has a name


class _In(Struct, kw_only=True):
    pass


class InputText(_In, kw_only=True, tag_field="type", tag="input_text"):
    text: str


class OutputText(_In, kw_only=True, tag_field="type", tag="output_text"):
    text: str
    # Echoed from an earlier Response's output: facts about that answer, nothing to apply.
    annotations: list[Any] | None = None
    logprobs: list[Any] | None = None


class Refusal(_In, kw_only=True, tag_field="type", tag="refusal"):
    refusal: str


class InputImage(_In, kw_only=True, tag_field="type", tag="input_image"):
    image_url: str | None = None
    file_id: str | None = None
    detail: str | None = None


class InputFile(_In, kw_only=True, tag_field="type", tag="input_file"):
    file_id: str | None = None
    file_data: str | None = None
    file_url: str | None = None
    filename: str | None = None


class InputAudio(_In, kw_only=True, tag_field="type", tag="input_audio"):
    input_audio: dict[str, Any] | None = None


ContentPart = InputText | OutputText | Refusal | InputImage | InputFile | InputAudio


class ItemType(_In, kw_only=True):
    """An input item's `type`; the SDK's easy messages (`{role, content}`) carry none."""

    type: str = "message"


class _Item(_In, kw_only=True):
    """An input item's own bookkeeping: its `type` picks the struct; `id` and `status` are
    echoed from an earlier Response's output and say nothing to apply."""

    type: str | None = None
    id: str | None = None
    status: str | None = None


class Message(_Item, kw_only=True):
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]


class FunctionCall(_Item, kw_only=True):
    call_id: str
    name: str
    # The spec says JSON text; some clients send the object itself.
    arguments: str | dict[str, Any] = "{}"
    namespace: str | None = None


class FunctionCallOutput(_Item, kw_only=True):
    call_id: str
    output: str | list[ContentPart]
    name: str | None = None
    namespace: str | None = None


class CustomToolCall(_Item, kw_only=True):
    call_id: str
    name: str
    input: str = ""


class CustomToolCallOutput(_Item, kw_only=True):
    call_id: str
    output: str | list[ContentPart]


InputItem = Message | FunctionCall | FunctionCallOutput | CustomToolCall | CustomToolCallOutput


class ToolType(_In, kw_only=True):
    type: str


class FunctionTool(_In, kw_only=True):
    type: str | None = None  # read by `ToolType` first
    name: Name
    description: str | None = None
    # Kept as raw JSON: msgspec cannot put Raw in a union, so absent is Raw(b"").
    parameters: Raw = Raw()
    strict: bool | None = None


class NamespaceTool(_In, kw_only=True):
    """Codex groups each MCP server's tools under one name."""

    type: str | None = None  # read by `ToolType` first
    name: str
    description: str | None = None
    tools: list[Raw] = []


class _Echo(Struct, kw_only=True, omit_defaults=True):
    """Request parts the Response object repeats back as the client sent them."""


class ToolChoice(_Echo, kw_only=True):
    type: str
    name: str | None = None
    mode: str | None = None
    tools: list[dict[str, Any]] | None = None
    server_label: str | None = None


class TextFormat(_Echo, kw_only=True, tag_field="type", tag="text"):
    pass


class JSONObjectFormat(_Echo, kw_only=True, tag_field="type", tag="json_object"):
    pass


class JSONSchemaFormat(_Echo, kw_only=True, tag_field="type", tag="json_schema"):
    name: str = "response"
    schema: Raw = Raw()
    description: str | None = None
    strict: bool | None = None


Format = TextFormat | JSONObjectFormat | JSONSchemaFormat


class TextConfig(Struct, kw_only=True):
    format: Format | None = None
    verbosity: str | UnsetType | None = UNSET


class ReasoningConfig(_In, kw_only=True):
    effort: str | None = None
    summary: str | None = None
    generate_summary: str | None = None


Choice = Literal["none", "auto", "required"]


class ResponsesRequest(_In, kw_only=True):
    input: str | list[Raw]
    model: str | None = None
    instructions: str | None = None
    # Some clients send every unset field as null; null means the default here.
    stream: bool | None = None
    tools: list[Raw] | None = None
    tool_choice: Choice | ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    max_output_tokens: Positive | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    background: bool | None = None
    conversation: Any = None
    prompt: Any = None
    # Accepted, never sent upstream: GigaChat has no equivalent.
    include: list[str] | None = None
    prompt_cache_key: str | None = None
    client_metadata: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    truncation: str | None = None
    service_tier: str | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_retention: str | None = None
    top_logprobs: int | None = None
    max_tool_calls: int | None = None
    stream_options: dict[str, Any] | None = None


# --- the Response object --------------------------------------------------------------


class _Out(Struct, kw_only=True):
    pass


class OutputTextOut(_Out, kw_only=True, tag_field="type", tag="output_text"):
    text: str
    annotations: list[dict[str, Any]] = []
    logprobs: list[dict[str, Any]] = []


class MessageOut(_Out, kw_only=True, tag_field="type", tag="message"):
    id: str
    status: str
    role: str = "assistant"
    content: list[OutputTextOut]


class SummaryText(_Out, kw_only=True, tag_field="type", tag="summary_text"):
    text: str


class ReasoningOut(_Out, kw_only=True, tag_field="type", tag="reasoning"):
    id: str
    summary: list[SummaryText]


class FunctionCallOut(_Out, kw_only=True, tag_field="type", tag="function_call"):
    id: str
    call_id: str
    name: str
    arguments: str
    status: str
    namespace: str | UnsetType = UNSET


class SearchSource(_Out, kw_only=True, tag_field="type", tag="url"):
    url: str


class SearchAction(_Out, kw_only=True, tag_field="type", tag="search"):
    sources: list[SearchSource] | UnsetType = UNSET


class WebSearchCallOut(_Out, kw_only=True, tag_field="type", tag="web_search_call"):
    id: str
    status: str
    action: SearchAction


class ImageGenerationCallOut(_Out, kw_only=True, tag_field="type", tag="image_generation_call"):
    id: str
    status: str
    result: str | None = None


OutputItem = ReasoningOut | MessageOut | FunctionCallOut | WebSearchCallOut | ImageGenerationCallOut


class InputTokensDetails(_Out, kw_only=True):
    cached_tokens: int
    cache_write_tokens: int = 0


class OutputTokensDetails(_Out, kw_only=True):
    reasoning_tokens: int


class Usage(_Out, kw_only=True):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class ResponseError(_Out, kw_only=True):
    code: str
    message: str


class IncompleteDetails(_Out, kw_only=True):
    reason: str


class ReasoningEcho(_Out, kw_only=True):
    effort: str | None = None
    summary: str | None = None


class Response(_Out, kw_only=True, tag_field="object", tag="response"):
    id: str
    created_at: int
    status: str
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    model: str
    output: list[OutputItem]
    parallel_tool_calls: bool = True
    previous_response_id: str | None = None
    reasoning: ReasoningEcho
    store: bool = True
    temperature: float | None = None
    text: TextConfig
    tool_choice: str | ToolChoice = "auto"
    tools: list[Raw] = []
    top_p: float | None = None
    truncation: str = "disabled"
    usage: Usage | None = None
    user: str | None = None
    metadata: dict[str, Any] = {}


class Deleted(_Out, kw_only=True, tag_field="object", tag="response"):
    id: str
    deleted: bool = True
