"""Properties of the matching engine that must hold for every sequence of actions.

- every position equals the net of the account's non-voided fills;
- realized P&L equals the sum of closing-fill P&L, and the balance is start + realized − fees;
- no order fills at a price the venue was not quoting at that moment (bid for sells, ask for
  buys), so nothing fills at a price the path never traded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.adapters.simulator.contracts import catalogue
from simple_risk.adapters.simulator.records import (
    AccountSpec,
    PlaceRequest,
    Trade,
    UserEvent,
    VenueError,
    VenueEvent,
)
from simple_risk.adapters.simulator.venue import Venue
from simple_risk.engine.events import OrderSide, OrderType, PositionType

ACCOUNTS = (101, 102)
CONTRACTS = ("CON.F.US.MNQ.Z26", "CON.F.US.CLE.F27", "CON.F.US.MYM.Z26")  # CL is monthly
START = Decimal("50000")

side = st.sampled_from([OrderSide.BUY, OrderSide.SELL])
account = st.sampled_from(ACCOUNTS)
contract = st.sampled_from(CONTRACTS)
ticks = st.integers(min_value=-12, max_value=12)

action = st.one_of(
    st.tuples(st.just("move"), contract, ticks),
    st.tuples(st.just("market"), account, contract, side, st.integers(1, 5)),
    st.tuples(st.just("limit"), account, contract, side, st.integers(1, 5), ticks),
    st.tuples(st.just("stop"), account, contract, side, st.integers(1, 5), ticks),
    st.tuples(st.just("trail"), account, contract, side, st.integers(1, 5), st.integers(1, 8)),
    st.tuples(st.just("close"), account, contract),
    st.tuples(st.just("partial"), account, contract, st.integers(1, 4)),
    st.tuples(st.just("cancel"), account, st.integers(0, 20)),
    st.tuples(st.just("void"), st.integers(0, 40)),
)


def run(actions: list[tuple[object, ...]]) -> tuple[Venue, list[str]]:
    venue = Venue(
        catalogue(date(2026, 11, 24)),
        [AccountSpec(a, f"A{a}", START) for a in ACCOUNTS],
        lambda: datetime(2026, 11, 24, tzinfo=UTC),
    )
    bad_fills: list[str] = []

    def check_fill(event: VenueEvent) -> None:
        if isinstance(event, UserEvent) and isinstance(event.entity, Trade) and event.action == 0:
            trade = event.entity
            quote = venue.market(trade.contract_id)
            expected = quote.ask if trade.side == OrderSide.BUY else quote.bid
            if trade.price != expected:
                bad_fills.append(f"{trade} while quoting {quote.bid}/{quote.ask}")

    venue.add_listener(check_fill)
    for step in actions:
        kind = step[0]
        try:
            if kind == "move":
                _, cid, n = step
                m = venue.market(str(cid))
                target = m.last + int(str(n)) * m.contract.tick_size
                if target > 0:
                    venue.update_price(str(cid), target)
            elif kind in ("market", "limit", "stop", "trail"):
                acc, cid, sd, size = (int(str(step[1])), str(step[2]), step[3], int(str(step[4])))
                assert isinstance(sd, OrderSide)
                m = venue.market(cid)
                tick = m.contract.tick_size
                if kind == "market":
                    request = PlaceRequest(acc, cid, OrderType.MARKET, sd, size)
                elif kind == "limit":
                    price = m.last + int(str(step[5])) * tick
                    request = PlaceRequest(acc, cid, OrderType.LIMIT, sd, size, limit_price=price)
                elif kind == "stop":
                    price = m.last + int(str(step[5])) * tick
                    request = PlaceRequest(acc, cid, OrderType.STOP, sd, size, stop_price=price)
                else:
                    away = int(str(step[5])) * tick
                    trail = m.last - away if sd == OrderSide.SELL else m.last + away
                    request = PlaceRequest(
                        acc, cid, OrderType.TRAILING_STOP, sd, size, trail_price=trail
                    )
                venue.place(request)
            elif kind == "close":
                venue.close_position(int(str(step[1])), str(step[2]))
            elif kind == "partial":
                venue.close_position(int(str(step[1])), str(step[2]), int(str(step[3])))
            elif kind == "cancel":
                open_orders = venue.open_orders(int(str(step[1])))
                if open_orders:
                    chosen = open_orders[int(str(step[2])) % len(open_orders)]
                    venue.cancel(chosen.account_id, chosen.id)
            elif kind == "void":
                trades = venue.all_trades()
                if trades:
                    venue.void_trade(trades[int(str(step[1])) % len(trades)].id)
        except VenueError:
            pass
    return venue, bad_fills


@given(st.lists(action, max_size=40))
def test_positions_equal_the_net_of_fills(actions: list[tuple[object, ...]]) -> None:
    venue, _ = run(actions)
    for acc in ACCOUNTS:
        positions = {p.contract_id: p for p in venue.open_positions(acc)}
        for cid in CONTRACTS:
            net = sum(
                t.size if t.side == OrderSide.BUY else -t.size
                for t in venue.trades(acc)
                if t.contract_id == cid and not t.voided
            )
            position = positions.get(cid)
            held = 0
            if position is not None:
                assert position.size > 0
                held = position.size if position.type == PositionType.LONG else -position.size
            assert held == net


@given(st.lists(action, max_size=40))
def test_balance_is_start_plus_realized_minus_fees(actions: list[tuple[object, ...]]) -> None:
    venue, _ = run(actions)
    for acc in ACCOUNTS:
        live = [t for t in venue.trades(acc) if not t.voided]
        realized = sum(
            (t.profit_and_loss for t in live if t.profit_and_loss is not None), Decimal(0)
        )
        fees = sum((t.fees + t.commissions for t in live), Decimal(0))
        assert venue.account(acc).balance == START + realized - fees


@given(st.lists(action, max_size=40))
def test_realized_pnl_is_whole_ticks_of_closing_fills(actions: list[tuple[object, ...]]) -> None:
    venue, _ = run(actions)
    for trade in venue.all_trades():
        if trade.profit_and_loss is None:
            continue
        tick_value = venue.contract(trade.contract_id).tick_value
        assert (trade.profit_and_loss / tick_value) % 1 == 0


@given(st.lists(action, max_size=40))
def test_no_order_fills_at_a_price_the_venue_was_not_quoting(
    actions: list[tuple[object, ...]],
) -> None:
    _, bad_fills = run(actions)
    assert bad_fills == []
