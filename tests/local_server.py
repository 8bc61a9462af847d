"""Local HTTP servers for the attachment-URL tests: scripted answers, recorded requests.

`LocalServer` runs in the test's event loop (for async tests); `ThreadedServer`
serves plain files from a thread (for the synchronous SDK tests, whose gateway
runs in another process). Both listen on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
import threading
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple, Self

Writer = asyncio.StreamWriter
Handler = Callable[[Writer], Awaitable[None]]


class Seen(NamedTuple):
    method: str
    path: str
    headers: list[tuple[str, str]]


def response(
    status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None
) -> Handler:
    """A whole answer; Content-Length follows the body unless `headers` set it."""
    fields = {"Content-Length": str(len(body)), **(headers or {})}

    async def send(writer: Writer) -> None:
        head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        writer.write(head.encode() + b"\r\n" + body)
        await writer.drain()

    return send


def redirect(location: str, status: int = 302) -> Handler:
    return response(status, headers={"Location": location})


def chunked(chunk: bytes, count: int, content_type: str = "image/png") -> Handler:
    """A body of `count` chunks and no Content-Length: only reading tells its size."""

    async def send(writer: Writer) -> None:
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        for _ in range(count):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    return send


def stall(first: bytes, length: int) -> Handler:
    """Headers promising `length` bytes, `first` of them, then nothing until the client leaves."""

    async def send(writer: Writer) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {length}\r\n"
        writer.write(head.encode() + b"\r\n" + first)
        await writer.drain()
        await asyncio.Event().wait()

    return send


class Listener:
    """A server on a free port of 127.0.0.1 in the running loop; subclasses define `_serve`.

    Leaving the `async with` cancels the connections still open and waits for them.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            # The test is over (`__aexit__`). Ending normally, not cancelled: asyncio
            # 3.11's callback on a connection task logs an error for a cancelled one.
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        raise NotImplementedError


class LocalServer(Listener):
    """An HTTP/1.1 server on 127.0.0.1 in the running loop; `routes` maps paths to handlers."""

    def __init__(self, routes: dict[str, Handler], tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls)
        self.routes = routes
        self.seen: list[Seen] = []

    def url(self, path: str, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        self.connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        line, *fields = head.decode("latin-1").split("\r\n")
        method, path, _ = line.split(" ", 2)
        headers = [tuple(f.split(": ", 1)) for f in fields if f]
        self.seen.append(Seen(method, path, [(k, v) for k, v in headers]))
        await self.routes.get(path, response(404))(writer)


class ThreadedServer:
    """Serves `files` (path -> (content type, bytes)) from a thread, for synchronous tests."""

    def __init__(self, files: dict[str, tuple[str, bytes]]) -> None:
        served = files
        self.paths: list[str] = []  # every path asked for, in order
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                paths.append(self.path)
                found = served.get(self.path)
                if found is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", found[0])
                self.send_header("Content-Length", str(len(found[1])))
                self.end_headers()
                self.wfile.write(found[1])

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class Certificate(NamedTuple):
    server: ssl.SSLContext
    client: ssl.SSLContext
    names: list[str]  # the SNI names the server was asked for


def self_signed(host: str) -> Certificate:
    """A certificate for `host`, a server context presenting it and a client context trusting it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert_file, key_file)
    names: list[str] = []
    server.sni_callback = lambda _sock, sni, _ctx: names.append(sni or "") and None
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return Certificate(server, client, names)
