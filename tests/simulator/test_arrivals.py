"""The request log dates a request when its bytes reached the simulator, not when aiohttp got
round to handling it: a latency measured on the log's stamps is the client's, not the
simulator's own dispatch (``arrivals.py``)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from simple_risk.adapters.simulator import Simulator
from tests.simulator.conftest import make_simulator, wait_for

T0 = datetime(2027, 1, 12, 15, 0, tzinfo=UTC)


class Clock:
    """The simulator's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock) -> Iterator[Simulator]:
    with make_simulator(clock=clock) as simulator:
        yield simulator


def _head(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    ).encode()


def _login_body(sim: Simulator) -> bytes:
    return json.dumps({"userName": sim.username, "apiKey": sim.api_key}).encode()


def _read_answer(connection: socket.socket) -> bytes:
    """One HTTP answer off a keep-alive connection (its headers and Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        rest += connection.recv(65536)
    assert head.startswith(b"HTTP/1.1 200"), head
    return rest


def _connect(sim: Simulator) -> socket.socket:
    return socket.create_connection((sim.host, sim.port), timeout=5)


def _logged(sim: Simulator, path: str) -> list[datetime]:
    return [r.time for r in sim.requests if r.path == path]


def _started(sim: Simulator) -> threading.Event:
    """Set once the server has begun to handle a request (taken its arrival)."""
    started = threading.Event()
    take = sim.arrivals.take

    def taking(request: web.BaseRequest) -> datetime | None:
        try:
            return take(request)
        finally:
            started.set()

    sim.arrivals.take = taking  # type: ignore[method-assign]
    return started


def test_a_request_is_dated_when_its_first_bytes_arrived(sim: Simulator, clock: Clock) -> None:
    body = _login_body(sim)
    head = _head("/api/Auth/loginKey", body)
    line, _, rest = head.partition(b"\r\n")
    with _connect(sim) as connection:
        connection.sendall(line + b"\r\n")
        wait_for(lambda: len(sim.arrivals) == 1)  # its first line is in, no more
        clock.now = T0 + timedelta(seconds=30)
        connection.sendall(rest + body)
        _read_answer(connection)
    assert _logged(sim, "/api/Auth/loginKey") == [T0]


def test_the_next_request_on_a_kept_alive_connection_gets_its_own_stamp(
    sim: Simulator, clock: Clock
) -> None:
    body = _login_body(sim)
    started = _started(sim)
    with _connect(sim) as connection:
        connection.sendall(_head("/api/Auth/loginKey", body))
        assert started.wait(5)  # the request is being handled; its body is still to come
        clock.now = T0 + timedelta(seconds=1)
        connection.sendall(body)
        _read_answer(connection)
        assert len(sim.arrivals) == 0
        clock.now = T0 + timedelta(seconds=60)
        connection.sendall(_head("/api/Auth/loginKey", body) + body)
        _read_answer(connection)
    assert _logged(sim, "/api/Auth/loginKey") == [T0, T0 + timedelta(seconds=60)]


def test_a_control_call_leaves_no_stamp_behind_for_the_next_request(
    sim: Simulator, clock: Clock
) -> None:
    control = json.dumps({}).encode()
    body = _login_body(sim)
    with _connect(sim) as connection:
        connection.sendall(_head("/sim/prices/pause", control) + control)
        _read_answer(connection)
        clock.now = T0 + timedelta(seconds=5)
        connection.sendall(_head("/api/Auth/loginKey", body) + body)
        _read_answer(connection)
    assert _logged(sim, "/api/Auth/loginKey") == [T0 + timedelta(seconds=5)]


def test_a_closed_connection_is_forgotten(sim: Simulator) -> None:
    with _connect(sim) as connection:
        connection.sendall(b"POST /api/Auth/loginKey HTTP/1.1\r\n")
        wait_for(lambda: len(sim.arrivals) == 1)
    wait_for(lambda: len(sim.arrivals) == 0)
