"""A stand-in ProjectX gateway for tests of the REST client's transport: a plain HTTP server
that logs in at once and answers every other call as its subclass says (held, trickled,
counted), with the envelope every ProjectX answer has."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from socket import socket


class StubGateway(http.server.BaseHTTPRequestHandler):
    """``Auth/loginKey`` answers a token; every other POST goes to :meth:`on_call`."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.endswith("/Auth/loginKey"):
            self.answer({"token": "t.t.t"})
        else:
            self.on_call(self.path)

    def on_call(self, path: str) -> None:
        """A search with no records (subclasses hold, trickle or count)."""
        self.answer({"orders": []})

    def answer(self, fields: dict[str, object]) -> None:
        """A success envelope with ``fields``, sent at once."""
        envelope = {"success": True, "errorCode": 0, "errorMessage": None, **fields}
        body = json.dumps(envelope).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@contextmanager
def serving(
    handler: type[StubGateway], wrap: Callable[[socket], socket] | None = None
) -> Iterator[int]:
    """The handler served on a loopback port (its socket wrapped, e.g. in TLS) for the block;
    yields the port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if wrap is not None:
        server.socket = wrap(server.socket)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
