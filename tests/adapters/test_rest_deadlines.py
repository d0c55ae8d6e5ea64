"""The REST client never lets a slow gateway hold a caller: a total deadline per call, and a
failing token refresh that keeps the still-valid token (issue #13 item 3)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
import requests
from urllib3.connection import HTTPConnection

from simple_risk.adapters.simulator import Simulator
from simple_risk.adapters.topstepx.errors import ApiError, Endpoint, TransportError
from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.adapters.topstepx.ratelimit import Priority
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.adapters.topstepx.transport import DeadlineWatch, shared_watch
from tests.stub_gateway import StubGateway, serving

TRICKLE = b'{"success": true, "errorCode": 0, "errorMessage": null, "orders": []}'


class _Trickling(StubGateway):
    """Answers every call but the login one byte every 50 ms."""

    def on_call(self, path: str) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(TRICKLE)))
        self.end_headers()
        try:
            for byte in TRICKLE:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            return  # the client gave up


class _TricklingHeaders(StubGateway):
    """Sends every answer but the login's status line and headers one byte every 50 ms."""

    def on_call(self, path: str) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(TRICKLE)}\r\n" + "X-Pad: 1\r\n" * 20
        try:
            for byte in head.encode():
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
            self.wfile.write(b"\r\n" + TRICKLE)
        except OSError:
            return  # the client gave up


@pytest.fixture(params=[_Trickling, _TricklingHeaders], ids=["body", "headers"])
def trickling(request: pytest.FixtureRequest) -> Iterator[str]:
    with serving(request.param) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("own_session", [False, True], ids=["direct", "given-session"])
def test_a_trickling_answer_ends_at_the_calls_deadline(trickling: str, own_session: bool) -> None:
    # every read gets a byte well within the 1 s read timeout: only the deadline stops it —
    # on the caller's thread (the client's own transport) or on an HTTP thread (a session the
    # caller gave, used as it is)
    client = RestClient(
        trickling,
        Credentials("user", "key-0123456789"),
        config=RestConfig(timeout=1.0, deadline=0.6, max_attempts=3, backoff_base=0.01),
        session=requests.Session() if own_session else None,
    )
    started = time.monotonic()
    with pytest.raises(TransportError, match="deadline"):
        client.open_orders(1)
    assert time.monotonic() - started < 1.5  # the whole answer takes over 3 s
    client.close()


def test_the_deadline_watch_cuts_only_exchanges_past_their_deadline() -> None:
    clock = _Clock()
    watch = DeadlineWatch(interval=3600.0, monotonic=clock)  # cut by hand below
    late_sock, late_peer = socket.socketpair()
    early_sock, early_peer = socket.socketpair()
    late = watch.open(clock.now + 1.0)
    late.connection = cast(HTTPConnection, SimpleNamespace(sock=late_sock))
    early = watch.open(clock.now + 5.0)
    early.connection = cast(HTTPConnection, SimpleNamespace(sock=early_sock))
    clock.now += 2.0
    assert watch.cut_overdue() == 1
    assert late_sock.recv(1) == b""  # the blocked read of the late exchange ends at once
    assert watch.release(late) is True and watch.release(early) is False
    clock.now += 10.0
    assert watch.cut_overdue() == 0  # released: never cut afterwards
    early_peer.sendall(b"x")
    assert early_sock.recv(1) == b"x"  # the early exchange's socket was left alone
    watch.close()
    for sock in (late_sock, late_peer, early_sock, early_peer):
        sock.close()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(port=0, seed=3, price_interval=None).start()
    yield simulator
    simulator.stop()


def test_a_failing_refresh_keeps_the_valid_token_and_alerts_only_near_expiry(
    sim: Simulator,
) -> None:
    clock = _Clock()
    told: list[str] = []
    client = RestClient(
        sim.base_url,
        Credentials(sim.username, sim.api_key),
        config=RestConfig(
            max_attempts=1,
            token_lifetime=3600.0,
            refresh_before=1800.0,
            refresh_retry=60.0,
            alert_before_expiry=300.0,
        ),
        monotonic=clock,
        sleep=lambda seconds: None,
        on_auth_trouble=told.append,
    )
    client.login()
    account = client.search_accounts()[0].account_id
    token = client.token()

    clock.now += 3600.0 - 1000.0  # 1000 s left: time to refresh
    sim.fail_next(1, 500)  # the refresh fails
    assert client.open_orders(account) == []  # the call goes on with the valid token
    assert client.token() == token
    assert told == []  # far from expiry: no alert

    clock.now += 1000.0 - 200.0  # 200 s left
    sim.fail_next(1, 500)
    client.open_orders(account)
    assert len(told) == 1 and "expires in 200s" in told[0]

    clock.now += 60.0  # the retry succeeds: a new token
    client.open_orders(account)
    assert client.token() != token
    assert len(told) == 1
    client.close()


class _ValidateWithoutToken(StubGateway):
    """``Auth/validate`` answers success without a ``newToken``; logins are counted."""

    logins = 0

    def do_POST(self) -> None:
        if self.path.endswith("/Auth/loginKey"):
            _ValidateWithoutToken.logins += 1
        super().do_POST()

    def on_call(self, path: str) -> None:
        if path.endswith("/Auth/validate"):
            self.answer({"newToken": None})
        else:
            self.answer({"orders": []})


