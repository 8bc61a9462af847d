"""What GigaChat accepts as a file, and a client's attachment on its way to becoming one.

Pure: the one table of supported types, data URLs, base64 sizes, magic
numbers, upload file names. Translators list a request's attachments here
(`attach`), each with the `files` entry that will carry its GigaChat id;
`uploads.py` fetches, checks and uploads them and fills the ids in.
No I/O, no clock.
"""

from __future__ import annotations

import binascii
import re
from typing import Literal, NamedTuple

import msgspec

from gpt2giga import errors
from gpt2giga.gigachat import wire as giga

Kind = Literal["image", "text"]


class FileType(NamedTuple):
    kind: Kind
    extension: str


# GigaChat's files API (`POST /files`), as its API reference lists the formats,
# in GigaChat's own spellings (`application/epub`, `application/ppt`). GIF and
# WEBP are not on the list: they are refused, naming the type, rather than
# sent to fail upstream. Audio (also on GigaChat's list) is not accepted here.
TYPES: dict[str, FileType] = {
    "image/jpeg": FileType("image", "jpg"),
    "image/png": FileType("image", "png"),
    "image/tiff": FileType("image", "tiff"),
    "image/bmp": FileType("image", "bmp"),
    "text/plain": FileType("text", "txt"),
    "application/pdf": FileType("text", "pdf"),
    "application/msword": FileType("text", "doc"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": FileType(
        "text", "docx"
    ),
    "application/epub": FileType("text", "epub"),
    "application/ppt": FileType("text", "ppt"),
    "application/pptx": FileType("text", "pptx"),
}
# The registered spellings clients send for the same formats.
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
    "application/epub+zip": "application/epub",
    "application/vnd.ms-powerpoint": "application/ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        "application/pptx"
    ),
}
EXTENSIONS = {t.extension: mime for mime, t in TYPES.items()} | {
    "jpeg": "image/jpeg",
    "tif": "image/tiff",
}
# Labels that say only "bytes": the type is read from the file name or the bytes.
GENERIC = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/unknown"})
# The first bytes of formats a client may send unlabelled (zip-based documents
# cannot be told apart this way; their file name says what they are).
MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"BM", "image/bmp"),
    (b"%PDF-", "application/pdf"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
ACCEPTED = "JPEG, PNG, TIFF and BMP images; TXT, PDF, DOC, DOCX, EPUB, PPT and PPTX documents"

_UNSAFE_NAME = re.compile(r"[^\w.\- ()]+")


class Attachment(msgspec.Struct, kw_only=True):
    """One image or document in a client request, before it is a GigaChat file.

    Exactly one of `url`, `data` (base64) and `text` (a plain-text document) is set.
    """

    where: str  # the part's place in the request, for messages and `param`
    file: giga.ChatContentFile  # sent upstream; its id is filled in after the upload
    url: str | None = None
    data: str | None = None
    text: str | None = None
    mime: str | None = None  # the type the client declared
    filename: str | None = None
    image: bool = False  # sent as an image part: refused when images are off


def attach(
    found: list[Attachment],
    where: str,
    *,
    url: str | None = None,
    data: str | None = None,
    text: str | None = None,
    mime: str | None = None,
    filename: str | None = None,
    image: bool = False,
) -> giga.ChatContentFile:
    """Record an attachment; the returned `files` entry goes where the client put it.

    A `data:` URL is read as the base64 data it carries.
    """
    if url is not None and url[:5].lower() == "data:":
        mime, data = data_url(url, where)
        url = None
    file = giga.ChatContentFile(id="")
    found.append(
        Attachment(
            where=where,
            file=file,
            url=url,
            data=data,
            text=text,
            mime=mime,
            filename=filename,
            image=image,
        )
    )
    return file


def data_url(url: str, where: str) -> tuple[str, str]:
    """(type, base64 data) of a `data:<type>;base64,<data>` URL."""
    head, sep, payload = url[5:].partition(",")
    params = head.split(";")
    if not sep or "base64" not in (p.strip().lower() for p in params[1:]):
        raise errors.BadRequest(
            f"{where}: only base64 data URLs are accepted (data:<type>;base64,<data>)",
            param=where,
        )
    return params[0].strip(), payload


def base64_size(value: str) -> int:
    """The decoded size of base64 text, read from its length alone (line breaks count as data)."""
    padding = 2 if value.endswith("==") else 1 if value.endswith("=") else 0
    return len(value) * 3 // 4 - padding


# URL-safe base64 (`-`, `_`) read as the standard alphabet.
_URLSAFE = str.maketrans("-_", "+/")


def decode_base64(value: str, where: str) -> bytes:
    """Standard or URL-safe base64 (google-genai sends the latter), padding optional.

    Line breaks (MIME's 76-column lines) are allowed; any other character
    outside the alphabet is refused rather than skipped, as Python's lenient
    decoder would, uploading whatever bytes were left.
    """
    try:
        data = binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):  # ValueError: not ASCII
        text = "".join(value.split()).translate(_URLSAFE)
        try:
            data = binascii.a2b_base64(text + "=" * (-len(text) % 4), strict_mode=True)
        except (binascii.Error, ValueError):
            raise errors.BadRequest(f"{where}: the data is not valid base64", param=where) from None
    if not data:
        raise errors.BadRequest(f"{where}: the data is empty", param=where)
    return data


def normalize(mime: str | None) -> str:
    """A declared type without parameters, in GigaChat's spelling when it has one."""
    base = (mime or "").partition(";")[0].strip().lower()
    return ALIASES.get(base, base)


def extension_type(name: str | None) -> str | None:
    """The type a file name (or URL path) says, by its extension."""
    if not name:
        return None
    stem, dot, ext = name.rpartition("/")[2].rpartition(".")
    return EXTENSIONS.get(ext.lower()) if dot and stem else None


def sniff(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in MAGIC if head.startswith(magic)), None)


def known_type(declared: str | None, filename: str | None) -> str:
    """The type before the bytes are read: declared, else by the file name ("" if neither)."""
    mime = normalize(declared)
    if mime in GENERIC:
        return extension_type(filename) or ""
    return mime


def file_type(mime: str, where: str) -> FileType:
    """GigaChat's entry for `mime`, or an Unsupported naming the type."""
    found = TYPES.get(mime)
    if found is None:
        what = f"{mime} files are" if mime else "Files of an unknown type are"
        raise errors.Unsupported(
            f"{where}: {what} not supported; GigaChat accepts {ACCEPTED}", param=where
        )
    return found


def upload_name(filename: str | None, mime: str, digest: str) -> str:
    """The name sent with an upload: the client's (made safe), ending in the type's extension."""
    name = _UNSAFE_NAME.sub("_", (filename or "").replace("\\", "/").rpartition("/")[2])
    name = name.strip(" .")[:120] or f"attachment-{digest[:16]}"
    if extension_type(name) != mime:
        name += "." + TYPES[mime].extension
    return name
