"""A GigaChat stand-in for the benchmark: precomputed answers in GigaChat's wire shapes, fast.

It must never be the bottleneck, so it is a bare asyncio protocol (uvloop when
installed) that parses only what it needs and writes answers built once at
start-up: OAuth, `/api/v1/token`, `/api/v1/models`, and both chat contracts
(`/api/v1/chat/completions`: JSON or `data:` SSE ending in `[DONE]`;
`/api/v2/chat/completions`: JSON or named `response.message.*` events). The
shapes follow `gpt2giga/gigachat/fake/server.py` and GIGACHAT-WIRE.md; the answer
only depends on whether the request streams and whether it offers functions.
Every listening port has its own latency: time to first byte, then a gap
between stream chunks, both scheduled with `call_later` (no task per request).
Standalone on purpose (stdlib + optional uvloop): it runs in its own venv.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import time
from collections import Counter
from collections.abc import Callable

MODEL = "GigaChat-2-Max:2.0.28.2"
TOKEN = "standin-access-token-0000000000000000"
STATE_ID = "6c0d3f4e-8a59-4c5e-9f1e-2b7d7c1a9e11"
CREATED = 1_760_000_000
# The function every tool scenario offers; the stand-in always calls it.
CALLED_FUNCTION = "read_file"
CALLED_ARGUMENTS = {"path": "src/app/main.py", "start_line": 1, "end_line": 120}
# An answer of about 60 words, streamed in 3-word pieces the way GigaChat does.
ANSWER = (
    "The failing test comes from the retry loop in the client: it sleeps before the "
    "first attempt instead of after a failure, so every request waits for the backoff "
    "even when the upstream is healthy. Move the sleep below the status check, keep "
    "the jitter, and add a test that counts the sleeps for a request that succeeds at once."
)
PIECE_WORDS = 3
MAX_HEAD = 64 * 1024

STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
TOOLS_RE = re.compile(rb'"(?:functions|tools)"\s*:\s*\[\s*\{')


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [
        " ".join(words[i : i + PIECE_WORDS]) + (" " if i + PIECE_WORDS < len(words) else "")
        for i in range(0, len(words), PIECE_WORDS)
    ]


def _usage_v1(completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": 512,
        "completion_tokens": completion,
        "total_tokens": 512 + completion,
        "precached_prompt_tokens": 0,
    }


def _usage_v2(completion: int) -> dict[str, object]:
    return {
        "input_tokens": 512,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "total_tokens": 512 + completion,
    }


def _v1_completion(message: dict[str, object], finish: str, tokens: int) -> bytes:
    return _json(
        {
            "choices": [{"message": message, "index": 0, "finish_reason": finish}],
            "created": CREATED,
            "model": MODEL,
            "object": "chat.completion",
            "usage": _usage_v1(tokens),
        }
    )


def _v1_chunk(delta: dict[str, object], finish: str | None = None, tokens: int = 0) -> bytes:
    choice: dict[str, object] = {"delta": delta, "index": 0}
    body: dict[str, object] = {"choices": [choice], "created": CREATED, "model": MODEL}
    if finish is not None:
        choice["finish_reason"] = finish
        body["usage"] = _usage_v1(tokens)
    body["object"] = "chat.completion"
    return b"data: " + _json(body) + b"\n\n"


def _v2_event(kind: str, **fields: object) -> bytes:
    body = {"model": MODEL, "created_at": CREATED, **fields}
    return b"event: " + kind.encode() + b"\ndata: " + _json(body) + b"\n\n"


def v1_answers() -> dict[tuple[bool, bool], list[bytes]]:
    """(stream, tools) -> the body (one item) or the SSE frames of a v1 answer."""
    call = {"name": CALLED_FUNCTION, "arguments": CALLED_ARGUMENTS}
    words = len(ANSWER.split())
    text = [_v1_chunk({"content": p} | ({"role": "assistant"} if i == 0 else {}))
            for i, p in enumerate(_pieces(ANSWER))]  # fmt: skip
    return {
        (False, False): [_v1_completion({"role": "assistant", "content": ANSWER}, "stop", words)],
        (False, True): [
            _v1_completion(
                {
                    "role": "assistant",
                    "content": "",
                    "function_call": call,
                    "functions_state_id": STATE_ID,
                },
                "function_call",
                12,
            )
        ],
        (True, False): [*text, _v1_chunk({"content": ""}, "stop", words), b"data: [DONE]\n\n"],
        (True, True): [
            _v1_chunk(
                {
                    "role": "assistant",
                    "content": "",
                    "function_call": call,
                    "functions_state_id": STATE_ID,
                },
                "function_call",
                12,
            ),
            b"data: [DONE]\n\n",
        ],
    }


def v2_answers() -> dict[tuple[bool, bool], list[bytes]]:
    """(stream, tools) -> the body (one item) or the SSE frames of a v2 answer."""
    call_msg = {
        "role": "assistant",
        "content": [{"function_call": {"name": CALLED_FUNCTION, "arguments": CALLED_ARGUMENTS}}],
        "tool_state_id": STATE_ID,
    }
    words = len(ANSWER.split())
    text_msg = {"role": "assistant", "content": [{"text": ANSWER}]}

    def complete(message: dict[str, object], finish: str, tokens: int) -> bytes:
        return _json(
            {
                "model": MODEL,
                "created_at": CREATED,
                "messages": [message],
                "finish_reason": finish,
                "usage": _usage_v2(tokens),
            }
        )

    deltas = [
        _v2_event(
            "response.message.delta",
            messages=[{"role": "assistant", "content": [{"text": p}]}],
        )
        for p in _pieces(ANSWER)
    ]
    return {
        (False, False): [complete(text_msg, "stop", words)],
        (False, True): [complete(call_msg, "function_call", 12)],
        (True, False): [
            *deltas,
            _v2_event("response.message.done", finish_reason="stop", usage=_usage_v2(words)),
        ],
        (True, True): [
            _v2_event("response.message.delta", messages=[call_msg]),
            _v2_event("response.message.done", finish_reason="function_call", usage=_usage_v2(12)),
        ],
    }


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 411: "Length Required"}
    lines = [f"HTTP/1.1 {status} {reason.get(status, 'Error')}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def full(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    return _head(status, headers) + body


STREAM_HEAD = _head(
    200,
    [
        ("Content-Type", "text/event-stream"),
        ("Cache-Control", "no-cache"),
        ("Transfer-Encoding", "chunked"),
    ],
)
STREAM_END = b"0\r\n\r\n"


def chunked(frame: bytes) -> bytes:
    return f"{len(frame):x}\r\n".encode() + frame + b"\r\n"


class Answer:
    """A precomputed reply: one write, or a head and chunks to pace."""

    __slots__ = ("chunks", "whole")

    def __init__(self, whole: bytes, chunks: list[bytes] | None = None) -> None:
        self.whole = whole
        self.chunks = chunks


def error(status: int, message: str) -> Answer:
    return Answer(full(status, _json({"status": status, "message": message})))


def build_routes() -> tuple[dict[tuple[bytes, bytes], Answer], dict[bytes, dict]]:
    """Static routes, and per chat path the four (stream, tools) answers."""
    expires_ms = int((time.time() + 86_400) * 1000)
    models = [
        ("GigaChat", "chat"),
        ("GigaChat-2", "chat"),
        ("GigaChat-2-Pro", "chat"),
        ("GigaChat-2-Max", "chat"),
        ("Embeddings", "embedder"),
        ("EmbeddingsGigaR", "embedder"),
    ]
    model_list = {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "owned_by": "salutedevices", "type": t} for m, t in models
        ],
    }
    static = {
        (b"POST", b"/api/v2/oauth"): Answer(
            full(200, _json({"access_token": TOKEN, "expires_at": expires_ms}))
        ),
        (b"POST", b"/api/v1/token"): Answer(full(200, _json({"tok": TOKEN, "exp": expires_ms}))),
        (b"GET", b"/api/v1/models"): Answer(full(200, _json(model_list))),
        # An OTLP/HTTP collector for the tracing experiments: an empty
        # ExportTraceServiceResponse is zero bytes of protobuf.
        (b"POST", b"/v1/traces"): Answer(full(200, b"", "application/x-protobuf")),
    }
    chat: dict[bytes, dict[tuple[bool, bool], Answer]] = {}
    for path, answers in (
        (b"/api/v1/chat/completions", v1_answers()),
        (b"/api/v2/chat/completions", v2_answers()),
    ):
        chat[path] = {}
        for (stream, tools), frames in answers.items():
            if stream:
                parts = [chunked(f) for f in frames]
                chat[path][(stream, tools)] = Answer(
                    STREAM_HEAD + b"".join(parts) + STREAM_END, [STREAM_HEAD, *parts, STREAM_END]
                )
            else:
                chat[path][(stream, tools)] = Answer(full(200, frames[0]))
    return static, chat


STATIC, CHAT = build_routes()
UNAUTHORIZED = error(401, "Token has expired")
NOT_FOUND = error(404, "Not found")
NO_LENGTH = error(411, "Content-Length required")
STATS: Counter[str] = Counter()


class Latency:
    def __init__(self, ttfb_ms: float, chunk_ms: float) -> None:
        self.ttfb = ttfb_ms / 1000
        self.chunk = chunk_ms / 1000


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; requests are answered in order, one at a time."""

    def __init__(self, latency: Latency, dump: Callable[[bytes, bytes], None] | None) -> None:
        self.latency = latency
        self.dump = dump
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.pending: tuple[bytes, bytes, bytes] | None = None  # method, path, head
        self.need = 0
        self.busy = False
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self.process()

    def process(self) -> None:
        while not self.busy and self.transport is not None:
            if self.pending is None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buffer) > MAX_HEAD:
                        self.transport.close()
                    return
                head = bytes(self.buffer[:end]).lower()
                del self.buffer[: end + 4]
                line, _, _ = head.partition(b"\r\n")
                method, path, _ = line.split(b" ", 2)
                self.pending = (method.upper(), path.partition(b"?")[0], head)
                self.need = _content_length(head)
                self.close_after = b"\nconnection: close" in head
                if self.need < 0:
                    self.pending = None
                    self.close_after = True
                    self.respond(NO_LENGTH, 0.0)
                    return
            if len(self.buffer) < self.need:
                return
            method, path, head = self.pending
            body = bytes(self.buffer[: self.need])
            del self.buffer[: self.need]
            self.pending = None
            self.route(method, path, head, body)

    def route(self, method: bytes, path: bytes, head: bytes, body: bytes) -> None:
        STATS[path.decode()] += 1
        answers = CHAT.get(path) if method == b"POST" else None
        if answers is not None:
            if b"\nauthorization: bearer " not in head:
                return self.respond(UNAUTHORIZED, 0.0)
            if self.dump is not None:
                self.dump(path, body)
            stream = STREAM_RE.search(body) is not None
            tools = TOOLS_RE.search(body) is not None
            return self.respond(answers[(stream, tools)], self.latency.ttfb)
        answer = STATIC.get((method, path))
        if answer is None:
            return self.respond(NOT_FOUND, 0.0)
        if path == b"/api/v1/models" and b"\nauthorization: bearer " not in head:
            return self.respond(UNAUTHORIZED, 0.0)
        self.respond(answer, 0.0)

    def respond(self, answer: Answer, delay: float) -> None:
        if delay <= 0:
            self.write(answer.whole)
            return self.done()
        self.busy = True
        loop = asyncio.get_running_loop()
        if answer.chunks is None or self.latency.chunk <= 0:
            loop.call_later(delay, self.write_then_done, answer.whole)
        else:
            loop.call_later(delay, self.pace, answer.chunks, 0)

    def pace(self, chunks: list[bytes], index: int) -> None:
        # The head and the first frame leave together, as GigaChat's first byte does.
        if index == 0:
            self.write(chunks[0] + chunks[1])
            index = 2
        else:
            self.write(chunks[index])
            index += 1
        if index >= len(chunks) or self.transport is None:
            return self.done()
        if index == len(chunks) - 1:  # the terminating zero chunk: no extra wait
            return self.pace(chunks, index)
        asyncio.get_running_loop().call_later(self.latency.chunk, self.pace, chunks, index)

    def write_then_done(self, data: bytes) -> None:
        self.write(data)
        self.done()

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def done(self) -> None:
        self.busy = False
        if self.close_after and self.transport is not None:
            self.transport.close()
            return
        if self.buffer:
            self.process()


