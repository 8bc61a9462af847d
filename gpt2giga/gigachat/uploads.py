"""A request's attachments -> GigaChat files: read, check, upload once, fill the ids in.

Runs between translation and the chat call, and only for requests that carry
attachments (`Prepared.attachments`). Every check that needs no network runs
first, for all of a request's attachments, so a refused request reaches
nobody; then remote URLs are fetched (`remote.py`) and new files uploaded,
several at a time. Uploads are kept by content hash and GigaChat account in a
bounded cache with a TTL (a table of the state store: shared by every worker
and replica when there are several), so an agent that resends a screenshot
every turn uploads it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, TypeVar
from urllib.parse import urlsplit

import msgspec

from gpt2giga import errors
from gpt2giga.config import ProxySettings
from gpt2giga.gigachat import files
from gpt2giga.gigachat.auth import Credentials, TokenSource
from gpt2giga.gigachat.client import GigaChatClient
from gpt2giga.gigachat.files import Attachment
from gpt2giga.state.memory import MemoryTable
from gpt2giga.state.store import Table

if TYPE_CHECKING:
    from gpt2giga.gigachat.remote import Fetched, Fetcher

T = TypeVar("T")

PARALLEL = 4  # fetches and uploads of one request in flight at once
CACHE_SIZE = 1024
# GigaChat keeps uploaded files; the bound is ours, so that a cache entry never
# outlives a file deleted upstream by much.
CACHE_TTL_S = 3600.0
ACCOUNT_SALT = b"gpt2giga upload cache account"
ACCOUNT_ROUNDS = 100_000
ACCOUNTS_KEPT = 256
_encode = msgspec.msgpack.Encoder().encode
SETTING = {
    "image": "GPT2GIGA_MAX_IMAGE_FILE_SIZE_BYTES",
    "text": "GPT2GIGA_MAX_TEXT_FILE_SIZE_BYTES",
}


class Limits(NamedTuple):
    images: bool
    image: int
    text: int
    images_total: int


class Blob(NamedTuple):
    data: bytes
    mime: str
    kind: files.Kind
    digest: str


class FileCache:
    """GigaChat file ids by content and account, in a table of the state store.

    Shared by the workers and replicas that share the store; a store that is
    down is a miss (the file is uploaded again), never a failed request. The
    account is written as a slow salted hash of its credentials, never as they
    are. An upload in flight is shared within the process: a second request
    with the same content waits for it instead of uploading again.
    """

    def __init__(self, table: Table | None = None) -> None:
        self._table: Table = MemoryTable(CACHE_SIZE, CACHE_TTL_S) if table is None else table
        self._accounts: dict[Credentials, str] = {}
        self._pending: dict[str, asyncio.Future[str]] = {}

    async def account(self, creds: Credentials) -> str:
        """The account as the cache's keys name it."""
        found = self._accounts.get(creds)
        if found is None:
            if len(self._accounts) >= ACCOUNTS_KEPT:
                self._accounts.clear()
            # PBKDF2, so that a weak password cannot be read back from a shared store by
            # guessing: about 20 ms, once per account and process, off the event loop.
            raw = await asyncio.to_thread(
                hashlib.pbkdf2_hmac, "sha256", _encode(creds), ACCOUNT_SALT, ACCOUNT_ROUNDS
            )
            found = self._accounts[creds] = raw.hex()[:32]
        return found

    async def get(self, key: str) -> str | None:
        try:
            found = await self._table.get(key)
        except errors.StateUnavailable:
            return None
        return None if found is None else found.decode()

    async def get_or_upload(self, key: str, upload: Callable[[], Awaitable[str]]) -> str:
        found = await self.get(key)
        if found is not None:
            return found
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._run(key, upload))
            # Its failure reaches every waiter; with none left, it is still retrieved.
            pending.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._pending[key] = pending
        # Shielded: a caller that goes away does not cancel an upload others wait for.
        return await asyncio.shield(pending)

    async def _run(self, key: str, upload: Callable[[], Awaitable[str]]) -> str:
        try:
            file_id = await upload()
        finally:
            self._pending.pop(key, None)
        with contextlib.suppress(errors.StateUnavailable):  # uploaded again next time
            await self._table.put(key, file_id.encode())
        return file_id


