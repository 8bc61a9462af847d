"""The traffic log: one JSONL record per request, written off the request path.

A request only puts its record on a bounded queue (`put_nowait`); when the
queue is full the record is dropped and counted, so a slow disk never slows a
request. A writer thread takes records in batches, redacts captured content
and appends lines; `stop` (lifespan shutdown) drains the queue before it
returns. Content (request and response bodies) is captured only when asked
for, and its secrets are masked before it reaches the file.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import IO, Any

import msgspec

from gpt2giga.observe.redact import Redactor

log = logging.getLogger("gpt2giga.traffic")

Record = dict[str, Any]
MAX_CONTENT_BYTES = 256 * 1024  # per body; longer content is cut and marked
STOP_TIMEOUT_S = 10.0
_STOP: Record = {}  # the sentinel: identity, not content, marks it

_encode = msgspec.json.Encoder().encode


def content(body: bytes, redactor: Redactor | None) -> Any:
    """A captured body as JSON when it is JSON (secrets masked), else as text."""
    cut = len(body) > MAX_CONTENT_BYTES
    if not cut:
        try:
            value = msgspec.json.decode(body)
        except msgspec.DecodeError:
            pass
        else:
            return redactor.value(value) if redactor is not None else value
    text = body[:MAX_CONTENT_BYTES].decode("utf-8", "replace")
    text = redactor.text(text) if redactor is not None else text
    return {"truncated": True, "text": text} if cut else text


class TrafficLog:
    """The queue and its writer thread; `submit` never blocks."""

    def __init__(
        self,
        path: str,
        *,
        queue_size: int,
        batch_size: int,
        flush_interval_s: float,
        redactor: Redactor | None,
        on_drop: Callable[[], None] = lambda: None,
        open_sink: Callable[[str], IO[bytes]] | None = None,
    ) -> None:
        self._path = path
        self._batch = batch_size
        self._interval = flush_interval_s
        self._redactor = redactor
        self._on_drop = on_drop
        self._open = open_sink or (lambda p: open(p, "ab"))  # noqa: SIM115 - closed by the writer
        self._queue: queue.Queue[Record] = queue.Queue(queue_size)
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.written = 0

    def start(self) -> None:
        sink = self._open(self._path)  # fail at start-up, not on the first record
        self._thread = threading.Thread(
            target=self._run, args=(sink,), name="gpt2giga-traffic-log", daemon=True
        )
        self._thread.start()

    def submit(self, record: Record) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            self._on_drop()

    def stop(self) -> None:
        """Write everything queued so far, then end the writer."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        # The writer keeps taking records, so a full queue frees up for the sentinel.
        self._queue.put(_STOP, timeout=STOP_TIMEOUT_S)
        thread.join(STOP_TIMEOUT_S)

    def _run(self, sink: IO[bytes]) -> None:
        with sink:
            while True:
                batch, stop = self._take()
                if batch:
                    self._write(sink, batch)
                if stop:
                    return

    def _take(self) -> tuple[list[Record], bool]:
        """Up to one batch: wait for the first record at most one flush interval."""
        batch: list[Record] = []
        try:
            record = self._queue.get(timeout=self._interval)
        except queue.Empty:
            return batch, False
        while True:
            if record is _STOP:
                return batch, True
            batch.append(record)
            if len(batch) >= self._batch:
                return batch, False
            try:
                record = self._queue.get_nowait()
            except queue.Empty:
                return batch, False

    def _write(self, sink: IO[bytes], batch: list[Record]) -> None:
        lines = []
        for record in batch:
            for key in ("request", "response"):
                body = record.get(key)
                if isinstance(body, bytes):
                    record[key] = content(body, self._redactor)
            lines.append(_encode(record))
        try:
            sink.write(b"\n".join(lines) + b"\n")
            sink.flush()
        except OSError as exc:
            log.error("traffic log: cannot write %s: %s", self._path, exc)
            return
        self.written += len(batch)
