"""Gemini API wire structs: generateContent, countTokens, embeddings, models.

Field names are Gemini's camelCase (`rename="camel"`); attributes stay
snake_case. Requests are decoded strictly enough to name a wrong field
(`$.contents[0].role`) and accept every optional field a client may send;
tool and response schemas stay raw JSON (`msgspec.Raw`): the schema
normaliser keys its cache on those bytes. Imports only msgspec and typing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Raw, Struct, UnsetType

# --- requests ---------------------------------------------------------------------


class In(Struct, kw_only=True, rename="camel"):
    pass


# google-genai's enums (types.py), as it sends them: a value outside the set is a
# client's mistake, refused naming the field rather than passed on or dropped.
ThinkingLevel = Literal["THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"]
Behavior = Literal["UNSPECIFIED", "BLOCKING", "NON_BLOCKING"]
Scheduling = Literal["SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"]
MediaResolution = Literal[
    "MEDIA_RESOLUTION_UNSPECIFIED", "MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_MEDIUM",
    "MEDIA_RESOLUTION_HIGH",
]  # fmt: skip
Modality = Literal["MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO", "VIDEO"]
ServiceTier = Literal["unspecified", "flex", "standard", "priority"]
HarmCategory = Literal[
    "HARM_CATEGORY_UNSPECIFIED", "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY", "HARM_CATEGORY_JAILBREAK", "HARM_CATEGORY_IMAGE_HATE",
    "HARM_CATEGORY_IMAGE_HARASSMENT", "HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT",
    "HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT",
]  # fmt: skip
HarmBlockMethod = Literal["HARM_BLOCK_METHOD_UNSPECIFIED", "SEVERITY", "PROBABILITY"]
HarmBlockThreshold = Literal[
    "HARM_BLOCK_THRESHOLD_UNSPECIFIED", "BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF",
]  # fmt: skip
# Google's API reference (TaskType); google-genai types `task_type` as a plain
# string and sends it as given, so LangChain's lower-case spelling is taken too.
TaskType = Literal[
    "TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY",
    "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
    "task_type_unspecified", "retrieval_query", "retrieval_document", "semantic_similarity",
    "classification", "clustering", "question_answering", "fact_verification",
    "code_retrieval_query",
]  # fmt: skip
# Google's documented ranges.
Temperature = Annotated[float, Meta(ge=0, le=2)]
Probability = Annotated[float, Meta(ge=0, le=1)]
# Counts are int32 on the vendors' wires (Gemini's proto says so); anything
# larger is no count at all, and would only fail upstream.
Positive = Annotated[int, Meta(ge=1, le=2**31 - 1)]
Name = Annotated[str, Meta(min_length=1)]  # a function GigaChat can call has a name


class Blob(In, kw_only=True):
    mime_type: str | None = None
    data: str | None = None
    display_name: str | None = None


class FileData(In, kw_only=True):
    mime_type: str | None = None
    file_uri: str | None = None
    display_name: str | None = None


class FunctionResponsePart(In, kw_only=True):
    """Media a function returned (an image a tool read)."""

    inline_data: Blob | None = None
    file_data: FileData | None = None


class FunctionCall(In, kw_only=True):
    name: str
    id: str | None = None
    args: dict[str, Any] | None = None


class FunctionResponse(In, kw_only=True):
    name: str
    id: str | None = None
    response: dict[str, Any] | None = None
    parts: list[FunctionResponsePart] | None = None
    will_continue: bool | None = None
    scheduling: Scheduling | None = None


class Part(In, kw_only=True):
    """One part: Gemini sets exactly one of the data fields (text, call, result, media)."""

    text: str | None = None
    thought: bool | None = None
    # Opaque to everyone but Google's own models: accepted, never sent upstream.
    thought_signature: str | None = None
    function_call: FunctionCall | None = None
    function_response: FunctionResponse | None = None
    inline_data: Blob | None = None
    file_data: FileData | None = None
    # Google's own tools' traces in a history: data, never sent upstream.
    executable_code: dict[str, Any] | None = None
    code_execution_result: dict[str, Any] | None = None
    tool_call: dict[str, Any] | None = None
    tool_response: dict[str, Any] | None = None


class Content(In, kw_only=True):
    # Older clients send function results under the role `function`.
    role: Literal["user", "model", "function"] | None = None
    # Google refuses a Content without parts ("contents.parts must not be empty").
    parts: Annotated[list[Part], Meta(min_length=1)]


class FunctionDeclaration(In, kw_only=True):
    name: Name
    description: str | None = None
    # Gemini's OpenAPI subset (`parameters`) or plain JSON Schema
    # (`parametersJsonSchema`, what Gemini CLI sends); absent is Raw(b"").
    parameters: Raw = Raw()
    parameters_json_schema: Raw = Raw()
    response: Any = None
    response_json_schema: Any = None
    behavior: Behavior | None = None


class Tool(In, kw_only=True, forbid_unknown_fields=True):
    """Every tool google-genai knows; a key outside them is a tool this gateway cannot know."""

    function_declarations: list[FunctionDeclaration] | None = None
    google_search: dict[str, Any] | None = None
    google_search_retrieval: dict[str, Any] | None = None
    url_context: dict[str, Any] | None = None
    code_execution: dict[str, Any] | None = None
    # Accepted, not applied: GigaChat has no equivalent.
    retrieval: dict[str, Any] | None = None
    google_maps: dict[str, Any] | None = None
    computer_use: dict[str, Any] | None = None
    file_search: dict[str, Any] | None = None
    enterprise_web_search: dict[str, Any] | None = None
    mcp_servers: list[Any] | None = None
    parallel_ai_search: dict[str, Any] | None = None
    exa_ai_search: dict[str, Any] | None = None


class FunctionCallingConfig(In, kw_only=True):
    mode: Literal["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"] | None = None
    allowed_function_names: list[str] | None = None


class ToolConfig(In, kw_only=True):
    function_calling_config: FunctionCallingConfig | None = None
    retrieval_config: dict[str, Any] | None = None


class ThinkingConfig(In, kw_only=True):
    include_thoughts: bool | None = None
    thinking_budget: int | None = None
    thinking_level: ThinkingLevel | None = None


class GenerationConfig(In, kw_only=True):
    temperature: Temperature | None = None
    top_p: Probability | None = None
    max_output_tokens: Positive | None = None
    stop_sequences: list[str] | None = None
    response_mime_type: str | None = None
    response_schema: Raw = Raw()
    response_json_schema: Raw = Raw()
    thinking_config: ThinkingConfig | None = None
    # Accepted, never sent upstream: GigaChat has no equivalent.
    candidate_count: Positive | None = None  # above 1 refused: GigaChat answers once
    top_k: Annotated[float, Meta(ge=0)] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    response_logprobs: bool | None = None
    logprobs: int | None = None
    response_modalities: list[Modality] | None = None
    media_resolution: MediaResolution | None = None
    speech_config: dict[str, Any] | None = None
    image_config: dict[str, Any] | None = None
    enable_enhanced_civic_answers: bool | None = None


class SafetySetting(In, kw_only=True):
    category: HarmCategory | None = None
    threshold: HarmBlockThreshold | None = None
    method: HarmBlockMethod | None = None


class GenerateContentRequest(In, kw_only=True):
    contents: list[Content] = []
    model: str | None = None
    system_instruction: Content | None = None
    tools: list[Tool] | None = None
    tool_config: ToolConfig | None = None
    generation_config: GenerationConfig | None = None
    # Accepted, never sent upstream.
    safety_settings: list[SafetySetting] | None = None
    cached_content: str | None = None
    labels: dict[str, str] | None = None
    service_tier: ServiceTier | None = None
    store: bool | None = None


class CountTokensRequest(In, kw_only=True):
    """`contents` alone (the Developer API), or a whole `generateContentRequest`.

    Vertex AI also sends `systemInstruction`, `tools` and `generationConfig`
    beside `contents`; they are counted as the model would see them.
    """

    contents: list[Content] | None = None
    generate_content_request: GenerateContentRequest | None = None
    system_instruction: Content | None = None
    tools: list[Tool] | None = None
    generation_config: GenerationConfig | None = None


class EmbedContentRequest(In, kw_only=True):
    content: Content
    model: str | None = None
    task_type: TaskType | None = None
    title: str | None = None
    output_dimensionality: Positive | None = None


class BatchEmbedContentsRequest(In, kw_only=True):
    requests: list[EmbedContentRequest]


# --- responses ------------------------------------------------------------------------
# Fields Google always sends have no default; fields it leaves out when empty are UNSET.


class _Out(Struct, kw_only=True, rename="camel"):
    pass


class FunctionCallOut(_Out, kw_only=True):
    id: str | UnsetType = UNSET
    name: str
    args: dict[str, Any]


class PartOut(_Out, kw_only=True):
    text: str | UnsetType = UNSET
    thought: bool | UnsetType = UNSET
    function_call: FunctionCallOut | UnsetType = UNSET


class ContentOut(_Out, kw_only=True):
    parts: list[PartOut]
    role: str = "model"


class Candidate(_Out, kw_only=True):
    content: ContentOut
    finish_reason: str | UnsetType = UNSET
    index: int = 0


class UsageMetadata(_Out, kw_only=True):
    prompt_token_count: int
    candidates_token_count: int
    total_token_count: int
    cached_content_token_count: int | UnsetType = UNSET


class GenerateContentResponse(_Out, kw_only=True):
    candidates: list[Candidate]
    usage_metadata: UsageMetadata | UnsetType = UNSET
    model_version: str
    response_id: str


class CountTokensResponse(_Out, kw_only=True):
    total_tokens: int


class ContentEmbedding(_Out, kw_only=True):
    values: list[float]


class EmbedContentResponse(_Out, kw_only=True):
    embedding: ContentEmbedding


class BatchEmbedContentsResponse(_Out, kw_only=True):
    embeddings: list[ContentEmbedding]


class Model(_Out, kw_only=True):
    name: str
    base_model_id: str
    display_name: str
    description: str
    supported_generation_methods: list[str]


class ListModelsResponse(_Out, kw_only=True):
    models: list[Model]
    next_page_token: str | UnsetType = UNSET


class ErrorDetail(_Out, kw_only=True):
    code: int
    message: str
    status: str


class ErrorBody(_Out, kw_only=True):
    error: ErrorDetail