def test_a_refresh_answered_without_a_new_token_logs_in_again() -> None:
    # a session that cannot be extended is replaced by a new login, as one the gateway
    # refuses to validate is; without it, every call after the token expired failed (the
    # daemon saw and enforced nothing) until a restart
    _ValidateWithoutToken.logins = 0
    clock = _Clock()
    with serving(_ValidateWithoutToken) as port:
        client = RestClient(
            f"http://127.0.0.1:{port}",
            Credentials("user", "key-0123456789"),
            config=RestConfig(max_attempts=1, token_lifetime=3600.0, refresh_before=1800.0),
            monotonic=clock,
            sleep=lambda seconds: None,
        )
        try:
            client.login()
            clock.now += 3600.0  # expired: the next call must refresh before it goes
            assert client.open_orders(5) == []
            assert _ValidateWithoutToken.logins == 2
        finally:
            client.close()


class _Hanging(requests.Session):
    """A session whose refreshes (``Auth/validate``) hang until released."""

    def __init__(self) -> None:
        super().__init__()
        self.validating = threading.Event()
        self.release = threading.Event()

    def post(self, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if str(url).endswith("/Auth/validate"):
            self.validating.set()
            self.release.wait(10.0)
        return super().post(url, *args, **kwargs)


def test_calls_go_on_with_the_valid_token_while_a_refresh_hangs(sim: Simulator) -> None:
    clock = _Clock()
    session = _Hanging()
    client = RestClient(
        sim.base_url,
        Credentials(sim.username, sim.api_key),
        config=RestConfig(max_attempts=1, token_lifetime=3600.0, refresh_before=1800.0),
        monotonic=clock,
        session=session,
    )
    client.login()
    account = client.search_accounts()[0].account_id
    clock.now += 3600.0 - 1000.0  # time to refresh
    refreshing = threading.Thread(target=client.token)
    refreshing.start()
    assert session.validating.wait(2.0)
    started = time.monotonic()
    assert client.open_orders(account) == []
    assert time.monotonic() - started < 1.0
    assert refreshing.is_alive()  # the refresh still waits for its answer
    session.release.set()
    refreshing.join(10.0)
    client.close()


def test_the_environment_is_read_once_when_the_client_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Proxies and the CA bundle from the environment still apply, read at construction
    (not on every call, which cost ~0.2 ms of each enforcing call)."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/desk.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = RestClient("https://api.topstepx.com", Credentials("u", "k"))
    session = client._session
    assert session.trust_env is False
    assert session.proxies.get("https") == "http://proxy.example:3128"
    assert session.verify == "/etc/ssl/certs/desk.pem"
    monkeypatch.setenv("NO_PROXY", "api.topstepx.com")
    assert (
        "https"
        not in RestClient("https://api.topstepx.com", Credentials("u", "k"))._session.proxies
    )


def test_clients_on_the_real_clock_share_one_watch_and_a_clock_of_its_own_gets_its_own() -> None:
    first = RestClient("http://127.0.0.1:9", Credentials("user", "key-0123456789"))
    second = RestClient("http://127.0.0.1:9", Credentials("user", "key-0123456789"))
    faked = RestClient(
        "http://127.0.0.1:9", Credentials("user", "key-0123456789"), monotonic=_Clock()
    )
    watches = [
        client._transport.watch  # type: ignore[attr-defined]
        for client in (first, second, faked)
    ]
    assert watches[0] is watches[1] is shared_watch()  # one thread however many clients
    assert watches[2] is not watches[0]  # its deadlines are on another clock
    for client in (first, second, faked):
        client.close()


SLOW_REFRESH = 1.5  # seconds ``Auth/validate`` takes to answer


def test_an_enforcing_call_never_waits_for_a_slow_refresh(sim: Simulator) -> None:
    """The first call in the refresh window refreshes the session on its own thread: a close
    or a cancel must not be that call, and wait for ``Auth/validate`` while the token it
    holds is still good."""
    clock = _Clock()
    client = RestClient(
        sim.base_url,
        Credentials(sim.username, sim.api_key),
        config=RestConfig(max_attempts=1, token_lifetime=3600.0, refresh_before=1800.0),
        monotonic=clock,
    )
    client.login()
    account = client.search_accounts()[0].account_id
    token = client.token()
    clock.now += 3600.0 - 1000.0  # time to refresh
    sim.answer_late("Auth/validate", SLOW_REFRESH)
    cancel = RestRequest(Endpoint.ORDER_CANCEL, {"accountId": account, "orderId": 404})
    started = time.monotonic()
    with pytest.raises(ApiError):  # no such order: answered at once
        client.execute(cancel, Priority.ENFORCEMENT)
    assert time.monotonic() - started < SLOW_REFRESH / 2
    assert client.token_expires_in() <= 1000.0  # not refreshed by the enforcing call
    client.open_orders(account)  # a call that is not enforcing refreshes the session
    assert client.token() != token
    client.close()
