"""Several accounts on one daemon and one login: each is enforced on its own facts.

* the same contract on two accounts: a breach on one reduces that one only;
* a breach on one account while the hubs are down is enforced once they are back, and the
  other account's legal position is left alone;
* an account the login no longer lists is said to the user: the daemon can no longer guard it;
* an account of the login the configuration does not list is said to the user, once, while it
  can trade: at the start, and when it appears during the day (a new combine);
* the quotes of a contract one account left still reach the account that holds it;
* an account the gateway no longer knows at a start does not keep the daemon from guarding
  the others, nor spends the login's REST budget on retries every second;
* while the user hub is down, REST is read every few seconds (a breach on any account is
  enforced meanwhile) and the user is told — also when it was down from the start.
"""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simple_risk.adapters.simulator import Simulator
from simple_risk.daemon import engineloop, reconcile
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, wait_until
from tests.pinned import pinned_wall

from .harness import (
    ACCOUNT,
    FAST_OPTIONS,
    OTHER,
    Harness,
    Start,
    build_ruleset,
    guarding_config,
    pinned_simulator,
)

BOTH = (ACCOUNT, OTHER)


def test_the_same_contract_on_two_accounts_is_reduced_only_where_it_breaks_the_rule(
    start: Start,
) -> None:
    h = start(build_ruleset(params={"max_contracts": 100}), accounts=BOTH)
    h.trader.buy(OTHER, "CLE", 2)
    h.trader.buy(ACCOUNT, "CLE", 4)  # over the 3 lots of the per-instrument limit
    h.wait(lambda: h.trader.size(ACCOUNT, "CLE") <= 3, "the reduction")
    h.daemon.request_reconcile(ACCOUNT, "test")
    h.daemon.request_reconcile(OTHER, "test")
    h.wait(lambda: not h.daemon.book, "the intents to finish")
    assert h.trader.size(OTHER, "CLE") == 2
    assert {b["accountId"] for b in h.sent("Position/partialCloseContract")} | {
        b["accountId"] for b in h.sent("Position/closeContract")
    } == {ACCOUNT}
    assert not h.fired("max-contracts-per-instrument", OTHER)


def test_a_breach_while_the_hubs_are_down_is_enforced_on_its_account_only(start: Start) -> None:
    h = start(accounts=BOTH)
    h.sim.refuse_hub_connections(2.0)
    h.sim.drop_connections()
    h.trader.buy(OTHER, "MNQ")  # legal
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol, bought while the hubs are down
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the close after the hubs came back")
    h.wait(lambda: h.sim.hub_connections() >= 2, "the hubs back")
    assert h.trader.size(OTHER, "MNQ") == 1
    assert {b["accountId"] for b in h.sent("Position/closeContract")} == {ACCOUNT}


