"""OpenAI Responses API stream events, as the openai SDK's `ResponseStreamEvent` union types them.

Each event is tagged by its `type` (also the SSE event name) and carries the
`sequence_number` the SDK orders them by. Imports only msgspec and typing.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from gpt2giga.openai.responses.wire import (
    OutputItem,
    OutputTextOut,
    Response,
    SummaryText,
)


class StreamEvent(Struct, kw_only=True, tag_field="type"):
    sequence_number: int


class ResponseCreated(StreamEvent, kw_only=True, tag="response.created"):
    response: Response


class ResponseInProgress(StreamEvent, kw_only=True, tag="response.in_progress"):
    response: Response


class ResponseCompleted(StreamEvent, kw_only=True, tag="response.completed"):
    response: Response


class ResponseIncomplete(StreamEvent, kw_only=True, tag="response.incomplete"):
    response: Response


class ResponseFailed(StreamEvent, kw_only=True, tag="response.failed"):
    response: Response


class OutputItemAdded(StreamEvent, kw_only=True, tag="response.output_item.added"):
    output_index: int
    item: OutputItem


class OutputItemDone(StreamEvent, kw_only=True, tag="response.output_item.done"):
    output_index: int
    item: OutputItem


class ItemEvent(StreamEvent, kw_only=True):
    item_id: str
    output_index: int


class ContentPartAdded(ItemEvent, kw_only=True, tag="response.content_part.added"):
    content_index: int
    part: OutputTextOut


class ContentPartDone(ItemEvent, kw_only=True, tag="response.content_part.done"):
    content_index: int
    part: OutputTextOut


class OutputTextDelta(ItemEvent, kw_only=True, tag="response.output_text.delta"):
    content_index: int
    delta: str
    logprobs: list[dict[str, Any]] = []


class OutputTextDone(ItemEvent, kw_only=True, tag="response.output_text.done"):
    content_index: int
    text: str
    logprobs: list[dict[str, Any]] = []


class SummaryPartAdded(ItemEvent, kw_only=True, tag="response.reasoning_summary_part.added"):
    summary_index: int
    part: SummaryText


class SummaryPartDone(ItemEvent, kw_only=True, tag="response.reasoning_summary_part.done"):
    summary_index: int
    part: SummaryText


class SummaryTextDelta(ItemEvent, kw_only=True, tag="response.reasoning_summary_text.delta"):
    summary_index: int
    delta: str


class SummaryTextDone(ItemEvent, kw_only=True, tag="response.reasoning_summary_text.done"):
    summary_index: int
    text: str


class ArgumentsDelta(ItemEvent, kw_only=True, tag="response.function_call_arguments.delta"):
    delta: str


class ArgumentsDone(ItemEvent, kw_only=True, tag="response.function_call_arguments.done"):
    arguments: str


class WebSearchInProgress(ItemEvent, kw_only=True, tag="response.web_search_call.in_progress"):
    pass


class WebSearchSearching(ItemEvent, kw_only=True, tag="response.web_search_call.searching"):
    pass


class WebSearchCompleted(ItemEvent, kw_only=True, tag="response.web_search_call.completed"):
    pass


class ImageInProgress(ItemEvent, kw_only=True, tag="response.image_generation_call.in_progress"):
    pass


class ImageGenerating(ItemEvent, kw_only=True, tag="response.image_generation_call.generating"):
    pass


class ImageCompleted(ItemEvent, kw_only=True, tag="response.image_generation_call.completed"):
    pass


class ErrorEvent(StreamEvent, kw_only=True, tag="error"):
    code: str | None
    message: str
    param: str | None
