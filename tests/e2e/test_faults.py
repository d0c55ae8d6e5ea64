"""Failure paths of the daemon, by fault injection against the simulator (issue #13 item 3).

A failure in one part never stops enforcement silently: it is skipped or retried, and a
critical alert says what happened.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from simple_risk.adapters.simulator import wire
from simple_risk.adapters.simulator.records import Order
from simple_risk.adapters.topstepx.errors import Endpoint, TransportError
from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.daemon import enforcement
from simple_risk.daemon.messages import ReconcileData
from simple_risk.daemon.sim import Trader, wait_until
from simple_risk.engine.events import OrderSide, PositionUpdate
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.intents import Intent, NoWorkingOrders
from simple_risk.store import StoreError

from .harness import ACCOUNT, FAST_OPTIONS, OTHER, Harness, Restart, Start, build_ruleset

MALFORMED_SIZE = 3  # the trader's limit order of this size is sent with an unknown side


@pytest.fixture
def malformed_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator describes the trader's 3-lot limit order with a side no gateway has
    (an unknown status would be read as working: only a side cannot be guessed)."""
    original = wire.order_model

    def order_model(order: Order) -> dict[str, object]:
        model = original(order)
        if order.size == MALFORMED_SIZE and order.limit_price is not None:
            model["side"] = 7
        return model

    monkeypatch.setattr(wire, "order_model", order_model)


def _critical(h: Any, words: str) -> bool:
    return any(
        alert["level"] == "critical" and words in alert["message"]
        for alert in h.daemon.alerter.recent
    )


@pytest.mark.usefixtures("malformed_order")
def test_a_malformed_record_is_skipped_counted_and_alerted_and_the_rest_enforced(
    start: Start,
) -> None:
    def before(trader: Trader) -> None:
        trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closed by the startup reconcile
        below = trader.price("MNQ") - Decimal(200)
        trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, MALFORMED_SIZE, below)

    h = start(before=before)  # live at all: the reconcile survived the bad record
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the blocked position closed")
    assert h.daemon.malformed_records >= 1
    assert _critical(h, "malformed REST record")
    assert h.daemon.status()["malformed_records"] == h.daemon.malformed_records
    # the same record again: counted, not alerted again
    skipped = h.daemon.malformed_records
    h.daemon.request_reconcile(ACCOUNT, "again")
    h.wait(lambda: h.daemon.malformed_records > skipped, "the next reconcile")
    alerts = [a for a in h.daemon.alerter.recent if "malformed REST record" in a["message"]]
    assert len(alerts) == 1


@pytest.fixture
def malformed_other_account(monkeypatch: pytest.MonkeyPatch) -> None:
    """Account/search lists another account of the same login with no balance."""
    original = wire.account_model

    def account_model(account: Any) -> dict[str, object]:
        model = original(account)
        if model["id"] == OTHER:
            model["balance"] = None
        return model

    monkeypatch.setattr(wire, "account_model", account_model)


@pytest.mark.usefixtures("malformed_other_account")
def test_an_unreadable_other_account_does_not_stop_the_guarded_one_reconciling(
    start: Start,
) -> None:
    def before(trader: Trader) -> None:
        trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closed by the startup reconcile

    h = start(before=before)
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the blocked position closed")
    h.wait(lambda: h.daemon.reconciles >= 1, "the startup reconcile applied")
    assert not _critical(h, "reconcile failed unexpectedly")
    assert h.daemon.malformed_records >= 1
    assert _critical(h, "malformed REST record")


def test_the_reconcile_worker_survives_an_unexpected_error_and_retries(start: Start) -> None:
    h = start()
    fetch = h.daemon.reconciler.fetch
    failures = []

    def broken(account: int, reason: str) -> ReconcileData:
        if not failures:
            failures.append(reason)
            raise RuntimeError("boom")
        return fetch(account, reason)

    h.daemon.reconciler.fetch = broken  # type: ignore[method-assign]
    before = h.daemon.reconciles
    h.daemon.request_reconcile(ACCOUNT, "test")
    h.wait(lambda: _critical(h, "reconcile failed unexpectedly"), "the alert")
    h.daemon.request_reconcile(ACCOUNT, "test again")
    h.wait(lambda: h.daemon.reconciles > before, "a later reconcile applied")
    h.trader.buy(ACCOUNT, "RTY")
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "enforcement goes on")


def _lease_stolen(h: Harness) -> Callable[[], None]:
    """Another daemon takes the lease; the returned function gives it back."""
    store = h.daemon.store
    store.release_lease(ACCOUNT, h.daemon.lease_owner)
    assert store.acquire_lease(ACCOUNT, "intruder", timedelta(minutes=5), datetime.now(UTC))

    def give_back() -> None:
        store.release_lease(ACCOUNT, "intruder")

    return give_back


