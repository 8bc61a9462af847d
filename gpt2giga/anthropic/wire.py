"""Anthropic Messages, count_tokens and Models wire structs, as the anthropic SDK types them.

Requests are decoded strictly enough to name a wrong block (`$.messages[1].content[0].type`)
and loosely enough to accept every optional field Claude Code sends. Tool input
schemas stay raw JSON (`msgspec.Raw`): the schema normaliser keys its cache on
those bytes. Imports only msgspec and typing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Raw, Struct

# --- requests ---------------------------------------------------------------------
# `cache_control` and `citations` may sit on any block; they are accepted and unused.


class _In(Struct, kw_only=True):
    pass


class TextBlock(_In, kw_only=True, tag_field="type", tag="text"):
    text: str
    cache_control: Any = None
    citations: Any = None


class Base64Source(_In, kw_only=True, tag_field="type", tag="base64"):
    media_type: str | None = None
    data: str


class URLSource(_In, kw_only=True, tag_field="type", tag="url"):
    url: str


class PlainTextSource(_In, kw_only=True, tag_field="type", tag="text"):
    media_type: str | None = None
    data: str


class ContentSource(_In, kw_only=True, tag_field="type", tag="content"):
    content: Any = None


class FileSource(_In, kw_only=True, tag_field="type", tag="file"):
    file_id: str


ImageSource = Base64Source | URLSource | FileSource
DocumentSource = Base64Source | URLSource | PlainTextSource | ContentSource | FileSource


class ImageBlock(_In, kw_only=True, tag_field="type", tag="image"):
    source: ImageSource
    cache_control: Any = None


class DocumentBlock(_In, kw_only=True, tag_field="type", tag="document"):
    source: DocumentSource
    title: str | None = None
    context: str | None = None
    cache_control: Any = None
    citations: Any = None


class SearchResultBlock(_In, kw_only=True, tag_field="type", tag="search_result"):
    content: list[TextBlock]
    source: str
    title: str
    cache_control: Any = None
    citations: Any = None


class ThinkingBlock(_In, kw_only=True, tag_field="type", tag="thinking"):
    thinking: str = ""
    signature: str = ""


class RedactedThinkingBlock(_In, kw_only=True, tag_field="type", tag="redacted_thinking"):
    data: str = ""


class ToolUseBlock(_In, kw_only=True, tag_field="type", tag="tool_use"):
    id: str
    name: str
    input: dict[str, Any]
    cache_control: Any = None
    caller: Any = None


ResultBlock = TextBlock | ImageBlock | DocumentBlock | SearchResultBlock


class ToolResultBlock(_In, kw_only=True, tag_field="type", tag="tool_result"):
    tool_use_id: str
    content: str | list[ResultBlock] | None = None
    is_error: bool | None = None
    cache_control: Any = None


UserBlock = TextBlock | ImageBlock | DocumentBlock | SearchResultBlock | ToolResultBlock
AssistantBlock = TextBlock | ThinkingBlock | RedactedThinkingBlock | ToolUseBlock


class UserMessage(_In, kw_only=True, tag_field="role", tag="user"):
    content: str | list[UserBlock]


class AssistantMessage(_In, kw_only=True, tag_field="role", tag="assistant"):
    content: str | list[AssistantBlock]


class SystemMessage(_In, kw_only=True, tag_field="role", tag="system"):
    """A system turn inside `messages` (Claude Code sends one after the first user turn)."""

    content: str | list[TextBlock]


Message = UserMessage | AssistantMessage | SystemMessage


class Tool(_In, kw_only=True):
    """A custom tool (`type` absent or "custom") or a provider tool (`web_search_20250305`, …).

    One struct, not a tagged union: custom tools may omit `type`. Provider
    tools carry more fields (`max_uses`, `allowed_domains`), left undecoded.
    """

    type: str | None = None
    name: str = ""
    description: str | None = None
    # Kept as raw JSON: msgspec cannot put Raw in a union, so absent is Raw(b"").
    input_schema: Raw = Raw()
    cache_control: Any = None
    defer_loading: bool | None = None
    strict: bool | None = None
    input_examples: Any = None
    eager_input_streaming: bool | None = None


class ToolChoiceAuto(_In, kw_only=True, tag_field="type", tag="auto"):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(_In, kw_only=True, tag_field="type", tag="any"):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(_In, kw_only=True, tag_field="type", tag="tool"):
    name: str
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(_In, kw_only=True, tag_field="type", tag="none"):
    pass


ToolChoice = ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone


class ThinkingEnabled(_In, kw_only=True, tag_field="type", tag="enabled"):
    budget_tokens: Annotated[int, Meta(ge=1024)]  # "Must be ≥1024", says the SDK
    display: str | None = None


class ThinkingDisabled(_In, kw_only=True, tag_field="type", tag="disabled"):
    pass


class ThinkingAdaptive(_In, kw_only=True, tag_field="type", tag="adaptive"):
    display: str | None = None


class ThinkingBetweenTools(_In, kw_only=True, tag_field="type", tag="between_tools"):
    pass


Thinking = ThinkingEnabled | ThinkingDisabled | ThinkingAdaptive | ThinkingBetweenTools


class JSONOutputFormat(_In, kw_only=True, tag_field="type", tag="json_schema"):
    schema: Raw


class OutputConfig(_In, kw_only=True):
    effort: str | None = None
    format: JSONOutputFormat | None = None


class CountTokensRequest(_In, kw_only=True):
    """What the model reads: also the first part of a Messages request."""

    model: str
    messages: list[Message]
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None
    # The structured-outputs beta's spelling of `output_config.format`.
    output_format: JSONOutputFormat | None = None
    # Accepted, never sent upstream: GigaChat has no equivalent.
    metadata: dict[str, Any] | None = None
    service_tier: str | None = None
    context_management: Any = None
    container: Any = None
    mcp_servers: list[Any] | None = None
    inference_geo: str | None = None
    speed: str | None = None
    diagnostics: Any = None
    cache_control: Any = None
    user_profile_id: str | None = None
    workspace_id: str | None = None


class MessagesRequest(CountTokensRequest, kw_only=True):
    # Required, as Anthropic requires it: a missing one is a 400 naming the field.
    # 0 is Anthropic's "warm the prompt cache, answer nothing": GigaChat has no such cache.
    max_tokens: Annotated[int, Meta(ge=1, le=2**31 - 1)]
    stream: bool | None = None
    # Anthropic's documented ranges: outside them, the client's mistake.
    temperature: Annotated[float, Meta(ge=0, le=1)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    stop_sequences: list[str] | None = None
    top_k: Annotated[int, Meta(ge=0)] | None = None


# --- responses ------------------------------------------------------------------------
# Anthropic always sends every field here, null included; `type` constants are tags.


class _Out(Struct, kw_only=True):
    pass


class TextOut(_Out, kw_only=True, tag_field="type", tag="text"):
    text: str


class ThinkingOut(_Out, kw_only=True, tag_field="type", tag="thinking"):
    thinking: str
    signature: str


class ToolUseOut(_Out, kw_only=True, tag_field="type", tag="tool_use"):
    id: str
    name: str
    input: dict[str, Any]


ContentBlock = TextOut | ThinkingOut | ToolUseOut


class Usage(_Out, kw_only=True):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


class MessageOut(_Out, kw_only=True, tag_field="type", tag="message"):
    id: str
    role: Literal["assistant"] = "assistant"
    model: str
    content: list[ContentBlock]
    stop_reason: str | None
    stop_sequence: str | None
    usage: Usage


class MessageStart(_Out, kw_only=True, tag_field="type", tag="message_start"):
    message: MessageOut


class ContentBlockStart(_Out, kw_only=True, tag_field="type", tag="content_block_start"):
    index: int
    content_block: ContentBlock


class TextDelta(_Out, kw_only=True, tag_field="type", tag="text_delta"):
    text: str


class ThinkingDelta(_Out, kw_only=True, tag_field="type", tag="thinking_delta"):
    thinking: str


class SignatureDelta(_Out, kw_only=True, tag_field="type", tag="signature_delta"):
    signature: str


class InputJSONDelta(_Out, kw_only=True, tag_field="type", tag="input_json_delta"):
    partial_json: str


BlockDelta = TextDelta | ThinkingDelta | SignatureDelta | InputJSONDelta


class ContentBlockDelta(_Out, kw_only=True, tag_field="type", tag="content_block_delta"):
    index: int
    delta: BlockDelta


class ContentBlockStop(_Out, kw_only=True, tag_field="type", tag="content_block_stop"):
    index: int


class StopDelta(_Out, kw_only=True):
    stop_reason: str
    stop_sequence: str | None


class MessageDelta(_Out, kw_only=True, tag_field="type", tag="message_delta"):
    delta: StopDelta
    usage: Usage


class MessageStop(_Out, kw_only=True, tag_field="type", tag="message_stop"):
    pass


class Ping(_Out, kw_only=True, tag_field="type", tag="ping"):
    pass


class ErrorDetail(_Out, kw_only=True):
    type: str
    message: str


class ErrorBody(_Out, kw_only=True, tag_field="type", tag="error"):
    error: ErrorDetail


class TokensCount(_Out, kw_only=True):
    input_tokens: int


class ModelInfo(_Out, kw_only=True, tag_field="type", tag="model"):
    id: str
    display_name: str
    created_at: str
    lifecycle: str = "active"


class ModelList(_Out, kw_only=True):
    data: list[ModelInfo]
    has_more: bool
    first_id: str | None
    last_id: str | None
