"""uploads: a request's attachments checked, read, uploaded once and given GigaChat ids.

GigaChat's files API is respx; remote files come from respx routes or local servers.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import respx

from gpt2giga import errors
from gpt2giga.gigachat import files
from gpt2giga.gigachat.auth import Credentials
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.uploads import FileCache, Uploader
from gpt2giga.state.memory import MemoryTable
from tests.conftest import FILES, form_fields, make_client, make_settings, uploaded
from tests.local_server import LocalServer, response

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 28
GIF = b"GIF89a" + b"\x02" * 26
PDF = b"%PDF-1.7\n" + b"\x03" * 23


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image(data: bytes = PNG, mime: str | None = "image/png") -> list[files.Attachment]:
    found: list[files.Attachment] = []
    files.attach(found, "messages[0].content[1]", data=b64(data), mime=mime, image=True)
    return found


class Upstream:
    """GigaChat's files API on respx: ids `file-1`, `file-2`, … in upload order."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.route = router.post(FILES).mock(side_effect=self._answer)
        self.count = 0

    def _answer(self, request: httpx.Request) -> httpx.Response:
        name, _, data = form_fields(request)["file"]
        self.count += 1
        return httpx.Response(200, json=uploaded(f"file-{self.count}", name or "", len(data)))

    @property
    def sent(self) -> list[tuple[str | None, str, bytes]]:
        return [form_fields(call.request)["file"] for call in self.route.calls]


@pytest.fixture
def gigachat(upstream: respx.MockRouter) -> Upstream:
    return Upstream(upstream)


@pytest.fixture
async def uploader() -> AsyncIterator[Callable[..., Uploader]]:
    """`uploader(cache=None, **env)`: an Uploader for settings `env`, on respx's GigaChat."""
    clients: list[GigaChatClient] = []

    def build(cache: FileCache | None = None, **env: str) -> Uploader:
        settings = make_settings(**env)
        clients.append(make_client(settings))
        return Uploader(settings.proxy, clients[-1], cache=cache)

    yield build
    for client in clients:
        await client.aclose()


