"""Red team (issue #12), third pass: the daemon's own protective stop, fought again and again.

With trade management on (RULE-012's breakeven), the daemon places a stop at the entry once
the position is 10 ticks in profit. The trader cancels it, moves it away or shrinks it, over
and over: each time the daemon puts the protection back, once per attack (it does not spend
its REST budget in a loop), and the position is never left without its stop for long.
"""

from __future__ import annotations

from decimal import Decimal

from simple_risk.engine.events import OrderStatus
from tests.e2e.harness import ACCOUNT, Harness, Start, build_ruleset

QUIET = {"max_unrealized_loss": 100000, "max_unrealized_profit": 100000}
BREAKEVEN = ("trade-management-breakeven",)
#: rounds of the fight
ROUNDS = 5


def _daemon_places(h: Harness) -> list[dict[str, object]]:
    """The daemon's Order/place calls (the trader's tags start with trader-)."""
    return [b for b in h.sent("Order/place") if str(b.get("customTag", "")).startswith("sr-")]


def _stops(h: Harness) -> list[int]:
    """The working stops of the account at the venue."""
    return [o.id for o in h.sim.venue.open_orders(ACCOUNT) if o.stop_price is not None]


def _covered(h: Harness, size: int, price: Decimal) -> bool:
    """Working sell stops at ``price`` or tighter cover ``size`` contracts."""
    return (
        sum(
            o.size - o.fill_volume
            for o in h.sim.venue.open_orders(ACCOUNT)
            if o.stop_price is not None and o.stop_price >= price
        )
        >= size
    )


def _in_profit(h: Harness, size: int) -> Decimal:
    """Long ``size`` ES, 11 ticks in profit: the daemon's breakeven stop is placed at entry."""
    h.trader.buy(ACCOUNT, "EP", size)
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == size, "the fill")
    entry = h.trader.price("EP")
    h.trader.move("EP", Decimal("2.75"))
    h.wait(lambda: _stops(h) != [], "the daemon's stop")
    return entry


def test_a_daemon_stop_cancelled_again_and_again_is_put_back_each_time(start: Start) -> None:
    h = start(build_ruleset(params=QUIET, enable=BREAKEVEN))
    _in_profit(h, 1)
    for round_ in range(ROUNDS):
        (stop,) = _stops(h)
        h.trader.client.cancel_order(ACCOUNT, stop)
        h.wait(lambda stop=stop: _stops(h) not in ([], [stop]), f"the stop put back ({round_})")
    assert len(_daemon_places(h)) == ROUNDS + 1, "one place per cancel, no more"
    assert h.trader.size(ACCOUNT, "EP") == 1


def test_a_daemon_stop_moved_away_again_and_again_is_moved_back_each_time(start: Start) -> None:
    h = start(build_ruleset(params=QUIET, enable=BREAKEVEN))
    entry = _in_profit(h, 1)
    h.wait(lambda: _covered(h, 1, entry), "the stop at the entry")
    modifies = len(h.sent("Order/modify"))
    for round_ in range(ROUNDS):
        (stop,) = _stops(h)
        h.trader.client.modify_stop(ACCOUNT, stop, stop_price=entry - 40)  # 160 ticks away
        h.wait(lambda: _covered(h, 1, entry), f"the stop moved back ({round_})")
    daemon_modifies = len(h.sent("Order/modify")) - modifies - ROUNDS
    assert daemon_modifies <= ROUNDS + 1, f"{daemon_modifies} modifies for {ROUNDS} moves"
    assert h.trader.size(ACCOUNT, "EP") == 1


def test_a_daemon_stop_shrunk_again_and_again_covers_the_position_again(start: Start) -> None:
    h = start(build_ruleset(params=QUIET, enable=BREAKEVEN))
    entry = _in_profit(h, 3)
    h.wait(lambda: _covered(h, 3, entry), "the stop covering 3")
    for round_ in range(ROUNDS):
        stop = _stops(h)[0]
        price = h.sim.venue.order(stop).stop_price
        assert price is not None
        h.trader.client.modify_stop(ACCOUNT, stop, stop_price=price, size=1)
        h.wait(lambda: _covered(h, 3, entry), f"the whole position covered again ({round_})")
    assert h.trader.size(ACCOUNT, "EP") == 3
    assert all(h.sim.venue.order(s).status == OrderStatus.OPEN for s in _stops(h))


def test_the_daemons_stop_left_behind_by_a_close_by_hand_is_cancelled_by_a_lock(
    start: Start,
) -> None:
    """The trader sells the position by hand, leaving the daemon's breakeven stop working with
    nothing to close — a sell stop that would open a short. An order of the daemon's passes
    every lock; this one must not be a way to open a position during one: when a cooldown
    starts (a fifth fill in a minute), it is cancelled."""
    h = start(build_ruleset(params=QUIET, enable=BREAKEVEN))
    _in_profit(h, 1)
    (stop,) = _stops(h)
    h.trader.sell(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 0, "the close by hand")
    h.trader.buy(ACCOUNT, "MNQ")
    h.trader.sell(ACCOUNT, "MNQ")
    h.wait(lambda: h.locked_by("trade-frequency-minute"), "the cooldown")
    h.wait(lambda: h.sim.venue.order(stop).status != OrderStatus.OPEN, "the stop cancelled")
    assert h.trader.size(ACCOUNT) == 0


def test_the_daemons_stop_left_behind_by_a_close_by_hand_is_cancelled(start: Start) -> None:
    """The trader sells the position by hand, leaving the daemon's breakeven stop working with
    nothing to close: a sell stop under the market that, when the price comes back to it,
    opens a short nobody asked for. The daemon cancels its own stop once the position is
    gone."""
    h = start(build_ruleset(params=QUIET, enable=BREAKEVEN))
    _in_profit(h, 1)
    (stop,) = _stops(h)
    h.trader.sell(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 0, "the close by hand")
    h.wait(lambda: h.sim.venue.order(stop).status != OrderStatus.OPEN, "the stop cancelled")
    assert h.fired("own-stop-left-behind")
    assert not h.daemon.engines[ACCOUNT].locks(ACCOUNT)
