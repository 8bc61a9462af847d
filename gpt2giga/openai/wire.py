"""OpenAI Chat Completions, Embeddings and Models wire structs, as the openai SDK types them.

Requests are decoded strictly enough to name a wrong field (`$.messages[0].role`)
and loosely enough to accept every optional field a client may send. Tool
parameter schemas stay raw JSON (`msgspec.Raw`): the schema normaliser keys its
cache on those bytes. Imports only msgspec and typing.
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


class TextPart(_In, kw_only=True, tag_field="type", tag="text"):
    text: str


class ImageURL(_In, kw_only=True):
    url: str
    detail: str | None = None


class ImagePart(_In, kw_only=True, tag_field="type", tag="image_url"):
    image_url: ImageURL


class InputAudio(_In, kw_only=True):
    data: str
    format: str


class AudioPart(_In, kw_only=True, tag_field="type", tag="input_audio"):
    input_audio: InputAudio


class FileRef(_In, kw_only=True):
    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None


class FilePart(_In, kw_only=True, tag_field="type", tag="file"):
    file: FileRef


class RefusalPart(_In, kw_only=True, tag_field="type", tag="refusal"):
    refusal: str


UserPart = TextPart | ImagePart | AudioPart | FilePart
AssistantPart = TextPart | RefusalPart


class FunctionCall(_In, kw_only=True):
    name: str
    # The spec says JSON text; some clients send the object itself.
    arguments: str | dict[str, Any] = "{}"


class ToolCall(_In, kw_only=True):
    id: str
    type: str = "function"
    function: FunctionCall


class SystemMessage(_In, kw_only=True, tag_field="role", tag="system"):
    content: str | list[TextPart]
    name: str | None = None


class DeveloperMessage(_In, kw_only=True, tag_field="role", tag="developer"):
    content: str | list[TextPart]
    name: str | None = None


class UserMessage(_In, kw_only=True, tag_field="role", tag="user"):
    content: str | list[UserPart]
    name: str | None = None


class AssistantMessage(_In, kw_only=True, tag_field="role", tag="assistant"):
    content: str | list[AssistantPart] | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    name: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None


class ToolMessage(_In, kw_only=True, tag_field="role", tag="tool"):
    content: str | list[TextPart]
    tool_call_id: str


class FunctionMessage(_In, kw_only=True, tag_field="role", tag="function"):
    content: str | None
    name: str


Message = (
    SystemMessage
    | DeveloperMessage
    | UserMessage
    | AssistantMessage
    | ToolMessage
    | FunctionMessage
)


class FunctionDefinition(_In, kw_only=True):
    name: Name
    description: str | None = None
    # Kept as raw JSON: msgspec cannot put Raw in a union, so absent is Raw(b"").
    parameters: Raw = Raw()
    strict: bool | None = None


class FunctionTool(_In, kw_only=True, tag_field="type", tag="function"):
    function: FunctionDefinition


class CustomTool(_In, kw_only=True, tag_field="type", tag="custom"):
    """A free-form-input tool: GigaChat has none; accepted and reported as ignored."""

    custom: dict[str, Any]


# The openai SDK's ChatCompletionToolUnionParam: `type` is required and names one of these.
Tool = FunctionTool | CustomTool


class NamedFunction(_In, kw_only=True):
    name: str


class NamedToolChoice(_In, kw_only=True):
    type: Literal["function", "custom", "allowed_tools"] = "function"
    function: NamedFunction | None = None


class JSONSchemaFormat(_In, kw_only=True):
    name: str = "response"
    description: str | None = None
    schema: Raw = Raw()
    strict: bool | None = None


class TextFormat(_In, kw_only=True, tag_field="type", tag="text"):
    pass


class JSONObjectFormat(_In, kw_only=True, tag_field="type", tag="json_object"):
    pass


class JSONSchemaResponseFormat(_In, kw_only=True, tag_field="type", tag="json_schema"):
    json_schema: JSONSchemaFormat


ResponseFormat = TextFormat | JSONObjectFormat | JSONSchemaResponseFormat


class StreamOptions(_In, kw_only=True):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class Reasoning(_In, kw_only=True):
    effort: str | None = None
    max_tokens: int | None = None
    enabled: bool | None = None


class ChatCompletionRequest(_In, kw_only=True):
    messages: list[Message]
    model: str | None = None
    # Some clients send every unset field as null; null means the default here.
    stream: bool | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    max_tokens: Positive | None = None
    max_completion_tokens: Positive | None = None
    stop: str | list[str] | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    functions: list[FunctionDefinition] | None = None
    function_call: Literal["none", "auto"] | NamedFunction | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = None
    reasoning: Reasoning | None = None
    stream_options: StreamOptions | None = None
    # Accepted, never sent upstream: GigaChat has no equivalent (n > 1 is refused).
    n: Positive | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    seed: int | None = None
    user: str | None = None
    metadata: dict[str, Any] | None = None
    service_tier: str | None = None
    parallel_tool_calls: bool | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    store: bool | None = None
    modalities: list[str] | None = None
    prediction: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None
    verbosity: str | None = None
    prompt_cache_key: str | None = None
    safety_identifier: str | None = None


class EmbeddingsRequest(_In, kw_only=True):
    # A string, a list of strings, or token ids (list or list of lists): msgspec
    # allows one array type in a union, so the list is checked by the handler.
    input: str | list[Any]
    model: str | None = None
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Positive | None = None
    user: str | None = None


# --- responses ------------------------------------------------------------------------
# Fields that OpenAI always sends (even as null) have no UNSET default; fields it
# leaves out when empty are UNSET. `object` and `role` constants are msgspec tags.


class _Out(Struct, kw_only=True):
    pass


class FunctionCallOut(_Out, kw_only=True):
    name: str
    arguments: str


class ToolCallOut(_Out, kw_only=True, tag_field="type", tag="function"):
    id: str
    function: FunctionCallOut


class AssistantMessageOut(_Out, kw_only=True, tag_field="role", tag="assistant"):
    content: str | None
    refusal: str | None = None
    tool_calls: list[ToolCallOut] | UnsetType = UNSET
    reasoning_content: str | UnsetType = UNSET


class Choice(_Out, kw_only=True):
    index: int
    message: AssistantMessageOut
    finish_reason: str
    logprobs: None = None


class PromptTokensDetails(_Out, kw_only=True):
    cached_tokens: int


class CompletionTokensDetails(_Out, kw_only=True):
    reasoning_tokens: int


class Usage(_Out, kw_only=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails
    completion_tokens_details: CompletionTokensDetails


class ChatCompletion(_Out, kw_only=True, tag_field="object", tag="chat.completion"):
    id: str
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class FunctionDelta(_Out, kw_only=True):
    name: str | UnsetType = UNSET
    arguments: str | UnsetType = UNSET


class ToolCallDelta(_Out, kw_only=True):
    index: int
    id: str | UnsetType = UNSET
    type: str | UnsetType = UNSET
    function: FunctionDelta | UnsetType = UNSET


class Delta(_Out, kw_only=True):
    role: str | UnsetType = UNSET
    content: str | UnsetType = UNSET
    reasoning_content: str | UnsetType = UNSET
    tool_calls: list[ToolCallDelta] | UnsetType = UNSET


class ChunkChoice(_Out, kw_only=True):
    index: int
    delta: Delta
    finish_reason: str | None
    logprobs: None = None


class ChatCompletionChunk(_Out, kw_only=True, tag_field="object", tag="chat.completion.chunk"):
    id: str
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | UnsetType = UNSET


class ModelMetadata(_Out, kw_only=True):
    type: str


class Model(_Out, kw_only=True, tag_field="object", tag="model"):
    id: str
    created: int
    owned_by: str
    metadata: ModelMetadata | UnsetType = UNSET


class ModelList(_Out, kw_only=True, tag_field="object", tag="list"):
    data: list[Model]


class EmbeddingOut(_Out, kw_only=True, tag_field="object", tag="embedding"):
    embedding: list[float] | str
    index: int


class EmbeddingUsage(_Out, kw_only=True):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(_Out, kw_only=True, tag_field="object", tag="list"):
    data: list[EmbeddingOut]
    model: str
    usage: EmbeddingUsage


class ModelInfoParams(_Out, kw_only=True):
    model: str


class ModelInfoDetails(_Out, kw_only=True):
    id: str
    mode: str


class ModelInfo(_Out, kw_only=True):
    model_name: str
    litellm_params: ModelInfoParams
    model_info: ModelInfoDetails


class ModelInfoList(_Out, kw_only=True):
    data: list[ModelInfo]


class ErrorDetail(_Out, kw_only=True):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(_Out, kw_only=True):
    error: ErrorDetail
