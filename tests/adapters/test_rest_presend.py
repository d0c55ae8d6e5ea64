"""An enforcing request sent ahead: put on the wire by one thread (the daemon's engine thread),
its answer read by another (the executor's lane) — and only when that costs no wait."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simple_risk.adapters.topstepx.errors import TransportError
from simple_risk.adapters.topstepx.outgoing import close_position_request, place_stop_request
from simple_risk.adapters.topstepx.ratelimit import Budget, Priority, RateLimiter, read_ledger
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.engine.events import OrderSide
from tests.stub_gateway import StubGateway, serving

ACCOUNT = 5
MNQ = "CON.F.US.MNQ.Z26"
CLOSE = close_position_request(ACCOUNT, MNQ)


class _KeptAlive(StubGateway):
    """An HTTP/1.1 gateway (connections stay open between calls) that notes every call as it
    arrives and answers it once released; told to, it drops the connection instead."""

    protocol_version = "HTTP/1.1"
    arrived: queue.Queue[str]
    release: threading.Event
    drop_next = False

    def on_call(self, path: str) -> None:
        _KeptAlive.arrived.put(path)
        if _KeptAlive.drop_next:
            _KeptAlive.drop_next = False
            self.close_connection = True  # no answer: the connection just ends
            return
        _KeptAlive.release.wait(10.0)
        self.answer({})


class _OneShot(_KeptAlive):
    """HTTP/1.0: every answer closes its connection, so none is ever idle and kept."""

    protocol_version = "HTTP/1.0"


@pytest.fixture(autouse=True)
def _fresh_gateway_state() -> Iterator[None]:
    _KeptAlive.arrived, _KeptAlive.release = queue.Queue(), threading.Event()
    _KeptAlive.drop_next = False
    yield
    _KeptAlive.release.set()


def _client(port: int, **options: Any) -> RestClient:
    client = RestClient(
        f"http://127.0.0.1:{port}", Credentials("user", "key-0123456789"), **options
    )
    client.login()  # its connection stays open, idle, in the pool
    return client


def test_a_request_sent_ahead_reaches_the_gateway_before_anyone_reads_its_answer() -> None:
    with serving(_KeptAlive) as port:
        client = _client(port)
        try:
            sent = client.presend(CLOSE, Priority.ENFORCEMENT)
            assert sent is not None
            # nobody reads yet: the request is on the wire all the same
            assert _KeptAlive.arrived.get(timeout=5.0) == "/api/Position/closeContract"
            _KeptAlive.release.set()
            answer: list[dict[str, object]] = []
            reader = threading.Thread(
                target=lambda: answer.append(client.execute(CLOSE, on_wire=sent))
            )
            reader.start()  # the answer is read on another thread, as the lane does
            reader.join(5.0)
            assert answer and answer[0]["success"] is True
            assert _KeptAlive.arrived.empty()  # sent once, not again by execute
            # and the connection went back to the pool: the next call is sent ahead again
            assert client.presend(CLOSE, Priority.ENFORCEMENT) is not None
        finally:
            _KeptAlive.release.set()
            client.close()


def test_nothing_is_sent_ahead_without_an_idle_kept_alive_connection() -> None:
    with serving(_OneShot) as port:
        client = _client(port)  # the login's connection was closed by the gateway
        try:
            assert client.presend(CLOSE, Priority.ENFORCEMENT) is None
            assert _KeptAlive.arrived.empty()
            assert client.limiter.granted == 1  # the login's: no slot taken for nothing
        finally:
            client.close()


def test_nothing_is_sent_ahead_when_the_rate_limiter_has_no_slot_at_once() -> None:
    limiter = RateLimiter({"default": Budget(2, 60.0)})
    with serving(_KeptAlive) as port:
        client = _client(port, limiter=limiter)
        try:
            limiter.acquire()  # the login's and this one: the window is full
            assert client.presend(CLOSE, Priority.ENFORCEMENT) is None
            assert _KeptAlive.arrived.empty()
        finally:
            client.close()


def test_a_token_due_for_its_refresh_is_never_used_to_send_ahead() -> None:
    """A refresh is due once half a token's life is gone; sending ahead never does one (nor
    waits for one), so it leaves such a call to the lane, whose call refreshes first."""
    now = [1000.0]
    config = RestConfig(token_lifetime=600.0, refresh_before=1200.0)
    with serving(_KeptAlive) as port:
        client = _client(port, config=config, monotonic=lambda: now[0])
        try:
            _KeptAlive.release.set()
            now[0] += 299.0
            sent = client.presend(CLOSE, Priority.ENFORCEMENT)
            assert sent is not None  # 301 s left: not yet due
            client.execute(CLOSE, on_wire=sent)  # its connection is idle again
            now[0] += 2.0  # 299 s left of 600: the refresh is due
            assert client.presend(CLOSE, Priority.ENFORCEMENT) is None
        finally:
            _KeptAlive.release.set()
            client.close()


def test_an_order_is_never_placed_ahead() -> None:
    """A placement's retry looks its tag up first; a request sent ahead has no retry of its
    own to do that, so an ``Order/place`` always goes the ordinary way."""
    stop = place_stop_request(
        ACCOUNT, MNQ, side=OrderSide.SELL, size=1, stop_price=Decimal("21000")
    )
    with serving(_KeptAlive) as port:
        client = _client(port)
        try:
            assert client.presend(stop, Priority.ENFORCEMENT) is None
            assert _KeptAlive.arrived.empty()
        finally:
            client.close()


def test_a_connection_that_ends_without_an_answer_is_retried_the_ordinary_way() -> None:
    config = RestConfig(backoff_base=0.01, backoff_max=0.02)
    with serving(_KeptAlive) as port:
        client = _client(port, config=config)
        try:
            _KeptAlive.drop_next = True
            sent = client.presend(CLOSE, Priority.ENFORCEMENT)
            assert sent is not None
            _KeptAlive.release.set()
            assert client.execute(CLOSE, on_wire=sent)["success"] is True
            assert _KeptAlive.arrived.qsize() == 2  # the dropped one, and its retry
            assert client.retries == 1
        finally:
            client.close()


def test_an_answer_held_past_the_deadline_is_cut_and_said() -> None:
    with serving(_KeptAlive) as port:
        client = _client(port)
        try:
            sent = client.presend(CLOSE, Priority.ENFORCEMENT, deadline=0.3)
            assert sent is not None
            started = time.monotonic()
            with pytest.raises(TransportError, match="Position/closeContract"):
                client.execute(CLOSE, deadline=0.3, on_wire=sent)
            assert time.monotonic() - started < 2.0  # not the 10 s the gateway holds it
        finally:
            _KeptAlive.release.set()
            client.close()


def test_a_request_sent_ahead_is_in_the_ledger_once_it_is_out(tmp_path: Path) -> None:
    ledger = tmp_path / "calls.ledger"
    limiter = RateLimiter(ledger=ledger)
    with serving(_KeptAlive) as port:
        client = _client(port, limiter=limiter)
        try:
            assert client.presend(CLOSE, Priority.ENFORCEMENT) is not None
            assert len(read_ledger(ledger)) == 2  # the login and the close
        finally:
            _KeptAlive.release.set()
            client.close()
            limiter.close()


def test_kept_alive_connections_are_probed_so_a_silently_dropped_one_is_found() -> None:
    """A balancer or NAT that drops an idle connection without a word would leave the next
    enforcing call waiting for its deadline: every connection sends TCP keepalive probes."""
    with serving(_KeptAlive) as port:
        client = _client(port)
        try:
            _KeptAlive.release.set()
            sent = client.presend(CLOSE, Priority.ENFORCEMENT)
            assert sent is not None
            sock = sent.connection.sock
            assert sock is not None
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            if hasattr(socket, "TCP_KEEPIDLE"):
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 15
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            client.execute(CLOSE, on_wire=sent)
        finally:
            client.close()