async def test_an_image_is_uploaded_and_its_entry_gets_the_id(
    gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    found = image()
    await uploader().resolve(found, None)
    assert found[0].file.id == "file-1"
    [(name, mime, data)] = gigachat.sent
    assert (mime, data) == ("image/png", PNG)
    assert name is not None and name.startswith("attachment-") and name.endswith(".png")


async def test_a_repeated_image_is_uploaded_once_per_request_and_across_requests(
    gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    up = uploader()
    first = image() + image()
    await up.resolve(first, None)
    again = image()
    await up.resolve(again, None)
    assert [a.file.id for a in first + again] == ["file-1"] * 3
    assert gigachat.route.call_count == 1


async def test_the_cache_forgets_after_its_ttl_and_past_its_size(
    gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    now = [0.0]
    up = uploader(cache=FileCache(MemoryTable(1, 60, clock=lambda: now[0])))
    for data in (PNG, PNG, JPEG, PNG):  # JPEG pushes PNG out of a one-entry cache
        await up.resolve(image(data, None), None)
    now[0] = 61.0
    await up.resolve(image(PNG, None), None)
    assert [data for _, _, data in gigachat.sent] == [PNG, JPEG, PNG, PNG]


async def test_accounts_do_not_share_uploads(
    gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    up = uploader()
    client = up._client
    for user in ("alice", "bob", "alice"):
        found = image()
        await up.resolve(found, client.token_source(Credentials(access_token=user)))
    assert gigachat.route.call_count == 2


async def test_uploads_of_one_request_run_at_the_same_time(
    upstream: respx.MockRouter, uploader: Callable[..., Uploader]
) -> None:
    both_in_flight = asyncio.Event()
    started: list[bytes] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        started.append(form_fields(request)["file"][2])
        n = len(started)
        if n == 2:
            both_in_flight.set()
        await both_in_flight.wait()  # one upload at a time would wait here forever
        return httpx.Response(200, json=uploaded(f"file-{n}"))

    upstream.post(FILES).mock(side_effect=answer)
    found = image(PNG) + image(JPEG, "image/jpeg")
    async with asyncio.timeout(5):
        await uploader().resolve(found, None)
    assert sorted(started) == sorted([PNG, JPEG])
    assert {a.file.id for a in found} == {"file-1", "file-2"}


async def test_concurrent_requests_share_one_upload_in_flight(
    upstream: respx.MockRouter, uploader: Callable[..., Uploader]
) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await release.wait()
        return httpx.Response(200, json=uploaded("file-shared"))

    route = upstream.post(FILES).mock(side_effect=answer)
    up = uploader()
    first, second = image(), image()
    async with asyncio.timeout(5):
        one = asyncio.ensure_future(up.resolve(first, None))
        await arrived.wait()  # the first request's upload is in flight
        two = asyncio.ensure_future(up.resolve(second, None))
        release.set()
        await asyncio.gather(one, two)
    assert (first[0].file.id, second[0].file.id, route.call_count) == (
        "file-shared", "file-shared", 1,
    )  # fmt: skip


async def test_a_document_gets_its_type_and_name(
    gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    found: list[files.Attachment] = []
    files.attach(found, "m[0]", data=b64(PDF), filename="Q3 report.pdf")
    files.attach(found, "m[1]", text="plain words", mime="text/plain", filename="notes")
    await uploader().resolve(found, None)
    assert gigachat.sent == [
        ("Q3 report.pdf", "application/pdf", PDF),
        ("notes.txt", "text/plain", b"plain words"),
    ]


async def test_images_off_refuses_images_but_not_documents(
    gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    up = uploader(GPT2GIGA_ENABLE_IMAGES="false")
    with pytest.raises(errors.BadRequest) as exc:
        await up.resolve(image(), None)
    assert exc.value.message == (
        "messages[0].content[1]: images are turned off on this gateway (GPT2GIGA_ENABLE_IMAGES)"
    )
    hidden: list[files.Attachment] = []  # an image sent as a generic file is still an image
    files.attach(hidden, "m[0]", data=b64(PNG), filename="shot.png")
    with pytest.raises(errors.BadRequest, match="images are turned off"):
        await up.resolve(hidden, None)
    document: list[files.Attachment] = []
    files.attach(document, "m[0]", data=b64(PDF), mime="application/pdf")
    await up.resolve(document, None)
    assert [mime for _, mime, _ in gigachat.sent] == ["application/pdf"]


@pytest.mark.parametrize(
    ("data", "mime", "named"),
    [(GIF, "image/gif", "image/gif"), (GIF, None, "image/gif"), (b"\0\1\2\3", None, "")],
)
async def test_types_gigachat_does_not_take_are_refused_naming_them(
    gigachat: Upstream,
    uploader: Callable[..., Uploader],
    data: bytes,
    mime: str | None,
    named: str,
) -> None:
    with pytest.raises(errors.Unsupported) as exc:
        await uploader().resolve(image(data, mime), None)
    what = f"{named} files are" if named else "Files of an unknown type are"
    assert exc.value.message.startswith(f"messages[0].content[1]: {what} not supported;")
    assert exc.value.param == "messages[0].content[1]"
    assert gigachat.route.call_count == 0


async def test_size_is_checked_before_decoding(
    gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    found: list[files.Attachment] = []
    files.attach(found, "m[2]", data="!" * 4000, mime="image/png")  # not even base64
    with pytest.raises(errors.BadRequest) as exc:
        await uploader(GPT2GIGA_MAX_IMAGE_FILE_SIZE_BYTES="2048").resolve(found, None)
    assert exc.value.message == (
        "m[2]: the image is 3000 bytes, over the limit of 2048 bytes "
        "(GPT2GIGA_MAX_IMAGE_FILE_SIZE_BYTES)"
    )


async def test_document_size_has_its_own_limit(
    gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    found: list[files.Attachment] = []
    files.attach(found, "m[0]", text="x" * 3000, mime="text/plain")
    with pytest.raises(errors.BadRequest, match=r"the document is 3000 bytes, over the limit"):
        await uploader(GPT2GIGA_MAX_TEXT_FILE_SIZE_BYTES="2048").resolve(found, None)


async def test_distinct_images_count_toward_one_total(
    gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    big_png, big_jpeg = PNG + b"\0" * 1500, JPEG + b"\1" * 1500
    up = uploader(GPT2GIGA_MAX_AUDIO_IMAGE_TOTAL_SIZE_BYTES="3000")
    await up.resolve(image(big_png) + image(big_png), None)  # the same image counts once
    with pytest.raises(errors.BadRequest) as exc:
        await up.resolve(image(big_png) + image(big_jpeg, "image/jpeg"), None)
    assert exc.value.message == (
        "The request's images come to 3064 bytes, over the limit of 3000 bytes "
        "(GPT2GIGA_MAX_AUDIO_IMAGE_TOTAL_SIZE_BYTES)"
    )
    assert gigachat.route.call_count == 1


async def test_every_refusal_comes_before_any_upload_or_fetch(
    gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    found = image()
    files.attach(found, "messages[3].content[0]", url="http://files.example/a.png", image=True)
    with pytest.raises(errors.BadRequest) as exc:
        await uploader().resolve(found, None)
    assert exc.value.message == (
        "messages[3].content[0]: the URL is refused: only https URLs are fetched, not http ones"
    )
    assert gigachat.route.call_count == 0


@pytest.mark.parametrize(
    ("status", "kind", "headers"),
    [
        (500, errors.UpstreamError, {}),
        (413, errors.PayloadTooLarge, {}),
        (429, errors.RateLimited, {"retry-after": "7"}),
        (400, errors.BadRequest, {}),
    ],
)
async def test_upload_failures_keep_their_meaning_and_name_the_part(
    upstream: respx.MockRouter,
    uploader: Callable[..., Uploader],
    status: int,
    kind: type[errors.GatewayError],
    headers: dict[str, str],
) -> None:
    upstream.post(FILES).respond(
        status, json={"status": status, "message": "nope"}, headers=headers
    )
    with pytest.raises(kind) as exc:
        await uploader().resolve(image(), None)
    assert type(exc.value) is kind
    assert exc.value.message == (
        f"messages[0].content[1]: uploading the file to GigaChat failed: "
        f"GigaChat answered {status}: nope"
    )
    assert exc.value.param == "messages[0].content[1]"
    assert exc.value.retry_after == (7.0 if status == 429 else None)


# --- remote files ---------------------------------------------------------------------------


def remote(url: str, mime: str | None = None) -> list[files.Attachment]:
    found: list[files.Attachment] = []
    files.attach(found, "messages[0].content[0]", url=url, mime=mime, image=True)
    return found


@pytest.mark.parametrize(
    ("content_type", "url", "mime"),
    [
        ("image/png", "https://files.example/a", "image/png"),
        ("application/octet-stream", "https://files.example/a.jpg?x=1", "image/jpeg"),
        ("", "https://files.example/shot", "image/png"),  # read from the bytes
    ],
)
async def test_a_remote_image_is_typed_by_the_server_then_the_url_then_its_bytes(
    upstream: respx.MockRouter,
    gigachat: Upstream,
    uploader: Callable[..., Uploader],
    content_type: str,
    url: str,
    mime: str,
) -> None:
    upstream.get(url).respond(content=PNG, headers={"content-type": content_type})
    found = remote(url)
    await uploader().resolve(found, None)
    assert found[0].file.id == "file-1"
    assert gigachat.sent[0][1:] == (mime, PNG)


async def test_a_remote_page_is_refused_by_its_type(
    upstream: respx.MockRouter, gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    upstream.get("https://files.example/cat").respond(
        content=b"<html>", headers={"content-type": "text/html; charset=utf-8"}
    )
    with pytest.raises(errors.Unsupported, match=r"^messages\[0\]\.content\[0\]: text/html files"):
        await uploader().resolve(remote("https://files.example/cat"), None)
    assert gigachat.route.call_count == 0


async def test_a_remote_failure_is_a_bad_request_saying_why(
    upstream: respx.MockRouter, gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    upstream.get("https://files.example/gone.png").respond(404)
    with pytest.raises(errors.BadRequest) as exc:
        await uploader().resolve(remote("https://files.example/gone.png"), None)
    assert exc.value.message == (
        "messages[0].content[0]: cannot fetch the URL: the server answered 404"
    )


async def test_a_remote_image_over_the_limit_is_stopped(
    upstream: respx.MockRouter, gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    upstream.get("https://files.example/big.png").respond(
        content=PNG * 100, headers={"content-type": "image/png"}
    )
    up = uploader(GPT2GIGA_MAX_IMAGE_FILE_SIZE_BYTES="1024")
    with pytest.raises(errors.BadRequest, match="over the limit of 1024 bytes"):
        await up.resolve(remote("https://files.example/big.png"), None)


async def test_loopback_urls_are_refused_unless_their_network_is_allowed(
    upstream: respx.MockRouter, gigachat: Upstream, uploader: Callable[..., Uploader]
) -> None:
    upstream.route(host="127.0.0.1").pass_through()
    body = response(body=PNG, headers={"Content-Type": "image/png"})
    async with LocalServer({"/a.png": body}) as server:
        url = server.url("/a.png")
        with pytest.raises(errors.BadRequest) as exc:
            await uploader(GPT2GIGA_ATTACHMENT_URL_ALLOW_HTTP="1").resolve(remote(url), None)
        assert exc.value.message == (
            "messages[0].content[0]: cannot fetch the URL: 127.0.0.1 is a loopback address"
        )
        allowed = uploader(
            GPT2GIGA_ATTACHMENT_URL_ALLOW_HTTP="1",
            GPT2GIGA_ATTACHMENT_URL_ALLOWED_NETWORKS="127.0.0.1",
        )
        found = remote(url)
        await allowed.resolve(found, None)
    assert found[0].file.id == "file-1"
    assert server.connections == 1
