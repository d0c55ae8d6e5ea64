"""A stand-in for the daemon's status server: a Unix socket speaking the protocol's framing,
answering each op from a table of handlers, recording every request it received.

The CLI tests use it to check what the commands send (ops, args, auth, operator) and how they
render each answer and each error, independently of the real server (whose behaviour
tests/e2e/test_interfaces.py checks end to end).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from simple_risk.daemon.control.protocol import ProtocolError, decode, encode

Handler = Callable[[dict[str, Any]], Any]


class Stream:
    """A handler's answer that also streams ``messages`` after the response, then closes."""

    def __init__(self, result: Any, messages: Iterable[dict[str, Any]]) -> None:
        self.result = result
        self.messages = list(messages)


class FakeDaemon:
    def __init__(self, path: Path, handlers: dict[str, Handler]) -> None:
        self.path = path
        self.handlers = handlers
        self.requests: list[dict[str, Any]] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(8)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def ops(self) -> list[str]:
        return [str(r.get("op")) for r in self.requests]

    def last(self, op: str) -> dict[str, Any]:
        return [r for r in self.requests if r.get("op") == op][-1]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.close()
        self.path.unlink(missing_ok=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            for line in lines:
                request = decode(line)
                self.requests.append(request)
                handler = self.handlers.get(str(request.get("op")))
                response: dict[str, Any] = {"id": request.get("id")}
                stream: list[dict[str, Any]] = []
                try:
                    if handler is None:
                        raise ProtocolError("unknown_op", f"no op {request.get('op')}")
                    result = handler(request)
                    if isinstance(result, Stream):
                        stream, result = result.messages, result.result
                    response.update(ok=True, result=result)
                except ProtocolError as error:
                    response.update(ok=False, error=error.to_json())
                try:
                    conn.sendall(encode(response))
                    for message in stream:
                        conn.sendall(encode(message))
                except OSError:
                    return
                if stream:
                    return  # a finished stream: the daemon closes (e.g. while stopping)
