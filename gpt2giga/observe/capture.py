"""Content in spans: only with the double opt-in, tool arguments only if asked, redacted, cut.

`Capture.from_settings` is None unless GPT2GIGA_OBSERVABILITY_CAPTURE_CONTENT
and at least one of _CAPTURE_MESSAGES / _CAPTURE_RESPONSES / _CAPTURE_TOOL_ARGS
are on. Redaction uses the traffic log's rules (`redact.py`: the configured
secrets, token-shaped text, the values of sensitive keys). Pure functions of
the bytes they are given; the tracer calls them off the request path.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gpt2giga.config import Settings
from gpt2giga.observe import redact

TRUNCATED = "...[truncated]"
# Where the dialects and GigaChat put tool definitions and call arguments:
# OpenAI and GigaChat `arguments`, Gemini `args`, Anthropic streams' `partial_json`,
# GigaChat v1 streams' `partial_arguments`; definitions under `tools` / `functions`.
TOOL_KEYS = frozenset(
    {"arguments", "args", "partial_json", "partial_arguments", "tools", "functions"}
)
# Anthropic's tool_use blocks carry their arguments as `input`; the Responses API
# streams them as the `delta` of its function-call-arguments events.
TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use"})

_encode = msgspec.json.Encoder().encode


def without_tool_args(value: Any) -> Any:
    """A copy of decoded JSON with tool definitions and call arguments left out."""
    if isinstance(value, list):
        return [without_tool_args(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("type")
    drop = set(TOOL_KEYS)
    if kind in TOOL_BLOCKS:
        drop.add("input")
    if isinstance(kind, str) and "function_call_arguments" in kind:
        drop.add("delta")
    return {k: without_tool_args(v) for k, v in value.items() if k not in drop}


class Capture:
    """What content goes into spans, and how it is cleaned and cut."""

    def __init__(
        self,
        *,
        messages: bool,
        responses: bool,
        tool_args: bool,
        limit: int,
        redactor: redact.Redactor | None,
    ) -> None:
        self.messages = messages
        self.responses = responses
        self.tool_args = tool_args
        self.limit = limit
        self.redactor = redactor

    @classmethod
    def from_settings(cls, settings: Settings) -> Capture | None:
        p = settings.proxy
        if not p.observability_capture_content:
            return None
        messages = p.observability_capture_messages
        responses = p.observability_capture_responses
        tool_args = p.observability_capture_tool_args
        if not (messages or responses or tool_args):
            return None
        # The default keys only, as in the FastAPI gpt2giga (not the traffic log's extra keys).
        redactor = (
            redact.Redactor(redact.secret_values(settings))
            if p.observability_redaction_enabled
            else None
        )
        return cls(
            messages=messages,
            responses=responses,
            tool_args=tool_args,
            limit=p.observability_max_content_length,
            redactor=redactor,
        )

    def cut(self, text: str) -> str:
        """At most `limit` characters, the truncation mark included."""
        if len(text) <= self.limit:
            return text
        keep = max(0, self.limit - len(TRUNCATED))
        return (text[:keep] + TRUNCATED)[: self.limit]

    def text(self, text: str) -> str:
        if self.redactor is not None:
            text = self.redactor.text(text)
        return self.cut(text)

    def value(self, value: Any) -> Any:
        """Decoded JSON, cleaned: tool arguments out unless captured, secrets masked."""
        if not self.tool_args:
            value = without_tool_args(value)
        return self.redactor.value(value) if self.redactor is not None else value

    def json(self, value: Any) -> str:
        return self.cut(_encode(self.value(value)).decode())

    def body(self, body: bytes) -> str:
        """A captured HTTP body: JSON cleaned as JSON; an event stream (or Gemini's
        streamed JSON array) element by element, since each line is a JSON value."""
        try:
            return self.json(msgspec.json.decode(body))
        except msgspec.DecodeError:
            pass
        lines = []
        for line in body.decode("utf-8", "replace").split("\n"):
            sse = line.startswith("data: ")
            payload = line[6:] if sse else line.strip().strip("[],\r")
            try:
                cleaned = _encode(self.value(msgspec.json.decode(payload))).decode()
            except msgspec.DecodeError:
                lines.append(self.redactor.text(line) if self.redactor is not None else line)
                continue
            lines.append("data: " + cleaned if sse else cleaned)
        return self.cut("\n".join(lines))
