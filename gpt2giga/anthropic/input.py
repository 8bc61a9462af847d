"""Anthropic Messages' conversation -> GigaChat hub messages, pure.

The system prompt (top-level and system-role messages) becomes the one leading
system message; tool results go first in their user turn, as GigaChat wants
them right after the calls; images and documents are listed for upload, never
fetched here.
"""

from __future__ import annotations

from gpt2giga import errors
from gpt2giga.anthropic import wire as ant
from gpt2giga.gigachat import answer, files
from gpt2giga.gigachat import request as build
from gpt2giga.gigachat import wire as giga

# Claude Code puts a per-run `x-anthropic-billing-header: cc_version=…; cch=…;`
# line into the system prompt: metadata for Anthropic's billing, not prompt.
BILLING_HEADER = "x-anthropic-billing-header:"


def messages(req: ant.CountTokensRequest, found: list[files.Attachment]) -> list[giga.ChatMessage]:
    """The conversation as hub messages; images and documents are listed in `found`."""
    if not req.messages:
        raise errors.BadRequest("`messages` must contain at least one message", param="messages")
    system = _system(req.system)
    out: list[giga.ChatMessage] = []
    names: dict[str, str] = {}  # tool_use id -> tool name, for the results that follow
    for i, msg in enumerate(req.messages):
        if isinstance(msg, ant.SystemMessage):
            # GigaChat takes one system message, first: later ones join it, in order.
            system += _system(msg.content)
        elif isinstance(msg, ant.AssistantMessage):
            out.append(_assistant(msg, names))
        else:
            out.extend(_user(msg, f"messages[{i}]", names, found))
    return build.merge_system(system) + out


def _system(content: str | list[ant.TextBlock] | None) -> list[str]:
    texts = [content] if isinstance(content, str) else [b.text for b in content or ()]
    return [_without_billing(t) for t in texts]


def _without_billing(text: str) -> str:
    if BILLING_HEADER not in text:
        return text
    return "\n".join(line for line in text.split("\n") if not line.startswith(BILLING_HEADER))


def _user(
    msg: ant.UserMessage, where: str, names: dict[str, str], found: list[files.Attachment]
) -> list[giga.ChatMessage]:
    """Tool results first (GigaChat wants them right after the calls), then the user's text.

    The user message also carries the tool results' images and documents:
    GigaChat takes files on user messages.
    """
    if isinstance(msg.content, str):
        return [build.text_message("user", msg.content)]
    results: list[giga.ChatMessage] = []
    texts: list[str] = []
    refs: list[giga.ChatContentFile] = []
    for j, block in enumerate(msg.content):
        if isinstance(block, ant.ToolResultBlock):
            results.append(_tool_result(block, names, f"{where}.content[{j}]", found, refs))
        else:
            _block(block, where, j, found, texts, refs)
    if texts or refs or not results:
        results.append(build.text_message("user", "\n\n".join(texts), refs))
    return results


def _block(
    block: ant.ResultBlock,
    where: str,
    j: int,
    found: list[files.Attachment],
    texts: list[str],
    refs: list[giga.ChatContentFile],
) -> None:
    """Block `j` of the content at `where`: its text into `texts`, or its file into `refs`."""
    if isinstance(block, ant.TextBlock):
        texts.append(block.text)
    elif isinstance(block, ant.SearchResultBlock):
        body = "\n".join(b.text for b in block.content)
        texts.append(f"{block.title} ({block.source})\n{body}")
    else:
        refs.append(_attach(block, f"{where}.content[{j}]", found))


def _attach(
    block: ant.ImageBlock | ant.DocumentBlock, where: str, found: list[files.Attachment]
) -> giga.ChatContentFile:
    source, image = block.source, isinstance(block, ant.ImageBlock)
    name = block.title if isinstance(block, ant.DocumentBlock) else None
    if isinstance(source, ant.Base64Source):
        mime = source.media_type
        return files.attach(found, where, data=source.data, mime=mime, filename=name, image=image)
    if isinstance(source, ant.URLSource):
        return files.attach(found, where, url=source.url, filename=name, image=image)
    if isinstance(source, ant.PlainTextSource):
        return files.attach(found, where, text=source.data, mime="text/plain", filename=name)
    if isinstance(source, ant.FileSource):
        why = "file_id refers to Anthropic's Files API, which GigaChat does not share"
    else:
        why = "content documents are not supported; send base64, text or url"
    raise errors.Unsupported(f"{where}: {why}", param=f"{where}.source")


def _tool_result(
    block: ant.ToolResultBlock,
    names: dict[str, str],
    where: str,
    found: list[files.Attachment],
    refs: list[giga.ChatContentFile],
) -> giga.ChatMessage:
    # An id the history never issued: the latest call is the best guess for its name.
    name = names.get(block.tool_use_id) or next(reversed(names.values()), "function")
    texts = [block.content] if isinstance(block.content, str) else []
    for k, inner in enumerate(block.content if isinstance(block.content, list) else ()):
        _block(inner, where, k, found, texts, refs)
    text = "\n".join(texts)
    output: object = {"error": text} if block.is_error else text
    return giga.ChatMessage(
        role="tool",
        content=[build.result_part(name, output)],
        tools_state_id=answer.state_of(block.tool_use_id),
    )


def _assistant(msg: ant.AssistantMessage, names: dict[str, str]) -> giga.ChatMessage:
    if isinstance(msg.content, str):
        return build.text_message("assistant", msg.content)
    texts: list[str] = []
    calls: list[giga.ChatContentPart] = []
    state = None
    for block in msg.content:
        if isinstance(block, ant.TextBlock):
            texts.append(block.text)
        elif isinstance(block, ant.ToolUseBlock):
            names[block.id] = block.name
            calls.append(build.call_part(block.name, block.input))
            state = state or answer.state_of(block.id)
        # Thinking blocks are GigaChat's own past reasoning: it does not take them back.
    text = "".join(texts)
    parts = [giga.ChatContentPart(text=text)] if text or not calls else []
    return giga.ChatMessage(role="assistant", content=parts + calls, tools_state_id=state)
