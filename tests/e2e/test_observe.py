"""Observe mode end to end: a real simulator, a real daemon serving its status socket.

The trader breaks several rules on an observed account. Every firing is journaled and shown —
``engine status`` with its OBSERVE banner, ``monitor`` lines saying what *would* be sent,
``history`` items of the observed intents — and the simulator's request log holds no call that
changes anything. Then the admin turns enforcement on (password, audited) and every breach
still standing is enforced, without a restart; the choice outlives a restart whose
configuration still says to observe.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

from click.testing import CliRunner

from simple_risk.cli import cli, timeline
from simple_risk.daemon.control.protocol import ProtocolError
from simple_risk.engine.events import OrderSide, OrderStatus
from tests.daemon.conftest import PASSWORD, Running, short_dir, start
from tests.pinned import PINNED_START

__all__ = ["short_dir", "start"]  # the served daemon's fixtures, used by name

ACCOUNT = 20100001
SINCE = (PINNED_START - timedelta(hours=1)).isoformat()
OBSERVED = frozenset({ACCOUNT})
#: every gateway call that changes something (the trader's own Order/place aside)
MUTATING = {
    "/api/order/cancel",
    "/api/order/modify",
    "/api/position/closecontract",
    "/api/position/partialclosecontract",
}


def _mutating_calls(run: Running) -> list[tuple[str, Any]]:
    calls = []
    for request in run.sim.requests_log():
        path = request.path.lower()
        body = request.body if isinstance(request.body, dict) else {}
        if path in MUTATING:
            calls.append((path, body))
        elif path == "/api/order/place" and not str(body.get("customTag", "")).startswith(
            "trader-"
        ):
            calls.append((path, body))  # an order the daemon placed (a protective stop)
    return calls


def _fired(run: Running, rule: str) -> bool:
    return any(f.rule_id == rule and f.account == ACCOUNT for f in run.daemon.firings)


class _Monitor:
    """``engine monitor``'s stream, read on a thread, kept as the lines it prints."""

    def __init__(self, run: Running) -> None:
        self.messages: list[dict[str, Any]] = []
        self._connection = run.connect()
        stream = self._connection.stream("subscribe")

        def read() -> None:
            for message in stream:
                self.messages.append(message)

        threading.Thread(target=read, daemon=True).start()

    def lines(self) -> list[str]:
        return [timeline.monitor_line(m).plain for m in list(self.messages)]

    def close(self) -> None:
        self._connection.close()