def _renewal_fails(h: Harness) -> Callable[[], None]:
    """The store cannot renew (nor take) leases; the returned function mends it."""
    store = h.daemon.store

    def broken(*args: object, **kwargs: object) -> bool:
        raise StoreError("database is locked")

    store.renew_lease = broken  # type: ignore[method-assign]
    store.acquire_lease = broken  # type: ignore[method-assign]

    def mend() -> None:
        del store.renew_lease
        del store.acquire_lease

    return mend


@pytest.mark.parametrize("lose", [_lease_stolen, _renewal_fails], ids=["stolen", "store-fails"])
def test_a_lost_lease_stops_enforcing_the_account_at_once_and_shows(
    start: Start, restart: Restart, lose: Callable[[Harness], Callable[[], None]]
) -> None:
    h = restart(start(), dataclasses.replace(FAST_OPTIONS, lease_ttl=1.5))
    heal = lose(h)
    h.wait(lambda: _critical(h, "lost the lease"), "the alert")
    assert ACCOUNT not in h.daemon.live_accounts()
    assert h.daemon.status()["accounts"][str(ACCOUNT)]["lease"] == "lost"  # type: ignore[index]
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: not this daemon's to close now
    assert not wait_until(lambda: h.trader.size(ACCOUNT) == 0, 1.5)
    assert h.sent("Position/closeContract") == []
    heal()  # the lease can be held again: reconciled, and enforced
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the close once the lease is back")
    assert h.daemon.status()["accounts"][str(ACCOUNT)]["lease"] == "held"  # type: ignore[index]


def test_a_wall_clock_stepped_forward_past_the_lease_keeps_the_account_enforced(
    start: Start, restart: Restart
) -> None:
    """This machine's clock was slow, and time synchronisation steps it forward by more than
    the lease's time to live (a machine waking from a suspend does the same): by the new
    time the daemon's own lease has run out, but no other daemon took it. The daemon keeps
    it: no 'lost the lease' alert naming another daemon, and the account stays enforced."""
    first = start()
    gateway = first.sim.clock
    behind = [timedelta(seconds=-20)]
    options = dataclasses.replace(FAST_OPTIONS, lease_ttl=1.5, wall=lambda: gateway() + behind[0])
    h = restart(first, options)
    renewed = h.daemon.store.lease(ACCOUNT)
    assert renewed is not None
    behind[0] = timedelta(0)  # the step: 20 s forward, the lease's 1.5 s long gone
    h.wait(
        lambda: (
            (lease := h.daemon.store.lease(ACCOUNT)) is not None
            and lease.expires_at > renewed.expires_at + timedelta(seconds=15)
        ),
        "a renewal on the new time",
    )
    assert not _critical(h, "lost the lease")
    assert ACCOUNT in h.daemon.live_accounts()
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closed at once
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the close")
    assert not _critical(h, "lost the lease")


