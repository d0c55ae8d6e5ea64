"""The fact store, family by family: exposure, if-filled counts, P&L, windows, streaks."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from engine_builders import (
    ACCOUNT,
    ES,
    MNQ,
    account_update,
    at,
    fill,
    loaded,
    order,
    position,
    quote,
    ruleset,
    tick,
)

from simple_risk.engine.engine import Engine
from simple_risk.engine.events import Event, OrderStatus, OrderType


def run(*events: Event) -> Engine:
    engine = Engine(ruleset())
    for event in events:
        engine.apply(event)
    return engine


def facts(engine: Engine) -> dict[str, Any]:
    return engine.facts(ACCOUNT)


def test_weighted_and_raw_open_contracts() -> None:
    engine = run(position(0, 3, contract=MNQ), position(1, 2, "6000", contract=ES, long=False))
    account = facts(engine)["account"]
    assert account.open_units == 3 * 1 + 2 * 10
    assert account.open_contracts == Decimal("2.3")
    assert account.open_contracts_raw == 5
    engine.apply(position(2, 0, contract=ES))
    assert account.open_units == 3
    assert account.open_contracts_raw == 3


def test_roots_use_alias_mapping() -> None:
    engine = run(position(0, 1, "6000", contract=ES))
    state = engine.account(ACCOUNT)
    assert state is not None
    assert list(state.roots) == ["ES"]
    assert state.positions[ES].symbol == "ES"


def test_if_filled_counts_per_side() -> None:
    engine = run(
        position(0, 2),
        order(1, 10, side="buy", size=3),
        order(2, 11, side="sell", size=4),
        order(3, 12, side="sell", size=2, kind=OrderType.STOP, stop="20900"),
    )
    state = engine.account(ACCOUNT)
    assert state is not None
    sym = state.roots["MNQ"]
    assert (sym.working_buy, sym.working_sell) == (3, 6)
    assert sym.if_filled_long == 5
    assert sym.if_filled_short == 4
    assert sym.if_filled_max == 5
    buy = state.orders[10]
    assert buy.if_filled_symbol_size == 5
    assert buy.if_filled_account_contracts == Decimal("0.5")
    assert not buy.reduces_only
    assert state.orders[12].reduces_only
    assert not state.orders[11].reduces_only  # 4 > position size 2


def test_terminal_orders_leave_the_working_set() -> None:
    engine = run(order(0, 10, size=2), order(1, 10, size=2, status=OrderStatus.CANCELLED))
    state = engine.account(ACCOUNT)
    assert state is not None
    assert state.orders == {}
    assert facts(engine)["account"].working_orders == 0
    assert state.roots == {}


def test_partially_filled_order_counts_its_remaining() -> None:
    engine = run(order(0, 10, size=5, filled=2))
    state = engine.account(ACCOUNT)
    assert state is not None
    assert state.orders[10].remaining == 3
    assert state.roots["MNQ"].working_buy == 3


def test_day_pnl_is_net_of_fees_and_commissions() -> None:
    engine = run(
        fill(0, 1, pnl=None, fees="0.37", commissions="0.25"),
        fill(1, 2, pnl="-100.10", fees="0.37", commissions="0.25"),
        fill(2, 3, pnl="-200.20"),
        fill(3, 4, pnl="-199.70"),
    )
    day = facts(engine)["day"]
    assert day.gross_pnl == Decimal("-500.00")
    assert day.fees == Decimal("1.24")
    assert day.realized_pnl == Decimal("-501.24")
    assert day.trade_count == 4
    assert day.closed_trades == 3
    assert day.losing_trades == 3


def test_resent_fill_replaces_and_voided_fill_removes() -> None:
    engine = run(fill(0, 1, pnl="-100"), fill(1, 1, pnl="-120"))
    day = facts(engine)["day"]
    assert day.realized_pnl == Decimal("-120")
    assert day.trade_count == 1
    engine.apply(fill(2, 1, pnl="-120", voided=True))
    assert day.realized_pnl == 0
    assert day.trade_count == 0
    assert facts(engine)["trades"].count(timedelta(minutes=1)) == 0


def test_order_pnl_sums_every_closing_fill_of_the_order() -> None:
    engine = Engine(ruleset())
    engine.apply(fill(0, 1, order_id=5, pnl="-60", fees="1"))
    firings_env = engine.apply(fill(1, 2, order_id=5, pnl="-50", fees="1"))
    assert firings_env == []
    state = engine.account(ACCOUNT)
    assert state is not None
    assert state.ledger.order_net(5) == Decimal("-112")
    assert state.ledger.order_net(6) is None


def test_trade_windows_count_exactly() -> None:
    engine = run(*(fill(t, i, pnl="-1" if i % 2 else "2") for i, t in enumerate((0, 10, 20, 61))))
    trades = facts(engine)["trades"]
    assert trades.count(timedelta(seconds=60)) == 3  # 1, 2 and 61 s; 0 s is 61 s ago
    assert trades.count(timedelta(hours=1)) == 4
    assert trades.losses(timedelta(hours=1)) == 2
    engine.apply(tick(200))
    assert trades.count(timedelta(seconds=60)) == 0
    assert facts(engine)["day"].trade_count == 4


def test_consecutive_losses_count_closed_orders_and_reset_on_a_win() -> None:
    engine = run(
        fill(0, 1, order_id=1, pnl="-10"),
        fill(1, 2, order_id=1, pnl="-10"),
        fill(2, 3, order_id=2, pnl="-5"),
    )
    day = facts(engine)["day"]
    assert day.consecutive_losses == 2
    engine.apply(fill(3, 4, order_id=3, pnl="30"))
    assert day.consecutive_losses == 0
    engine.apply(fill(4, 5, order_id=4, pnl="-1"))
    assert day.consecutive_losses == 1
    assert day.high_water_pnl == Decimal("5")
    assert day.low_water_pnl == Decimal("-25")


def test_the_low_water_mark_keeps_the_day_s_lowest_p_and_l_until_the_reset() -> None:
    engine = run(fill(0, 1, order_id=1, pnl="-300"), fill(1, 2, order_id=2, pnl="250"))
    day = facts(engine)["day"]
    assert day.realized_pnl == Decimal("-50")
    assert day.low_water_pnl == Decimal("-300")
    engine.apply(fill(2, 3, order_id=3, pnl="-100", voided=True))
    assert day.low_water_pnl == Decimal("-300")
    engine.apply(tick(8 * 3600))  # 17:00 Chicago: a new trading day
    assert day.low_water_pnl == Decimal("0")
    assert day.high_water_pnl == Decimal("0")


def test_unrealized_pnl_needs_a_quote_and_contract_metadata() -> None:
    engine = run(position(0, 2, "21000"))
    account = facts(engine)["account"]
    state = engine.account(ACCOUNT)
    assert state is not None
    pos = state.positions[MNQ]
    assert pos.unrealized_pnl is None
    assert account.unrealized_pnl is None
    assert account.equity is None
    engine.apply(quote(1, "21010"))
    assert pos.unrealized_pnl is None  # tick size still unknown
    engine.apply(loaded(2))
    assert pos.last_price == Decimal("21010")
    assert pos.profit_ticks == 40
    assert pos.unrealized_pnl == Decimal("40")  # 40 ticks * 0.50 * 2
    engine.apply(account_update(3, "50000"))
    assert account.equity == Decimal("50040")


def test_mark_falls_back_to_bid_for_long_and_ask_for_short() -> None:
    engine = run(loaded(0), position(1, 1, "21000"), quote(2, bid="20999", ask="21001"))
    state = engine.account(ACCOUNT)
    assert state is not None
    assert state.positions[MNQ].last_price == Decimal("20999")
    engine.apply(position(3, 1, "21000", long=False))
    assert state.positions[MNQ].last_price == Decimal("21001")
    assert state.positions[MNQ].unrealized_pnl == Decimal("-2")


def test_best_price_since_entry() -> None:
    engine = run(loaded(0), position(1, 1, "21000"), quote(2, "21005"), quote(3, "21012"))
    engine.apply(quote(4, "21001"))
    state = engine.account(ACCOUNT)
    assert state is not None
    assert state.positions[MNQ].best_price == Decimal("21012")


def test_position_age_and_side_flip_restart_the_position() -> None:
    engine = run(position(0, 1), tick(30))
    state = engine.account(ACCOUNT)
    assert state is not None
    assert state.positions[MNQ].age == 30
    engine.apply(position(31, 1, long=False))
    assert state.positions[MNQ].age == 0
    assert state.positions[MNQ].side == "short"


def test_fill_day_uses_the_exchange_timestamp() -> None:
    yesterday = at(-86_400)
    engine = run(fill(0, 1, pnl="-100", created_at=yesterday), fill(1, 2, pnl="-5"))
    day = facts(engine)["day"]
    assert day.realized_pnl == Decimal("-5")
    assert facts(engine)["week"].realized_pnl == Decimal("-105")


def test_daily_reset_at_the_boundary_keeps_the_week_and_eod_high() -> None:
    engine = run(account_update(0, "50500"), fill(1, 1, pnl="-100"))
    boundary = 8 * 3600  # 23:00 UTC = 17:00 Chicago
    engine.apply(tick(boundary - 1))
    assert facts(engine)["day"].realized_pnl == Decimal("-100")
    engine.apply(tick(boundary))
    assert facts(engine)["day"].realized_pnl == 0
    assert facts(engine)["day"].trade_count == 0
    assert facts(engine)["week"].realized_pnl == Decimal("-100")
    assert facts(engine)["account"].eod_high_balance == Decimal("50500")
    assert facts(engine)["account"].starting_balance == Decimal("50500")
    assert facts(engine)["session"].trading_day == "2026-11-25"
    assert facts(engine)["trades"].count(timedelta(days=1)) == 1


def test_session_facts() -> None:
    engine = run(account_update(0), tick(0))
    session = facts(engine)["session"]
    assert session.trading_day == "2026-11-24"
    assert session.weekday == "tue"
    assert session.time == "09:00"
    assert session.is_trading_day and not session.is_holiday
    assert session.open("rth")
    assert session.minutes_to_close("rth") == 360
    assert session.minutes_to_open("rth") == 0
