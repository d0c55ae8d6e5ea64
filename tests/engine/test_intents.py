"""Intents are target states: met when the facts show them, remembered until then."""

from __future__ import annotations

from decimal import Decimal

from engine_builders import ACCOUNT, ES, MNQ, order, position, ruleset

from simple_risk.engine.engine import Engine
from simple_risk.engine.events import Event, OrderType
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.intents import (
    Alert,
    CancelOrder,
    NoWorkingOrders,
    PositionClosed,
    ReduceTo,
    StopAt,
    intent_from_json,
    intent_to_json,
    is_met,
)


def account(*events: Event) -> AccountState:
    engine = Engine(ruleset())
    for event in events:
        engine.apply(event)
    state = engine.account(ACCOUNT)
    assert state is not None
    return state


def test_no_working_orders_by_symbol_side_and_contract() -> None:
    state = account(order(0, 1, side="buy"), order(1, 2, side="sell", contract=ES))
    assert not is_met(NoWorkingOrders(ACCOUNT), state)
    assert not is_met(NoWorkingOrders(ACCOUNT, symbol="MNQ"), state)
    assert is_met(NoWorkingOrders(ACCOUNT, symbol="MNQ", side="sell"), state)
    assert is_met(NoWorkingOrders(ACCOUNT, symbol="NQ"), state)
    assert not is_met(NoWorkingOrders(ACCOUNT, contract_id=ES), state)


def test_cancel_order_and_position_closed() -> None:
    state = account(order(0, 1), position(1, 1))
    assert not is_met(CancelOrder(ACCOUNT, 1), state)
    assert is_met(CancelOrder(ACCOUNT, 2), state)
    assert not is_met(PositionClosed(ACCOUNT, MNQ), state)
    assert is_met(PositionClosed(ACCOUNT, ES), state)


def test_reduce_to_in_each_scope() -> None:
    state = account(position(0, 3), position(1, 1, "6000", contract=ES))  # 3 + 10 units
    assert not is_met(ReduceTo(ACCOUNT, "account", max_units=10), state)
    assert is_met(ReduceTo(ACCOUNT, "account", max_units=13), state)
    assert not is_met(ReduceTo(ACCOUNT, "root", max_contracts=2, symbol="MNQ"), state)
    assert is_met(ReduceTo(ACCOUNT, "root", max_contracts=3, symbol="MNQ"), state)
    assert is_met(ReduceTo(ACCOUNT, "contract", max_contracts=1, contract_id=ES), state)


def test_stop_at_is_met_by_an_equal_or_tighter_stop_when_never_loosening() -> None:
    stop = order(2, 9, side="sell", kind=OrderType.STOP, stop="20995")
    state = account(position(0, 1, "21000"), stop)
    assert is_met(StopAt(ACCOUNT, MNQ, Decimal("20995")), state)
    assert is_met(StopAt(ACCOUNT, MNQ, Decimal("20990")), state)
    assert not is_met(StopAt(ACCOUNT, MNQ, Decimal("20990"), never_loosen=False), state)
    assert not is_met(StopAt(ACCOUNT, MNQ, Decimal("20998")), state)


def test_a_sized_stop_at_needs_stops_covering_the_whole_position() -> None:
    one = order(2, 9, side="sell", kind=OrderType.STOP, stop="20995")
    state = account(position(0, 2, "21000"), one)
    assert is_met(StopAt(ACCOUNT, MNQ, Decimal("20995")), state)  # unsized: any stop
    assert not is_met(StopAt(ACCOUNT, MNQ, Decimal("20995"), size=2), state)
    both = account(
        position(0, 2, "21000"), one, order(3, 10, side="sell", kind=OrderType.STOP, stop="20996")
    )
    assert is_met(StopAt(ACCOUNT, MNQ, Decimal("20995"), size=2), both)  # tighter one counts


def test_the_key_of_a_stop_target_changes_with_its_size() -> None:
    keys = {StopAt(ACCOUNT, MNQ, Decimal("21000"), size=n).key for n in (None, 1, 2)}
    assert len(keys) == 3


def test_intents_round_trip_through_json_with_the_same_key() -> None:
    for intent in (
        NoWorkingOrders(ACCOUNT, symbol="MNQ", side="buy"),
        CancelOrder(ACCOUNT, 2**40),
        PositionClosed(ACCOUNT, MNQ),
        ReduceTo(ACCOUNT, "account", max_units=50, order="largest_first"),
        StopAt(ACCOUNT, MNQ, Decimal("21000.25"), False),
        StopAt(ACCOUNT, MNQ, Decimal("21000.25"), True, 3),
        Alert("critical", "canTrade is false", ACCOUNT, "auth"),
    ):
        again = intent_from_json(intent_to_json(intent))
        assert again == intent
        assert again.key == intent.key
