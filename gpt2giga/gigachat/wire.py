"""GigaChat's wire structs, both chat contracts, as the gigachat SDK models them.

v2 (`/v2/chat/completions`, content parts, named SSE events) is the hub every
dialect translates to and from, and lives here with the endpoints both
contracts share; v1 is `wire_v1.py`'s. Field names are the wire names. This
module imports nothing but msgspec and typing.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

JSONObject = dict[str, Any]


class _Wire(Struct, omit_defaults=True, kw_only=True):
    """Unset fields stay off the wire, as the SDK's `exclude_none` does.

    A field the SDK requires has no default here, so it is always encoded and
    must be present when decoded.
    """


# --- v2: the primary contract -------------------------------------------------


class ChatContentFile(_Wire, kw_only=True):
    id: str
    target: str | None = None
    mime: str | None = None


class ChatFunctionCall(_Wire, kw_only=True):
    name: str
    # GigaChat sends and expects a JSON object here, never JSON text.
    arguments: Any


class ChatFunctionResult(_Wire, kw_only=True):
    name: str
    result: Any


class ChatToolExecution(_Wire, kw_only=True):
    name: str | None = None
    status: str | None = None
    seconds_left: int | None = None
    censored: bool | None = None


class ChatSource(_Wire, kw_only=True):
    url: str | None = None
    title: str | None = None


class ChatInlineData(_Wire, kw_only=True):
    images: list[JSONObject] | None = None
    sources: dict[str, ChatSource] | None = None
    widgets: list[JSONObject] | None = None


class ChatContentPart(_Wire, kw_only=True):
    text: str | None = None
    files: list[ChatContentFile] | None = None
    function_call: ChatFunctionCall | None = None
    function_result: ChatFunctionResult | None = None
    tool_execution: ChatToolExecution | None = None
    inline_data: ChatInlineData | None = None


class ChatMessage(_Wire, kw_only=True):
    role: str
    content: list[ChatContentPart] | str | None = None
    message_id: str | None = None
    tools_state_id: str | None = None
    # Answers spell the state id `tool_state_id`; requests `tools_state_id`.
    tool_state_id: str | None = None
    function_call: ChatFunctionCall | None = None
    tool_execution: ChatToolExecution | None = None
    inline_data: ChatInlineData | None = None
    finish_reason: str | None = None


class ChatReasoning(_Wire, kw_only=True):
    effort: str | None = None


class ChatResponseFormat(_Wire, kw_only=True):
    type: str = "text"
    schema: Any = None
    strict: bool | None = None
    regex: str | None = None


class ChatModelOptions(_Wire, kw_only=True):
    preset: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    repetition_penalty: float | None = None
    update_interval: float | None = None
    unnormalized_history: bool | None = None
    top_logprobs: int | None = None
    reasoning: ChatReasoning | None = None
    response_format: ChatResponseFormat | None = None


class ChatFunctionExample(_Wire, kw_only=True):
    request: str
    params: JSONObject


class ChatFunctionSpecification(_Wire, kw_only=True):
    name: str
    description: str | None = None
    parameters: JSONObject
    few_shot_examples: list[ChatFunctionExample] | None = None
    return_parameters: JSONObject | None = None


class ChatFunctionsTool(_Wire, kw_only=True):
    specifications: list[ChatFunctionSpecification] | None = None


class ChatWebSearchTool(_Wire, kw_only=True):
    type: str | None = None
    indexes: list[str] | None = None
    flags: list[str] | None = None


class ChatTool(_Wire, kw_only=True):
    """One entry of `tools`: exactly one of the fields is set."""

    code_interpreter: JSONObject | None = None
    image_generate: JSONObject | None = None
    web_search: ChatWebSearchTool | None = None
    url_content_extraction: JSONObject | None = None
    model_3d_generate: JSONObject | None = None
    functions: ChatFunctionsTool | None = None


class ChatToolConfig(_Wire, kw_only=True):
    mode: str | None = None
    tool_name: str | None = None
    function_name: str | None = None


class ChatFilterContentConfig(_Wire, kw_only=True):
    neuro: bool | None = None
    blacklist: bool | None = None
    whitelist: bool | None = None


class ChatFilterResponseContentConfig(_Wire, kw_only=True):
    blacklist: bool | None = None


class ChatFilterConfig(_Wire, kw_only=True):
    request_content: ChatFilterContentConfig | None = None
    response_content: ChatFilterResponseContentConfig | None = None


class ChatRankerOptions(_Wire, kw_only=True):
    enabled: bool | None = None
    top_n: int | None = None
    embeddings_model: str | None = None


class ChatUserInfo(_Wire, kw_only=True):
    timezone: str | None = None


class ChatStorage(_Wire, kw_only=True):
    limit: int | None = None
    thread_id: str | None = None
    metadata: JSONObject | None = None


class ChatCompletionRequest(_Wire, kw_only=True):
    model: str | None = None
    messages: list[ChatMessage]
    tools_state_id: str | None = None
    model_options: ChatModelOptions | None = None
    filter_config: ChatFilterConfig | None = None
    storage: ChatStorage | None = None
    ranker_options: ChatRankerOptions | None = None
    tool_config: ChatToolConfig | None = None
    tools: list[ChatTool] | None = None
    user_info: ChatUserInfo | None = None
    stream: bool | None = None
    disable_filter: bool | None = None
    flags: list[str] | None = None


class ChatUsageInputTokensDetails(_Wire, kw_only=True):
    prompt_tokens: int | None = None
    cached_tokens: int | None = None


class ChatUsage(_Wire, kw_only=True):
    """Every count is optional in the SDK, and may be null: read them through the properties."""

    input_tokens: int | None = None
    input_tokens_details: ChatUsageInputTokensDetails | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None

    @property
    def tokens_in(self) -> int:
        return self.input_tokens or 0

    @property
    def tokens_out(self) -> int:
        return self.output_tokens or 0

    @property
    def tokens_total(self) -> int:
        return self.total_tokens or self.tokens_in + self.tokens_out

    @property
    def cached_tokens(self) -> int:
        details = self.input_tokens_details
        return (details.cached_tokens or 0) if details else 0


# --- v2 answers: what GigaChat sends back ---------------------------------------------

# The SDK reads a message's content as text, one part, or a list of parts and
# texts, and normalizes it to a list of parts: `ChatMessageChunk.parts` does the same.
AnswerContent = list[ChatContentPart | str] | ChatContentPart | str | None


class _Stated(_Wire, kw_only=True):
    """The tool state id, under any of the three names the SDK folds into `tools_state_id`."""

    tools_state_id: str | None = None
    tool_state_id: str | None = None
    functions_state_id: str | None = None

    @property
    def state_id(self) -> str | None:
        return self.tools_state_id or self.tool_state_id or self.functions_state_id


class ChatMessageChunk(_Stated, kw_only=True):
    """A message of a stream chunk (the SDK's `ChatMessageChunk`): every field may be missing.

    GigaChat names the `role` on a message's first delta only.
    """

    role: str | None = None
    content: AnswerContent = None
    message_id: str | None = None
    function_call: ChatFunctionCall | None = None
    tool_execution: ChatToolExecution | None = None
    inline_data: ChatInlineData | None = None
    finish_reason: str | None = None

    @property
    def parts(self) -> list[ChatContentPart]:
        content = self.content
        if content is None:
            return []
        if isinstance(content, str):
            return [ChatContentPart(text=content)]
        if isinstance(content, ChatContentPart):
            return [content]
        return [ChatContentPart(text=p) if isinstance(p, str) else p for p in content]


class ChatAnswerMessage(ChatMessageChunk, kw_only=True):
    """A message of a whole answer: the SDK's `ChatMessage`, whose `role` is required."""

    role: str


class ChatCompletionResponse(_Stated, kw_only=True):
    model: str | None = None
    created_at: int | None = None
    messages: list[ChatAnswerMessage]
    message_id: str | None = None
    thread_id: str | None = None
    finish_reason: str | None = None
    usage: ChatUsage | None = None
    tool_execution: ChatToolExecution | None = None


class ChatCompletionChunk(_Stated, kw_only=True):
    """One named SSE event of a v2 stream; `event` is the SSE event name."""

    event: str | None = None
    model: str | None = None
    created_at: int | None = None
    messages: list[ChatMessageChunk] | None = None
    message_id: str | None = None
    thread_id: str | None = None
    finish_reason: str | None = None
    usage: ChatUsage | None = None
    tool_execution: ChatToolExecution | None = None


# --- endpoints shared by both contracts ----------------------------------------


class Model(_Wire, kw_only=True):
    id: str
    object: str
    owned_by: str
    type: str | None = None


class Models(_Wire, kw_only=True):
    data: list[Model]
    object: str


class EmbeddingsRequest(_Wire, kw_only=True):
    model: str
    input: list[str]


class EmbeddingUsage(_Wire, kw_only=True):
    prompt_tokens: int


class Embedding(_Wire, kw_only=True):
    embedding: list[float]
    index: int
    usage: EmbeddingUsage
    object: str


class Embeddings(_Wire, kw_only=True):
    data: list[Embedding]
    model: str | None = None
    object: str


class TokensCountRequest(_Wire, kw_only=True):
    model: str
    input: list[str]


class TokensCount(_Wire, kw_only=True):
    tokens: int
    characters: int
    object: str


class UploadedFile(_Wire, kw_only=True):
    id: str
    object: str
    bytes: int
    created_at: int
    filename: str
    purpose: str
    access_policy: str | None = None


class AccessToken(_Wire, kw_only=True):
    """OAuth answers `access_token`/`expires_at`; `/token` answers `tok`/`exp`."""

    access_token: str | None = None
    expires_at: int | None = None
    tok: str | None = None
    exp: int | None = None


class ErrorBody(_Wire, kw_only=True):
    status: int | None = None
    message: str | None = None
