"""A worker's graceful stop: notice SIGTERM, refuse new work, then end what outlives the timeout.

On SIGTERM Granian stops accepting connections and waits for in-flight
requests; it kills the worker only after its kill timeout, which the CLI sets
past `GPT2GIGA_SHUTDOWN_TIMEOUT_SECONDS`. The gateway's part: from the signal
on, new requests get 503 and `/ready` says so; when the timeout passes,
streams still open end with their dialect's error event and unfinished calls
are cancelled, so the lifespan shutdown (traffic-log flush) always runs.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

from gpt2giga import errors

log = logging.getLogger("gpt2giga")

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def shutting_down() -> errors.GatewayError:
    return errors.Overloaded("The gateway is shutting down; retry shortly", retry_after=1)


class Drain:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.draining = False
        self.cut_off = False
        self._busy: set[asyncio.Task[Any]] = set()
        self._on_cut: list[Callable[[], object]] = []

    def hook_signals(self) -> bool:
        """Run `begin` on SIGTERM/SIGINT, before the loop's own handler (Granian's).

        asyncio keeps one handler per signal and offers no public way to read
        it; `_signal_handlers` is where every CPython loop keeps it. Without it
        the gateway still stops cleanly, only without the 503 and `/ready` part.
        """
        loop = asyncio.get_running_loop()
        handlers: dict[int, asyncio.Handle] | None = getattr(loop, "_signal_handlers", None)
        if handlers is None:
            log.warning("drain: cannot see the server's signal handlers; no 503 while stopping")
            return False
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, handlers.get(sig))
        own_wakeup_socket(loop)
        return True

    def _on_signal(self, previous: asyncio.Handle | None) -> None:
        self.begin()
        if previous is not None:
            previous._run()

    def on_cut(self, callback: Callable[[], object]) -> None:
        self._on_cut.append(callback)

    def begin(self) -> None:
        if self.draining:
            return
        self.draining = True
        log.info(
            "draining: new requests get 503; in-flight ones may finish within %gs", self.timeout
        )
        asyncio.get_running_loop().call_later(self.timeout, self.cut)

    def cut(self) -> None:
        """The timeout passed: end open streams and cancel unfinished calls."""
        self.cut_off = True
        for callback in self._on_cut:
            callback()
        busy = [t for t in self._busy if not t.done()]
        for task in busy:
            task.cancel()
        log.info("drain timeout: ended what was still running (%d calls)", len(busy))

    def enter(self) -> asyncio.Task[Any] | None:
        task = asyncio.current_task()
        if task is not None:
            self._busy.add(task)
        return task

    def leave(self, task: asyncio.Task[Any] | None) -> None:
        if task is not None:
            self._busy.discard(task)

    def owns(self, task: asyncio.Task[Any] | None) -> bool:
        """Whether a CancelledError in `task` is this drain's cut (then it is taken back)."""
        if not self.cut_off or task is None:
            return False
        task.uncancel()
        return True


def own_wakeup_socket(loop: asyncio.AbstractEventLoop) -> bool:
    """Signal numbers reach the loop through a socket of their own.

    asyncio writes them into the socket `call_soon_threadsafe` writes a byte
    into, and Granian calls that from its threads for every request. On Linux
    each one-byte write holds about 1 KiB of socket buffer, so under load the
    socket fills, the byte carrying SIGTERM is dropped ("Exception ignored when
    trying to write to the signal wakeup fd") and the stop is never seen: seen
    with 256 streams in flight. Here only signals write, and they are few.
    """
    handle_signal: Callable[[int], None] | None = getattr(loop, "_handle_signal", None)
    if handle_signal is None:
        return False
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)

    def dispatch() -> None:
        while True:
            try:
                data = reader.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                return
            for signum in data:
                handle_signal(signum)

    loop.add_reader(reader.fileno(), dispatch)
    signal.set_wakeup_fd(writer.fileno())
    if not _WAKEUP_SOCKETS:
        atexit.register(close_wakeup_sockets)
    _WAKEUP_SOCKETS.append((reader, writer))  # kept open for the process's life
    return True


_WAKEUP_SOCKETS: list[tuple[socket.socket, socket.socket]] = []


def close_wakeup_sockets() -> None:
    """At exit: signals stop writing into the pairs, then the pairs are closed.

    Left to the interpreter's teardown they would be closed as garbage, each with a
    ResourceWarning (a process that hooked signals more than once, such as the tests).
    """
    ours = {writer.fileno() for _, writer in _WAKEUP_SOCKETS}
    if threading.current_thread() is threading.main_thread():
        previous = signal.set_wakeup_fd(-1)
        if previous not in ours:
            signal.set_wakeup_fd(previous)
    for reader, writer in _WAKEUP_SOCKETS:
        reader.close()
        writer.close()
    _WAKEUP_SOCKETS.clear()