def _cli(run: Running, *args: str) -> str:
    result = CliRunner().invoke(
        cli, list(args), env={"SIMPLE_RISK_ADMIN_PASSWORD": PASSWORD, "COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    return result.output


def _admin_accepted(run: Running) -> bool:
    try:
        run.admin("enforce", {"account": ACCOUNT, "enforce": False, "reason": "try a ruleset"})
    except ProtocolError as error:
        assert error.code == "throttled"
        return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        assert isinstance(port, int)
        return port


def _dashboard_mode(run: Running) -> object:
    """The mode the trader's dashboard page shows for the account."""
    address = run.daemon.config.dashboard
    assert address is not None
    connection = http.client.HTTPConnection(*address, timeout=10)
    try:
        connection.request("GET", f"/api/account/{ACCOUNT}")
        return json.loads(connection.getresponse().read())["mode"]
    finally:
        connection.close()


def _break_three_rules(run: Running) -> None:
    trader = run.trader
    trader.buy(ACCOUNT, "RTY")  # a blocked symbol
    run.wait(lambda: _fired(run, "symbol-blocks"), "symbol-blocks")
    order = trader.limit(ACCOUNT, "MES", OrderSide.BUY, 60, trader.price("MES") - 100)
    run.wait(lambda: _fired(run, "max-contracts-order"), "max-contracts-order (oversize)")
    assert run.sim.venue.order(order).status == OrderStatus.OPEN
    trader.buy(ACCOUNT, "EP")
    run.wait(lambda: trader.size(ACCOUNT, "EP") == 1, "the ES fill")
    trader.move("EP", Decimal("-7"))  # a $350 loss: beyond the daily unrealized limit
    run.wait(lambda: _fired(run, "daily-unrealized-loss"), "daily-unrealized-loss")


def test_observe_mode_shows_every_breach_sends_nothing_then_enforces_when_turned_on(
    start: Any,
) -> None:
    run: Running = start(observed=OBSERVED, dashboard=("127.0.0.1", _free_port()))
    monitor = _Monitor(run)
    try:
        _break_three_rules(run)
        run.wait(
            lambda: any("Would close ES" in line for line in monitor.lines()),
            "the monitor line of the ES close that would be sent",
        )
        lines = monitor.lines()
    finally:
        monitor.close()

    # nothing that changes anything reached the gateway: the breaches all still stand
    assert _mutating_calls(run) == []
    assert run.trader.size(ACCOUNT, "RTY") == 1
    assert run.trader.size(ACCOUNT, "EP") == 1
    assert any(o.size == 60 for o in run.sim.venue.open_orders(ACCOUNT))

    # monitor: firings marked OBSERVE, and what would be sent in the trader's words
    assert any("firing" in line and "OBSERVE (not enforced)" in line for line in lines)
    # the blocked RTY: the market order (seen pending first) and then its position
    assert any("Would" in line and "RTY" in line for line in lines), lines
    assert any("Would cancel order #" in line and "60 MES" in line for line in lines)

    # status: the mode per account, the open intents observed, the banner in the terminal
    account = run.status()
    assert account["mode"] == "observe"
    assert {intent["state"] for intent in account["intents_open"]} == {"observed"}
    shown = _cli(run, "engine", "status", "--socket", str(run.socket))
    assert "OBSERVE MODE" in shown and "NOTHING is sent to the gateway" in shown
    assert "OBSERVE ONLY" in shown
    assert _dashboard_mode(run) == "observe"

    # history: the firings are journaled, and the observed intents say what they would do
    items = run.request("history", {"account": ACCOUNT})["items"]
    rules = {item["rule"] for item in items if item["kind"] == "firing"}
    assert {"symbol-blocks", "max-contracts-order", "daily-unrealized-loss"} <= rules
    observed = [item["summary"] for item in items if item["kind"] == "intent"]
    assert any(s.startswith("OBSERVED, not enforced: would close RTY 1") for s in observed)
    assert "OBSERVED, not enforced" in _cli(
        run, "engine", "history", "--socket", str(run.socket), "--since", SINCE
    )

    # the admin turns enforcement on: password, audit, no restart; what still stands goes
    said = _cli(
        run,
        "admin",
        "--socket",
        str(run.socket),
        "--operator",
        "desk-lead",
        "enforce",
        str(ACCOUNT),
        "--on",
        "--reason",
        "watched it, go live",
    )
    assert "ENFORCING" in said
    run.wait(lambda: run.trader.size(ACCOUNT) == 0, "the positions closed")
    run.wait(lambda: run.trader.working(ACCOUNT) == 0, "the oversize order cancelled")
    assert run.status()["mode"] == "enforce"
    assert _dashboard_mode(run) == "enforce"
    audit = [a for a in run.daemon.store.admin_actions() if a.action == "enforce"]
    assert [(a.account, a.args["enforce"], a.why) for a in audit] == [
        (ACCOUNT, True, "watched it, go live")
    ]
    assert "desk-lead" in audit[0].who


def test_enforcement_turned_on_by_the_admin_outlives_a_restart_that_says_observe(
    start: Any,
) -> None:
    run: Running = start(observed=OBSERVED)
    run.admin("enforce", {"account": ACCOUNT, "enforce": True, "reason": "go live"})
    assert run.status()["mode"] == "enforce"
    run.daemon.stop()
    run.daemon.store.close()
    again: Running = start(sim=run.sim, observed=OBSERVED)  # same data dir and store
    account = again.status()
    assert account["mode"] == "enforce"
    assert account["mode_source"].startswith("admin ") and "(go live)" in account["mode_source"]
    again.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: enforced at once
    again.wait(lambda: again.trader.size(ACCOUNT) == 0, "the blocked position closed")


def test_turning_enforcement_off_needs_the_password_and_a_reason(start: Any) -> None:
    run: Running = start()
    assert run.status()["mode"] == "enforce"
    for password, args, code in (
        (PASSWORD, {"account": ACCOUNT, "enforce": False}, "bad_request"),
        (PASSWORD, {"account": ACCOUNT, "enforce": "no", "reason": "x"}, "bad_request"),
        (PASSWORD, {"account": 99, "enforce": False, "reason": "x"}, "not_found"),
        ("wrong password!", {"account": ACCOUNT, "enforce": False, "reason": "x"}, "auth_failed"),
    ):
        try:
            run.admin("enforce", args, password=password)
        except ProtocolError as error:
            assert error.code == code
        else:
            raise AssertionError(f"enforce {args} was accepted")
    assert run.status()["mode"] == "enforce"
    run.wait(lambda: _admin_accepted(run), "the throttle after a wrong password")
    assert run.status()["mode"] == "observe"
    run.trader.buy(ACCOUNT, "RTY")
    run.wait(lambda: _fired(run, "symbol-blocks"), "the firing")
    assert _mutating_calls(run) == []
    assert run.trader.size(ACCOUNT, "RTY") == 1
