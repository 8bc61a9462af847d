"""OpenAI Responses input items -> GigaChat hub messages, pure.

Items are decoded one at a time (the SDK's easy messages carry no `type`), so
a bad item is named by its place: `$.input[3].content[0].type`. System and
developer texts are collected for the one leading system message; function
calls join the assistant message before them, as GigaChat wants one
assistant turn per answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import msgspec

from gpt2giga import errors, fields
from gpt2giga.gigachat import answer, files
from gpt2giga.gigachat import request as build
from gpt2giga.gigachat import wire as giga
from gpt2giga.openai.responses import wire as rsp

T = TypeVar("T")

_decode_type = msgspec.json.Decoder(rsp.ItemType).decode
ITEMS: dict[str, type[rsp.InputItem]] = {
    "message": rsp.Message,
    "function_call": rsp.FunctionCall,
    "function_call_output": rsp.FunctionCallOutput,
    "custom_tool_call": rsp.CustomToolCall,
    "custom_tool_call_output": rsp.CustomToolCallOutput,
}
_DECODERS: dict[str, Callable[[bytes], rsp.InputItem]] = {
    kind: msgspec.json.Decoder(struct).decode for kind, struct in ITEMS.items()
}
# Items a client keeps in its history that hold nothing GigaChat could read:
# reasoning (GigaChat takes none back) and the traces of tools it did not run.
SKIPPED = frozenset(
    {
        "reasoning", "web_search_call", "image_generation_call", "file_search_call",
        "code_interpreter_call", "computer_call", "computer_call_output", "local_shell_call",
        "local_shell_call_output", "shell_call", "shell_call_output", "apply_patch_call",
        "apply_patch_call_output", "mcp_list_tools", "mcp_call", "mcp_approval_request",
        "mcp_approval_response", "tool_search_call", "tool_search_output", "compaction",
    }
)  # fmt: skip
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class Conversation(msgspec.Struct, kw_only=True):
    system: list[str] = []
    messages: list[giga.ChatMessage] = []
    calls: dict[str, str] = {}  # call_id -> function name (flat, as the tools were given)
    attachments: list[files.Attachment] = []
    ignored: list[str] = []  # the items' unknown fields: `input[].x`


def decoded(decode: Callable[[bytes], T], raw: msgspec.Raw, where: str) -> T:
    """Decode one raw part of the request; a bad value is named by its path in the body."""
    try:
        return decode(raw)
    except msgspec.ValidationError as exc:
        text, sep, path = str(exc).rpartition(" - at `$")
        if not sep:
            text, path = str(exc), ""
        path = where + path.rstrip("`")
        missing = re.search(r"missing required field `([^`]+)`", text)
        param = f"{path}.{missing.group(1)}" if missing else path
        raise errors.BadRequest(f"Invalid request: {text} - at `$.{path}`", param=param) from None


def flat_name(namespace: str, name: str, taken: dict[str, tuple[str | None, str]]) -> str:
    """One function name for a namespaced tool: Codex's MCP spelling `mcp__server__tool`."""
    sep = "" if namespace.endswith("_") else "__"
    flat = _UNSAFE.sub("_", f"{namespace}{sep}{name}")
    base, n = flat, 2
    while flat in taken and taken[flat] != (namespace, name):
        flat, n = f"{base}_{n}", n + 1
    return flat


def convert(
    value: str | list[msgspec.Raw],
    names: dict[str, tuple[str | None, str]],
    calls: dict[str, str],
) -> Conversation:
    """`input` as hub messages; `names` maps flat tool names to (namespace, name)."""
    if isinstance(value, str):
        return Conversation(messages=[build.text_message("user", value)], calls=dict(calls))
    if not value:
        raise errors.BadRequest("`input` must not be empty", param="input")
    reader = _Reader(names, calls)
    for i, raw in enumerate(value):
        kind = decoded(_decode_type, raw, f"input[{i}]").type
        decode = _DECODERS.get(kind)
        if decode is not None:
            reader.item(decoded(decode, raw, f"input[{i}]"), i)
            reader.out.ignored += fields.within(raw, ITEMS[kind], "input[]")
        elif kind == "item_reference":
            raise errors.Unsupported(
                "item_reference input items are not supported; send the items themselves",
                param=f"input[{i}]",
            )
        elif kind not in SKIPPED:
            raise errors.BadRequest(
                f"input[{i}]: unknown item type {kind!r}", param=f"input[{i}].type"
            )
    reader.flush()
    reader.out.ignored = list(dict.fromkeys(reader.out.ignored))
    return reader.out


