"""The fact store's shortcuts give what recomputing from scratch gives.

The store keeps a few answers between events instead of recomputing them on every event (the
accounts a quote touches, the marks an order update keeps, the head of a fill window, a rule's
money limit as a Decimal); each property here drives random streams or operations and compares
the kept answer with the one computed afresh.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from engine_builders import ACCOUNT, ES, MNQ, T0, order
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import RULES, event_streams

from simple_risk.engine.engine import Engine
from simple_risk.engine.events import (
    Event,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionType,
    PositionUpdate,
    Quote,
)
from simple_risk.engine.facts.positions import _money, protection, stop_exposure
from simple_risk.engine.facts.windows import FillWindow


@settings(max_examples=80)
@given(event_streams(max_size=60))
def test_a_quote_touches_exactly_the_accounts_holding_or_working_its_contract(
    events: list[Event],
) -> None:
    engine = Engine(RULES)
    for event in events:
        engine.apply(event)
        for contract in engine.store.market.contracts.values():
            kept = contract.affected
            fresh = sorted(contract.positions.keys() | contract.working_accounts.keys())
            assert kept is None or [state.id for state in kept] == fresh
        if isinstance(event, Quote):
            contract = engine.store.market.contracts[event.contract_id]
            touched = engine.store.apply(event)  # the same prices again: nothing moves
            holders = contract.positions.keys() | contract.working_accounts.keys()
            assert [state.id for state in touched.accounts] == sorted(holders)


@settings(max_examples=80)
@given(event_streams(max_size=60))
def test_a_position_s_price_facts_are_current_after_every_event(events: list[Event]) -> None:
    """An order update recomputes protection only: the marks it keeps are still current."""
    engine = Engine(RULES)
    for event in events:
        engine.apply(event)
        for state in engine.store.accounts.values():
            for position in state.positions.values():
                kept = (position.last_price, position.profit_ticks, position.unrealized_pnl)
                position.reprice()
                fresh = (position.last_price, position.profit_ticks, position.unrealized_pnl)
                assert kept == fresh
                mark = position.last_price
                best = position.best_price
                if mark is not None:
                    assert best is not None
                    assert (mark <= best) if position.long else (mark >= best)


@st.composite
def protection_streams(draw: st.DrawFn) -> list[Event]:
    """One account trading one contract: a position, its stops, entries and targets coming
    and going (every order type and status, both sides), quotes moving across the stops."""
    events: list[Event] = []
    t = T0
    for _ in range(draw(st.integers(5, 30))):
        t += timedelta(seconds=draw(st.sampled_from([0, 1, 30])))
        kind = draw(st.sampled_from(["order", "order", "order", "position", "quote"]))
        if kind == "quote":
            price = Decimal(draw(near))
            events.append(Quote(at=t, contract_id=MNQ, last=price, bid=price, ask=price))
        elif kind == "position":
            events.append(
                PositionUpdate(
                    at=t,
                    account_id=ACCOUNT,
                    contract_id=MNQ,
                    type=draw(st.sampled_from([PositionType.LONG, PositionType.SHORT])),
                    size=draw(st.integers(0, 3)),
                    average_price=Decimal("21000"),
                )
            )
        else:
            size = draw(st.integers(1, 3))
            events.append(
                OrderUpdate(
                    at=t,
                    account_id=ACCOUNT,
                    order_id=draw(st.integers(1, 4)),
                    contract_id=MNQ,
                    status=draw(st.sampled_from(list(OrderStatus))),
                    type=draw(st.sampled_from(list(OrderType))),
                    side=draw(st.sampled_from(list(OrderSide))),
                    size=size,
                    fill_volume=draw(st.integers(0, size)),
                    limit_price=Decimal(draw(near)),
                    stop_price=draw(st.none() | near.map(Decimal)),
                )
            )
    return events


near = st.sampled_from(["20990", "20995", "21000", "21005", "21010"])


@settings(max_examples=150)
@given(protection_streams())
def test_a_position_s_protection_is_current_after_every_event(events: list[Event]) -> None:
    """What protection keeps between events (the quote band of ``requote``, the mark kept by
    ``reprotect``) equals protection computed afresh from the working orders at the mark."""
    engine = Engine(RULES)
    for event in events:
        engine.apply(event)
        for state in engine.store.accounts.values():
            for position in state.positions.values():
                orders = state.contract_orders(position.contract_id)
                protected, stop_price, stops, _band = protection(
                    position, orders, position.last_price
                )
                assert position.protected == protected
                assert position.stop_price == stop_price
                assert (position.stop_ticks, position.stop_risk) == stop_exposure(position, stops)
                assert (position.unprotected_since is None) == protected


windows_ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "prune"]),
        st.integers(0, 40),  # minutes after T0
        st.integers(1, 6),  # fill id
    ),
    max_size=60,
)


@settings(max_examples=200)
@given(windows_ops)
def test_a_window_keeps_and_counts_exactly_the_entries_inside_its_retention(
    ops: list[tuple[str, int, int]],
) -> None:
    window = FillWindow(retention=timedelta(minutes=10))
    model: list[tuple[datetime, int]] = []
    now = T0
    for op, minutes, fill_id in ops:
        at = T0 + timedelta(minutes=minutes)
        if op == "add":
            window.add(at, fill_id)
            model.append((at, fill_id))
        elif op == "remove":
            window.remove(at, fill_id)
            if (at, fill_id) in model:
                model.remove((at, fill_id))
        else:
            now = max(now, at)  # engine time never goes back
            window.prune(now)
            model = [entry for entry in model if entry[0] >= now - window.retention]
        assert window.entries() == sorted(model)
        for within in (timedelta(0), timedelta(minutes=3), timedelta(minutes=30)):
            asked = at  # any instant: before, at or after the newest entry
            inside = [entry for entry in model if asked - within <= entry[0] <= asked]
            assert window.count(asked, within) == len(inside)


limits = st.one_of(
    st.integers(-(10**6), 10**6),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)


@given(st.lists(limits, max_size=20))
def test_a_money_limit_equals_its_exact_decimal_however_often_it_is_asked(
    values: list[object],
) -> None:
    for value in values + values:
        assert _money(value) == Decimal(str(value))


def test_a_quote_of_a_contract_nobody_holds_touches_no_account() -> None:
    engine = Engine(RULES)
    touched = engine.store.apply(
        Quote(at=T0, contract_id="CON.F.US.MNQ.Z26", last=Decimal(1), bid=None, ask=None)
    )
    assert touched.accounts == []


def test_an_order_moved_to_another_contract_works_only_there() -> None:
    """The gateway re-sends an order id with another contract: the account works an order in
    the new contract (its quotes reach the account) and none in the old one."""
    engine = Engine(RULES)
    engine.apply(order(1, 501, contract=MNQ))
    engine.apply(order(2, 501, contract=ES))
    contracts = engine.store.market.contracts
    assert ACCOUNT not in contracts[MNQ].working_accounts
    assert contracts[ES].working_accounts == {ACCOUNT: 1}
    touched = engine.store.apply(
        Quote(at=T0 + timedelta(seconds=3), contract_id=ES, last=Decimal("6000"))
    )
    assert [state.id for state in touched.accounts] == [ACCOUNT]
