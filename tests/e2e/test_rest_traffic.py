"""The daemon's REST traffic as the accounts of one login grow (reference §3.1: the gateway
allows 200 calls per 60 s, the daemon keeps itself to 190).

While the user hub is down every account is reconciled in full every 10 s. ``Account/search``
answers for the whole login, so each poll asks it once, whatever the number of accounts: the
calls of a poll are one plus the three per-account ones (open positions, working orders, the
week's fills) of each account. Asked per account, a poll cost four calls per account, 24 a
minute each: eight accounts alone passed the 190. Nor does the periodic light reconcile
(positions and orders of every account, each 45 s) run beside the poll: the poll reads them
already, more often. And the poll keeps to 150 calls in any minute: past eight accounts it
comes less often (twenty accounts: 61 calls every 30 s), where it took all the budget the
reconciles may use and each account was read every 30-40 s anyway, unevenly.

The hub-down timings are shortened here, and the minute with them: ``POLL`` stands for the
10 s, ``WINDOW`` for the 60 s.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from simple_risk.adapters.simulator import AccountSpec, RateLimits, Simulator
from simple_risk.adapters.topstepx.ratelimit import (
    DEFAULT_BUCKET,
    DEFAULT_BUDGETS,
    DEFAULT_RESERVE,
    Budget,
    busiest_window,
)
from simple_risk.daemon import engineloop
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, wait_until
from tests.pinned import pinned_wall

from .harness import FAST_OPTIONS, build_ruleset, guarding_config

#: twenty accounts of one login
ACCOUNTS = tuple(range(20_100_001, 20_100_021))
PER_ACCOUNT = ("Position/searchOpen", "Order/searchOpen", "Trade/search")
POLL = 1.5  # the hub-down poll, shortened from 10 s ...
WINDOW = engineloop.REST_WINDOW * POLL / engineloop.HUB_DOWN_POLL  # ... and the minute with it


@pytest.fixture(autouse=True)
def _shortened(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engineloop, "HUB_DOWN_POLL", POLL)
    monkeypatch.setattr(engineloop, "REST_WINDOW", WINDOW)


def _simulator(count: int) -> Simulator:
    return Simulator(
        port=0,
        seed=11,
        ping_interval=0.3,
        price_interval=None,
        rate_limits=RateLimits(general=(100_000, 60.0), bars=(50, 30.0)),
        clock=pinned_wall(),
        accounts=[
            AccountSpec(account, f"50KTC-V2-SIM-{account}", Decimal("50000"))
            for account in ACCOUNTS[:count]
        ],
    ).start()


def _daemon(sim: Simulator, count: int, tmp_path: Path, reconcile_interval: float) -> Daemon:
    """A daemon guarding the simulator's ``count`` accounts, its REST budget out of the way
    (what is measured is what the daemon asks for)."""
    accounts = ACCOUNTS[:count]
    config = guarding_config(sim, accounts, tmp_path)
    timing = dataclasses.replace(config.timing, reconcile_interval=reconcile_interval)
    return Daemon(
        config.with_timing(timing),
        dict.fromkeys(accounts, build_ruleset()),
        store=open_store(config),
        options=dataclasses.replace(
            FAST_OPTIONS,
            wall=pinned_wall(),
            reconcile_gap=0.2,
            budgets={DEFAULT_BUCKET: Budget(100_000, 60.0), "bars": Budget(47, 30.0)},
        ),
    )


def _calls_while_the_user_hub_is_down(
    sim: Simulator, daemon: Daemon, count: int, seconds: float
) -> list[tuple[str, float]]:
    """The REST calls the simulator received over ``seconds`` of a user hub outage: each
    endpoint and when it arrived (seconds)."""
    try:
        daemon.start()
        assert wait_until(daemon.ready.is_set, 20.0), "the daemon did not become live"
        sim.refuse_hub_connections(30.0)
        sim.drop_connections()
        polled = daemon.reconciles
        # the outage's first poll (the drop itself is no gap: the hub is not heard again)
        assert wait_until(lambda: daemon.reconciles >= polled + count, 10.0)
        sim.clear_requests()
        time.sleep(seconds)
        return [
            (r.path.removeprefix("/api/"), r.time.timestamp())
            for r in sim.requests_log()
            if r.path.startswith("/api/")
        ]
    finally:
        daemon.stop()
        sim.stop()


#: the measured cases: every figure of docs/daemon.md locally; CI keeps the one each test needs
#: most (the shared search with many accounts; the spacing past eight) to stay under 20 minutes
CI_PROFILE = bool(os.environ.get("CI"))


@pytest.mark.parametrize("count", [8] if CI_PROFILE else [1, 8, 20])
def test_while_the_user_hub_is_down_each_poll_asks_account_search_once_for_the_login(
    count: int, tmp_path: Path
) -> None:
    sim = _simulator(count)
    # no periodic reconcile in the window: the poll's own calls
    daemon = _daemon(sim, count, tmp_path, reconcile_interval=600.0)
    poll = engineloop.hub_down_poll(count)
    log = _calls_while_the_user_hub_is_down(sim, daemon, count, 3 * poll)
    calls = Counter(endpoint for endpoint, _ in log)
    # one full reconcile of every account per poll; the window's edges may cut through one
    # poll's reconciles (positions read before fills), so the most-read endpoint counts them
    polls = max(calls[endpoint] for endpoint in PER_ACCOUNT) / count
    print(f"\n{count} account(s), user hub down: {dict(calls)} in {polls:g} polls")
    assert 2 <= polls <= 4, calls
    cut = [e for e in PER_ACCOUNT if polls * count - calls[e] > count]
    assert not cut, calls
    assert calls["Account/search"] <= polls + 1, f"Account/search asked per account: {calls}"
    per_poll = (sum(calls.values()) - calls["Auth/validate"]) / polls
    assert per_poll <= 3 * count + 1.5, f"{per_poll:g} calls per poll"


@pytest.mark.parametrize("count", [20] if CI_PROFILE else [8, 20])
def test_while_the_user_hub_is_down_the_poll_keeps_within_what_reconciles_may_use(
    count: int, tmp_path: Path
) -> None:
    """The poll aims at 150 calls a minute. Here a poll's calls spread over a share of the
    shortened minute seven times the real one, so a window may catch the tail of one poll
    and the head of another: what is held is the bound that matters, the 170 calls the
    limiter lets reconciles take (the daemon's 190 less the 20 kept for enforcement)."""
    sim = _simulator(count)
    daemon = _daemon(sim, count, tmp_path, reconcile_interval=600.0)
    log = _calls_while_the_user_hub_is_down(sim, daemon, count, 2.5 * WINDOW)
    busiest = busiest_window([at for _, at in log], WINDOW)
    print(f"\n{count} accounts, user hub down: at most {busiest} calls in a minute")
    assert busiest <= DEFAULT_BUDGETS[DEFAULT_BUCKET].requests - DEFAULT_RESERVE
    # ... and not by polling less than it may: eight accounts are still read every 10 s
    assert busiest >= engineloop.HUB_DOWN_CALLS * (0.9 if count == 8 else 0.7)


def test_while_the_user_hub_is_down_no_periodic_light_reconcile_runs_beside_the_poll(
    tmp_path: Path,
) -> None:
    count = 4
    sim = _simulator(count)
    daemon = _daemon(sim, count, tmp_path, reconcile_interval=POLL / 3)
    log = _calls_while_the_user_hub_is_down(sim, daemon, count, 3 * POLL)
    calls = Counter(endpoint for endpoint, _ in log)
    print(f"\n{count} accounts, user hub down, periodic every {POLL / 3:g}s: {dict(calls)}")
    assert calls["Trade/search"] >= 2 * count, calls
    # every positions call is a full reconcile's: none of a light one beside it (a light
    # reconcile every POLL / 3 would add about nine per account); the window's edges may cut
    # through one poll's reconciles, whose positions are read before their fills
    assert abs(calls["Position/searchOpen"] - calls["Trade/search"]) <= count, calls


def _calls(sim: Simulator) -> Counter[str]:
    """The REST calls the simulator received since its log was last cleared, by endpoint."""
    return Counter(
        r.path.removeprefix("/api/") for r in sim.requests_log() if r.path.startswith("/api/")
    )


def _settled(daemon: Daemon, count: int) -> None:
    """Started, every account reconciled, and long enough since for any request made by then
    to have been served (the reconcile spacing is 0.2 s here)."""
    daemon.start()
    assert wait_until(daemon.ready.is_set, 20.0), "the daemon did not become live"
    assert wait_until(lambda: daemon.reconciles >= count, 10.0)
    time.sleep(0.6)


def test_a_market_hub_gap_subscribes_the_quotes_again_and_reads_no_account_from_rest(
    tmp_path: Path,
) -> None:
    """The market hub carries quotes, and REST has none to heal it with; the user hub's
    orders, positions and fills did not stop. A market-hub gap (the server logs it out: the
    connection is rebuilt) subscribes the held contract's quotes again and costs no call:
    it read every account in full before (one ``Account/search`` and three calls each)."""
    count = 4
    sim = _simulator(count)
    trader = Trader(sim)
    trader.buy(ACCOUNTS[0], "EP")
    contract = trader.contract("EP")
    daemon = _daemon(sim, count, tmp_path, reconcile_interval=600.0)
    try:
        _settled(daemon, count)
        assert wait_until(lambda: sim.market_subscribers(contract) == 1, 5.0)
        reconciled = daemon.reconciles
        sim.clear_requests()
        assert sim.send_logout("market") == 1
        # (logged_out lasts only until the rebuild starts: waited for, it could be missed)
        assert wait_until(lambda: daemon.hub_states.get("market") == "reconnected", 5.0)
        assert wait_until(lambda: sim.market_subscribers(contract) == 1, 5.0)
        time.sleep(1.0)  # five reconcile spacings: a reconcile asked for would have run
        calls = _calls(sim)
        print(f"\n{count} accounts, a market-hub gap: {dict(calls)}")
        assert not any(calls[endpoint] for endpoint in PER_ACCOUNT), calls
        assert calls["Account/search"] == 0, calls
        assert daemon.reconciles == reconciled
    finally:
        daemon.stop()
        trader.close()
        sim.stop()


@pytest.mark.parametrize("drop", ["connections dropped", "user hub logged out"])
def test_one_user_hub_drop_is_one_gap_and_one_reconcile_of_each_account(
    drop: str, tmp_path: Path
) -> None:
    """What the hub missed is read once, after it is heard again: the reconcile that heals a
    gap must be asked once the new connection is there (one asked while it is down reads a
    state the hub still cannot follow). The connection's end and its return were two gaps,
    a logout three, each a full reconcile of every account."""
    count = 4
    sim = _simulator(count)
    daemon = _daemon(sim, count, tmp_path, reconcile_interval=600.0)
    try:
        _settled(daemon, count)
        reconciled = daemon.reconciles
        sim.clear_requests()
        if drop == "connections dropped":
            assert sim.drop_connections() == 2
        else:
            assert sim.send_logout("user") == 1
        assert wait_until(lambda: daemon.hub_states.get("user") != "connected", 5.0)
        assert wait_until(lambda: daemon.hub_states.get("user") == "reconnected", 5.0)
        assert wait_until(lambda: daemon.reconciles >= reconciled + count, 5.0)
        time.sleep(1.0)  # five reconcile spacings: another reconcile asked for would have run
        calls = _calls(sim)
        print(f"\n{count} accounts, {drop}: {dict(calls)}")
        assert all(calls[endpoint] == count for endpoint in PER_ACCOUNT), calls
        assert calls["Account/search"] == 1, calls
        assert daemon.reconciles == reconciled + count
    finally:
        daemon.stop()
        sim.stop()


def test_an_outage_past_eight_accounts_is_first_read_soon_not_a_poll_spacing_after_the_drop(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A drop is no gap (the hub is not heard again), so what the hub missed as it went down
    is read by the outage's first poll: 3 s after the drop, not the 30 s that twenty
    accounts' polls are spaced (here 0.5 s and 4.5 s); a hub back sooner is read once, for
    its gap."""
    monkeypatch.setattr(engineloop, "HUB_DOWN_FIRST_POLL", 0.5)
    count = 20
    assert engineloop.hub_down_poll(count) == pytest.approx(4.5)
    sim = _simulator(count)
    daemon = _daemon(sim, count, tmp_path, reconcile_interval=600.0)
    try:
        _settled(daemon, count)
        reconciled = daemon.reconciles
        sim.refuse_hub_connections(30.0)
        dropped = time.monotonic()
        sim.drop_connections()
        assert wait_until(lambda: daemon.reconciles >= reconciled + count, 10.0)
        read = time.monotonic() - dropped
        print(f"\n{count} accounts, user hub down: every account read {read:.2f}s after the drop")
        assert read < 3.0
    finally:
        daemon.stop()
        sim.stop()


@pytest.mark.parametrize("count", [1, 8, 20])
def test_a_start_reads_each_accounts_positions_and_orders_once(count: int, tmp_path: Path) -> None:
    """A first start reads what it must to guard each account — its open positions, working
    orders and the week's fills, one ``Account/search`` for the login — and the contracts to
    load come from those answers. The contract cache read every account's positions and
    orders first, then the startup reconcile read them again: five calls per account, so past
    about 27 accounts the last ones waited for slots before they were guarded."""
    sim = _simulator(count)
    trader = Trader(sim)
    trader.buy(ACCOUNTS[count - 1], "EP")  # the last account holds a position at the start
    contract = trader.contract("EP")
    sim.clear_requests()
    daemon = _daemon(sim, count, tmp_path, reconcile_interval=600.0)
    try:
        _settled(daemon, count)
        calls = _calls(sim)
        print(f"\n{count} account(s), a first start: {sum(calls.values())} calls {dict(calls)}")
        assert all(calls[endpoint] == count for endpoint in PER_ACCOUNT), calls
        assert calls["Account/search"] == 1, calls
        # the held contract is known to the engine that holds it, and its quotes watched
        engine = daemon.engines[ACCOUNTS[count - 1]]
        assert contract in engine.account(ACCOUNTS[count - 1]).positions
        held = engine.store.market.contracts.get(contract)
        assert held is not None and held.info is not None
        assert wait_until(lambda: sim.market_subscribers(contract) == 1, 5.0)
    finally:
        daemon.stop()
        trader.close()
        sim.stop()
