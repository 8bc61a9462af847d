"""The traffic log's sinks, each behind its own bounded queue and background writer.

A finished request is put on every sink's queue (`submit`, never blocking:
a full queue drops the record and counts it; or `put`, waiting for room, when
GPT2GIGA_TRAFFIC_LOG_DROP_ON_BACKPRESSURE is off). Each writer takes what is
waiting, up to a batch (after a short window for more to arrive), builds the
records (once for all sinks) and writes them; a failed write is retried a few
times, then the batch is dropped and counted. One sink's trouble never reaches
another sink or a request. `stop` (the app's lifespan shutdown) writes
everything queued before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import msgspec

from gpt2giga.config import Settings, sink_names
from gpt2giga.observe.exchange import Exchange
from gpt2giga.observe.traffic import MAX_CONTENT_BYTES, Recorder, TrafficRecord

if TYPE_CHECKING:
    from gpt2giga.observe.postgres import Database

log = logging.getLogger("gpt2giga.traffic")

# Seconds between attempts at one batch: enough to ride out a database restart.
RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0)
STOP_TIMEOUT_S = 10.0
# How long a record waits, at most, for others to share its write (when fewer than a
# batch are waiting): records are visible within this, and a write serves many.
BATCH_WINDOW_S = 0.05
OPEN_TIMEOUT_S = 10.0  # start-up waits this long at most for a sink's database or server
DROP_LOG_EVERY_S = 10.0  # drops are logged at most this often, with the count since
_STOP = object()

# (sink, reason, count): reasons are queue_full, write_failed, record_failed and shutdown.
DropHook = Callable[[str, str, int], None]
WrittenHook = Callable[[str, int], None]


class Sink(Protocol):
    name: str

    async def open(self) -> None:
        """Ready the sink (files, schema, templates); a failure here is logged, not fatal."""

    async def write(self, records: list[TrafficRecord]) -> int | None:
        """Store one batch, or raise; the number of records refused for their content, if any."""

    async def close(self) -> None: ...


class Entry:
    """A finished request waiting for the sinks; its record is built once, by the first writer."""

    __slots__ = ("_record", "ex")

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self._record: TrafficRecord | None = None

    def record(self, recorder: Recorder) -> TrafficRecord:
        if self._record is None:
            self._record = recorder.record(self.ex)
        return self._record


class SinkQueue:
    """One sink: its queue, its writer task, what it wrote and dropped."""

    def __init__(
        self,
        sink: Sink,
        recorder: Recorder,
        *,
        queue_size: int,
        batch_size: int,
        on_drop: DropHook,
        on_written: WrittenHook,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        window: float = BATCH_WINDOW_S,
    ) -> None:
        self.sink = sink
        self._retry_delays = retry_delays
        self._window = window
        self._recorder = recorder
        self._batch = batch_size
        self._queue: asyncio.Queue[object] = asyncio.Queue(queue_size)
        self._on_drop = on_drop
        self._on_written = on_written
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.written = 0
        self.dropped: dict[str, int] = {}
        self._unlogged = 0
        self._logged_at = float("-inf")

    async def start(self) -> None:
        """Open the sink (bounded wait), then start the writer.

        A local file that cannot be opened stops start-up: it is the settings'
        fault. A database or OpenSearch that is down does not: the writes retry.
        """
        try:
            async with asyncio.timeout(OPEN_TIMEOUT_S):
                await self.sink.open()
        except Exception as exc:
            if isinstance(self.sink, JsonlSink):
                raise
            log.warning(
                "traffic log: the %s sink could not start: %s", self.sink.name, describe(exc)
            )
        self._task = asyncio.create_task(self._run(), name=f"gpt2giga-traffic-{self.sink.name}")

    def submit(self, entry: Entry) -> None:
        if self._stopping:
            self.drop("shutdown", 1)
            return
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            self.drop("queue_full", 1)

    async def put(self, entry: Entry) -> None:
        if self._stopping:
            self.drop("shutdown", 1)
            return
        await self._queue.put(entry)

    def drop(self, reason: str, count: int) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + count
        self._on_drop(self.sink.name, reason, count)
        self._unlogged += count
        now = time.monotonic()
        if now - self._logged_at >= DROP_LOG_EVERY_S or self._stopping:
            log.warning(
                "traffic log: %d record(s) dropped by the %s sink (%s)",
                self._unlogged,
                self.sink.name,
                reason,
            )
            self._unlogged, self._logged_at = 0, now

    async def stop(self, within: float = STOP_TIMEOUT_S) -> None:
        """Write everything queued, then end the writer; what is left after `within` s is lost."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        try:
            async with asyncio.timeout(within):
                await self._queue.put(_STOP)  # behind every record already queued
                await asyncio.shield(task)
        except TimeoutError:
            log.warning("traffic log: the %s sink did not finish in %g s", self.sink.name, within)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            left = sum(1 for item in self._drain() if item is not _STOP)
            if left:
                self.drop("shutdown", left)
        except Exception:  # the writer died of a bug: shutdown goes on
            log.exception("traffic log: the %s sink's writer failed", self.sink.name)
        with contextlib.suppress(Exception):
            await self.sink.close()

    def _drain(self) -> list[object]:
        items = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if self._window and first is not _STOP and self._queue.qsize() < self._batch - 1:
                # Let others join this record's write: one write of a hundred rows costs
                # about what one of a single row does (benchmarks: traffic-pg).
                await asyncio.sleep(self._window)
            batch, stop = self._take(first)
            if batch:
                await self._write(self._records(batch))
            if stop:
                return

    def _take(self, first: object) -> tuple[list[Entry], bool]:
        """What is waiting, up to a batch."""
        batch: list[Entry] = []
        item = first
        while item is not _STOP:
            assert isinstance(item, Entry)
            batch.append(item)
            if len(batch) >= self._batch or self._queue.empty():
                return batch, False
            item = self._queue.get_nowait()
        return batch, True

    def _records(self, batch: list[Entry]) -> list[TrafficRecord]:
        records = []
        for entry in batch:
            try:
                records.append(entry.record(self._recorder))
            except Exception:  # a bug must cost one record, not the writer
                log.exception("traffic log: cannot build a record")
                self.drop("record_failed", 1)
        return records

    async def _write(self, records: list[TrafficRecord]) -> None:
        try:
            await self._attempts(records)
        except asyncio.CancelledError:  # stop ran out of time in the middle of this batch
            self.drop("shutdown", len(records))
            raise

    async def _attempts(self, records: list[TrafficRecord]) -> None:
        for delay in (*self._retry_delays, None):
            try:
                refused = await self.sink.write(records) or 0
            except Exception as exc:
                if delay is None:
                    log.error(
                        "traffic log: the %s sink failed to write %d record(s): %s",
                        self.sink.name,
                        len(records),
                        describe(exc),
                    )
                    self.drop("write_failed", len(records))
                    return
                await asyncio.sleep(delay)
            else:
                self.written += len(records) - refused
                self._on_written(self.sink.name, len(records) - refused)
                if refused:
                    self.drop("write_failed", refused)
                return


