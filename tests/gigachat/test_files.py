"""gigachat/files: the one table of GigaChat file types, data URLs, base64 sizes, names."""

from __future__ import annotations

import base64

import pytest

from gpt2giga import errors
from gpt2giga.gigachat import files
from gpt2giga.gigachat import wire as giga

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8


def test_the_table_is_gigachats_list_of_images_and_documents() -> None:
    kinds = {mime: t.kind for mime, t in files.TYPES.items()}
    assert sorted(m for m, k in kinds.items() if k == "image") == [
        "image/bmp", "image/jpeg", "image/png", "image/tiff",
    ]  # fmt: skip
    assert sorted(m for m, k in kinds.items() if k == "text") == [
        "application/epub",
        "application/msword",
        "application/pdf",
        "application/ppt",
        "application/pptx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "text/plain",
    ]


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("image/png", "image/png"),
        ("IMAGE/JPG", "image/jpeg"),
        ("image/jpeg; q=1", "image/jpeg"),
        ("text/plain; charset=utf-8", "text/plain"),
        ("application/epub+zip", "application/epub"),
        ("application/vnd.ms-powerpoint", "application/ppt"),
        (None, ""),
    ],
)
def test_declared_types_are_read_in_gigachats_spelling(declared: str | None, expected: str) -> None:
    assert files.normalize(declared) == expected


@pytest.mark.parametrize(
    ("declared", "filename", "expected"),
    [
        ("image/png", "x.pdf", "image/png"),  # a declared type wins
        (None, "Report.PDF", "application/pdf"),
        ("application/octet-stream", "scan.tif", "image/tiff"),
        ("", "notes.txt", "text/plain"),
        (None, "no-extension", ""),
        (None, ".bashrc", ""),
        (None, None, ""),
    ],
)
def test_known_type_falls_back_to_the_file_name(
    declared: str | None, filename: str | None, expected: str
) -> None:
    assert files.known_type(declared, filename) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\0", "image/gif"),
        (b"RIFF\x10\0\0\0WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"BM6\0\0\0", "image/bmp"),
        (b"II*\0\x08\0", "image/tiff"),
        (b"PK\x03\x04", None),
        (b"", None),
    ],
)
def test_sniff_reads_magic_numbers(head: bytes, expected: str | None) -> None:
    assert files.sniff(head) == expected


@pytest.mark.parametrize("mime", ["image/gif", "image/webp", "text/html", "audio/mp3"])
def test_a_type_gigachat_does_not_take_is_unsupported_naming_it(mime: str) -> None:
    with pytest.raises(errors.Unsupported) as exc:
        files.file_type(mime, "messages[0].content[1]")
    assert exc.value.status == 400
    assert exc.value.param == "messages[0].content[1]"
    assert exc.value.message.startswith(f"messages[0].content[1]: {mime} files are not supported")
    assert "JPEG, PNG, TIFF and BMP images" in exc.value.message


def test_an_unknown_type_says_so() -> None:
    with pytest.raises(errors.Unsupported, match="Files of an unknown type are not supported"):
        files.file_type("", "x")


def test_attach_reads_a_data_url_and_returns_the_entry_to_place() -> None:
    found: list[files.Attachment] = []
    entry = files.attach(found, "m[0]", url="data:image/png;base64,iVBORw0K", image=True)
    assert entry == giga.ChatContentFile(id="")
    [item] = found
    assert item.file is entry
    assert (item.url, item.data, item.mime, item.image) == (None, "iVBORw0K", "image/png", True)


def test_attach_keeps_a_remote_url() -> None:
    found: list[files.Attachment] = []
    files.attach(found, "m[0]", url="https://example.com/a.png", filename="a.png")
    assert (found[0].url, found[0].data, found[0].filename) == (
        "https://example.com/a.png", None, "a.png",
    )  # fmt: skip


@pytest.mark.parametrize(
    "url", ["data:image/png,rawbytes", "data:image/png;base64", "data:;charset=x,abc"]
)
def test_only_base64_data_urls_are_accepted(url: str) -> None:
    with pytest.raises(errors.BadRequest, match="only base64 data URLs") as exc:
        files.attach([], "input[0].content[0]", url=url)
    assert exc.value.param == "input[0].content[0]"


def test_data_url_parameters_are_allowed() -> None:
    assert files.data_url("data:text/plain;charset=utf-8;base64,SGk=", "x") == (
        "text/plain", "SGk=",
    )  # fmt: skip


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 1000, 1001, 1002])
def test_base64_size_is_the_decoded_size(size: int) -> None:
    encoded = base64.b64encode(b"x" * size).decode()
    assert files.base64_size(encoded) == size


@pytest.mark.parametrize(
    "encoded",
    [
        base64.b64encode(PNG).decode(),
        base64.urlsafe_b64encode(PNG).decode(),
        base64.b64encode(PNG).decode().rstrip("="),
        "\n".join(base64.b64encode(PNG * 8).decode()[i : i + 76] for i in range(0, 216, 76)),
    ],
    ids=["standard", "url-safe", "unpadded", "line-broken"],
)
def test_base64_in_every_spelling_clients_send_decodes(encoded: str) -> None:
    assert files.decode_base64(encoded, "x").startswith(PNG)


@pytest.mark.parametrize(
    ("encoded", "says"),
    [
        ("a", "the data is not valid base64"),  # one character past a whole group
        ("@@@@", "the data is not valid base64"),  # Python's lenient decoder skips these: b""
        ("iVBORw0K!!GgoAAAANSUhEUg==", "the data is not valid base64"),
        ("iVBORw0KGgo=AAAANSUhEUg==", "the data is not valid base64"),  # data after padding
        ("aGk===", "the data is not valid base64"),
        ("aGVsbG8gd29ybGQ=\x00", "the data is not valid base64"),
        ("привет", "the data is not valid base64"),
        ("", "the data is empty"),
        ("  \n ", "the data is empty"),
    ],
)
def test_bad_base64_is_a_bad_request_naming_the_part(encoded: str, says: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        files.decode_base64(encoded, "contents[0].parts[0]")
    assert caught.value.message == f"contents[0].parts[0]: {says}"
    assert caught.value.param == "contents[0].parts[0]"


@pytest.mark.parametrize(
    ("filename", "mime", "expected"),
    [
        ("cat.png", "image/png", "cat.png"),
        ("cat.jpeg", "image/jpeg", "cat.jpeg"),
        ("cat", "image/png", "cat.png"),
        ("report.txt", "application/pdf", "report.txt.pdf"),
        ("../../etc/passwd", "text/plain", "passwd.txt"),
        ('a"b\r\nc.pdf', "application/pdf", "a_b_c.pdf"),
        ("C:\\Users\\me\\отчёт.docx", files.EXTENSIONS["docx"], "отчёт.docx"),
        (None, "image/bmp", "attachment-0123456789abcdef.bmp"),
        ("...", "image/png", "attachment-0123456789abcdef.png"),
    ],
)
def test_upload_names_are_safe_and_end_in_the_types_extension(
    filename: str | None, mime: str, expected: str
) -> None:
    assert files.upload_name(filename, mime, "0123456789abcdef" * 4) == expected
