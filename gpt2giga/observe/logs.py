"""Process logging: structured lines (logfmt or JSON), redaction, the file, the DEV log view.

Every line is one record: `ts`, `level`, `logger`, `msg` and any fields the
caller attached (`extra={"fields": {...}}`, as the access line does). Redaction
(`GPT2GIGA_LOG_REDACT_SENSITIVE`, on by default) runs on the finished line, so
a secret inside an exception text is masked too. The optional log file rotates
by size and can be shared by several worker processes. httpx logs every
upstream request at INFO; on the hot path that is a line per call, so its
loggers start at WARNING.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import sys
import time
from collections import deque
from typing import Any

import msgspec

from gpt2giga.config import Settings
from gpt2giga.observe import redact

if sys.platform != "win32":
    import fcntl

QUIET = ("httpx", "httpcore")
BACKUPS = 5  # rotated files kept next to the log file
RING_LINES = 1000  # lines a DEV worker keeps for GET /logs/{n}
SUBSCRIBER_BACKLOG = 1000  # lines a slow /logs/stream reader may lag before lines drop
ACCESS = logging.getLogger("gpt2giga.access")

_encode = msgspec.json.Encoder().encode


class Structured(logging.Formatter):
    """The record as fields; subclasses choose the line format."""

    def __init__(self, redactor: redact.Redactor | None = None) -> None:
        super().__init__()
        self._redactor = redactor

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out: dict[str, Any] = {
            "ts": f"{seconds}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            out.update(extra)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return out

    def format(self, record: logging.LogRecord) -> str:
        line = self.line(self.fields(record))
        return self._redactor.text(line) if self._redactor is not None else line

    def line(self, fields: dict[str, Any]) -> str:
        raise NotImplementedError


class JsonFormatter(Structured):
    def line(self, fields: dict[str, Any]) -> str:
        return _encode({k: v for k, v in fields.items() if v is not None}).decode()


class LogfmtFormatter(Structured):
    def line(self, fields: dict[str, Any]) -> str:
        return " ".join(f"{k}={_logfmt(v)}" for k, v in fields.items() if v is not None)


def _logfmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        value = ",".join(map(str, value))
    text = str(value)
    if text and not any(c in text for c in ' "=\\\n\r\t'):
        return text
    return _encode(text).decode()  # quoted, with JSON escapes: still one line


def formatter(settings: Settings) -> Structured:
    proxy = settings.proxy
    redactor = (
        redact.Redactor(redact.secret_values(settings)) if proxy.log_redact_sensitive else None
    )
    kind = JsonFormatter if proxy.log_format == "json" else LogfmtFormatter
    return kind(redactor)


class RotatingFile(logging.handlers.RotatingFileHandler):
    """Size rotation that worker processes sharing one file agree on.

    A worker that finds the path pointing at a new file (another worker
    rotated) reopens it; rotation itself happens under an advisory file lock,
    and only if the file is still over the limit once the lock is held.
    """

    def __init__(self, filename: str, max_bytes: int) -> None:
        super().__init__(filename, maxBytes=max_bytes, backupCount=BACKUPS, encoding="utf-8")
        self._lock_path = self.baseFilename + ".lock"

    def _moved(self) -> bool:
        try:
            on_disk = os.stat(self.baseFilename).st_ino
        except FileNotFoundError:
            return True
        return self.stream is None or on_disk != os.fstat(self.stream.fileno()).st_ino

    def _reopen(self) -> None:
        if self.stream is not None:
            self.stream.close()
        self.stream = self._open()

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        if self._moved():
            self._reopen()
        return bool(super().shouldRollover(record))

    def doRollover(self) -> None:
        if sys.platform == "win32":
            super().doRollover()
            return
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if self._moved():
                    self._reopen()
                elif os.path.getsize(self.baseFilename) >= self.maxBytes:
                    super().doRollover()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class Ring(logging.Handler):
    """This worker's recent lines, and live copies for `/logs/stream` readers (DEV only)."""

    def __init__(self, size: int = RING_LINES) -> None:
        super().__init__()
        self.lines: deque[str] = deque(maxlen=size)
        # A reader's queue gets None when the ring ends it (the drain's cut).
        self._readers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str | None]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.lines.append(line)
        for loop, queue in self._readers:
            # Records may come from other threads (the traffic-log writer).
            loop.call_soon_threadsafe(_offer, queue, line)

    def tail(self, n: int) -> list[str]:
        return list(self.lines)[-n:] if n > 0 else []

    def subscribe(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self._readers = [*self._readers, (asyncio.get_running_loop(), queue)]
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        self._readers = [(lp, q) for lp, q in self._readers if q is not queue]

    def end_readers(self) -> None:
        """Let every live reader's stream finish: a stopping worker must not wait on them."""
        for loop, queue in self._readers:
            loop.call_soon_threadsafe(_end, queue)


def _offer(queue: asyncio.Queue[str | None], line: str) -> None:
    if not queue.full():
        queue.put_nowait(line)


def _end(queue: asyncio.Queue[str | None]) -> None:
    if queue.full():
        queue.get_nowait()  # a lost line matters less than a stuck shutdown
    queue.put_nowait(None)


def setup(settings: Settings) -> None:
    """Root logging for this process: stderr, the optional file, the chosen line format."""
    proxy = settings.proxy
    fmt = formatter(settings)
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if proxy.log_filename:
        handlers.append(RotatingFile(proxy.log_filename, proxy.log_max_size))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    root.setLevel(proxy.log_level)
    for name in QUIET:
        logging.getLogger(name).setLevel(
            max(logging.WARNING, logging.getLevelName(proxy.log_level))
        )