def describe(exc: BaseException) -> str:
    """An exception for a log line: its class and message, never a traceback."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TrafficLog:
    """The sinks that are on; the app hands each finished request here, once."""

    def __init__(self, queues: list[SinkQueue], *, capture: bool, wait: bool) -> None:
        self.queues = queues
        self.capture = capture
        self.wait = wait  # GPT2GIGA_TRAFFIC_LOG_DROP_ON_BACKPRESSURE=false

    def entry(self, ex: Exchange) -> Entry:
        if not self.capture:
            # The bodies are not logged: a queued request must not keep them alive.
            ex.request_body = ex.response_body = b""
        elif len(ex.request_body) > MAX_CONTENT_BYTES:
            ex.request_body = ex.request_body[: MAX_CONTENT_BYTES + 1]
        return Entry(ex)

    def submit(self, ex: Exchange) -> None:
        entry = self.entry(ex)
        for q in self.queues:
            q.submit(entry)

    async def put(self, ex: Exchange) -> None:
        entry = self.entry(ex)
        for q in self.queues:
            await q.put(entry)

    async def start(self) -> None:
        for q in self.queues:
            await q.start()

    async def stop(self) -> None:
        await asyncio.gather(*(q.stop() for q in self.queues))

    @property
    def dropped(self) -> int:
        return sum(sum(q.dropped.values()) for q in self.queues)


_encode_sorted = msgspec.json.Encoder(order="sorted").encode


class JsonlSink:
    """One JSON object per line, keys sorted, nulls left out (the FastAPI gpt2giga's format).

    The file is opened for appending, never through a symlink, readable by its
    owner only; one batch is one write, so several workers can share it.
    """

    name = "jsonl"

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    async def open(self) -> None:
        if self._fd is None:
            self._fd = await asyncio.to_thread(self._open)

    def _open(self) -> int:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, 0o600)
        os.fchmod(fd, 0o600)
        return fd

    async def write(self, records: list[TrafficRecord]) -> None:
        await self.open()
        assert self._fd is not None
        data = b"".join([_encode_sorted(r) + b"\n" for r in records])
        await asyncio.to_thread(_write_all, self._fd, data)

    async def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def build(
    settings: Settings,
    database: Database | None,
    on_drop: DropHook,
    on_written: WrittenHook,
) -> TrafficLog | None:
    """The traffic log the settings ask for; None when it is off or has no sink."""
    p = settings.proxy
    names = sink_names(p) if p.traffic_log_enabled else []
    if not names:
        return None
    recorder = Recorder(settings)
    queues = []
    for name in names:
        sink: Sink
        batch = p.traffic_log_batch_size
        if name == "jsonl":
            sink = JsonlSink(p.traffic_log_jsonl_path)
        elif name == "postgres":
            from gpt2giga.observe.postgres import PostgresSink

            assert database is not None  # the settings' check makes sure of a DSN
            sink = PostgresSink(
                database, p.traffic_log_retention_days, p.traffic_log_purge_interval_seconds
            )
        else:
            from gpt2giga.observe.opensearch import OpenSearchSink

            sink = OpenSearchSink(settings)
            batch = p.opensearch_bulk_size
        queues.append(
            SinkQueue(
                sink,
                recorder,
                queue_size=p.traffic_log_queue_size,
                batch_size=batch,
                on_drop=on_drop,
                on_written=on_written,
            )
        )
    return TrafficLog(
        queues, capture=p.traffic_log_capture_content, wait=not p.traffic_log_drop_on_backpressure
    )