def _content_length(head: bytes) -> int:
    """The body size; -1 for a chunked body (not needed by any client measured)."""
    if b"\ntransfer-encoding: chunked" in head:
        return -1
    start = head.find(b"\ncontent-length:")
    if start < 0:
        return 0
    end = head.find(b"\r\n", start + 1)
    return int(head[start + 16 : end if end > 0 else None])


def _dumper(directory: str) -> Callable[[bytes, bytes], None]:
    seen: set[bytes] = set()

    def dump(path: bytes, body: bytes) -> None:
        key = path + (b"-stream" if STREAM_RE.search(body) else b"")
        if key not in seen:
            seen.add(key)
            name = key.decode().strip("/").replace("/", "_")
            with open(f"{directory}/{name}.json", "wb") as f:
                f.write(body)

    return dump


async def serve(ports: list[tuple[int, Latency]], dump_dir: str | None) -> None:
    loop = asyncio.get_running_loop()
    dump = _dumper(dump_dir) if dump_dir else None
    servers = [
        await loop.create_server(
            lambda latency=latency: Connection(latency, dump),
            "127.0.0.1",
            port,
            backlog=4096,
            reuse_address=True,
        )
        for port, latency in ports
    ]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    for server in servers:
        server.close()
    print(json.dumps(dict(STATS)), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True, help="the zero-delay port")
    p.add_argument("--slow-port", type=int, help="a second port with the latency below")
    p.add_argument("--ttfb-ms", type=float, default=50.0)
    p.add_argument("--chunk-ms", type=float, default=3.0)
    p.add_argument("--dump", help="write the first upstream body per path here")
    p.add_argument("--no-uvloop", action="store_true")
    args = p.parse_args()
    ports = [(args.port, Latency(0, 0))]
    if args.slow_port:
        ports.append((args.slow_port, Latency(args.ttfb_ms, args.chunk_ms)))
    runner: Callable[..., object] = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    runner(serve(ports, args.dump))


if __name__ == "__main__":
    main()