class Uploader:
    """Turns a request's attachments into GigaChat file ids; one per process (in Context)."""

    def __init__(
        self,
        proxy: ProxySettings,
        client: GigaChatClient,
        *,
        fetcher: Fetcher | None = None,
        cache: FileCache | None = None,
    ) -> None:
        self.limits = Limits(
            images=proxy.enable_images,
            image=proxy.max_image_file_size_bytes,
            text=proxy.max_text_file_size_bytes,
            images_total=proxy.max_audio_image_total_size_bytes,
        )
        self._client = client
        self._proxy = proxy
        self._fetcher = fetcher
        self.cache = cache or FileCache()

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:
            # Imported on the first URL a client names: httpcore, h11 and anyio cost
            # 17 ms of start-up and 1.2 MiB that most gateways never use.
            from gpt2giga.gigachat.remote import Fetcher

            self._fetcher = Fetcher(
                allow_http=self._proxy.attachment_url_allow_http,
                allowed=[
                    ipaddress.ip_network(net, strict=False)
                    for net in self._proxy.attachment_url_allowed_networks
                ],
            )
        return self._fetcher

    async def resolve(self, found: Sequence[Attachment], auth: TokenSource | None) -> None:
        """Upload what `found` holds and write each GigaChat id into its `files` entry."""
        for attachment in found:
            self._precheck(attachment)
        # Each distinct image counts once: first as its base64 says, then as read.
        self._check_total({a.data or a.where: _estimate(a) for a in found if self._image(a)})
        blobs = await _gather([_bind(self._read, a) for a in found])
        self._check_total({b.digest: len(b.data) for b in blobs if b.kind == "image"})
        account = await self.cache.account(auth.creds if auth else self._client.auth.creds)
        jobs = [_bind(self._upload, a, b, account, auth) for a, b in zip(found, blobs, strict=True)]
        for attachment, file_id in zip(found, await _gather(jobs), strict=True):
            attachment.file.id = file_id

    # --- checks --------------------------------------------------------------------------

    def _precheck(self, a: Attachment) -> None:
        """Everything that can be refused before reading a byte of the attachment."""
        if a.image and not self.limits.images:
            raise _refused(a, "images are turned off on this gateway (GPT2GIGA_ENABLE_IMAGES)")
        if a.url is not None:
            from gpt2giga.gigachat.remote import Refused

            try:
                self.fetcher.check(a.url)
            except Refused as exc:
                raise _refused(a, f"the URL is refused: {exc}") from None
            return
        mime = "text/plain" if a.text is not None else files.known_type(a.mime, a.filename)
        kind = self._type(a, mime).kind if mime else None
        size, cap = _estimate(a), self._cap(kind)
        if size > cap:
            raise _too_large(a, size, cap, kind)

    def _image(self, a: Attachment) -> bool:
        found = files.TYPES.get(files.known_type(a.mime, a.filename))
        return a.data is not None and (a.image or (found is not None and found.kind == "image"))

    def _type(self, a: Attachment, mime: str) -> files.FileType:
        found = files.file_type(mime, a.where)
        if found.kind == "image" and not self.limits.images:
            raise _refused(a, "images are turned off on this gateway (GPT2GIGA_ENABLE_IMAGES)")
        return found

    def _cap(self, kind: files.Kind | None) -> int:
        """The most bytes a file of `kind` may have (None: its kind is not known yet)."""
        limits = self.limits
        image = min(limits.image, limits.images_total)
        return (
            image if kind == "image" else limits.text if kind == "text" else max(image, limits.text)
        )

    def _check_total(self, sizes: dict[str, int]) -> None:
        total = sum(sizes.values())
        if total > self.limits.images_total:
            raise errors.BadRequest(
                f"The request's images come to {total} bytes, over the limit of "
                f"{self.limits.images_total} bytes (GPT2GIGA_MAX_AUDIO_IMAGE_TOTAL_SIZE_BYTES)"
            )

    # --- reading ------------------------------------------------------------------------

    async def _read(self, a: Attachment) -> Blob:
        if a.text is not None:
            data, mime = a.text.encode(), "text/plain"
        elif a.data is not None:
            data = files.decode_base64(a.data, a.where)
            mime = files.known_type(a.mime, a.filename) or files.sniff(data[:16]) or ""
        else:
            fetched = await self._fetch(a)
            data, mime = fetched.data, self._served_type(a, fetched)
        kind = self._type(a, mime).kind
        cap = self._cap(kind)
        if len(data) > cap:
            raise _too_large(a, len(data), cap, kind)
        return Blob(data, mime, kind, hashlib.sha256(data).hexdigest())

    async def _fetch(self, a: Attachment) -> Fetched:
        def limit(content_type: str) -> int:
            served = files.normalize(content_type)
            return self._cap(None if served in files.GENERIC else self._type(a, served).kind)

        from gpt2giga.gigachat.remote import Refused

        assert a.url is not None
        try:
            return await self.fetcher.fetch(a.url, limit)
        except Refused as exc:
            raise _refused(a, f"cannot fetch the URL: {exc}") from None

    @staticmethod
    def _served_type(a: Attachment, fetched: Fetched) -> str:
        """The server's type when it names one, else the client's, the URL's, the bytes'."""
        served = files.normalize(fetched.content_type)
        if served not in files.GENERIC:
            return served
        return (
            files.known_type(a.mime, a.filename)
            or files.extension_type(urlsplit(fetched.url).path)
            or files.sniff(fetched.data[:16])
            or ""
        )

    # --- uploading ----------------------------------------------------------------------

    async def _upload(
        self, a: Attachment, blob: Blob, account: str, auth: TokenSource | None
    ) -> str:
        async def send() -> str:
            name = files.upload_name(a.filename, blob.mime, blob.digest)
            try:
                uploaded = await self._client.upload_file(name, blob.data, blob.mime, auth)
            except errors.GatewayError as err:
                raise type(err)(
                    f"{a.where}: uploading the file to GigaChat failed: {err.message}",
                    param=a.where,
                    retry_after=err.retry_after,
                ) from None
            return uploaded.id

        return await self.cache.get_or_upload(f"{blob.digest}:{blob.mime}:{account}", send)


def _estimate(a: Attachment) -> int:
    """The attachment's size before decoding: base64 read by length, text as UTF-8."""
    if a.data is not None:
        return files.base64_size(a.data)
    return len(a.text.encode()) if a.text is not None else 0


def _refused(a: Attachment, why: str) -> errors.BadRequest:
    return errors.BadRequest(f"{a.where}: {why}", param=a.where)


def _too_large(a: Attachment, size: int, cap: int, kind: files.Kind | None) -> errors.BadRequest:
    what = {"image": "image", "text": "document"}.get(kind or "", "file")
    setting = SETTING.get(kind or "", "")
    return _refused(
        a,
        f"the {what} is {size} bytes, over the limit of {cap} bytes"
        + (f" ({setting})" if setting else ""),
    )


def _bind(fn: Callable[..., Awaitable[T]], *args: object) -> Callable[[], Awaitable[T]]:
    return lambda: fn(*args)


async def _gather(jobs: list[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run `jobs`, PARALLEL at a time; the first failure cancels the others and is raised."""
    gate = asyncio.Semaphore(PARALLEL)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(run(job)) for job in jobs]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]