@pytest.fixture
def other_unlisted(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``hide(sim)``: from now on Account/search no longer lists OTHER (closed, or taken from
    this login); ``hide(sim, False)`` lists it again."""

    def hide(sim: Simulator, hidden: bool = True) -> None:
        venue = sim.venue
        if not hidden:
            monkeypatch.delattr(venue, "accounts")
            return
        listed = type(venue).accounts

        def accounts(*, only_active: bool = False) -> list[Any]:
            return [a for a in listed(venue, only_active=only_active) if a.id != OTHER]

        monkeypatch.setattr(venue, "accounts", accounts)

    return hide


def _alerts(h: Any, words: str) -> list[dict[str, str]]:
    return [a for a in h.daemon.alerter.recent if words in a["message"]]


def test_an_account_the_login_no_longer_lists_is_alerted_once_and_its_return_said(
    start: Start, other_unlisted: Any
) -> None:
    h = start(accounts=BOTH)
    other_unlisted(h.sim)
    h.daemon.request_reconcile(OTHER, "test")
    h.wait(lambda: _alerts(h, f"account {OTHER} is no longer listed"), "the alert")
    (alert,) = _alerts(h, f"account {OTHER} is no longer listed")
    assert alert["level"] == "critical"
    reconciles = h.daemon.reconciles
    h.daemon.request_reconcile(OTHER, "again")
    h.wait(lambda: h.daemon.reconciles > reconciles, "the next reconcile")
    assert len(_alerts(h, f"account {OTHER} is no longer listed")) == 1  # said once
    assert not _alerts(h, f"account {ACCOUNT} is no longer listed")
    other_unlisted(h.sim, False)
    h.daemon.request_reconcile(OTHER, "listed again")
    h.wait(lambda: _alerts(h, f"account {OTHER} is listed again"), "the all-clear")


NEW = 20100004  # a combine the firm opens on the login during the day


def _new_account(h: Harness, name: str, *, can_trade: bool = True) -> None:
    """The user hub announces an account the daemon has not heard of (a new combine)."""
    h.sim.emit_user_event(
        "GatewayUserAccount",
        [
            {
                "action": 0,
                "data": {
                    "id": NEW,
                    "name": name,
                    "balance": 50000,
                    "canTrade": can_trade,
                    "isVisible": True,
                    "simulated": True,
                },
            }
        ],
    )


def test_an_account_of_the_login_the_configuration_leaves_out_is_said_to_be_unguarded(
    start: Start,
) -> None:
    h = start(accounts=BOTH)  # the login has a third account, 20100003, that can trade
    third = 20100003
    h.wait(lambda: _alerts(h, f"account {third} "), "the unguarded account said")
    (alert,) = _alerts(h, f"account {third} ")
    assert (alert["level"], alert["account"]) == ("warning", third)
    assert "not guarded" in alert["message"]
    reconciles = h.daemon.reconciles
    h.daemon.request_reconcile(ACCOUNT, "again")
    h.wait(lambda: h.daemon.reconciles > reconciles, "the next reconcile")
    assert len(_alerts(h, f"account {third} ")) == 1  # said once
    assert not _alerts(h, f"account {ACCOUNT} ") and not _alerts(h, f"account {OTHER} ")


def test_an_account_that_appears_during_the_day_is_said_to_be_unguarded_once_it_can_trade(
    start: Start,
) -> None:
    h = start(accounts=BOTH)
    _new_account(h, "50KTC-V2-NOT-YET", can_trade=False)
    _new_account(h, f"50KTC-V2-NEW-{NEW}")
    h.wait(lambda: _alerts(h, f"account {NEW} "), "the new account said")
    _new_account(h, f"50KTC-V2-NEW-{NEW}")
    reconciles = h.daemon.reconciles
    h.daemon.request_reconcile(ACCOUNT, "again")
    h.wait(lambda: h.daemon.reconciles > reconciles, "the next reconcile")
    (alert,) = _alerts(h, f"account {NEW} ")  # once, and only once it could trade
    assert alert["level"] == "warning"
    assert f"50KTC-V2-NEW-{NEW}" in alert["message"] and "not guarded" in alert["message"]


def test_quotes_of_a_contract_one_account_left_still_reach_the_other(start: Start) -> None:
    h = start(accounts=BOTH)
    h.trader.buy(ACCOUNT, "EP")
    h.trader.buy(OTHER, "EP")
    h.wait(lambda: h.trader.size(OTHER, "EP") == 1, "the fills")
    h.trader.sell(ACCOUNT, "EP")  # one account leaves the contract
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 0, "flat")
    # the daemon heard of it too (the hub's close and the next quote race otherwise)
    h.wait(lambda: not _positions(h, ACCOUNT), "the daemon's facts flat")
    h.wait(lambda: bool(_positions(h, OTHER)), "the daemon's facts of the other's position")
    h.trader.move("EP", Decimal("-7"))  # past max_unrealized_loss for the one still in it
    h.wait(lambda: h.trader.size(OTHER, "EP") == 0, "the other account's close")
    assert h.fired("daily-unrealized-loss", OTHER)
    assert not h.fired("daily-unrealized-loss", ACCOUNT)
    assert {b["accountId"] for b in h.sent("Position/closeContract")} == {OTHER}


def _positions(h: Harness, account: int) -> list[str]:
    """The contracts the daemon's engine holds a position in for ``account`` (read on the
    engine thread)."""

    def read() -> list[str]:
        state = h.daemon.engines[account].account(account)
        return [] if state is None else list(state.positions)

    return h.daemon.on_engine(read)


GONE = 20100099  # an account the login had once: closed, or taken from it


def test_an_account_the_gateway_no_longer_knows_does_not_keep_the_others_unguarded(
    tmp_path: Path,
) -> None:
    wall = pinned_wall()
    sim = pinned_simulator(wall)
    trader = Trader(sim)
    config = guarding_config(sim, (ACCOUNT, GONE), tmp_path)
    daemon = Daemon(
        config,
        dict.fromkeys((ACCOUNT, GONE), build_ruleset()),
        store=open_store(config),
        options=dataclasses.replace(FAST_OPTIONS, wall=wall),
    )
    try:
        daemon.start()  # Position/searchOpen answers AccountNotFound for GONE
        assert wait_until(lambda: daemon.status()["accounts"][str(ACCOUNT)]["live"], 10.0)
        trader.buy(ACCOUNT, "RTY")  # a blocked symbol
        assert wait_until(lambda: trader.size(ACCOUNT) == 0, 5.0), "the other account enforced"
        assert wait_until(
            lambda: any(
                a["level"] == "critical" and f"account {GONE}" in a["message"]
                for a in daemon.alerter.recent
            ),
            10.0,
        ), "the unguarded account said"
        # ... and why: its REST answers fail because the login no longer has it
        assert wait_until(
            lambda: _said(daemon, "critical", f"account {GONE} is no longer listed"), 5.0
        ), "the account said to be gone from the login"
    finally:
        daemon.stop()
        trader.close()
        sim.stop()


def test_an_account_the_gateway_no_longer_knows_is_retried_ever_more_slowly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each failed reconcile was tried again a second later, for ever: an account closed or
    taken from the login cost two REST calls every reconcile gap all day (60 a minute of the
    200 the gateway allows), and a few of them filled the budget the live accounts reconcile
    from. A reconcile that keeps failing is now retried after a doubling pause, up to a cap."""
    monkeypatch.setattr(reconcile, "FAILED_RECONCILE_RETRY_MAX", 1.0)
    wall = pinned_wall()
    sim = pinned_simulator(wall)
    config = guarding_config(sim, (ACCOUNT, GONE), tmp_path)
    quick = dataclasses.replace(config.timing, retry_interval=0.1)
    daemon = Daemon(
        dataclasses.replace(config, timing=quick),
        dict.fromkeys((ACCOUNT, GONE), build_ruleset()),
        store=open_store(config),
        options=dataclasses.replace(FAST_OPTIONS, wall=wall, reconcile_gap=0.05),
    )

    def tries() -> int:
        return sum(
            r.path == "/api/Position/searchOpen"
            and isinstance(r.body, dict)
            and r.body.get("accountId") == GONE
            for r in sim.requests_log()
        )

    try:
        daemon.start()
        assert wait_until(lambda: _said(daemon, "critical", f"account {GONE}: 3 reconciles"), 10.0)
        sim.clear_requests()
        time.sleep(3.0)
        assert 1 <= tries() <= 6  # still tried, about once a second (the cap), not 30 times
        assert daemon.status()["accounts"][str(ACCOUNT)]["live"]
    finally:
        daemon.stop()
        sim.stop()


