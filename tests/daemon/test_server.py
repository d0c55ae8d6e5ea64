"""The status server against a real daemon and the simulator (docs/status-protocol.md)."""

from __future__ import annotations

import dataclasses
import grp
import json
import os
import resource
import socket
import stat
import threading
import time
from concurrent.futures import Future
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simple_risk.daemon import service
from simple_risk.daemon.control.client import Connection, DaemonNotRunning
from simple_risk.daemon.control.protocol import ProtocolError, decode, encode
from simple_risk.daemon.control.server import ServerError
from simple_risk.daemon.logging import log_ring
from simple_risk.daemon.runtime import EngineCommand
from simple_risk.daemon.service import ADMIN_STOP_EXIT, supervisor_of
from simple_risk.daemon.sim import wait_until
from simple_risk.engine.events import OrderSide

from .conftest import ACCOUNT, FAST_SERVER, PASSWORD, Running, Start, ruleset_text

#: the daily loss limit below one opening fill's fees: the first fill fires and locks the day
TINY_LOSS_LIMIT = ruleset_text(daily_loss_limit="0.5")


def error_of(call: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        call()
    return caught.value


def day_locked(run: Running) -> None:
    run.trader.buy(ACCOUNT, "MNQ")
    run.wait(lambda: run.locked_by("daily-realized-loss"), "the daily loss lockout")
    run.wait(lambda: run.trader.size(ACCOUNT) == 0, "the flatten")
    run.wait(
        lambda: Decimal(run.status()["pnl"]["realized"]) == run.trader.day_pnl(ACCOUNT),
        "the closing fill in the daemon",
    )


# -- read ops ----------------------------------------------------------------------------------


def test_hello_names_the_daemon_its_accounts_and_ruleset(start: Start) -> None:
    run = start()
    hello = run.request("hello")
    assert hello["version"] == 1
    assert hello["pid"] == os.getpid()
    assert hello["accounts"] == [ACCOUNT]
    assert hello["ruleset"] == {"name": "topstep-50k", "path": str(run.ruleset)}
    assert hello["admin_password_set"] is True
    assert hello["socket"] == str(run.socket)
    assert hello["started_at"] <= hello["now"]


def test_hello_says_whether_a_systemd_unit_runs_the_daemon(start: Start) -> None:
    """systemd sets INVOCATION_ID for each run of a service: the admin's CLI then knows a
    restart is systemd's to do, and a stop stays a stop only by the unit's exit status."""
    assert start().request("hello")["service"] is None
    invocation = {"INVOCATION_ID": "6f3c9a0e1b2d4c5e8f7a6b5c4d3e2f1a"}
    assert supervisor_of(invocation, parent="systemd") == "systemd"
    assert supervisor_of({}, parent="systemd") is None


def test_a_daemon_started_from_a_terminal_is_not_said_to_be_run_by_systemd(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every process on a systemd machine is in some unit: a shell in a desktop's terminal
    (its terminal server is a user service) or on a serial console inherits that unit's
    INVOCATION_ID. A daemon started by hand there said it was run by systemd: daemon status
    read "restarted whenever it ends" — the admin trusted a crash to be restarted, and
    nothing restarted it — and admin daemon restart refused it. A unit runs the daemon when
    its service manager started it, not when a variable was inherited."""
    monkeypatch.setenv("INVOCATION_ID", "6f3c9a0e1b2d4c5e8f7a6b5c4d3e2f1a")
    monkeypatch.setattr(service, "parent_name", lambda: "bash")
    run = start()
    assert run.request("hello")["service"] is None
    # admin daemon start exits once the daemon answers: init (systemd) is its parent now
    monkeypatch.setattr(service, "parent_name", lambda: "systemd")
    assert run.request("hello")["service"] is None
    assert (
        supervisor_of({"INVOCATION_ID": "6f3c9a0e1b2d4c5e8f7a6b5c4d3e2f1a"}, parent="bash") is None
    )


def test_status_has_every_documented_part(start: Start) -> None:
    run = start()
    run.trader.buy(ACCOUNT, "MNQ", 2)
    run.wait(lambda: run.status()["positions"] != [], "the position in status")
    result = run.request("status")
    assert set(result) == {"now", "daemon", "accounts"}
    assert {"pid", "started_at", "queue_depth", "events_applied", "intents_open", "alerts"} <= set(
        result["daemon"]
    )
    (account,) = result["accounts"]
    assert {
        "id",
        "name",
        "can_trade",
        "balance",
        "connection",
        "positions",
        "orders",
        "pnl",
        "contracts",
        "limits",
        "lockouts",
        "pending",
        "firings",
        "intents_open",
    } <= set(account)
    assert account["connection"]["live"] is True
    assert account["connection"]["user_hub"] == "connected"
    (position,) = account["positions"]
    assert (position["symbol"], position["side"], position["size"]) == ("MNQ", "long", 2)
    assert Decimal(position["avg_price"]) > 0
    assert position["protected"] is False
    assert set(account["pnl"]) == {"realized", "unrealized", "net", "week_net", "trades"}
    assert account["contracts"] == {"open": "0.2", "limit": 5}
    loss = next(limit for limit in account["limits"] if limit["rule"] == "daily-realized-loss")
    assert loss["fact"] == "day.realized_pnl"
    assert loss["limit"] == -500
    assert loss["used_pct"] == pytest.approx(
        float(Decimal(loss["value"]) / Decimal(-500) * 100), abs=0.1
    )


def test_status_while_a_for_timer_runs_shows_it_pending_with_the_time_left(start: Start) -> None:
    run = start(grace=30.0)
    run.trader.buy(ACCOUNT, "MNQ")
    run.wait(lambda: run.status()["pending"] != [], "the no-stop grace to start")
    (pending,) = run.status()["pending"]
    assert pending["rule"] == "no-stop-loss-grace"
    assert pending["item"].startswith("position:CON.F.US.MNQ.")
    assert 20.0 < pending["remaining_s"] <= 30.0
    assert pending["fires_at"] > pending["since"]
    later = run.status()["pending"][0]["remaining_s"]
    assert later <= pending["remaining_s"]  # counting down


def test_explain_after_a_firing_shows_each_comparison_and_the_last_firing(start: Start) -> None:
    run = start(TINY_LOSS_LIMIT)
    day_locked(run)
    explained = run.request("explain", {"rule": "daily-realized-loss"})
    assert explained["rule"] == "daily-realized-loss"
    # the clock its countdowns run on (a rehearsal's pinned wall is not the viewer's)
    assert abs(datetime.fromisoformat(explained["now"]) - run.daemon.clock.now()) < timedelta(
        seconds=5
    )
    assert explained["account"] == ACCOUNT
    assert explained["when"] == "day.realized_pnl <= -params.daily_loss_limit"
    assert explained["location"].startswith(str(run.ruleset) + ":")
    assert explained["triggers"] == ["reconcile", "trade"]
    (evaluation,) = explained["evaluations"]
    assert evaluation["item"] == ""
    assert evaluation["result"] is True
    assert evaluation["state"] == "firing"
    (comparison,) = evaluation["comparisons"]
    assert comparison["left"]["text"] == "day.realized_pnl"
    assert Decimal(comparison["left"]["value"]) < Decimal("-0.5")
    assert comparison["right"] == {"text": "-params.daily_loss_limit", "value": "-0.5"}
    assert comparison["op"] == "<=" and comparison["result"] is True
    last = explained["last_firing"]
    assert last["message"].startswith("Daily realized P&L")
    assert "day.realized_pnl" in last["values"]
    # the fill fired before the position arrived: flatten cancelled orders, the lockout then
    # closed the new position (a separate lockout enforcement)
    assert last["text"].startswith("Orders cancelled: daily-realized-loss — Daily realized P&L")
    assert "; account locked until " in last["text"]
    assert any("NoWorkingOrders" in intent for intent in last["intents"])


def test_explain_refuses_an_unknown_rule_or_account(start: Start) -> None:
    run = start()
    assert error_of(lambda: run.request("explain", {"rule": "nope"})).code == "not_found"
    assert (
        error_of(lambda: run.request("explain", {"rule": "max-contracts", "account": 1})).code
        == "not_found"
    )
    assert error_of(lambda: run.request("explain", {})).code == "bad_request"


def test_an_account_the_daemon_does_not_guard_is_answered_with_those_it_does(
    start: Start,
) -> None:
    """An id mistyped (a digit dropped) in `admin lockout clear 2010001` or `engine status
    --account` was answered "this daemon does not guard account 2010001" and nothing more,
    where `engine history` read from the store names the accounts guarded."""
    run = start()
    for op, args in (
        ("status", {"account": 2010001}),
        ("lockout_clear", {"account": 2010001, "reason": "desk approved"}),
    ):
        call = run.admin if op == "lockout_clear" else run.request
        error = error_of(lambda op=op, args=args, call=call: call(op, args))
        assert error.code == "not_found"
        assert error.message == (
            f"this daemon does not guard account 2010001 (it guards {ACCOUNT})"
        )


def test_explain_of_a_misspelt_rule_says_which_rule_was_meant(start: Start) -> None:
    run = start()
    error = error_of(lambda: run.request("explain", {"rule": "daily-realised-loss"}))
    assert error.code == "not_found"
    assert 'did you mean "daily-realized-loss"?' in error.message
    far = error_of(lambda: run.request("explain", {"rule": "zzz"}))
    assert "max-contracts" in far.message  # no close one: the rule ids to choose from


def test_status_shows_the_lockout_with_its_countdown_and_the_firing_in_words(
    start: Start,
) -> None:
    run = start(TINY_LOSS_LIMIT)
    day_locked(run)
    account = run.status()
    (lock,) = [lock for lock in account["lockouts"] if lock["rule"] == "daily-realized-loss"]
    assert (lock["scope"], lock["kind"], lock["reason"]) == ("account", "lock", "daily loss limit")
    assert lock["remaining_s"] > 0 and lock["ends_at"] is not None
    firing = next(f for f in account["firings"] if f["rule"] == "daily-realized-loss")
    assert firing["severity"] == "critical"
    assert "daily-realized-loss — Daily realized P&L" in firing["text"]


def test_history_lists_fills_firings_and_lockouts_from_the_store(start: Start) -> None:
    run = start(TINY_LOSS_LIMIT)
    day_locked(run)
    since = "2000-01-01T00:00:00+00:00"

    def kinds() -> set[str]:
        return {item["kind"] for item in run.request("history", {"since": since})["items"]}

    run.wait(lambda: {"fill", "firing", "lockout", "intent"} <= kinds(), "the history")
    fills = run.request("history", {"since": since, "kinds": ["fill"]})["items"]
    assert fills[0]["summary"].startswith("buy 1 MNQ")
    assert set(fills[0]) == {"at", "kind", "account", "rule", "summary", "details"}
    by_rule = run.request("history", {"since": since, "rule": "daily-realized-loss"})["items"]
    assert {item["rule"] for item in by_rule} == {"daily-realized-loss"}
    assert len(run.request("history", {"since": since, "limit": 2})["items"]) == 2
    refused = error_of(lambda: run.request("history", {"since": since, "kinds": ["quotes"]}))
    assert refused.code == "bad_request"
    assert error_of(lambda: run.request("history", {"since": "yesterday"})).code == "bad_request"


def test_a_history_cut_to_its_limit_says_that_earlier_items_were_left_out(start: Start) -> None:
    """`engine history --since 3d` keeps the newest 1000 items: a trader who trades all day
    has more in three days, and the answer must not read as the whole period — Monday's
    lockout missing from it would read as "Monday had none"."""
    run = start(TINY_LOSS_LIMIT)
    day_locked(run)
    since = "2000-01-01T00:00:00+00:00"
    key = ("at", "kind", "account", "rule")  # an intent's summary moves on as it is worked

    def keys(answer: dict[str, Any]) -> list[tuple[object, ...]]:
        return [tuple(item[k] for k in key) for item in answer["items"]]

    # the lockout's enforcement goes on after it is set (the close, its fill, the reconcile):
    # the history is compared once two reads in a row give the same items
    last: list[list[tuple[object, ...]]] = [[]]

    def settled() -> bool:
        now = keys(run.request("history", {"since": since}))
        same, last[0] = now == last[0], now
        return same and len(now) >= 4

    run.wait(settled, "the history to settle")
    whole = run.request("history", {"since": since})
    assert not whole.get("earlier_left_out")
    cut = run.request("history", {"since": since, "limit": 2})

    assert keys(cut) == keys(whole)[-2:]
    assert cut["earlier_left_out"] is True
    exact = run.request("history", {"since": since, "limit": len(whole["items"])})
    assert keys(exact) == keys(whole) and not exact.get("earlier_left_out")


def test_history_of_a_rule_no_ruleset_has_and_the_store_never_saw_is_not_found(
    start: Start,
) -> None:
    """`engine history --rule daily-loss` (a mistyped id) answered "nothing in this period":
    a trader read it as "the daily loss rule never fired today". A rule the running rulesets
    do not have and the store holds nothing of is not_found, with the id meant; a rule of
    the ruleset that did not fire is still an empty answer."""
    run = start()
    since = "2000-01-01T00:00:00+00:00"
    refused = error_of(lambda: run.request("history", {"since": since, "rule": "daily-loss"}))
    assert refused.code == "not_found"
    assert "no rule daily-loss" in str(refused)
    assert 'did you mean "daily-realized-loss"?' in str(refused)
    quiet = run.request("history", {"since": since, "rule": "daily-realized-loss"})
    assert quiet["items"] == []


def test_unknown_ops_and_malformed_requests_are_errors_not_hangups(start: Start) -> None:
    run = start()
    with run.connect() as connection:
        assert error_of(lambda: connection.request("dance")).code == "unknown_op"
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(str(run.socket))
        raw.sendall(b"not json\n[1]\n")
        reader = raw.makefile("rb")
        assert decode(reader.readline())["error"]["code"] == "bad_request"
        assert decode(reader.readline())["error"]["code"] == "bad_request"
        raw.sendall(encode({"id": 7, "op": "hello"}))
        answer = decode(reader.readline())
        assert answer["id"] == 7 and answer["ok"] is True
        reader.close()
        raw.close()
        assert connection.request("hello")["pid"] == os.getpid()  # the first still works


def test_a_line_nested_too_deep_is_a_bad_request_not_a_logged_bug(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """JSON nested 30,000 deep (a line within the 64 KiB anyone may send) exhausts the
    decoder's recursion: that is the client's malformed line (bad_request), not an internal
    error with a traceback in the daemon's log — which anyone on the socket could otherwise
    write in a loop, rotating the log file."""
    run = start()
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.connect(str(run.socket))
    reader = raw.makefile("rb")
    raw.sendall(b'{"id": 1, "op": "hello", "args": ' + b"[" * 30_000 + b"]" * 30_000 + b"}\n")
    answer = decode(reader.readline())
    assert answer["error"]["code"] == "bad_request"
    assert "nested" in answer["error"]["message"]
    raw.sendall(encode({"id": 2, "op": "hello"}))
    assert decode(reader.readline())["ok"] is True  # the connection survives
    reader.close()
    raw.close()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_a_number_too_long_to_read_is_a_bad_request_not_a_logged_bug(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """Python refuses to read an integer of more than 4,300 digits (a ValueError that is
    not a JSONDecodeError): that line too is the client's mistake, not the daemon's."""
    run = start()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(str(run.socket))
        reader = raw.makefile("rb")
        raw.sendall(b'{"id": ' + b"7" * 5000 + b', "op": "hello"}\n')
        answer = decode(reader.readline())
        assert answer["error"]["code"] == "bad_request"
        raw.sendall(encode({"id": 2, "op": "hello"}))
        assert decode(reader.readline())["ok"] is True  # the connection survives
        reader.close()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


# -- monitor -----------------------------------------------------------------------------------


def test_monitor_tells_each_fill_once_though_the_gateway_sends_the_opening_one_again(
    start: Start,
) -> None:
    """The live gateway sends a position's opening fill again when the position closes (an
    update of that half-turn). Told again, "Fill: buy 1 MES" right after the close read as a
    new buy after the close."""
    run = start()
    received: list[dict[str, Any]] = []
    connection = run.connect()
    stream = connection.stream("subscribe")
    threading.Thread(target=lambda: received.extend(stream), daemon=True).start()
    run.trader.buy(ACCOUNT, "MES")
    run.wait(lambda: run.trader.size(ACCOUNT, "MES") == 1, "the buy")
    run.trader.sell(ACCOUNT, "MES")
    run.wait(lambda: run.status()["positions"] == [], "the position closed")
    # the daemon applies what the hub sent in order: the flat position came after the copy
    run.wait(
        lambda: any(m["type"] == "event" and "MES flat" in m["text"] for m in received),
        "the flat position on monitor",
    )
    connection.close()
    fills = [m["text"] for m in received if m["type"] == "event" and m["text"].startswith("Fill")]
    assert [f.split(" @ ")[0] for f in fills] == ["Fill: buy 1 MES", "Fill: sell 1 MES"], fills


def test_monitor_streams_events_firings_and_results_in_plain_words(start: Start) -> None:
    run = start()
    received: list[dict[str, Any]] = []
    connection = run.connect()
    stream = connection.stream("subscribe")

    def read() -> None:
        for message in stream:
            received.append(message)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    run.trader.buy(ACCOUNT, "RTY")  # a blocked symbol
    run.wait(
        lambda: any(
            m["type"] == "result" and m["text"].startswith("Enforced: position closed (RTY)")
            for m in received
        ),
        "the close's enforcement result on monitor",
    )
    connection.close()
    kinds = {m["type"] for m in received}
    assert {"event", "firing", "result"} <= kinds
    assert all(m["stream"] == "monitor" for m in received)
    firing = next(m for m in received if m["type"] == "firing")
    assert firing["severity"] == "critical"
    # the order event fires first (cancel its orders), before the fill makes a position
    assert firing["text"].startswith("RTY orders cancelled")
    assert (
        ": symbol-blocks — RTY is blocked; RTY locked while the condition holds" in (firing["text"])
    )
    assert firing["data"]["rule"] == "symbol-blocks"
    # cancelling the market order that filled meanwhile finds it already gone; closing succeeds
    texts = [m["text"] for m in received if m["type"] == "result"]
    assert any(t.startswith("Enforced: position closed (RTY)") for t in texts), texts
    fill = next(m for m in received if m["type"] == "event" and m["text"].startswith("Fill:"))
    assert fill["text"].startswith("Fill: buy 1 RTY @ ")
    assert not any(m.get("data", {}).get("kind") == "Quote" for m in received)


def test_a_slow_monitor_gets_dropped_and_the_engine_never_waits_for_it(start: Start) -> None:
    run = start(server=dataclasses.replace(FAST_SERVER, subscriber_queue=4))
    slow = run.connect()
    slow.send("subscribe")
    assert slow.receive()["result"] == {"subscribed": True}
    big = "x" * 200_000  # a few of these fill the socket buffers of a client that never reads

    def flood() -> float:
        started = time.monotonic()
        for index in range(50):
            run.daemon.announce_admin(f"flood {index}", {"padding": big})
        return time.monotonic() - started

    spent = run.daemon.on_engine(flood)  # published from the engine thread itself
    assert spent < 2.0
    # the engine still serves everyone else and still enforces
    run.trader.buy(ACCOUNT, "RTY")
    run.wait(lambda: run.trader.size(ACCOUNT) == 0, "the enforcement while a monitor is stuck")
    assert run.request("hello")["pid"] == os.getpid()
    seen: list[dict[str, Any]] = []
    while not any(m.get("type") == "dropped" for m in seen):
        seen.append(slow.receive())
    dropped = next(m for m in seen if m["type"] == "dropped")
    assert dropped["data"]["count"] > 0
    slow.close()


# -- passwords, throttling, audit --------------------------------------------------------------


def test_admin_ops_need_the_password(start: Start) -> None:
    run = start()
    assert error_of(lambda: run.request("auth_check")).code == "auth_required"
    assert run.admin("auth_check") == {}


def test_a_wrong_password_is_rejected_throttled_with_a_growing_delay_and_audited(
    start: Start,
) -> None:
    run = start()
    wrong = "not the password at all"
    first = error_of(lambda: run.admin("auth_check", password=wrong))
    assert (first.code, first.message) == ("auth_failed", "wrong password")
    throttled = error_of(lambda: run.admin("auth_check"))  # even the right one, unchecked
    assert throttled.code == "throttled"
    assert throttled.retry_after is not None and 0 < throttled.retry_after <= 0.05
    time.sleep(throttled.retry_after + 0.01)
    assert error_of(lambda: run.admin("auth_check", password=wrong)).code == "auth_failed"
    second = error_of(lambda: run.admin("auth_check"))
    assert second.code == "throttled"
    assert second.retry_after is not None and second.retry_after > throttled.retry_after
    assert 0.05 < second.retry_after <= 0.1
    time.sleep(second.retry_after + 0.01)
    assert run.admin("auth_check") == {}  # the right one resets the count
    assert error_of(lambda: run.admin("auth_check", password=wrong)).code == "auth_failed"
    audited = [a for a in run.daemon.store.admin_actions() if a.action == "auth_failed"]
    assert len(audited) == 3
    assert all(
        a.who.startswith("desk-lead via ") and f"uid {os.getuid()}" in a.who for a in audited
    )
    assert audited[0].args["op"] == "auth_check"
    throttled_audit = [a for a in run.daemon.store.admin_actions() if a.action == "throttled"]
    assert len(throttled_audit) == 2


def test_without_a_password_admin_ops_say_so_and_the_owner_can_set_one(start: Start) -> None:
    run = start(password=None)
    assert run.request("hello")["admin_password_set"] is False
    assert error_of(lambda: run.admin("auth_check")).code == "no_password_set"
    short = error_of(lambda: run.admin("set_password", {"new_password": "short"}, password=None))
    assert short.code == "bad_request"
    assert run.admin("set_password", {"new_password": "a new secret phrase"}, password=None) == {}
    assert run.request("hello")["admin_password_set"] is True
    assert stat.S_IMODE(run.daemon.config.admin_password_file.stat().st_mode) == 0o600
    assert run.admin("auth_check", password="a new secret phrase") == {}
    assert error_of(lambda: run.admin("auth_check")).code == "auth_failed"


def test_set_password_needs_the_old_one(start: Start) -> None:
    run = start()
    changed = run.admin("set_password", {"new_password": "the next password"})
    assert changed == {}
    assert run.admin("auth_check", password="the next password") == {}
    assert [a.result for a in run.daemon.store.admin_actions() if a.action == "set_password"] == [
        "changed"
    ]


def test_no_password_ever_reaches_the_logs_the_store_or_an_answer(start: Start) -> None:
    run = start()
    wrong = "wrong-password-guess-1234"
    new = "brand new admin password"
    error_of(lambda: run.admin("auth_check", password=wrong))
    time.sleep(0.06)
    run.admin("set_password", {"new_password": new})
    run.admin("lockout_clear", {"account": ACCOUNT, "reason": "test"}, password=new)
    logs = run.admin("logs", {"lines": 5000}, password=new)["lines"]
    answers = json.dumps(logs) + json.dumps(
        run.request("history", {"since": "2000-01-01T00:00:00+00:00"})
    )
    run.daemon.stop()
    run.daemon.store.close()
    stored = b"".join(p.read_bytes() for p in run.directory.glob("simple-risk.db*"))
    for secret in (PASSWORD, wrong, new):
        assert secret not in answers
        assert secret.encode() not in stored
        assert all(secret not in line for line in log_ring().lines(100_000))


# -- the socket --------------------------------------------------------------------------------


def test_the_socket_is_the_daemon_users_only_by_default(start: Start) -> None:
    run = start()
    info = run.socket.stat()
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()


def test_a_configured_mode_is_applied_and_a_missing_parent_is_created_0700(
    start: Start, short_dir: Path
) -> None:
    path = short_dir / "run" / "simple-risk" / "s.sock"
    run = start(status_socket=path, status_socket_mode=0o660)
    assert stat.S_IMODE(run.socket.stat().st_mode) == 0o660
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_configured_group_gets_the_socket(start: Start, short_dir: Path) -> None:
    group = grp.getgrgid(os.getgid()).gr_name  # one the test user may hand files to
    run = start(status_socket_group=group, status_socket_mode=0o660)
    info = run.socket.stat()
    assert (info.st_gid, stat.S_IMODE(info.st_mode)) == (os.getgid(), 0o660)


def test_a_busy_engine_answers_unavailable_instead_of_hanging(start: Start) -> None:
    run = start(server=dataclasses.replace(FAST_SERVER, engine_timeout=0.2))
    release = threading.Event()
    blocked: Future[object] = Future()
    run.daemon.queue.put(
        EngineCommand(at=run.daemon.clock.now(), fn=lambda: release.wait(10.0), future=blocked)
    )
    try:
        refused = error_of(lambda: run.request("status"))
        assert refused.code == "unavailable"
        assert run.request("hello")["pid"] == os.getpid()  # needs no engine
    finally:
        release.set()
    assert blocked.result(5.0) is True
    assert run.request("status")["accounts"][0]["id"] == ACCOUNT


def test_a_second_daemon_on_the_same_socket_is_refused_and_a_stale_one_replaced(
    start: Start, short_dir: Path
) -> None:
    run = start()
    with pytest.raises(ServerError, match=r"a daemon is already running on .* \(pid \d+\)"):
        start(sim=run.sim, name="second", status_socket=run.socket)
    assert run.request("hello")["pid"] == os.getpid()  # the first one is untouched
    stale = short_dir / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(stale))
    leftover.close()  # a socket file nobody listens on: what kill -9 leaves
    third = start(sim=run.sim, name="third", status_socket=stale, password=None)
    assert third.request("hello")["socket"] == str(stale)


def test_running_out_of_file_descriptors_does_not_end_the_socket_for_good(start: Start) -> None:
    """Any local user can use up the daemon's descriptors for a moment (a thousand idle
    connections to the dashboard did, under systemd's soft limit of 1024). An accept that
    fails then (EMFILE) must be tried again once descriptors are free: before, the accept
    loop ended without a word and the socket never answered again — no status for the
    trader, no lockout list, reload or stop for the admin until a restart."""
    run = start()
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # its descriptor, made now
    client.settimeout(10.0)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = {int(fd) for fd in os.listdir("/proc/self/fd")}
    lowest_free = min(set(range(len(in_use) + 1)) - in_use)
    try:
        # a new descriptor must be below the limit: none is free there, nothing can be accepted
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
        client.connect(str(run.socket))  # queued by the kernel; the daemon's accept fails
        time.sleep(0.3)  # the accept loop meets EMFILE meanwhile
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    client.sendall(encode({"id": 1, "op": "hello"}))
    reader = client.makefile("rb")
    answer = decode(reader.readline())
    assert answer["ok"] is True and answer["result"]["pid"] == os.getpid()
    reader.close()
    client.close()
    assert run.request("hello")["pid"] == os.getpid()  # and new connections are served


def test_the_socket_disappears_when_the_daemon_stops(start: Start) -> None:
    run = start()
    run.daemon.stop()
    assert not run.socket.exists()
    with pytest.raises(DaemonNotRunning):
        Connection(str(run.socket))


def test_loopback_tcp_serves_the_same_protocol_with_the_same_rules(start: Start) -> None:
    run = start(status_tcp=("127.0.0.1", 0))
    assert run.daemon.server is not None
    address = run.daemon.server.addresses[1]
    assert address.startswith("tcp:127.0.0.1:")
    with Connection(address) as connection:
        assert connection.request("hello")["accounts"] == [ACCOUNT]
        assert error_of(lambda: connection.request("auth_check")).code == "auth_required"
        failed = error_of(lambda: connection.request("auth_check", password="wrong password!"))
        assert failed.code == "auth_failed"
    (audit,) = [a for a in run.daemon.store.admin_actions() if a.action == "auth_failed"]
    assert audit.who.startswith("tcp 127.0.0.1:")


def test_a_web_page_cannot_speak_the_protocol_through_loopback_tcp(start: Start) -> None:
    """Any web page open in a browser on the machine may POST to http://127.0.0.1:PORT/
    (no-cors, text/plain: no preflight); the protocol's lines in its body must not be run.
    Otherwise a site guesses admin passwords — throttling the admin's own TCP tries for up to
    5 minutes, as every TCP client is one peer — and fills the audit. The connection is
    closed at the HTTP request line, before the body is read."""
    run = start(status_tcp=("127.0.0.1", 0))
    assert run.daemon.server is not None
    assert run.daemon.server.tcp_address is not None
    body = (
        "\n"
        + json.dumps({"id": 1, "op": "auth_check", "auth": {"password": "a guess from a site"}})
        + "\n"
    )
    request = (
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n"
        f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    )
    raw = socket.create_connection(run.daemon.server.tcp_address, timeout=5.0)
    raw.sendall(request.encode())
    answers = b""
    while chunk := raw.recv(65536):
        answers += chunk
    raw.close()
    assert b"auth_failed" not in answers
    (answer,) = [decode(line) for line in answers.splitlines()]
    assert answer["error"]["code"] == "bad_request"
    assert "HTTP" in answer["error"]["message"]
    assert [a for a in run.daemon.store.admin_actions() if a.action == "auth_failed"] == []
    assert run.admin("auth_check") == {}  # the admin is not throttled


@pytest.mark.parametrize("setting", ["status_tcp", "dashboard"])
def test_a_port_another_user_holds_does_not_keep_the_daemon_from_guarding(
    start: Start, setting: str
) -> None:
    """Any local user may bind a loopback port first — the trader, from a cron @reboot job,
    before the service starts, or in the two seconds of a restart. The daemon used to exit
    ('cannot serve the dashboard … address already in use'), and systemd's restarts failed
    the same way: nothing guarded the account for as long as the port was held. It now
    guards without that listener and says so in a critical alert; the Unix socket serves."""
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    port = squatter.getsockname()[1]
    try:
        run = start(**{setting: ("127.0.0.1", port)})
        alerts = run.request("status")["daemon"]["alerts"]
        (alert,) = [a for a in alerts if f"127.0.0.1:{port}" in a["message"]]
        assert alert["level"] == "critical"
        assert "address already in use" in alert["message"].lower()
        assert "guarding without it" in alert["message"]
        run.trader.buy(ACCOUNT, "MNQ", 60)  # over the MNQ limit of 50: still enforced
        run.wait(lambda: run.trader.size(ACCOUNT, "MNQ") <= 50, "the excess reduced")
    finally:
        squatter.close()


def test_a_user_asking_in_a_loop_is_paced_and_others_are_not(start: Start) -> None:
    """``hello`` costs the engine nothing, but answered 15,000 times a second to one user
    on four connections it took the interpreter from the engine: an order placed during a
    cooldown was cancelled in 12.8 ms instead of 4.4 (median). Each user (TCP as one) gets
    ``requests_per_second`` after a burst; the wait is on that user's connection alone."""
    server = dataclasses.replace(FAST_SERVER, requests_per_second=50.0, request_burst=10)
    run = start(server=server, status_tcp=("127.0.0.1", 0))
    assert run.daemon.server is not None
    with run.connect() as connection:
        began = time.monotonic()
        for _ in range(60):
            connection.request("hello")
        took = time.monotonic() - began
    assert took >= 0.9, f"60 requests in {took:.3f}s: not paced (10 at once, then 50 a second)"
    with Connection(run.daemon.server.addresses[1]) as other:  # TCP: another peer
        began = time.monotonic()
        for _ in range(10):
            other.request("hello")
        assert time.monotonic() - began < 0.5


def test_a_non_loopback_tcp_address_is_refused(start: Start) -> None:
    with pytest.raises(ServerError, match="loopback"):
        start(status_tcp=("8.8.8.8", 0))


# -- reload and configuration ------------------------------------------------------------------


def test_a_broken_ruleset_is_refused_with_located_problems_and_the_running_one_stays(
    start: Start,
) -> None:
    run = start()
    before = run.daemon.engines[ACCOUNT]
    run.ruleset.write_text(
        ruleset_text().replace("when: account.open_contracts > params.max_contracts", "when: x >"),
        encoding="utf-8",
    )
    refused = error_of(lambda: run.admin("reload", {"reason": "typo test"}))
    assert refused.code == "refused"
    problem = refused.problems[0]
    assert problem["file"] == str(run.ruleset)
    assert problem["line"] > 0 and problem["column"] > 0
    assert problem["check"] and problem["message"]
    assert run.daemon.engines[ACCOUNT] is before
    (audit,) = [a for a in run.daemon.store.admin_actions() if a.action == "reload"]
    assert audit.result.startswith("refused") and audit.why == "typo test"


def test_a_good_reload_applies_and_keeps_facts_lockouts_and_timers_of_unchanged_rules(
    start: Start,
) -> None:
    run = start(TINY_LOSS_LIMIT, grace=30.0)
    day_locked(run)
    realized = run.status()["pnl"]["realized"]
    run.ruleset.write_text(
        ruleset_text(daily_loss_limit="0.5", max_contracts=4, max_trades_per_day=40),
        encoding="utf-8",
    )
    result = run.admin("reload", {"reason": "tighter limits"})
    assert result["applied"] is True
    changes = result["changes"][str(ACCOUNT)]
    assert changes["changed"] == [
        "max-contracts",
        "max-contracts-order",
        "max-contracts-resting",
        "trade-frequency-day",
    ]
    assert changes["params"] == {"max_contracts": [5, 4], "max_trades_per_day": [50, 40]}
    assert result["restart_needed"] == []
    account = run.status()
    assert account["pnl"]["realized"] == realized
    assert any(lock["rule"] == "daily-realized-loss" for lock in account["lockouts"])
    engine = run.daemon.engines[ACCOUNT]
    assert engine.state_of("daily-realized-loss", ACCOUNT) == "firing"  # no second firing
    assert (
        sum(f.rule_id == "daily-realized-loss" and f.kind == "rule" for f in run.daemon.firings)
        == 1
    )
    assert (
        next(limit for limit in account["limits"] if limit["rule"] == "max-contracts")["limit"] == 4
    )
    (audit,) = [a for a in run.daemon.store.admin_actions() if a.action == "reload"]
    assert audit.result.startswith("applied: changed 4")
    assert audit.who.startswith("desk-lead via ")


def test_a_reload_keeps_a_running_for_timer_of_an_unchanged_rule_and_resets_a_changed_one(
    start: Start,
) -> None:
    run = start(grace=30.0)
    run.trader.buy(ACCOUNT, "MNQ")
    run.wait(lambda: run.status()["pending"] != [], "the no-stop grace")
    (before,) = run.status()["pending"]
    run.ruleset.write_text(ruleset_text(max_contracts=4), encoding="utf-8")
    run.admin("reload")
    (kept,) = run.status()["pending"]
    assert kept["since"] == before["since"]  # same timer, still counting
    # now change the rule itself: its timer starts again
    grace_rule = "    mandatory: true\n    trigger: [position, order, clock, reconcile]\n"
    text = ruleset_text(max_contracts=4)
    assert f"    severity: critical\n{grace_rule}" in text
    text = text.replace(
        f"    severity: critical\n{grace_rule}", f"    severity: warning\n{grace_rule}", 1
    )
    run.ruleset.write_text(text, encoding="utf-8")
    changed = run.admin("reload")["changes"][str(ACCOUNT)]["changed"]
    assert changed == ["no-stop-loss-grace"]
    (restarted,) = run.status()["pending"]
    assert restarted["since"] > before["since"]


def test_a_limit_a_reload_lowers_below_the_current_value_is_enforced_at_once(
    start: Start,
) -> None:
    run = start()
    price = run.trader.price("MNQ")
    run.trader.stop(ACCOUNT, "MNQ", OrderSide.SELL, 3, price - 20)
    run.trader.buy(ACCOUNT, "MNQ", 3)
    run.wait(lambda: run.status()["positions"] != [], "the position")
    limits = "{ES: 5, NQ: 5, CL: 3, GC: 3, MES: 50, MNQ: 50}"
    text = ruleset_text()
    assert f"per_symbol_limits: {limits}" in text
    run.ruleset.write_text(text.replace(limits, limits.replace("MNQ: 50", "MNQ: 1")), "utf-8")
    changes = run.admin("reload", {"reason": "smaller MNQ limit"})["changes"][str(ACCOUNT)]
    assert "max-contracts-per-instrument" in changes["changed"]
    # at once: the reload evaluates every rule itself (its own Reconciled), so the firing is
    # there when the reload answers — not after the next reconcile or tick
    assert any(
        f.rule_id == "max-contracts-per-instrument" and f.kind == "rule" for f in run.daemon.firings
    )
    run.wait(lambda: run.trader.size(ACCOUNT, "MNQ") == 1, "the reduction to the new limit")


def test_a_reload_that_disables_a_mandatory_rule_is_refused(start: Start) -> None:
    run = start()
    loss_rule = "    mandatory: true\n    trigger: [trade, reconcile]"
    text = ruleset_text().replace(loss_rule, loss_rule.replace("\n", "\n    enabled: false\n", 1))
    assert "enabled: false\n    trigger: [trade, reconcile]" in text
    run.ruleset.write_text(text, encoding="utf-8")
    refused = error_of(lambda: run.admin("reload"))
    assert refused.code == "refused"
    assert "mandatory" in refused.problems[0]["message"]
    assert run.daemon.engines[ACCOUNT].ruleset.rule("daily-realized-loss").enabled
    # located at the rule, as every other refusal of a reload (it read FILE:0:0)
    line = text[: text.index("  - id: daily-realized-loss")].count("\n") + 1
    assert (refused.problems[0]["line"], refused.problems[0]["column"]) == (line, 5)


def test_config_get_and_put_lint_first_then_replace_atomically_and_reload(start: Start) -> None:
    run = start()
    got = run.admin("config_get")
    assert got == {"path": str(run.ruleset), "text": run.ruleset.read_text(encoding="utf-8")}
    broken = got["text"].replace("max_contracts: 5", "max_contracts: [")
    refused = error_of(lambda: run.admin("config_put", {"text": broken, "reason": "oops"}))
    assert refused.code == "refused"
    assert refused.problems[0]["file"] == str(run.ruleset)
    assert run.ruleset.read_text(encoding="utf-8") == got["text"]
    assert not list(run.ruleset.parent.glob(".ruleset.check-*"))
    edited = got["text"].replace("max_contracts: 5", "max_contracts: 3")
    result = run.admin("config_put", {"text": edited, "reason": "smaller account"})
    assert result["applied"] is True
    assert result["changes"][str(ACCOUNT)]["params"] == {"max_contracts": [5, 3]}
    assert run.ruleset.read_text(encoding="utf-8") == edited
    assert run.ruleset.with_name("ruleset.yaml.bak").read_text(encoding="utf-8") == got["text"]
    actions = [(a.action, a.result) for a in run.daemon.store.admin_actions()]
    assert ("config_put", f"written ({len(edited)} characters) and reloaded") in actions


def test_a_reload_names_each_ruleset_param_an_account_overlay_keeps_at_its_own_value(
    start: Start,
) -> None:
    """`simple-risk init` writes an overlay that sets daily_loss_limit: 500. An admin who
    lowered the ruleset's limit to 400 and reloaded read "no changes" and nothing else: the
    account still locked at $500. The reload now says which param the overlay holds, at
    what value, against the ruleset's."""
    run = start()
    overlay = run.directory / "overlay.yaml"
    overlay.write_text("params:\n  daily_loss_limit: 500\n", encoding="utf-8")
    run.daemon.config = dataclasses.replace(run.daemon.config, overlays={ACCOUNT: overlay})
    run.admin("reload")
    run.ruleset.write_text(ruleset_text(daily_loss_limit=400), encoding="utf-8")
    result = run.admin("reload", {"reason": "a tighter daily limit"})
    assert result["changes"][str(ACCOUNT)]["params"] == {}
    assert result["overlay_params"] == {str(ACCOUNT): {"daily_loss_limit": [400, 500]}}
    limits = run.status()["limits"]
    assert next(lim for lim in limits if lim["rule"] == "daily-realized-loss")["limit"] == -500


def test_a_reload_says_the_warnings_rules_lint_gives_its_overlays(start: Start) -> None:
    """An overlay meant to tighten ES alone gave per_symbol_limits {ES: 1}: the map replaces
    the ruleset's, so NQ, MNQ … now read unknown_symbol_limit — raised, in a ruleset whose
    default is above them. `rules lint --base` warns of it (overlay-map-keys); the reload
    applied it with no word of it. The reload now answers the warnings, located."""
    run = start()
    overlay = run.directory / "overlay.yaml"
    overlay.write_text("params:\n  per_symbol_limits: {ES: 1}\n", encoding="utf-8")
    run.daemon.config = dataclasses.replace(run.daemon.config, overlays={ACCOUNT: overlay})
    result = run.admin("reload", {"reason": "ES to one lot"})
    assert result["applied"] is True
    [warning] = result["warnings"]
    assert (warning["file"], warning["line"], warning["check"]) == (
        str(overlay),
        2,
        "overlay-map-keys",
    )
    assert warning["severity"] == "warning"
    assert "leaves out NQ (5 in the ruleset)" in warning["message"]


def test_a_reload_that_takes_mandatory_off_a_rule_says_so(start: Start) -> None:
    """A reload may not disable a mandatory rule; but one that only changes `mandatory: true`
    to false answered "no changes" and was audited "no rule changed" — and the next reload
    could then disable the daily loss limit. The answer names the rule, and so does the
    audit."""
    run = start()
    text = run.ruleset.read_text(encoding="utf-8")
    at = text.index("  - id: daily-realized-loss")
    flag = text.index("mandatory: true", at)
    edited = text[:flag] + "mandatory: false" + text[flag + len("mandatory: true") :]
    run.ruleset.write_text(edited, encoding="utf-8")
    result = run.admin("reload", {"reason": "a new ruleset"})
    assert result["mandatory_dropped"] == {str(ACCOUNT): ["daily-realized-loss"]}
    [audited] = [a for a in run.daemon.store.admin_actions() if a.action == "reload"]
    assert audited.result == "applied: no longer mandatory 1 (daily-realized-loss)"


def test_a_reload_of_a_configuration_with_a_new_account_and_its_overlay_applies_the_rest(
    start: Start,
) -> None:
    """The admin added the 150K account to accounts: with its overlay, and tightened the 50K
    account's overlay, then reloaded: refused as "config.yaml:1:1: overlay for account
    20100002 which is not in accounts" — though the file lists it — and the 50K limit was not
    applied either. The reload applies the guarded accounts' overlays and says the new
    account waits for a restart."""
    run = start()
    overlays = run.directory / "overlays"
    overlays.mkdir()
    (overlays / f"{ACCOUNT}.yaml").write_text("params: {daily_loss_limit: 400}\n")
    (overlays / "20100002.yaml").write_text("params: {daily_loss_limit: 1000}\n")
    config = run.directory / "config.yaml"
    config.write_text(
        f"gateway: {run.sim.base_url}\n"
        f"credentials: {{username: {run.sim.username}, api_key: {run.sim.api_key}}}\n"
        f"accounts: [{ACCOUNT}, 20100002]\n"
        f"ruleset: {run.ruleset}\n"
        f"overlays: {{{ACCOUNT}: overlays/{ACCOUNT}.yaml, 20100002: overlays/20100002.yaml}}\n"
        f"data_dir: {run.daemon.config.data_dir}\n"
        f"status_socket: {run.socket}\n"
        f"admin_password_file: {run.daemon.config.admin_password_file}\n",
        encoding="utf-8",
    )
    run.daemon.config = dataclasses.replace(run.daemon.config, source=str(config))
    result = run.admin("reload", {"reason": "add the 150K, 50K to 400"})
    assert result["changes"][str(ACCOUNT)]["params"] == {"daily_loss_limit": [500, 400]}
    assert "accounts" in result["restart_needed"]
    assert run.daemon.config.accounts == (ACCOUNT,)


def test_a_reload_without_overlays_names_no_overlay_params(start: Start) -> None:
    run = start()
    run.ruleset.write_text(ruleset_text(daily_loss_limit=400), encoding="utf-8")
    result = run.admin("reload")
    assert result["changes"][str(ACCOUNT)]["params"] == {"daily_loss_limit": [500, 400]}
    assert result["overlay_params"] == {}
    assert result["warnings"] == []
    assert result["mandatory_dropped"] == {}


# -- lockouts, logs, stop ----------------------------------------------------------------------


def test_lockout_list_and_clear_are_audited_and_the_clear_survives_a_restart(
    start: Start,
) -> None:
    run = start(TINY_LOSS_LIMIT)
    day_locked(run)
    answer = run.admin("lockout_list")
    assert abs(datetime.fromisoformat(answer["now"]) - run.daemon.clock.now()) < timedelta(
        seconds=5
    )
    listed = answer["lockouts"]
    assert [(lock["account"], lock["rule"]) for lock in listed] == [
        (ACCOUNT, "daily-realized-loss")
    ]
    assert error_of(lambda: run.admin("lockout_clear", {"account": ACCOUNT})).code == "bad_request"
    cleared = run.admin(
        "lockout_clear", {"account": ACCOUNT, "scope": "account", "reason": "broker error"}
    )["cleared"]
    assert [lock["rule"] for lock in cleared] == ["daily-realized-loss"]
    assert run.status()["lockouts"] == []
    (audit,) = [a for a in run.daemon.store.admin_actions() if a.action == "clear_lockout"]
    assert (audit.why, audit.result, audit.account) == ("broker error", "cleared", ACCOUNT)
    assert audit.who.startswith("desk-lead via ")
    assert run.daemon.store.active_lockouts(run.daemon.clock.now(), ACCOUNT) == []
    # restart on the same data directory: the lock does not come back
    sim = run.sim
    run.daemon.stop()
    run.daemon.store.close()
    again = start(TINY_LOSS_LIMIT, sim=sim)
    assert again.status()["lockouts"] == []


def test_logs_returns_recent_lines_and_follow_streams_new_ones(start: Start) -> None:
    run = start()
    error_of(lambda: run.admin("auth_check", password="a wrong password"))
    time.sleep(0.06)  # the throttle's first delay (shrunk for tests)
    lines = run.admin("logs", {"lines": 50, "level": "warning"})["lines"]
    assert any("wrong admin password" in line and "WARNING" in line for line in lines)
    critical = run.admin("logs", {"lines": 5000, "level": "critical"})["lines"]
    assert all(" CRITICAL " in line for line in critical)  # the ring is the process's
    with run.connect() as connection:
        connection.send("logs", {"follow": True, "lines": 0, "level": "warning"}, password=PASSWORD)
        assert connection.receive()["result"] == {"lines": []}
        run.admin("lockout_clear", {"account": ACCOUNT, "reason": "nothing"})  # info: not shown
        error_of(lambda: run.admin("auth_check", password="another wrong one"))
        # the ring is the process's: another thread's warning (a hub client of an earlier
        # test closing its socket) may come first
        streamed = [connection.receive()]
        while "wrong admin password" not in streamed[-1]["line"] and len(streamed) < 20:
            streamed.append(connection.receive())
        assert all(line["stream"] == "logs" for line in streamed)
        assert "wrong admin password" in streamed[-1]["line"]
        assert all("nothing" not in line["line"] for line in streamed)  # info: not shown


def test_stop_is_graceful_snapshot_written_and_lease_released(start: Start) -> None:
    run = start()
    run.trader.buy(ACCOUNT, "MNQ")
    run.wait(lambda: run.status()["positions"] != [], "the position")
    assert run.admin("stop", {"reason": "end of day"}) == {"stopping": True}
    assert run.daemon.stop_requested.wait(5.0)
    assert run.daemon.stop_reason == "end of day"
    run.daemon.stop()
    store = run.daemon.store
    assert store.lease(ACCOUNT) is None
    snapshot = store.latest_snapshot(ACCOUNT)
    assert snapshot is not None
    assert snapshot.journal_seq == store.last_seq(ACCOUNT)
    (position,) = snapshot.state["engine"]["accounts"][0]["positions"]
    assert position["size"] == 1
    (audit,) = [a for a in store.admin_actions() if a.action == "stop"]
    assert audit.why == "end of day"


def test_an_admin_action_without_a_reason_reads_once_in_parentheses(start: Start) -> None:
    run = start()
    run.admin("reload", {})
    (audit,) = [a for a in run.daemon.store.admin_actions() if a.action == "reload"]
    assert audit.why == "no reason given"
    since = run.daemon.started_at
    assert since is not None
    run.wait(lambda: any(i.kind == "admin" for i in run.daemon.store.history(since)), "the item")
    history = run.daemon.store.history(since=since)
    (item,) = [i for i in history if i.kind == "admin"]
    assert item.summary.endswith("(no reason given)"), item.summary


def test_stopping_the_daemon_needs_a_reason_whatever_client_asks(start: Start) -> None:
    """A stop leaves every account unguarded: a client of the protocol that sends no reason
    (not only the command line, which asks for ``--reason``) is refused, and the daemon runs
    on."""
    run = start()
    for args in ({}, {"reason": "   "}):
        refused = error_of(lambda args=args: run.admin("stop", args))
        assert refused.code == "bad_request"
        assert "stopping the daemon needs a reason" in str(refused)
    assert not run.daemon.stop_requested.is_set()
    assert [a for a in run.daemon.store.admin_actions() if a.action == "stop"] == []


def test_engine_run_stops_on_the_stop_op_cleanly_and_removes_its_pid_file(
    short_dir: Path,
) -> None:
    import subprocess
    import sys

    from simple_risk.adapters.simulator import RateLimits, Simulator
    from simple_risk.daemon.password import hash_password, write_password_hash
    from simple_risk.store import Store
    from tests.pinned import pinned_env, pinned_wall

    sim = Simulator(
        port=0,
        seed=3,
        ping_interval=0.3,
        price_interval=None,
        rate_limits=RateLimits(general=(5000, 60.0), bars=(50, 30.0)),
        clock=pinned_wall(),
    ).start()
    try:
        (short_dir / "ruleset.yaml").write_text(ruleset_text(), encoding="utf-8")
        write_password_hash(short_dir / "admin.bcrypt", hash_password(PASSWORD, rounds=4))
        config = short_dir / "config.yaml"
        config.write_text(
            f"gateway: {sim.base_url}\n"
            "credentials:\n  username: demo\n  api_key: ${SR_TEST_API_KEY}\n"
            f"accounts: [{ACCOUNT}]\n"
            "ruleset: ruleset.yaml\n"
            "data_dir: data\n"
            "log_dir: log\n"
            "status_socket: s.sock\n"
            "admin_password_file: admin.bcrypt\n"
            "timing: {tick_interval: 0.25, reconcile_interval: 5, snapshot_interval: 2}\n",
            encoding="utf-8",
        )
        env = pinned_env(sim.clock, {**os.environ, "SR_TEST_API_KEY": sim.api_key})
        process = subprocess.Popen(
            [sys.executable, "-m", "simple_risk", "engine", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        socket_path = short_dir / "s.sock"
        pid_file = short_dir / "data" / "daemon.pid"
        try:
            started = wait_until(lambda: pid_file.exists() and socket_path.exists(), 30.0)
            if not started:
                process.kill()
                output = process.communicate()[0].decode()
                pytest.fail(f"engine run did not start:\n{output[-3000:]}")
            assert pid_file.read_text().strip() == str(process.pid)
            with Connection(str(socket_path)) as connection:
                assert connection.request("hello")["pid"] == process.pid
                # a reload re-reads the configuration: the ruleset applies, the rest waits
                (short_dir / "ruleset.yaml").write_text(
                    ruleset_text(max_contracts=4), encoding="utf-8"
                )
                config.write_text(
                    config.read_text().replace("tick_interval: 0.25", "tick_interval: 0.5")
                )
                reloaded = connection.request("reload", password=PASSWORD)
                assert reloaded["changes"][str(ACCOUNT)]["params"] == {"max_contracts": [5, 4]}
                assert reloaded["restart_needed"] == ["timing"]
                answer = connection.request("stop", {"reason": "test"}, password=PASSWORD)
                assert answer == {"stopping": True}
            # the admin's stop: the status the shipped unit keeps a stop (Restart=always
            # restarts a daemon whatever else ended it)
            assert process.wait(30) == ADMIN_STOP_EXIT == 4
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        output = process.stdout.read().decode() if process.stdout else ""
        assert not pid_file.exists(), output
        assert not socket_path.exists()
        assert PASSWORD not in output
        with Store.open(f"sqlite:///{short_dir / 'data' / 'simple-risk.db'}") as store:
            assert store.lease(ACCOUNT) is None
            assert store.latest_snapshot(ACCOUNT) is not None
            assert [a.action for a in store.admin_actions()] == ["reload", "stop"]
    finally:
        sim.stop()


def test_an_alert_about_one_account_names_it_and_stays_out_of_another_accounts_status(
    start: Start,
) -> None:
    """With several accounts an alert's words may not say whose it is (a rule's own message:
    "half the daily loss is gone"): the status names its account, and ``status --account``
    of another account does not show it as if it were that account's."""
    other = 20100002
    run = start(accounts=(ACCOUNT, other))
    run.sim.set_can_trade(other, False)  # the firm stops the 150K: auth-loss-guard alerts
    words = "canTrade is false on 150KTC"
    run.wait(
        lambda: any(words in a["message"] for a in run.request("status")["daemon"]["alerts"]),
        "the alert",
    )
    (alert,) = [a for a in run.request("status")["daemon"]["alerts"] if words in a["message"]]
    assert alert["account"] == other
    mine = run.request("status", {"account": ACCOUNT})["daemon"]["alerts"]
    assert not [a for a in mine if words in a["message"]]
    theirs = run.request("status", {"account": other})["daemon"]["alerts"]
    assert [a["message"] for a in theirs if words in a["message"]] == [alert["message"]]
    # ... and it is kept for engine history, as the status showed it
    run.wait(
        lambda: any(
            words in item["summary"]
            for item in run.request("history", {"kinds": ["alert"]})["items"]
        ),
        "the alert in history",
    )
    (kept,) = [
        item
        for item in run.request("history", {"kinds": ["alert"], "account": other})["items"]
        if words in item["summary"]
    ]
    assert (kept["account"], kept["summary"]) == (other, f"{alert['level']}: {alert['message']}")


def test_a_restart_still_shows_the_trading_days_alerts(start: Start) -> None:
    """The store keeps every alert; a restart made the day's vanish from status (and the
    dashboard): "the close keeps failing" was gone while the close still failed."""
    run = start()
    run.daemon.alerter.alert(
        "critical", "enforcement of position-closed failed 3 time(s)", run.daemon.clock.now()
    )
    run.daemon.stop()
    run.daemon.store.close()
    again = start(sim=run.sim)
    messages = [a["message"] for a in again.request("status")["daemon"]["alerts"]]
    assert "enforcement of position-closed failed 3 time(s)" in messages, messages
    assert messages.index("enforcement of position-closed failed 3 time(s)") < len(messages) - 1
