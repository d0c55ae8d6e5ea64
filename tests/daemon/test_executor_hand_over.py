"""The engine thread hands an enforcing call to its lane and waits until the call is on the
wire (at most a few milliseconds), so the call never waits for the firing's bookkeeping."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from simple_risk.adapters.topstepx.outgoing import cancel_order_request, close_position_request
from simple_risk.adapters.topstepx.ratelimit import Priority
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.daemon.executor import Executor, IntentResult
from simple_risk.engine.events import Event
from tests.stub_gateway import StubGateway, serving

ACCOUNT = 5
MNQ = "CON.F.US.MNQ.Z26"


class _Held(StubGateway):
    """Notes every call when it arrives and answers it only once released."""

    arrived: queue.Queue[str]
    release: threading.Event

    def on_call(self, path: str) -> None:
        _Held.arrived.put(path)
        _Held.release.wait(10.0)
        self.answer({})


@pytest.fixture
def gateway() -> Iterator[str]:
    _Held.arrived, _Held.release = queue.Queue(), threading.Event()
    with serving(_Held) as port:
        yield f"http://127.0.0.1:{port}"
        _Held.release.set()


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


class _HeldKeptAlive(_Held):
    """The same, over HTTP/1.1: the login's connection stays open, idle, for the next call."""

    protocol_version = "HTTP/1.1"


def test_an_idle_lanes_enforcing_call_leaves_on_the_submitting_thread() -> None:
    """With a kept-alive connection idle, the engine thread puts the close on the wire itself:
    it arrives while the lane's thread has not even started, and the lane, once running,
    reads its answer (the call is neither lost nor sent twice)."""
    _Held.arrived, _Held.release = queue.Queue(), threading.Event()
    lanes: list[threading.Thread] = []

    def spawn(name: str, account: int, loop: Callable[[], None]) -> threading.Thread:
        lane = threading.Thread(target=loop, name=name, daemon=True)
        lanes.append(lane)  # not started: only the submitting thread can send
        return lane

    with serving(_HeldKeptAlive) as port:
        client = RestClient(f"http://127.0.0.1:{port}", Credentials("user", "key-0123456789"))
        client.login()
        results: queue.Queue[Event] = queue.Queue()
        executor = Executor(client, results, None, spawn=spawn, hand_over=10.0)
        try:
            executor.submit(ACCOUNT, "close", [close_position_request(ACCOUNT, MNQ)])
            assert _Held.arrived.get(timeout=5.0) == "/api/Position/closeContract"
            assert lanes and not lanes[0].is_alive()
            _Held.release.set()
            lanes[0].start()
            result = results.get(timeout=5.0)
            assert isinstance(result, IntentResult) and result.outcome == "done"
            assert _Held.arrived.empty()
            assert executor.calls_sent == 1
        finally:
            _Held.release.set()
            for lane in lanes:
                if not lane.is_alive():
                    lane.start()  # so that stop() can end it
            executor.stop()
            client.close()


def test_a_busy_lanes_next_call_is_never_sent_ahead_of_the_calls_before_it() -> None:
    """The lane still works an earlier job: the next one's first call waits its turn there,
    even with a connection free to send it on."""
    _Held.arrived, _Held.release = queue.Queue(), threading.Event()
    with serving(_HeldKeptAlive) as port:
        client = RestClient(f"http://127.0.0.1:{port}", Credentials("user", "key-0123456789"))
        client.login()
        _two_idle_connections(client)
        results: queue.Queue[Event] = queue.Queue()
        executor = Executor(client, results, None, hand_over=0.05)
        try:
            executor.submit(ACCOUNT, "first", [close_position_request(ACCOUNT, MNQ)])
            assert _Held.arrived.get(timeout=5.0)
            executor.submit(ACCOUNT, "second", [close_position_request(ACCOUNT, "CON.F.US.ES.Z26")])
            time.sleep(0.2)
            assert _Held.arrived.empty()  # not before the first call's answer
            _Held.release.set()
            assert _Held.arrived.get(timeout=5.0)  # then, in its turn
        finally:
            _Held.release.set()
            executor.stop()
            client.close()


def _two_idle_connections(client: RestClient) -> None:
    """Two calls at once, answered together: two kept-alive connections idle in the pool."""
    callers = [
        threading.Thread(target=client.execute, args=(cancel_order_request(ACCOUNT, n),))
        for n in (1, 2)
    ]
    for caller in callers:
        caller.start()
    assert _Held.arrived.get(timeout=5.0) and _Held.arrived.get(timeout=5.0)
    _Held.release.set()
    for caller in callers:
        caller.join(5.0)
    _Held.release.clear()
