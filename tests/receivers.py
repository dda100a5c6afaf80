"""Real webhook receivers on loopback for tests: HTTP servers that answer as told, and raw TCP misbehavers."""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


# A behaviour answers one request: it gets the handler (to write to) and what was received.
Behaviour = Callable[[BaseHTTPRequestHandler, Received], None]


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Behaviour:
    """A behaviour that answers with a fixed status, body and headers."""

    def respond(handler: BaseHTTPRequestHandler, _: Received) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


@dataclass
class Receiver:
    """A running receiver: its URL, what it received, and the behaviour it answers with."""

    url: str
    host: str
    port: int
    behaviour: Behaviour
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    server_names: list[str | None] = field(default_factory=list)


@contextmanager
def http_receiver(
    behaviour: Behaviour, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
) -> Iterator[Receiver]:
    """An HTTP (or, given a server context, HTTPS) receiver on a loopback address."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            seen = Received("POST", self.path, dict(self.headers.items()), self.rfile.read(length))
            receiver.received.append(seen)
            with suppress(OSError):
                receiver.behaviour(self, seen)
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        names: list[str | None] = []

        def remember(sock: ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> None:
            names.append(name)

        tls.sni_callback = remember
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    bound = server.server_address[1]
    receiver = Receiver(f"{scheme}://{host}:{bound}/hooks", host, int(bound), behaviour)
    if tls is not None:
        receiver.server_names = names
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


@contextmanager
def raw_receiver(serve: Callable[[socket.socket, threading.Event], None]) -> Iterator[Receiver]:
    """A TCP server on 127.0.0.1 handing each connection to `serve`, for byte-level misbehaviour."""
    release = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with suppress(OSError):
                serve(self.request, release)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{port}/hooks", "127.0.0.1", port, answer(200), release=release)
    finally:
        release.set()
        server.shutdown()
        server.server_close()
