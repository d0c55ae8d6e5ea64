"""The engine thread hands an enforcing call to its lane and waits until the call is on the
wire (at most a few milliseconds), so the call never waits for the firing's bookkeeping."""

from __future__ import annotations

import http.server
import json
import queue
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from simple_risk.adapters.topstepx.converters import cancel_order_request, close_position_request
from simple_risk.adapters.topstepx.ratelimit import Priority
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.daemon.executor import Executor, IntentResult
from simple_risk.engine.events import Event

ACCOUNT = 5
MNQ = "CON.F.US.MNQ.Z26"


class _Held(http.server.BaseHTTPRequestHandler):
    """Logs in at once; notes every other request when it arrives and answers it only once
    released."""

    arrived: queue.Queue[str]
    release: threading.Event

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        answer: dict[str, object] = {"success": True, "errorCode": 0, "errorMessage": None}
        if self.path.endswith("/Auth/loginKey"):
            answer["token"] = "t.t.t"
        else:
            _Held.arrived.put(self.path)
            _Held.release.wait(10.0)
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def gateway() -> Iterator[str]:
    _Held.arrived, _Held.release = queue.Queue(), threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Held)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Held.release.set()
    server.shutdown()
    server.server_close()


def _executor(gateway: str, hand_over: float) -> tuple[Executor, RestClient]:
    client = RestClient(gateway, Credentials("user", "key-0123456789"))
    client.login()
    results: queue.Queue[Event] = queue.Queue()
    return Executor(client, results, None, hand_over=hand_over), client


def test_an_enforcing_submit_returns_once_its_call_is_on_the_wire(gateway: str) -> None:
    executor, client = _executor(gateway, hand_over=10.0)  # no timeout in the way
    try:
        started = time.monotonic()
        executor.submit(ACCOUNT, "close", [close_position_request(ACCOUNT, MNQ)])
        waited = time.monotonic() - started
        assert waited < 5.0  # not the 10 s hand-over: told when the request went out ...
        assert executor.calls_sent == 0  # ... long before its answer, which the gateway holds
        assert _Held.arrived.get(timeout=5.0) == "/api/Position/closeContract"
    finally:
        _Held.release.set()
        executor.stop()
        client.close()


def test_a_busy_lane_keeps_the_engine_thread_no_longer_than_the_hand_over(gateway: str) -> None:
    executor, client = _executor(gateway, hand_over=0.2)
    try:
        executor.submit(ACCOUNT, "first", [close_position_request(ACCOUNT, MNQ)])
        assert _Held.arrived.get(timeout=5.0)  # the lane now waits for that answer
        started = time.monotonic()
        executor.submit(ACCOUNT, "second", [close_position_request(ACCOUNT, MNQ)])
        assert 0.15 < time.monotonic() - started < 2.0  # bounded: it is still queued
        assert _Held.arrived.empty()
    finally:
        _Held.release.set()
        executor.stop()
        client.close()


def test_a_call_below_enforcement_priority_is_not_waited_for(gateway: str) -> None:
    executor, client = _executor(gateway, hand_over=10.0)
    try:
        executor.submit(ACCOUNT, "first", [close_position_request(ACCOUNT, MNQ)])
        assert _Held.arrived.get(timeout=5.0)
        started = time.monotonic()
        executor.submit(
            ACCOUNT, "stop", [cancel_order_request(ACCOUNT, 9)], Priority.STOP_MANAGEMENT
        )
        assert time.monotonic() - started < 1.0
    finally:
        _Held.release.set()
        executor.stop()
        client.close()


def test_a_job_that_fails_before_sending_releases_the_engine_thread() -> None:
    with socket.socket() as probe:  # a port nobody listens on: every call is refused
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = RestClient(
        refused, Credentials("user", "key-0123456789"), config=RestConfig(max_attempts=1)
    )
    results: queue.Queue[Event] = queue.Queue()
    executor = Executor(client, results, None, hand_over=10.0)
    try:
        started = time.monotonic()
        executor.submit(ACCOUNT, "close", [close_position_request(ACCOUNT, MNQ)])
        assert time.monotonic() - started < 5.0  # not the 10 s hand-over
        result = results.get(timeout=5.0)
        assert isinstance(result, IntentResult) and result.outcome == "retry"
    finally:
        executor.stop()
        client.close()
