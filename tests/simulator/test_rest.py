"""The simulator's REST surface, called with plain ``requests`` as a ProjectX client would."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from simple_risk.adapters.simulator import RateLimits, Simulator
from tests.pinned import pinned_wall
from tests.simulator.conftest import ACCOUNT, contract_id, login, make_simulator, wait_for


def call(sim: Simulator, path: str, body: object, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{sim.base_url}/api/{path}", json=body, headers=headers, timeout=5)


def ok(sim: Simulator, path: str, body: object, token: str) -> dict[str, Any]:
    reply = call(sim, path, body, token)
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    assert data["success"] is True and data["errorCode"] == 0 and data["errorMessage"] is None
    return data


def test_login_with_the_demo_key_returns_a_jwt_shaped_token(sim: Simulator) -> None:
    reply = call(sim, "Auth/loginKey", {"userName": sim.username, "apiKey": sim.api_key}, None)
    data = reply.json()
    assert data["success"] and data["errorCode"] == 0 and data["errorMessage"] is None
    assert data["token"].count(".") == 2


def test_a_wrong_api_key_is_an_http_200_with_error_code_3(sim: Simulator) -> None:
    reply = call(sim, "Auth/loginKey", {"userName": sim.username, "apiKey": "nope"}, None)
    assert reply.status_code == 200
    assert reply.json() == {
        "token": None,
        "success": False,
        "errorCode": 3,
        "errorMessage": "Invalid credentials.",
    }


def test_a_login_body_missing_a_field_is_a_400_problem(sim: Simulator) -> None:
    reply = call(sim, "Auth/loginKey", {"userName": sim.username}, None)
    assert reply.status_code == 400
    assert "apiKey" in reply.json()["errors"]


@pytest.mark.parametrize("token", [None, "garbage"])
def test_missing_or_unknown_bearer_tokens_get_401(sim: Simulator, token: str | None) -> None:
    reply = call(sim, "Account/search", {"onlyActiveAccounts": True}, token)
    assert reply.status_code == 401


def test_an_expired_token_gets_401_and_validate_issues_a_new_one() -> None:
    with Simulator(port=0, price_interval=None, token_lifetime=0.5) as sim:
        token = login(sim)
        renewed = ok(sim, "Auth/validate", None, token)["newToken"]
        assert renewed != token
        body = {"onlyActiveAccounts": True}
        assert call(sim, "Account/search", body, token).status_code == 200
        wait_for(lambda: call(sim, "Account/search", body, token).status_code == 401, 3.0)


def test_logout_revokes_only_that_token(sim: Simulator, token: str) -> None:
    other = login(sim)
    ok(sim, "Auth/logout", None, token)
    assert call(sim, "Account/search", {"onlyActiveAccounts": True}, token).status_code == 401
    ok(sim, "Account/search", {"onlyActiveAccounts": True}, other)


def test_paths_and_property_names_match_case_insensitively(sim: Simulator, token: str) -> None:
    data = ok(sim, "account/SEARCH", {"onlyactiveaccounts": True}, token)
    assert [a["id"] for a in data["accounts"]][:1] == [ACCOUNT]
    assert set(data["accounts"][0]) == {
        "id",
        "name",
        "balance",
        "canTrade",
        "isVisible",
        "simulated",
    }


def test_decimals_are_json_numbers_with_nine_fractional_digits(sim: Simulator, token: str) -> None:
    reply = call(sim, "Contract/searchById", {"contractId": contract_id(sim, "EP")}, token)
    assert '"tickSize":0.250000000' in reply.text
    contract = reply.json()["contract"]
    assert contract["tickValue"] == 12.5 and contract["activeContract"] is True
    assert contract["symbolId"] == "F.US.EP"


def test_contract_search_available_and_by_id(sim: Simulator, token: str) -> None:
    found = ok(sim, "Contract/search", {"searchText": "MNQ", "live": False}, token)["contracts"]
    assert [c["id"] for c in found] == [contract_id(sim, "MNQ")]
    available = ok(sim, "Contract/available", {"live": False}, token)["contracts"]
    assert len(available) == 51 and all(c["activeContract"] for c in available)  # §14.5
    missing = call(sim, "Contract/searchById", {"contractId": "CON.F.US.XX.Z99"}, token).json()
    assert (missing["success"], missing["errorCode"], missing["contract"]) == (False, 1, None)


def test_place_a_market_order_and_see_position_order_and_trade(sim: Simulator, token: str) -> None:
    mnq = contract_id(sim, "MNQ")
    order_id = ok(
        sim,
        "Order/place",
        {"accountId": ACCOUNT, "contractId": mnq, "type": 2, "side": 0, "size": 3},
        token,
    )["orderId"]
    assert order_id > 2**31
    (position,) = ok(sim, "Position/searchOpen", {"accountId": ACCOUNT}, token)["positions"]
    assert (position["contractId"], position["type"], position["size"]) == (mnq, 1, 3)
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    (order,) = ok(sim, "Order/search", {"accountId": ACCOUNT, "startTimestamp": since}, token)[
        "orders"
    ]
    assert (order["id"], order["status"], order["fillVolume"]) == (order_id, 2, 3)
    assert order["limitPrice"] is None and "customTag" in order  # explicit nulls on REST
    (trade,) = ok(sim, "Trade/search", {"accountId": ACCOUNT, "startTimestamp": since}, token)[
        "trades"
    ]
    assert trade["orderId"] == order_id and trade["profitAndLoss"] is None and trade["id"] > 2**31


def test_close_and_partial_close_contract(sim: Simulator, token: str) -> None:
    mes = contract_id(sim, "MES")
    body = {"accountId": ACCOUNT, "contractId": mes, "type": 2, "side": 1, "size": 4}
    ok(sim, "Order/place", body, token)
    partial = {"accountId": ACCOUNT, "contractId": mes, "size": 3}
    ok(sim, "Position/partialCloseContract", partial, token)
    (position,) = ok(sim, "Position/searchOpen", {"accountId": ACCOUNT}, token)["positions"]
    assert (position["type"], position["size"]) == (2, 1)
    too_big = call(sim, "Position/partialCloseContract", partial, token).json()
    assert (too_big["success"], too_big["errorCode"]) == (False, 5)
    ok(sim, "Position/closeContract", {"accountId": ACCOUNT, "contractId": mes}, token)
    assert ok(sim, "Position/searchOpen", {"accountId": ACCOUNT}, token)["positions"] == []
    again = call(sim, "Position/closeContract", {"accountId": ACCOUNT, "contractId": mes}, token)
    assert again.json()["errorCode"] == 2


def test_limit_orders_rest_and_can_be_modified_and_cancelled(sim: Simulator, token: str) -> None:
    mnq = contract_id(sim, "MNQ")
    order_id = ok(
        sim,
        "Order/place",
        {
            "accountId": ACCOUNT,
            "contractId": mnq,
            "type": 1,
            "side": 0,
            "size": 1,
            "limitPrice": 20900.5,
            "customTag": "entry-1",
        },
        token,
    )["orderId"]
    (order,) = ok(sim, "Order/searchOpen", {"accountId": ACCOUNT}, token)["orders"]
    assert (order["status"], order["limitPrice"], order["customTag"]) == (1, 20900.5, "entry-1")
    ok(sim, "Order/modify", {"accountId": ACCOUNT, "orderId": order_id, "limitPrice": 20901}, token)
    ok(sim, "Order/cancel", {"accountId": ACCOUNT, "orderId": order_id}, token)
    assert ok(sim, "Order/searchOpen", {"accountId": ACCOUNT}, token)["orders"] == []
    again = call(sim, "Order/cancel", {"accountId": ACCOUNT, "orderId": order_id}, token).json()
    assert (again["success"], again["errorCode"]) == (False, 3)
    unknown = call(sim, "Order/cancel", {"accountId": ACCOUNT, "orderId": 1}, token).json()
    assert unknown["errorCode"] == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"accountId": 1, "type": 2, "side": 0, "size": 1}, 1),
        ({"accountId": ACCOUNT, "type": 2, "side": 0, "size": 0}, 2),
        ({"accountId": ACCOUNT, "type": 9, "side": 0, "size": 1}, 2),
        ({"accountId": ACCOUNT, "type": 1, "side": 0, "size": 1, "limitPrice": 1.1}, 2),
    ],
)
def test_place_errors_use_the_place_order_enum(
    sim: Simulator, token: str, body: dict[str, object], code: int
) -> None:
    reply = call(sim, "Order/place", {"contractId": contract_id(sim, "MNQ"), **body}, token)
    assert reply.status_code == 200
    data = reply.json()
    assert (data["success"], data["errorCode"], data["orderId"]) == (False, code, None)


def test_unknown_and_expired_contracts_use_codes_8_and_9(sim: Simulator, token: str) -> None:
    body = {"accountId": ACCOUNT, "type": 2, "side": 0, "size": 1}
    unknown = call(sim, "Order/place", {**body, "contractId": "CON.F.US.XX.Z99"}, token).json()
    assert unknown["errorCode"] == 8
    expired = next(c.id for c in sim.venue.contracts() if not c.active)
    assert call(sim, "Order/place", {**body, "contractId": expired}, token).json()["errorCode"] == 9


def test_a_bracket_order_is_rejected_with_the_live_message_but_keeps_an_id(
    sim: Simulator, token: str
) -> None:
    data = call(
        sim,
        "Order/place",
        {
            "accountId": ACCOUNT,
            "contractId": contract_id(sim, "MNQ"),
            "type": 2,
            "side": 0,
            "size": 1,
            "stopLossBracket": {"ticks": 10, "type": 4},
            "takeProfitBracket": {"ticks": 20, "type": 1},
        },
        token,
    ).json()
    assert (data["success"], data["errorCode"]) == (False, 2)
    assert data["errorMessage"].startswith("Brackets cannot be used with Position Brackets")
    assert data["orderId"] > 2**31


def test_an_account_that_cannot_trade_is_refused_with_code_4(sim: Simulator, token: str) -> None:
    sim.set_can_trade(ACCOUNT, False)
    body = {"accountId": ACCOUNT, "contractId": contract_id(sim, "MNQ"), "type": 2, "side": 0}
    assert call(sim, "Order/place", {**body, "size": 1}, token).json()["errorCode"] == 4
    (account,) = [
        a
        for a in ok(sim, "Account/search", {"onlyActiveAccounts": True}, token)["accounts"]
        if a["id"] == ACCOUNT
    ]
    assert account["canTrade"] is False


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'{"accountId": "x"}', b'{"accountId": true}', b'{"accountId": 1.5}'],
)
def test_bodies_that_do_not_bind_get_400_never_a_traceback(
    sim: Simulator, token: str, raw: bytes
) -> None:
    reply = requests.post(
        f"{sim.base_url}/api/Position/searchOpen",
        data=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert reply.status_code == 400
    assert reply.json()["status"] == 400


def test_bars_are_newest_first_and_limited() -> None:
    # the bars' window lies before the venue's "now": the venue runs on the pinned wall, so
    # the window is in its past on any date the suite runs (no bar exists in the future)
    end = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with make_simulator(clock=pinned_wall()) as sim:
        token = login(sim)
        _bars_are_newest_first_and_limited(sim, token, end)


def _bars_are_newest_first_and_limited(sim: Simulator, token: str, end: datetime) -> None:
    body = {
        "contractId": contract_id(sim, "EP"),
        "live": False,
        "startTime": (end - timedelta(hours=10)).isoformat(),
        "endTime": end.isoformat(),
        "unit": 2,
        "unitNumber": 5,
        "limit": 7,
        "includePartialBar": False,
    }
    bars = ok(sim, "History/retrieveBars", body, token)["bars"]
    assert len(bars) == 7
    times = [datetime.fromisoformat(b["t"]) for b in bars]
    assert times == sorted(times, reverse=True)
    assert times[0] == end - timedelta(minutes=5)
    assert all(b["l"] <= min(b["o"], b["c"]) and b["h"] >= max(b["o"], b["c"]) for b in bars)
    assert call(sim, "History/retrieveBars", {**body, "unit": 9}, token).json()["errorCode"] == 2
    assert call(sim, "History/retrieveBars", {**body, "limit": 0}, token).json()["errorCode"] == 4


def test_the_rate_limit_answers_429_and_bars_have_their_own_bucket() -> None:
    limits = RateLimits(general=(5, 2.0), bars=(2, 2.0))
    with Simulator(port=0, price_interval=None, rate_limits=limits) as sim:
        token = login(sim)  # 1 of 5
        statuses = [
            call(sim, "Account/search", {"onlyActiveAccounts": True}, token).status_code
            for _ in range(5)
        ]
        assert statuses == [200, 200, 200, 200, 429]
        bars = {
            "contractId": contract_id(sim, "EP"),
            "live": False,
            "startTime": "2026-01-01T00:00:00Z",
            "endTime": "2026-01-01T01:00:00Z",
            "unit": 3,
            "unitNumber": 1,
            "limit": 1,
            "includePartialBar": False,
        }
        bar_statuses = [call(sim, "History/retrieveBars", bars, token).status_code for _ in "abc"]
        assert bar_statuses == [200, 200, 429]


def test_injected_faults_hit_the_next_calls_then_stop(sim: Simulator, token: str) -> None:
    sim.fail_next(2, 429)
    sim.fail_next(1, 500)
    body = {"onlyActiveAccounts": True}
    statuses = [call(sim, "Account/search", body, token).status_code for _ in range(4)]
    assert statuses == [429, 429, 500, 200]
    sim.fail_next(1, "timeout")
    with pytest.raises(requests.Timeout):
        requests.post(
            f"{sim.base_url}/api/Account/search",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=0.3,
        )


def test_an_injected_refusal_can_say_when_to_come_back(sim: Simulator, token: str) -> None:
    """Whether the live gateway sends ``Retry-After`` is not known (reference §3.1): a test
    decides, by the control API or the handle, seconds or an HTTP date, on a 429 or a 503."""
    body = {"onlyActiveAccounts": True}
    control = requests.post(
        f"{sim.base_url}/sim/fail-next",
        json={"count": 1, "status": 429, "retryAfter": "7"},
        timeout=5.0,
    )
    assert control.status_code == 200
    sim.fail_next(1, 503, retry_after="Wed, 13 Jan 2027 16:00:02 GMT")
    sim.fail_next(1, 429)
    answers = [call(sim, "Account/search", body, token) for _ in range(4)]
    assert [(a.status_code, a.headers.get("Retry-After")) for a in answers] == [
        (429, "7"),
        (503, "Wed, 13 Jan 2027 16:00:02 GMT"),
        (429, None),
        (200, None),
    ]


def test_a_late_answer_comes_after_the_venue_acted(sim: Simulator, token: str) -> None:
    mnq = contract_id(sim, "MNQ")
    order = {"accountId": ACCOUNT, "contractId": mnq, "type": 2, "side": 0, "size": 1}
    ok(sim, "Order/place", order, token)
    sim.answer_late("Position/closeContract", 0.6)
    close = {"accountId": ACCOUNT, "contractId": mnq}
    done: list[float] = []
    sent = time.monotonic()
    worker = threading.Thread(
        target=lambda: done.append(ok(sim, "Position/closeContract", close, token) and 1.0)
    )
    worker.start()
    wait_for(lambda: sim.venue.open_positions(ACCOUNT) == [])  # acted before it answered
    assert not done
    worker.join(5)
    assert done and time.monotonic() - sent >= 0.6
    ok(sim, "Order/place", order, token)  # only the next call was late
    started = time.monotonic()
    ok(sim, "Position/closeContract", close, token)
    assert time.monotonic() - started < 0.5


def test_revoked_tokens_get_401_and_a_revoked_api_key_cannot_log_in(
    sim: Simulator, token: str
) -> None:
    body = {"onlyActiveAccounts": True}
    assert call(sim, "Account/search", body, token).status_code == 200
    assert sim.revoke_tokens() >= 1
    assert call(sim, "Account/search", body, token).status_code == 401
    sim.revoke_api_key()
    refused = call(sim, "Auth/loginKey", {"userName": sim.username, "apiKey": sim.api_key}, None)
    assert refused.json()["errorCode"] == 3
    sim.revoke_api_key(False)
    assert call(sim, "Account/search", body, login(sim)).status_code == 200


def test_the_request_log_shows_what_a_client_did(sim: Simulator, token: str) -> None:
    sim.clear_requests()
    call(sim, "Position/searchOpen", {"accountId": ACCOUNT}, token)
    call(sim, "Position/searchOpen", {"accountId": ACCOUNT}, None)
    log = sim.requests_log()
    assert [(r.method, r.path, r.status) for r in log] == [
        ("POST", "/api/Position/searchOpen", 200),
        ("POST", "/api/Position/searchOpen", 401),
    ]
    assert log[0].body == {"accountId": ACCOUNT}
    assert log[0].time <= log[1].time


def test_status_ping_answers_pong_without_a_token(sim: Simulator) -> None:
    reply = requests.get(f"{sim.base_url}/api/Status/ping", timeout=5)
    assert (reply.status_code, reply.text) == (200, "pong")


def test_the_control_api_over_http(sim: Simulator, token: str) -> None:
    mnq = contract_id(sim, "MNQ")
    base = f"{sim.base_url}/sim"
    assert requests.post(f"{base}/price", json={"contractId": mnq, "price": 21100}, timeout=5).ok
    state = requests.get(f"{base}/state", timeout=5).json()
    assert state["prices"][mnq] == 21100
    bad = requests.post(f"{base}/price", json={"contractId": mnq, "price": 1.01}, timeout=5)
    assert bad.status_code == 400 and "error" in bad.json()
    requests.post(f"{base}/account", json={"accountId": ACCOUNT, "canTrade": False}, timeout=5)
    assert sim.venue.account(ACCOUNT).can_trade is False
    requests.post(f"{base}/fail-next", json={"count": 1, "status": 500}, timeout=5)
    assert call(sim, "Position/searchOpen", {"accountId": ACCOUNT}, token).status_code == 500
    logged = requests.get(f"{base}/requests", timeout=5).json()["requests"]
    assert logged[-1]["path"] == "/api/Position/searchOpen"
    assert all(not r["path"].startswith("/sim") for r in logged)
    assert json.loads(json.dumps(logged))  # plain JSON all the way


@pytest.mark.parametrize("unit", range(1, 7))
def test_bars_far_outside_the_history_are_an_empty_success(
    sim: Simulator, token: str, unit: int
) -> None:
    body = {
        "contractId": contract_id(sim, "EP"),
        "live": False,
        "startTime": "0001-01-01T00:00:00Z",
        "endTime": "0001-03-01T00:00:00Z",
        "unit": unit,
        "unitNumber": 1,
        "limit": 5,
        "includePartialBar": True,
    }
    assert ok(sim, "History/retrieveBars", body, token)["bars"] == []


def test_bars_end_in_the_venues_own_prices() -> None:
    """From the venue's start on, a bar is the trades it printed: the partial bar's close is
    the last price the market hub published, its high and low the prices it went through; a
    minute nothing traded in has no bar. Before the start the history is synthetic, and its
    last bar closes at the venue's first price."""
    wall = pinned_wall()
    with make_simulator(clock=wall) as sim:
        token = login(sim)
        ep = contract_id(sim, "EP")
        start = sim.last_price(ep)
        body = {
            "contractId": ep,
            "live": False,
            "startTime": (wall() - timedelta(minutes=5)).isoformat(),
            "endTime": (wall() + timedelta(minutes=1)).isoformat(),
            "unit": 2,
            "unitNumber": 1,
            "limit": 1,
            "includePartialBar": True,
        }
        # nothing traded yet: the newest bar is the history's last, which leads to the start
        (history,) = ok(sim, "History/retrieveBars", body, token)["bars"]
        assert datetime.fromisoformat(history["t"]) < wall() - timedelta(seconds=59)
        assert Decimal(str(history["c"])) == start
        for price in (start + 3, start - 2, start + Decimal("0.5")):
            sim.set_price(ep, price)
        (bar,) = ok(sim, "History/retrieveBars", body, token)["bars"]
        assert Decimal(str(bar["c"])) == start + Decimal("0.5") == sim.last_price(ep)
        assert Decimal(str(bar["h"])) == start + 3 and Decimal(str(bar["l"])) == start - 2
        assert Decimal(str(bar["o"])) == start + 3 and bar["v"] == 3
        whole = ok(sim, "History/retrieveBars", {**body, "includePartialBar": False}, token)
        assert all(datetime.fromisoformat(b["t"]) < wall() for b in whole["bars"])
