"""The dashboard over plain HTTP: read-only, loopback names only, and never a secret."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest

from simple_risk.daemon.dashboard import server as server_module
from simple_risk.daemon.dashboard import view as view_module
from simple_risk.daemon.dashboard.server import MAX_CONNECTIONS, MIN_GAP
from simple_risk.daemon.password import hash_password, write_password_hash
from simple_risk.daemon.sim import wait_until

from .conftest import ACCOUNT, Dashboard, Start

OTHER = 20100002


def _request(
    d: Dashboard, path: str, *, method: str = "GET", host: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    url = urlsplit(d.url)
    assert url.hostname is not None
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        headers = {"Host": host} if host is not None else {}
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_the_root_leads_to_the_only_account_and_other_accounts_are_not_found(
    served: Start,
) -> None:
    d = served()
    status, headers, _ = _request(d, "/")
    assert (status, headers["Location"]) == (302, f"/account/{ACCOUNT}")
    assert _request(d, f"/account/{ACCOUNT}")[0] == 200
    assert _request(d, "/account/99999999")[0] == 404
    assert _request(d, "/api/account/99999999")[0] == 404


def test_with_several_accounts_the_root_lists_them(served: Start) -> None:
    d = served(accounts=(ACCOUNT, OTHER))
    status, _, body = _request(d, "/")
    assert status == 200
    for account, size in ((ACCOUNT, "50K"), (OTHER, "150K")):
        # each with its name and, as its page says first, whether it may trade
        assert (
            f'<a href="/account/{account}">{size}TC-V2-SIM-{account} ({account})</a> '
            '<span class="badge open">CAN TRADE</span>'
        ).encode() in body, body
    assert _request(d, f"/account/{OTHER}")[0] == 200


def test_the_root_says_which_account_may_not_trade_a_ticker(served: Start) -> None:
    """Two YM at once on the second account (any root without its own limit may hold 1):
    its line on the root says YM is out of bounds, the first account's still says it may
    trade — a trader with several accounts sees which one without opening each."""
    d = served(accounts=(ACCOUNT, OTHER), params={"max_trades_per_minute": 20})
    d.trader.buy(OTHER, "YM", 2)

    def lines() -> list[str]:
        body = _request(d, "/")[2].decode()
        return [line for line in body.splitlines() if line.startswith("<li>")]

    assert wait_until(lambda: "EXCEPT YM" in lines()[1], 10), lines()
    first, second = lines()
    assert '<span class="badge partial">CAN TRADE, EXCEPT YM</span>' in second
    assert '<span class="badge open">CAN TRADE</span>' in first


def test_it_is_read_only(served: Start) -> None:
    d = served()
    for method in ("POST", "PUT", "DELETE"):
        assert _request(d, f"/api/account/{ACCOUNT}", method=method)[0] == 405


def test_a_request_for_another_host_name_is_refused(served: Start) -> None:
    """A page elsewhere that rebinds its DNS name to 127.0.0.1 still sends its own name."""
    d = served()
    status, _, body = _request(d, f"/api/account/{ACCOUNT}", host="evil.example:8766")
    assert status == 403
    assert b"loopback" in body
    assert _request(d, f"/api/account/{ACCOUNT}", host="localhost")[0] == 200


def test_the_page_data_holds_no_secret(served: Start) -> None:
    d = served()
    config = d.daemon.config
    write_password_hash(config.admin_password_file, hash_password("a long admin pass", rounds=4))
    secret_hash = config.admin_password_file.read_text(encoding="utf-8").strip()
    status, headers, body = _request(d, f"/api/account/{ACCOUNT}")
    assert status == 200
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    text = body.decode()
    page = json.loads(text)
    assert page["account"]["id"] == ACCOUNT
    assert page["mode"] == "enforce"
    for secret in (config.api_key, secret_hash, config.username):
        assert secret not in text


def test_the_pnl_line_covers_the_trading_day_and_ends_at_the_realized_pnl(served: Start) -> None:
    d = served(params={"max_unrealized_loss": 100000, "max_unrealized_profit": 100000})
    d.trader.buy(ACCOUNT, "EP")
    d.wait(lambda: d.trader.size(ACCOUNT, "EP") == 1, "the fill")
    d.trader.move("EP", Decimal("-2.5"))
    d.trader.sell(ACCOUNT, "EP")
    realized = d.trader.day_pnl(ACCOUNT)

    def page() -> dict[str, Any]:
        result = json.loads(_request(d, f"/api/account/{ACCOUNT}")[2])
        assert isinstance(result, dict)
        return result

    d.wait(lambda: Decimal(page()["pnl"]["realized"]) == realized, "the closing fill")
    shown = page()
    engine = d.daemon.engines[ACCOUNT]
    day_start = engine.calendar.trading_day_start(engine.calendar.trading_day(d.daemon.clock.now()))
    values = [Decimal(point["value"]) for point in shown["line"]]
    assert shown["line"][0]["at"] == day_start.isoformat()
    assert values[0] == 0
    assert len(values) == 3  # the opening fill (its costs), then the closing one
    assert values[-1] == realized
    assert Decimal(shown["loss"]["left"]) == 500 + realized


def test_the_event_stream_sends_the_picture_at_once(served: Start) -> None:
    d = served()
    url = urlsplit(d.url)
    assert url.hostname is not None
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("GET", f"/api/account/{ACCOUNT}/events")
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type", "").startswith("text/event-stream")
        lines = [response.readline() for _ in range(4)]
    finally:
        connection.close()
    assert b"event: status\n" in lines
    data = next(line for line in lines if line.startswith(b"data: "))
    assert json.loads(data[len(b"data: ") :])["account"]["id"] == ACCOUNT


def test_connections_beyond_the_cap_are_closed_at_once(served: Start) -> None:
    """Every local user can reach the dashboard, and each connection held open costs the
    daemon a file descriptor: a thousand idle ones used up systemd's soft limit of 1024, and
    then the daemon could not accept on its status socket, read the admin hash, write its
    status or open a connection to the gateway. Past MAX_CONNECTIONS the dashboard closes a
    new connection at once; a slot freed is taken again."""
    d = served()
    url = urlsplit(d.url)
    assert url.hostname is not None and url.port is not None
    address = (url.hostname, url.port)
    held = [socket.create_connection(address) for _ in range(MAX_CONNECTIONS)]
    try:
        extra = socket.create_connection(address, timeout=5.0)
        assert extra.recv(1) == b"", "a connection over the cap was kept open"
        extra.close()
    finally:
        for connection in held:
            connection.close()
    d.wait(lambda: _status_or_none(d) == 200, "a freed slot served again")


def _status_or_none(d: Dashboard) -> int | None:
    try:
        return _request(d, f"/api/account/{ACCOUNT}")[0]
    except (OSError, http.client.HTTPException):
        return None


def test_a_flood_of_requests_shares_builds_instead_of_taking_the_engine_thread(
    served: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each picture is built on the engine thread, between two events. Any local user can
    ask for /api/account/ID in a loop (the status socket paces the same work): 2,000
    builds a second put the daemon at 90 % CPU and made enforcement slower. Requests that
    come together share one build, and a picture is rebuilt at most every MIN_GAP s."""
    d = served()
    builds: list[float] = []
    real = server_module.account_page

    def counted(*args: Any) -> Any:
        builds.append(time.monotonic())
        return real(*args)

    monkeypatch.setattr(server_module, "account_page", counted)
    answers: list[int] = []

    def ask() -> None:
        for _ in range(50):
            answers.append(_request(d, f"/api/account/{ACCOUNT}")[0])

    started = time.monotonic()
    askers = [threading.Thread(target=ask) for _ in range(4)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    took = time.monotonic() - started
    assert answers == [200] * 200
    assert len(builds) <= took / MIN_GAP + 2, f"{len(builds)} builds in {took:.2f}s"


def test_a_host_header_that_is_no_url_is_refused_without_a_logged_bug(
    served: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """``Host: 127.0.0.1:8766, evil.example`` cannot be parsed into a URL: it was answered
    500 with a traceback in the daemon's log, which any local user could write in a loop
    until the rotating log file had dropped everything the daemon logged before."""
    d = served()
    status, _, body = _request(d, f"/api/account/{ACCOUNT}", host="127.0.0.1:1, evil.example")
    assert status == 400
    assert b"Host" in body
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_an_account_id_that_is_no_number_is_not_found_without_a_logged_bug(
    served: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """'²' is a digit to str.isdigit() but no number to int(), and 5,000 digits are more than
    Python reads: both were answered 500 with a traceback in the daemon's log."""
    d = served()
    for account in ("%C2%B2", "1" * 5000):
        assert _request(d, f"/api/account/{account}")[0] == 404
        assert _request(d, f"/account/{account}")[0] == 404
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_a_request_that_is_no_http_is_refused_without_a_logged_bug(
    served: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp logs each request it cannot parse at ERROR with a traceback: any local user
    sending garbage in a loop would fill the daemon's rotating log with them. Such a request
    is answered 400 and is no bug of the daemon's."""
    d = served()
    url = urlsplit(d.url)
    assert url.hostname is not None and url.port is not None
    for garbage in (b"GARBAGE\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"):
        with socket.create_connection((url.hostname, url.port), timeout=5.0) as raw:
            raw.sendall(garbage)
            assert raw.recv(100).startswith(b"HTTP/1.0 400")
    time.sleep(0.1)  # the server logs after answering
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_an_accounts_page_shows_its_own_alerts_and_the_daemons_not_another_accounts(
    served: Start,
) -> None:
    """Each page is one account's: an alert about another account (its canTrade gone, its
    closes refused) is not shown there, and never pushes this account's own alerts off it."""
    d = served(accounts=(ACCOUNT, OTHER))

    def alerts(account: int) -> list[str]:
        page = json.loads(_request(d, f"/api/account/{account}")[2])
        return [alert["message"] for alert in page["alerts"]]

    def said(words: str) -> int:
        return sum(words in alert["message"] for alert in d.daemon.alerter.recent)

    def can_trade(account: int, flag: bool) -> None:
        d.sim.set_can_trade(account, flag)
        d.wait(
            lambda: (
                d.daemon.on_engine(lambda: d.daemon.engines[account].account(account)).can_trade
                is flag
            ),
            f"canTrade {flag} heard",
        )

    can_trade(ACCOUNT, False)
    d.wait(lambda: said("canTrade is false on 50KTC") == 1, "this account's alert")
    can_trade(ACCOUNT, True)
    for times in range(1, view_module.ALERTS_SHOWN + 2):  # more than a page shows
        can_trade(OTHER, False)
        d.wait(lambda n=times: said("canTrade is false on 150KTC") == n, "the other's alert")
        can_trade(OTHER, True)
    d.daemon.alerter.alert("critical", "the store is unavailable", d.daemon.clock.now())
    mine = alerts(ACCOUNT)
    assert [m for m in mine if "canTrade is false" in m] == [
        "canTrade is false on 50KTC-V2-SIM-20100001; flattening (expect rejections)"
    ]
    assert "the store is unavailable" in mine  # the daemon's own trouble is every account's
    theirs = alerts(OTHER)
    assert "the store is unavailable" in theirs
    assert not any(f"SIM-{ACCOUNT}" in m for m in theirs)
    assert sum("canTrade is false on 150KTC" in m for m in theirs) == view_module.ALERTS_SHOWN - 1
