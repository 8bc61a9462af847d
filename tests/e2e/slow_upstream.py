"""A deliberately slow GigaChat stand-in that notices when its caller hangs up.

Raw asyncio HTTP/1.1 in a background thread: OAuth answers at once; a v1 chat
stream sends one chunk every `interval` seconds for a long time. `closed` is set
when the gateway closes the upstream connection before the stream ended.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time


def chunk(text: str, finish: str | None = None) -> bytes:
    choice: dict[str, object] = {"delta": {"content": text}, "index": 0}
    body: dict[str, object] = {
        "choices": [choice],
        "created": int(time.time()),
        "model": "GigaChat-2-Max:2.0.28.2",
        "object": "chat.completion",
    }
    if finish:
        choice["finish_reason"] = finish
        body["usage"] = {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class SlowUpstream:
    def __init__(self, chunks: int = 300, interval: float = 0.1) -> None:
        self.chunks = chunks
        self.interval = interval
        self.closed = threading.Event()
        self.streams_started = threading.Event()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SlowUpstream:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        # Let cancelled handlers close their connections before the loop goes.
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                if path.endswith(b"/oauth"):
                    body = b'{"access_token":"slow-token","expires_at":4102444800000}'
                    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    writer.write(head + b"content-length: %d\r\n\r\n" % len(body) + body)
                    await writer.drain()
                    continue
                await self._stream(reader, writer)
                return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        writer.write(head + b"transfer-encoding: chunked\r\n\r\n")
        self.streams_started.set()
        for n in range(self.chunks):
            data = chunk(f"word{n} ")
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            try:
                await writer.drain()
                # A closed peer shows up as EOF on the read side.
                await asyncio.wait_for(reader.read(1), self.interval)
            except TimeoutError:
                continue
            except ConnectionError:
                pass
            self.closed.set()
            return
        tail = chunk("", "stop") + b"data: [DONE]\n\n"
        writer.write(f"{len(tail):x}\r\n".encode() + tail + b"\r\n0\r\n\r\n")
        await writer.drain()
