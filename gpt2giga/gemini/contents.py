"""Gemini `contents` (the conversation) -> GigaChat messages; the text of a Content.

Pure functions over the wire structs. Function results find GigaChat's state
id through the id of the call they answer (`answer.call_id` made it), or,
when the client sent no id, through the open call of the same name.
"""

from __future__ import annotations

import msgspec

from gpt2giga import errors
from gpt2giga.gemini import wire as gem
from gpt2giga.gigachat import answer, files
from gpt2giga.gigachat import request as build
from gpt2giga.gigachat import wire as giga

# Google's Part holds its data in a oneof: exactly one of these is set
# (`thought`, `thoughtSignature` and the metadata fields go beside it).
DATA = tuple(
    (f.name, f.encode_name)
    for f in msgspec.structs.fields(gem.Part)
    if f.name not in ("thought", "thought_signature")
)


def check_parts(content: gem.Content, where: str) -> None:
    """Each part holds exactly one kind of data, as Google requires; else a 400 naming it."""
    for j, part in enumerate(content.parts):
        found = [wire for attr, wire in DATA if getattr(part, attr) is not None]
        if len(found) == 1:
            continue
        at = f"{where}.parts[{j}]"
        if not found:
            kinds = ", ".join(wire for _, wire in DATA)
            raise errors.BadRequest(f"{at}: a part needs one of {kinds}", param=at)
        raise errors.BadRequest(
            f"{at}: a part holds one kind of data, not {' and '.join(found)}", param=at
        )


class _Issued(msgspec.Struct):
    """A function call in the history, waiting for its result."""

    id: str | None
    name: str
    state: str | None


def messages(
    contents: list[gem.Content], system: gem.Content | None, found: list[files.Attachment]
) -> list[giga.ChatMessage]:
    """The conversation as hub messages; `inlineData` and `fileData` are listed in `found`."""
    system_texts = []
    if system is not None:
        check_parts(system, "systemInstruction")
        system_texts.append(_texts(system, "systemInstruction", "\n"))
    out: list[giga.ChatMessage] = []
    issued: list[_Issued] = []
    for i, content in enumerate(contents):
        check_parts(content, f"contents[{i}]")
        if content.role == "model":
            out.extend(_model_turn(content, i, issued))
        else:
            out.extend(_user_turn(content, i, issued, found))
    return build.merge_system(system_texts) + out


def _model_turn(content: gem.Content, i: int, issued: list[_Issued]) -> list[giga.ChatMessage]:
    # Streamed answers come back as one text part per chunk: they join without a separator.
    text = _texts(content, f"contents[{i}]", "")
    parts = [giga.ChatContentPart(text=text)] if text else []
    state = None
    for part in content.parts:
        call = part.function_call
        if call is None:
            continue
        parts.append(build.call_part(call.name, call.args or {}))
        call_state = answer.state_of(call.id) if call.id else None
        issued.append(_Issued(call.id, call.name, call_state))
        state = state or call_state
    if not parts:  # thoughts only: nothing GigaChat should read
        return []
    return [giga.ChatMessage(role="assistant", content=parts, tools_state_id=state)]


def _user_turn(
    content: gem.Content, i: int, issued: list[_Issued], found: list[files.Attachment]
) -> list[giga.ChatMessage]:
    """Function results first (they answer the previous model turn), then the user's text.

    The user message also carries the media of the results: GigaChat takes
    files on user messages.
    """
    out = []
    texts: list[str] = []
    refs: list[giga.ChatContentFile] = []
    for j, part in enumerate(content.parts):
        result = part.function_response
        if result is not None:
            for k, media in enumerate(result.parts or ()):
                at = f"contents[{i}].parts[{j}].functionResponse.parts[{k}]"
                refs.append(_media(media.inline_data, media.file_data, at, found))
            state = _state_for(result, issued)
            output = result.response if result.response is not None else {}
            part_ = build.result_part(result.name, output)
            out.append(giga.ChatMessage(role="tool", content=[part_], tools_state_id=state))
        elif part.inline_data is not None or part.file_data is not None:
            refs.append(
                _media(part.inline_data, part.file_data, f"contents[{i}].parts[{j}]", found)
            )
        elif part.text and not part.thought:
            texts.append(part.text)
    if texts or refs:
        out.append(build.text_message("user", "\n".join(texts), refs))
    return out


def _media(
    blob: gem.Blob | None, uri: gem.FileData | None, where: str, found: list[files.Attachment]
) -> giga.ChatContentFile:
    if blob is not None:
        if not blob.data:
            raise errors.BadRequest(f"{where}: inlineData needs data", param=f"{where}.inlineData")
        return files.attach(
            found, where, data=blob.data, mime=blob.mime_type, filename=blob.display_name
        )
    if uri is None or not uri.file_uri:
        raise errors.BadRequest(f"{where}: the part has no data", param=where)
    return files.attach(
        found, where, url=uri.file_uri, mime=uri.mime_type, filename=uri.display_name
    )


def _state_for(result: gem.FunctionResponse, issued: list[_Issued]) -> str | None:
    """GigaChat's state for a result: from its call's id, else the first open call of its name."""
    match = next((c for c in issued if result.id and c.id == result.id), None)
    match = match or next((c for c in issued if c.name == result.name), None)
    if match is not None:
        issued.remove(match)
        return match.state or (answer.state_of(result.id) if result.id else None)
    return answer.state_of(result.id) if result.id else None


def _texts(content: gem.Content, where: str, sep: str) -> str:
    """The text of a model turn or the system instruction; media there is refused."""
    texts = []
    for j, part in enumerate(content.parts):
        media = "inlineData" if part.inline_data is not None else None
        media = media or ("fileData" if part.file_data is not None else None)
        if media is not None:
            raise errors.Unsupported(
                f"{where}.parts[{j}]: {media} is accepted only in user turns",
                param=f"{where}.parts[{j}].{media}",
            )
        if part.text and not part.thought:
            texts.append(part.text)
    return sep.join(texts)


def embedding_text(content: gem.Content, where: str) -> str:
    """The one text GigaChat embeds for a Content: text parts only."""
    check_parts(content, where)
    texts = []
    for j, part in enumerate(content.parts):
        if part.text is None:
            raise errors.Unsupported(
                f"{where}.parts[{j}]: only text parts can be embedded", param=f"{where}.parts[{j}]"
            )
        texts.append(part.text)
    text = "\n".join(texts)
    if not text:
        raise errors.BadRequest(f"{where} has no text to embed", param=f"{where}.parts")
    return text
