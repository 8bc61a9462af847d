"""A GigaChat call's attributes in both vocabularies of LLM tooling: OpenInference and OTel GenAI.

OpenInference (`openinference.span.kind`, `llm.*`, `input.value`) is what
Phoenix reads; the OpenTelemetry GenAI semantic conventions (`gen_ai.*`) are
what Tempo, Jaeger, Langfuse and Datadog read. Both are written from the same
facts: the JSON the gateway sent and what `gigachat.traced.describe` read back
from the answer. Content only through a `Capture`. Pure functions.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gpt2giga.observe.capture import Capture
from gpt2giga.observe.spans import Answer

Attributes = dict[str, Any]

PROVIDER = "gigachat"
# GenAI operation names (gen_ai.operation.name) and OpenInference span kinds.
OPERATION = {"chat": "chat", "embeddings": "embeddings"}
SPAN_KIND = {"chat": "LLM", "embeddings": "EMBEDDING"}
# Generation settings on both contracts: v1 top level, v2 under `model_options`.
REQUEST_NUMBERS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
}
# What the body holds besides settings: messages, tools and the like are content.
NOT_PARAMETERS = frozenset({"model", "messages", "functions", "tools", "input", "attachments"})

_encode = msgspec.json.Encoder(order="sorted").encode


def sent(body: bytes) -> dict[str, Any]:
    """The JSON the gateway sent GigaChat, decoded; {} when there is none."""
    if not body:
        return {}
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def invocation_parameters(body: dict[str, Any]) -> dict[str, Any]:
    """Generation settings only: a response schema is reduced to its type (it may quote content)."""
    params = {k: v for k, v in body.items() if k not in NOT_PARAMETERS}
    options = params.get("model_options")
    if isinstance(options, dict) and isinstance(options.get("response_format"), dict):
        fmt = options["response_format"]
        params["model_options"] = {**options, "response_format": {"type": fmt.get("type")}}
    return params


def request_attributes(operation: str, model: str, body: dict[str, Any]) -> Attributes:
    attributes: Attributes = {
        "openinference.span.kind": SPAN_KIND[operation],
        "llm.provider": PROVIDER,
        "llm.system": PROVIDER,
        "llm.model_name": model,
        "gen_ai.operation.name": OPERATION[operation],
        "gen_ai.provider.name": PROVIDER,
        "gen_ai.request.model": model,
    }
    if operation == "embeddings":
        attributes["embedding.model_name"] = model
        return attributes
    params = invocation_parameters(body)
    attributes["llm.invocation_parameters"] = _encode(params).decode()
    options = params.get("model_options")
    numbers = options if isinstance(options, dict) else params
    for name, attribute in REQUEST_NUMBERS.items():
        if isinstance(numbers.get(name), int | float):
            attributes[attribute] = numbers[name]
    if body.get("stream"):
        attributes["gen_ai.request.stream"] = True
    return attributes


def answer_attributes(answer: Answer, started: float) -> Attributes:
    attributes: Attributes = {}
    if answer.model:
        attributes["gen_ai.response.model"] = answer.model
    if answer.response_id:
        attributes["gen_ai.response.id"] = answer.response_id
    if answer.finish_reasons:
        attributes["gen_ai.response.finish_reasons"] = list(answer.finish_reasons)
    if answer.input_tokens is not None and answer.output_tokens is not None:
        attributes.update(
            {
                "gen_ai.usage.input_tokens": answer.input_tokens,
                "gen_ai.usage.output_tokens": answer.output_tokens,
                "llm.token_count.prompt": answer.input_tokens,
                "llm.token_count.completion": answer.output_tokens,
                "llm.token_count.total": answer.input_tokens + answer.output_tokens,
            }
        )
    if answer.first_token is not None:
        attributes["gen_ai.response.time_to_first_chunk"] = round(answer.first_token - started, 6)
    if answer.tool_calls:
        # Names are not content (the FastAPI gpt2giga listed them too); arguments are.
        attributes["llm.tool_calls.names"] = [c.name for c in answer.tool_calls]
    return attributes


def _text(content: Any) -> str | None:
    """A message's text: a string, or the text parts of a list (v2 parts, other shapes)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        ]
        return "".join(texts) if texts else None
    return None


def content_attributes(capture: Capture, body: dict[str, Any], answer: Answer | None) -> Attributes:
    """input/output values and the flattened messages Phoenix shows, as far as opted in."""
    attributes: Attributes = {}
    messages = body.get("messages")
    if capture.messages and isinstance(messages, list):
        attributes["input.value"] = capture.json(messages)
        attributes["input.mime_type"] = "application/json"
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                continue
            prefix = f"llm.input_messages.{i}.message"
            attributes[f"{prefix}.role"] = str(message.get("role", ""))
            text = _text(message.get("content"))
            if text is not None:
                attributes[f"{prefix}.content"] = capture.text(text)
    if answer is None:
        return attributes
    prefix = "llm.output_messages.0.message"
    if capture.responses:
        attributes["output.value"] = capture.text(answer.text)
        attributes["output.mime_type"] = "text/plain"
        attributes[f"{prefix}.role"] = "assistant"
        attributes[f"{prefix}.content"] = capture.text(answer.text)
    if capture.tool_args:
        for call in answer.tool_calls:
            key = f"{prefix}.tool_calls.{call.position}.tool_call.function"
            attributes[f"{key}.name"] = call.name
            attributes[f"{key}.arguments"] = capture.text(call.arguments)
    return attributes
