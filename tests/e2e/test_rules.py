"""One end-to-end test per rule of rulesets/topstep.yaml, through a real daemon.

The trader breaks the rule through the simulator's REST API; each test asserts the
enforcement the simulator received (its request log) and the resulting state (positions
flat or reduced, orders cancelled, the lockout visible in the daemon).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest

from simple_risk.adapters.topstepx.outgoing import modify_size_request
from simple_risk.daemon.sim import scaled_ruleset
from simple_risk.engine.events import OrderSide, OrderStatus
from tests.pinned import PINNED_START

from .harness import ACCOUNT, Harness, Start, build_ruleset

ISOLATED_LIMITS = {"max_unrealized_loss": 100000, "max_unrealized_profit": 100000}
#: the shipped resting_order_grace: how long a resting order a position change made too big
#: may stay before it is cancelled
RESTING_GRACE = timedelta(seconds=2)


def test_max_contracts_order_cancels_an_order_over_the_lot_limit(start: Start) -> None:
    h = start()
    price = h.trader.price("MES")
    order = h.trader.limit(ACCOUNT, "MES", OrderSide.BUY, 60, price - 100)
    h.wait(lambda: h.sim.venue.order(order).status == OrderStatus.CANCELLED, "the cancel")
    assert [b["orderId"] for b in h.sent("Order/cancel")] == [order]
    assert h.locked_by("max-contracts-order")


def test_max_contracts_reduces_positions_to_the_lot_limit_once(start: Start) -> None:
    h = start(build_ruleset(params={"per_symbol_limits": {"MES": 100}}))
    h.trader.buy(ACCOUNT, "MES", 60)
    h.wait(lambda: h.fired("max-contracts"), "the firing")
    h.wait(lambda: h.trader.size(ACCOUNT, "MES") <= 50, "the reduction")
    h.daemon.request_reconcile(ACCOUNT, "test")
    h.wait(lambda: not h.daemon.book, "the intents to finish")
    assert h.trader.size(ACCOUNT, "MES") == 50
    assert [b["size"] for b in h.sent("Position/partialCloseContract")] == [10]


def test_per_instrument_order_is_cancelled_with_a_symbol_cooldown(start: Start) -> None:
    h = start(build_ruleset(params={"max_contracts": 100}))
    price = h.trader.price("EP")
    order = h.trader.limit(ACCOUNT, "EP", OrderSide.BUY, 6, price - 50)
    h.wait(lambda: h.sim.venue.order(order).status == OrderStatus.CANCELLED, "the cancel")
    assert [b["orderId"] for b in h.sent("Order/cancel")] == [order]
    locks = h.daemon.engines[ACCOUNT].locks(ACCOUNT)
    assert [(lock.scope, lock.symbol) for lock in locks] == [("symbol", "ES")]


def _fired_at(h: Harness, rule: str) -> datetime:
    return next(f.at for f in h.daemon.firings if f.rule_id == rule and f.account == ACCOUNT)


def test_max_contracts_resting_cancels_the_newest_order_a_close_by_hand_made_too_big(
    start: Start,
) -> None:
    """Long 50 MES (5 lots) with sells of 20 and 40 MES resting above (a short 1 lot if both
    filled). Sold by hand, flat, they would open a short 6 lots: the newest, the 40, is
    cancelled before it can fill — once it is still too big 2 s after the close
    (resting_order_grace); the 20 stays, and nothing is locked."""
    params = {**ISOLATED_LIMITS, "per_symbol_limits": {"MES": 100}}
    h = start(build_ruleset(params=params))
    h.trader.buy(ACCOUNT, "MES", 50)
    h.wait(lambda: h.trader.size(ACCOUNT, "MES") == 50, "the fill")
    price = h.trader.price("MES")
    older = h.trader.limit(ACCOUNT, "MES", OrderSide.SELL, 20, price + 50)
    newer = h.trader.limit(ACCOUNT, "MES", OrderSide.SELL, 40, price + 60)
    closed_at = h.sim.clock()
    h.trader.sell(ACCOUNT, "MES", 50)
    h.wait(lambda: h.sim.venue.order(newer).status == OrderStatus.CANCELLED, "the cancel")
    assert [b["orderId"] for b in h.sent("Order/cancel")] == [newer]
    assert h.sim.venue.order(older).status == OrderStatus.OPEN
    assert _fired_at(h, "max-contracts-resting") - closed_at >= RESTING_GRACE
    assert not list(h.daemon.engines[ACCOUNT].locks(ACCOUNT))
    (firing,) = [f for f in h.daemon.firings if f.rule_id == "max-contracts-resting"]
    assert firing.message == f"Order {newer} would now take the account to 6 lots, limit 5"


def test_max_contracts_resting_leaves_a_stop_and_take_profit_resized_within_the_grace(
    start: Start,
) -> None:
    """TopstepX's "Position Brackets" mode: long 50 MES (5 lots) with a stop and a take-profit
    of 50 each; the trader sells 20 by hand, and after the position update the platform
    resizes both to the 30 left (here the trader's own modifies). Judged at the update, the
    take-profit is too big (a stop 50 and a take-profit 50 on a long 30: a short 7 lots if
    both filled); resized within the 2 s, it is judged again then and stays: nothing is
    cancelled, nothing fires."""
    params = {**ISOLATED_LIMITS, "per_symbol_limits": {"MES": 100}}
    h = start(build_ruleset(params=params))
    h.trader.buy(ACCOUNT, "MES", 50)
    h.wait(lambda: h.trader.size(ACCOUNT, "MES") == 50, "the fill")
    price = h.trader.price("MES")
    take_profit = h.trader.limit(ACCOUNT, "MES", OrderSide.SELL, 50, price + 50)
    stop = h.trader.stop(ACCOUNT, "MES", OrderSide.SELL, 50, price - 10)
    engine = h.daemon.engines[ACCOUNT]

    def waiting() -> str:
        return engine.state_of("max-contracts-resting", ACCOUNT, f"order:{take_profit}")

    h.trader.sell(ACCOUNT, "MES", 20)
    h.wait(lambda: waiting() == "pending", "the take-profit judged too big, waiting")
    for order in (stop, take_profit):
        h.trader.client.execute(modify_size_request(ACCOUNT, order, size=30))
    h.wait(lambda: waiting() != "pending", "the take-profit judged again")
    assert waiting() == "inactive"
    assert h.sent("Order/cancel") == []
    assert [h.sim.venue.order(o).size for o in (stop, take_profit)] == [30, 30]
    assert not h.fired("max-contracts-resting")
    assert not list(engine.locks(ACCOUNT))


def test_per_instrument_resting_cancels_the_newest_order_a_close_by_hand_made_too_big(
    start: Start,
) -> None:
    """Long 5 ES with sells of 2 and 5 resting above (a short 2 if both filled). Sold by hand,
    flat, they would open a short 7 against ES's 5: the newest, the 5, is cancelled before it
    can fill, 2 s after the close; the 2 stays, and ES is not locked."""
    h = start(build_ruleset(params={**ISOLATED_LIMITS, "max_contracts": 100}))
    h.trader.buy(ACCOUNT, "EP", 5)
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 5, "the fill")
    price = h.trader.price("EP")
    older = h.trader.limit(ACCOUNT, "EP", OrderSide.SELL, 2, price + 5)
    newer = h.trader.limit(ACCOUNT, "EP", OrderSide.SELL, 5, price + 6)
    closed_at = h.sim.clock()
    h.trader.sell(ACCOUNT, "EP", 5)
    h.wait(lambda: h.sim.venue.order(newer).status == OrderStatus.CANCELLED, "the cancel")
    assert [b["orderId"] for b in h.sent("Order/cancel")] == [newer]
    assert h.sim.venue.order(older).status == OrderStatus.OPEN
    assert _fired_at(h, "max-contracts-per-instrument-resting") - closed_at >= RESTING_GRACE
    assert not list(h.daemon.engines[ACCOUNT].locks(ACCOUNT))


def test_per_instrument_limit_reduces_the_root(start: Start) -> None:
    h = start(build_ruleset(params={"max_contracts": 100}))
    h.trader.buy(ACCOUNT, "CLE", 4)
    h.wait(lambda: h.fired("max-contracts-per-instrument"), "the firing")
    h.wait(lambda: h.trader.size(ACCOUNT, "CLE") <= 3, "the reduction")
    h.daemon.request_reconcile(ACCOUNT, "test")
    h.wait(lambda: not h.daemon.book, "the intents to finish")
    reductions = h.sent("Position/partialCloseContract") + h.sent("Position/closeContract")
    assert len(reductions) == 1
    assert h.trader.size(ACCOUNT, "CLE") in (0, 3)


def test_daily_realized_loss_flattens_and_locks_until_the_day_ends(start: Start) -> None:
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    resting = h.trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, 1, h.trader.price("MNQ") - 500)
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.trader.move("EP", Decimal("-10.5"))
    h.trader.sell(ACCOUNT, "EP")
    h.wait(lambda: h.locked_by("daily-realized-loss"), "the lockout")
    h.wait(lambda: h.sim.venue.order(resting).status == OrderStatus.CANCELLED, "the flatten")
    engine = h.daemon.engines[ACCOUNT]
    lock = next(lk for lk in engine.locks(ACCOUNT) if lk.rule == "daily-realized-loss")
    assert lock.ends_at == engine.calendar.trading_day_end(h.daemon.clock.now())
    # while locked, a new position is closed as soon as it appears
    h.trader.buy(ACCOUNT, "MNQ")
    h.wait(lambda: h.trader.size(ACCOUNT) == 0 and len(h.sent("Position/closeContract")) >= 1, "")
    assert h.trader.size(ACCOUNT) == 0


def test_daily_unrealized_loss_closes_the_losing_position(start: Start) -> None:
    h = start()
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.trader.move("EP", Decimal("-7"))
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the close")
    assert [b["contractId"] for b in h.sent("Position/closeContract")] == [h.trader.contract("EP")]
    assert h.fired("daily-unrealized-loss")


def test_max_unrealized_profit_closes_the_winning_position(start: Start) -> None:
    h = start()
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.trader.move("EP", Decimal("20.5"))
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the close")
    assert len(h.sent("Position/closeContract")) == 1
    assert h.fired("max-unrealized-profit")


def _round_trips(h: Harness, count: int) -> None:
    for _ in range(count):
        h.trader.buy(ACCOUNT, "MNQ")
        h.trader.sell(ACCOUNT, "MNQ")


@pytest.mark.parametrize(
    ("rule", "params"),
    [
        ("trade-frequency-minute", {}),
        ("trade-frequency-hour", {"max_trades_per_minute": 100, "max_trades_per_hour": 3}),
        (
            "trade-frequency-day",
            {"max_trades_per_minute": 100, "max_trades_per_hour": 100, "max_trades_per_day": 3},
        ),
    ],
)
def test_trade_frequency_cools_down_and_cancels_new_orders(
    start: Start, rule: str, params: dict[str, object]
) -> None:
    h = start(build_ruleset(params=params))
    _round_trips(h, 2)
    h.wait(lambda: h.locked_by(rule), "the cooldown")
    order = h.trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, 1, h.trader.price("MNQ") - 100)
    h.wait(lambda: h.sim.venue.order(order).status == OrderStatus.CANCELLED, "the cancel")
    assert [b["orderId"] for b in h.sent("Order/cancel")] == [order]


@pytest.mark.parametrize(
    ("drop", "rule", "minutes"),
    [
        ("-2.5", "cooldown-after-loss-1", 5),
        ("-4.5", "cooldown-after-loss-2", 15),
        ("-6.5", "cooldown-after-loss-3", 30),
    ],
)
def test_cooldown_after_a_losing_order(start: Start, drop: str, rule: str, minutes: int) -> None:
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.trader.move("EP", Decimal(drop))
    h.trader.sell(ACCOUNT, "EP")
    h.wait(lambda: h.locked_by(rule), "the cooldown")
    lock = next(lk for lk in h.daemon.engines[ACCOUNT].locks(ACCOUNT) if lk.rule == rule)
    assert lock.ends_at is not None
    assert lock.ends_at - lock.set_at == timedelta(minutes=minutes)
    assert not h.fired("daily-realized-loss")


def test_no_stop_loss_grace_closes_an_unprotected_position_only(start: Start) -> None:
    h = start(build_ruleset(grace=1.0))
    price = h.trader.price("MES")
    h.trader.stop(ACCOUNT, "MES", OrderSide.SELL, 1, price - 10)
    h.trader.buy(ACCOUNT, "MES")
    h.trader.buy(ACCOUNT, "MNQ")
    h.wait(lambda: h.trader.size(ACCOUNT, "MNQ") == 0, "the close of the unprotected MNQ")
    assert [b["contractId"] for b in h.sent("Position/closeContract")] == [h.trader.contract("MNQ")]
    assert h.trader.size(ACCOUNT, "MES") == 1


def test_no_stop_loss_total_closes_a_position_behind_a_stop_that_risks_too_much(
    start: Start,
) -> None:
    # a 2 s cumulative grace (the one-spell grace stays 30 s) and stops worth at most 100
    h = start(build_ruleset(params={"stop_loss_grace": 2, "max_stop_risk": 100}))
    mes, mnq = h.trader.price("MES"), h.trader.price("MNQ")
    h.trader.stop(ACCOUNT, "MES", OrderSide.SELL, 1, mes - 100)  # 400 ticks x 1.25 = 500
    h.trader.stop(ACCOUNT, "MNQ", OrderSide.SELL, 1, mnq - 10)  # 40 ticks x 0.50 = 20
    h.trader.buy(ACCOUNT, "MES")
    h.trader.buy(ACCOUNT, "MNQ")
    h.wait(lambda: h.trader.size(ACCOUNT, "MES") == 0, "the close of the MES behind a far stop")
    assert [b["contractId"] for b in h.sent("Position/closeContract")] == [h.trader.contract("MES")]
    assert h.trader.size(ACCOUNT, "MNQ") == 1
    assert h.fired("no-stop-loss-total") and not h.fired("no-stop-loss-grace")


def test_session_block_flattens_after_the_session_closes(start: Start) -> None:
    # the harness's clock starts at PINNED_START: the session ends two seconds into the test
    end = (PINNED_START + timedelta(seconds=2)).time().replace(microsecond=0)

    def session_ends_soon(ruleset: object) -> object:
        return scaled_ruleset(ruleset, session=(time(0, 0), end))  # type: ignore[arg-type]

    h = start(build_ruleset(transform=session_ends_soon))  # type: ignore[arg-type]
    price = h.trader.price("MES")
    h.trader.stop(ACCOUNT, "MES", OrderSide.SELL, 1, price - 10)
    h.trader.buy(ACCOUNT, "MES")
    h.wait(lambda: h.locked_by("session-block-outside"), "the session end", timeout=10.0)
    h.wait(lambda: h.trader.size(ACCOUNT) == 0 and h.trader.working(ACCOUNT) == 0, "flat")
    engine = h.daemon.engines[ACCOUNT]
    lock = next(lk for lk in engine.locks(ACCOUNT) if lk.rule == "session-block-outside")
    assert lock.ends_at == engine.calendar.next_session_start("rth", h.daemon.clock.now())


def test_auth_loss_guard_flattens_and_locks_while_trading_is_refused(start: Start) -> None:
    h = start()
    price = h.trader.price("MES")
    h.trader.stop(ACCOUNT, "MES", OrderSide.SELL, 1, price - 10)
    h.trader.buy(ACCOUNT, "MES")
    h.wait(lambda: h.trader.size(ACCOUNT, "MES") == 1, "the fill")
    h.sim.set_can_trade(ACCOUNT, False)
    h.wait(lambda: h.locked_by("auth-loss-guard"), "the lockout")
    h.wait(lambda: len(h.sent("Position/closeContract")) >= 1, "the flatten attempt")
    assert any("canTrade is false" in a["message"] for a in h.daemon.alerter.recent)
    h.sim.set_can_trade(ACCOUNT, True)
    h.wait(lambda: not h.locked_by("auth-loss-guard"), "the lock to lift")


def test_symbol_blocks_close_the_blocked_root_and_lock_it(start: Start) -> None:
    h = start()
    h.trader.buy(ACCOUNT, "RTY")
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the close")
    assert [b["contractId"] for b in h.sent("Position/closeContract")] == [h.trader.contract("RTY")]
    locks = h.daemon.engines[ACCOUNT].locks(ACCOUNT)
    assert [(lock.scope, lock.symbol) for lock in locks] == [("symbol", "RTY")]


def _management(start: Start, move: str) -> tuple[Harness, Decimal]:
    h = start(build_ruleset(enable=("trade-management-breakeven", "trade-management-trail")))
    entry = h.trader.price("EP") + Decimal("0.25")  # a market buy fills at the ask
    h.trader.stop(ACCOUNT, "EP", OrderSide.SELL, 1, entry - 5)
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.trader.move("EP", Decimal(move))
    h.wait(lambda: len(h.sent("Order/modify")) >= 1, "the stop move")
    return h, entry


def test_trade_management_moves_the_stop_to_breakeven(start: Start) -> None:
    h, entry = _management(start, "2.75")
    assert Decimal(str(h.sent("Order/modify")[0]["stopPrice"])) == entry


def test_trade_management_trails_the_stop(start: Start) -> None:
    h, entry = _management(start, "5.25")
    best = h.trader.price("EP")

    def stops() -> list[Decimal]:
        return [Decimal(str(b["stopPrice"])) for b in h.sent("Order/modify")]

    # breakeven and trail fire on the same quote: their two modifies may arrive in any order
    # behind the first one the harness waited for; the trail's is the one that must land
    h.wait(lambda: best - Decimal("2.5") in stops(), "the trailing stop")
    assert max(stops()) == best - Decimal("2.5") > entry


def test_rules_all_have_a_test() -> None:
    names = {rule.id for rule in build_ruleset().rules}
    tested = {
        "max-contracts-order",
        "max-contracts",
        "max-contracts-per-instrument-order",
        "max-contracts-per-instrument",
        "max-contracts-resting",
        "max-contracts-per-instrument-resting",
        "daily-realized-loss",
        "daily-unrealized-loss",
        "max-unrealized-profit",
        "trade-frequency-minute",
        "trade-frequency-hour",
        "trade-frequency-day",
        "cooldown-after-loss-1",
        "cooldown-after-loss-2",
        "cooldown-after-loss-3",
        "no-stop-loss-grace",
        "no-stop-loss-total",
        "session-block-outside",
        "auth-loss-guard",
        "symbol-blocks",
        "trade-management-breakeven",
        "trade-management-trail",
    }
    assert names == tested  # every shipped rule has its end-to-end test