def test_an_action_that_cannot_start_does_not_stop_the_firings_other_actions(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = start()

    def plan(intent: Intent, state: AccountState | None) -> list[RestRequest]:
        if isinstance(intent, NoWorkingOrders):
            raise RuntimeError("planning failed")
        return enforcement.plan.__wrapped__(intent, state)  # type: ignore[attr-defined]

    plan.__wrapped__ = enforcement.plan  # type: ignore[attr-defined]
    monkeypatch.setattr(enforcement, "plan", plan)
    h.trader.buy(ACCOUNT, "RTY")  # symbol-blocks: cancel the orders, close, lock
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the close, though the cancel failed")
    assert _critical(h, "could not start NoWorkingOrders")
    assert h.locked_by("symbol-blocks")


def test_one_accounts_stuck_reconcile_never_delays_anothers(start: Start) -> None:
    h = start(accounts=(ACCOUNT, OTHER))
    client = h.daemon.client
    open_positions = client.open_positions
    release = threading.Event()

    def stuck(account: int, *args: Any, **kwargs: Any) -> list[PositionUpdate]:
        if account == ACCOUNT:
            release.wait(10.0)
        return open_positions(account, *args, **kwargs)

    client.open_positions = stuck  # type: ignore[method-assign]
    try:
        other_before = h.daemon.last_reconcile_at[OTHER]
        h.daemon.request_reconcile(ACCOUNT, "stuck")
        h.daemon.request_reconcile(OTHER, "test")
        h.wait(lambda: h.daemon.last_reconcile_at[OTHER] > other_before, "the other reconcile")
        assert not release.is_set()
    finally:
        release.set()


def test_reconciles_that_keep_failing_are_alerted_and_their_end_said(start: Start) -> None:
    """The gateway answers the account's reconcile with 5xx, call after call: the facts can no
    longer be checked against REST (a hub gap is not healed, a position opened meanwhile is
    not seen). That is said loudly once, not only logged; and so is the first reconcile that
    gets through again."""
    h = start()
    client = h.daemon.client
    search_trades = client.search_trades
    broken = threading.Event()
    broken.set()

    def failing(account: int, *args: Any, **kwargs: Any) -> Any:
        if broken.is_set():
            raise TransportError(Endpoint.TRADE_SEARCH, "gave up", http_status=500, attempts=4)
        return search_trades(account, *args, **kwargs)

    client.search_trades = failing  # type: ignore[method-assign]
    before = h.daemon.reconciles
    h.daemon.request_reconcile(ACCOUNT, "hub gap")
    h.wait(lambda: _critical(h, "reconcile"), "the alert", timeout=15.0)
    alert = next(a for a in h.daemon.alerter.recent if "reconcile" in a["message"])
    assert str(ACCOUNT) in alert["message"] and "HTTP 500" in alert["message"]
    assert h.daemon.reconciles == before
    broken.clear()
    h.wait(lambda: h.daemon.reconciles > before, "a reconcile that gets through", timeout=15.0)
    h.wait(
        lambda: any(
            a["level"] == "warning" and "reconciled again" in a["message"]
            for a in h.daemon.alerter.recent
        ),
        "the recovery",
    )
    alerts = [a for a in h.daemon.alerter.recent if a["level"] == "critical"]
    assert len(alerts) == 1, "one alert for the whole spell, not one per failed reconcile"


def test_a_position_found_by_a_reconcile_is_marked_at_the_latest_price(start: Start) -> None:
    """The account's engine gets a contract's quotes only while it holds or works it, and is
    handed the latest one it skipped just before its first order or position there. A
    position the user hub missed (a gap) and a reconcile found must get that quote too, not
    be marked at the price the engine saw when it last held the contract: a long bought 500
    points above it showed a 1,000 open loss and daily-unrealized-loss closed it."""
    h = start(build_ruleset(params={"max_trades_per_minute": 100}))
    daemon, contract = h.daemon, h.trader.contract("MNQ")
    engine = daemon.engines[ACCOUNT]

    def marked() -> bool:
        state = daemon.on_engine(lambda: engine.account(ACCOUNT))
        position = state.positions.get(contract) if state is not None else None
        return position is not None and position.unrealized_pnl is not None

    def heard() -> datetime:
        return daemon.on_engine(lambda: daemon.intake.heard()[contract])

    h.trader.buy(ACCOUNT, "MNQ")
    h.wait(lambda: h.trader.size(ACCOUNT, "MNQ") == 1, "the fill")
    h.trader.move("MNQ", Decimal("0.25"))
    h.wait(marked, "a quote marking the position")
    h.trader.sell(ACCOUNT, "MNQ")
    h.wait(lambda: h.trader.size(ACCOUNT, "MNQ") == 0, "flat")
    before = heard()
    h.trader.move("MNQ", Decimal(500))  # still watched: the daemon hears it, the engine not
    h.wait(lambda: heard() > before, "the daemon hearing the move")
    h.sim.refuse_hub_connections(2.0)
    h.sim.drop_connections()  # a gap: the user hub misses the next buy
    h.trader.buy(ACCOUNT, "MNQ")
    h.wait(marked, "the reconcile after the gap finding the position")
    assert h.trader.size(ACCOUNT, "MNQ") == 1
    assert not h.fired("daily-unrealized-loss")


def test_a_refused_hub_subscription_is_alerted_and_the_hub_subscribes_again(
    start: Start,
) -> None:
    """The gateway answers a subscription with an error: the hub is connected but deaf to
    that kind of event (fills, orders, quotes). The daemon says so loudly, reconciles, and
    the hub subscribes again on a new connection — so a breach after that is enforced."""
    h = start()
    user_hub = h.daemon.intake.user_hub
    rebuilds = user_hub.rebuilds
    h.sim.refuse_subscriptions(1)
    h.sim.send_logout("user")  # the user hub reconnects and subscribes: one is refused
    h.wait(lambda: _critical(h, "refused a subscription"), "the alert", timeout=15.0)
    h.wait(lambda: user_hub.rebuilds >= rebuilds + 2, "a new connection", timeout=15.0)
    h.wait(user_hub.is_ready, "subscribed again", timeout=15.0)
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: seen on the hub, enforced at once
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the blocked position closed", timeout=15.0)