class _Reader:
    def __init__(self, names: dict[str, tuple[str | None, str]], calls: dict[str, str]) -> None:
        self._names = names
        self._by_client = {client: flat for flat, client in names.items()}
        self.out = Conversation(calls=dict(calls))
        # The assistant message that function calls right after it belong to.
        self._assistant: giga.ChatMessage | None = None
        # Files from tool outputs: a user message after the outputs carries them,
        # since GigaChat reads files on user messages and wants results right after calls.
        self._held: list[giga.ChatContentFile] = []

    def item(self, item: rsp.InputItem, i: int) -> None:
        found = self.out.attachments
        if isinstance(item, (rsp.FunctionCallOutput, rsp.CustomToolCallOutput)):
            name = None
            if isinstance(item, rsp.FunctionCallOutput) and item.name:
                name = self._flat(item.name, item.namespace)
            text, refs = _content(item.output, f"input[{i}].output", found)
            self._result(item.call_id, name, text)
            self._held += refs
            return
        if isinstance(item, rsp.Message):
            self._message(item, i)
            return
        self.flush()
        if isinstance(item, rsp.FunctionCall):
            flat = self._flat(item.name, item.namespace)
            self._call(
                item.call_id,
                flat,
                build.call_arguments(item.arguments, f"input[{i}]", f"input[{i}].arguments"),
            )
        else:
            self._call(item.call_id, item.name, {"input": item.input})

    def flush(self) -> None:
        """Tool outputs' files, as a user message of their own."""
        if self._held:
            self.out.messages.append(build.text_message("user", "", self._held))
            self._held = []
            self._assistant = None

    def _message(self, msg: rsp.Message, i: int) -> None:
        where = f"input[{i}].content"
        if msg.role == "user":  # it carries the tool outputs' files before its own
            text, refs = _content(msg.content, where, self.out.attachments)
            message = build.text_message("user", text, self._held + refs)
            self._held = []
        else:
            self.flush()
            text, _ = _content(msg.content, where, None)
            if msg.role in ("system", "developer"):
                self.out.system.append(text)
                return
            message = build.text_message(msg.role, text)
        self.out.messages.append(message)
        self._assistant = message if msg.role == "assistant" else None

    def _flat(self, name: str, namespace: str | None) -> str:
        if namespace is None or namespace == name:
            return name
        return self._by_client.get((namespace, name)) or flat_name(namespace, name, self._names)

    def _call(self, call_id: str, name: str, arguments: object) -> None:
        self.out.calls[call_id] = name
        message = self._assistant
        if message is None:
            message = giga.ChatMessage(role="assistant", content=[])
            self.out.messages.append(message)
            self._assistant = message
        assert isinstance(message.content, list)
        if message.content and message.content[0].text == "" and len(message.content) == 1:
            message.content.clear()  # an empty text part only stood in for content
        message.content.append(build.call_part(name, arguments))
        message.tools_state_id = message.tools_state_id or answer.state_of(call_id)

    def _result(self, call_id: str, name: str | None, output: str) -> None:
        calls = self.out.calls
        # An id the history never issued: the latest call is the best guess for its name.
        name = name or calls.get(call_id) or next(reversed(calls.values()), "function")
        part = build.result_part(name, output)
        self.out.messages.append(
            giga.ChatMessage(role="tool", content=[part], tools_state_id=answer.state_of(call_id))
        )
        self._assistant = None


def _content(
    content: str | list[rsp.ContentPart], where: str, found: list[files.Attachment] | None
) -> tuple[str, list[giga.ChatContentFile]]:
    """The text of `content` and its images and files (None: they are not accepted here)."""
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    refs: list[giga.ChatContentFile] = []
    for j, part in enumerate(content):
        if isinstance(part, (rsp.InputText, rsp.OutputText)):
            texts.append(part.text)
        elif isinstance(part, rsp.Refusal):
            texts.append(part.refusal)
        elif not isinstance(part, (rsp.InputImage, rsp.InputFile)):
            raise errors.Unsupported(
                f"{where}[{j}]: {part.__struct_config__.tag} content is not supported "
                "by this gateway",
                param=f"{where}[{j}]",
            )
        elif found is None:
            raise errors.BadRequest(
                f"{where}[{j}]: {part.__struct_config__.tag} is accepted only in user "
                "messages and tool outputs",
                param=f"{where}[{j}]",
            )
        else:
            refs.append(_attach(part, f"{where}[{j}]", found))
    return "\n".join(texts), refs


def _attach(
    part: rsp.InputImage | rsp.InputFile, where: str, found: list[files.Attachment]
) -> giga.ChatContentFile:
    if isinstance(part, rsp.InputImage):
        if part.image_url:
            return files.attach(found, where, url=part.image_url, image=True)
    elif part.file_data:
        data = part.file_data
        is_url = data[:5].lower() == "data:"
        return files.attach(
            found, where, url=data if is_url else None, data=None if is_url else data,
            filename=part.filename,
        )  # fmt: skip
    elif part.file_url:
        return files.attach(found, where, url=part.file_url, filename=part.filename)
    if part.file_id:
        raise errors.Unsupported(
            f"{where}: file_id refers to OpenAI's Files API, which GigaChat does not share; "
            "send the data or a URL",
            param=f"{where}.file_id",
        )
    needed = "image_url" if isinstance(part, rsp.InputImage) else "file_data or file_url"
    raise errors.BadRequest(f"{where}: {part.__struct_config__.tag} needs {needed}", param=where)
