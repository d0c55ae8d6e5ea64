"""A position's protection is judged on orders the daemon can hear.

While the user hub is down (or its order subscription refused) a stop the trader places is not
heard: the daemon's facts still show the position unprotected. A close the no-stop rules ask
for then waits for REST: the account's working orders are read first (a reconcile asked for
after the firing), and the position is closed only when REST shows no stop either. A breach
that does not depend on orders is enforced at once, as ever.
"""

from __future__ import annotations

from decimal import Decimal

from simple_risk.engine.events import OrderSide

from .harness import ACCOUNT, Harness, Start, build_ruleset

GRACE = 2.0  # seconds without a heard stop before the no-stop rules ask for the close
LATE = 2.5  # seconds Order/searchOpen takes to answer (the slow reconcile of chaos seed 2)


def _held(h: Harness, root: str) -> bool:
    state = h.daemon.engines[ACCOUNT].account(ACCOUNT)
    return state is not None and h.trader.contract(root) in state.positions


def _deaf(h: Harness) -> None:
    """The user hub goes down and stays down; the reconcile of the gap answers late, with the
    orders of before the stop."""
    h.sim.answer_late("Order/searchOpen", LATE, count=1)
    h.sim.refuse_hub_connections(60.0)
    h.sim.drop_connections()
    h.wait(lambda: h.daemon.hub_states.get("user") not in ("connected", "reconnected"), "deaf")


def test_a_stop_placed_while_deaf_to_orders_keeps_its_position_open(start: Start) -> None:
    h = start(build_ruleset(grace=GRACE))
    h.trader.buy(ACCOUNT, "MNQ")
    h.wait(lambda: _held(h, "MNQ"), "the position heard")
    _deaf(h)
    below = h.trader.price("MNQ") - Decimal(50)
    h.trader.stop(ACCOUNT, "MNQ", OrderSide.SELL, 1, below)  # protected, but not heard
    h.wait(lambda: h.fired("no-stop-loss-grace"), "the grace ending on the unheard stop")
    fired = h.daemon.reconciles
    h.wait(lambda: h.daemon.reconciles >= fired + 2, "a reconcile asked for after the firing")
    h.wait(lambda: not h.daemon.book, "the close dropped once REST showed the stop", 5.0)
    assert h.sent("Position/closeContract") == []
    assert h.sent("Order/cancel") == []
    assert h.trader.size(ACCOUNT, "MNQ") == 1
    assert h.trader.working(ACCOUNT) == 1


def test_a_position_rest_shows_unprotected_is_closed_after_the_check(start: Start) -> None:
    h = start(build_ruleset(grace=GRACE))
    h.trader.buy(ACCOUNT, "MNQ")
    h.wait(lambda: _held(h, "MNQ"), "the position heard")
    _deaf(h)
    h.wait(lambda: h.fired("no-stop-loss-grace"), "the grace ending")
    h.wait(lambda: h.trader.size(ACCOUNT, "MNQ") == 0, "the close once REST confirmed", 10.0)


def test_a_breach_that_needs_no_orders_is_not_held_for_rest(start: Start) -> None:
    """A blocked symbol bought while deaf: the reconcile that finds the position fires, and the
    close goes out at once — no second read of the orders first."""
    h = start(build_ruleset(grace=30.0))
    h.sim.refuse_hub_connections(60.0)
    h.sim.drop_connections()
    h.wait(lambda: h.daemon.hub_states.get("user") not in ("connected", "reconnected"), "deaf")
    mark = len(h.sim.requests_log())
    h.trader.buy(ACCOUNT, "RTY")
    h.wait(lambda: h.trader.size(ACCOUNT, "RTY") == 0, "the close", 15.0)
    paths = [r.path.lower() for r in h.sim.requests_log()[mark:]]
    found = paths.index("/api/position/searchopen")  # the first read after the buy lists RTY
    closed = paths.index("/api/position/closecontract")
    assert paths[found:closed].count("/api/order/searchopen") <= 1
