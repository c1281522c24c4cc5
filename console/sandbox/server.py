"""A threaded WSGI server (wsgiref + ThreadingMixIn) that can also drop a connection without answering."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from .app import DropConnection, Sandbox


class _Handler(ServerHandler):
    dropped = False

    def handle_error(self) -> None:
        if isinstance(sys.exc_info()[1], DropConnection):
            self.dropped = True
            return
        super().handle_error()

    def log_exception(self, exc_info: Any) -> None:
        if not isinstance(exc_info[1], DropConnection):
            super().log_exception(exc_info)


class RequestHandler(WSGIRequestHandler):
    """No reverse DNS, no access log, and socket-level drops."""

    def address_string(self) -> str:
        return self.client_address[0]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from BaseHTTPRequestHandler
        return

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _Handler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]
        if handler.dropped:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def make_server(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 8765) -> ThreadingWSGIServer:
    """Bind (port 0 picks a free port) and attach the app; the caller runs ``serve_forever``."""
    server = ThreadingWSGIServer((host, port), RequestHandler)
    server.set_app(sandbox)
    real_port = server.server_address[1]
    sandbox.public_url = f"http://{host}:{real_port}"
    return server