def test_while_the_user_hub_is_down_rest_is_read_often_and_the_user_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user hub that cannot connect leaves the daemon blind to fills, orders and positions
    but for REST: it polls REST at a short interval (not the minute of the periodic
    reconcile), says so once the outage lasts, and says when the hub is back."""
    monkeypatch.setattr(engineloop, "HUB_DOWN_POLL", 1.0)
    monkeypatch.setattr(engineloop, "HUB_DOWN_ALERT", 2.0)
    wall = pinned_wall()
    sim = pinned_simulator(wall)
    trader = Trader(sim)
    config = guarding_config(sim, BOTH, tmp_path)
    rare = dataclasses.replace(config.timing, reconcile_interval=60.0)  # as in production
    daemon = Daemon(
        dataclasses.replace(config, timing=rare),
        dict.fromkeys(BOTH, build_ruleset()),
        store=open_store(config),
        options=dataclasses.replace(FAST_OPTIONS, wall=wall),
    )
    try:
        daemon.start()
        assert wait_until(daemon.ready.is_set, 10.0)
        sim.refuse_hub_connections(OUTAGE)
        sim.drop_connections()
        time.sleep(1.0)  # the reconcile of the drop itself is behind us
        down = time.monotonic()
        trader.buy(ACCOUNT, "RTY")  # a blocked symbol, bought while the user hub is down
        assert wait_until(lambda: trader.size(ACCOUNT) == 0, OUTAGE - 2.0), "closed meanwhile"
        assert time.monotonic() - down < OUTAGE - 2.0
        assert wait_until(lambda: _said(daemon, "warning", "user hub"), 5.0), "the outage said"
        assert wait_until(lambda: _said(daemon, "info", "user hub is back"), OUTAGE + 5.0)
    finally:
        daemon.stop()
        trader.close()
        sim.stop()


def test_a_user_hub_down_from_the_start_is_read_from_rest_often_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same when the user hub never connected: the daemon starts without it (its first
    word is a failed rebuild, not a drop), and it was not counted as down — no REST poll
    but the periodic one, no word to the trader — while fills went unseen."""
    monkeypatch.setattr(engineloop, "HUB_DOWN_POLL", 1.0)
    monkeypatch.setattr(engineloop, "HUB_DOWN_ALERT", 2.0)
    wall = pinned_wall()
    sim = pinned_simulator(wall)
    trader = Trader(sim)
    config = guarding_config(sim, BOTH, tmp_path)
    rare = dataclasses.replace(config.timing, reconcile_interval=60.0)  # as in production
    daemon = Daemon(
        dataclasses.replace(config, timing=rare),
        dict.fromkeys(BOTH, build_ruleset()),
        store=open_store(config),
        options=dataclasses.replace(FAST_OPTIONS, wall=wall, hub_ready_timeout=1.0),
    )
    try:
        sim.refuse_hub_connections(OUTAGE)
        daemon.start()
        assert wait_until(daemon.ready.is_set, 5.0)
        time.sleep(1.0)  # the startup reconcile is behind us
        down = time.monotonic()
        trader.buy(ACCOUNT, "RTY")  # a blocked symbol, bought while the user hub is down
        assert wait_until(lambda: trader.size(ACCOUNT) == 0, OUTAGE - 3.0), "closed meanwhile"
        assert time.monotonic() - down < OUTAGE - 3.0
        assert wait_until(lambda: _said(daemon, "warning", "user hub"), 3.0), "the outage said"
        assert wait_until(lambda: _said(daemon, "info", "user hub is back"), OUTAGE + 5.0)
    finally:
        daemon.stop()
        trader.close()
        sim.stop()


OUTAGE = 8.0  # seconds the gateway refuses hub connections


def _said(daemon: Daemon, level: str, words: str) -> bool:
    return any(a["level"] == level and words in a["message"] for a in daemon.alerter.recent)
