"""The executor's planning: REST calls derived from the current facts, never acting twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.daemon.planning import plan
from simple_risk.engine import Engine
from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.events import (
    ContractInfo,
    ContractLoaded,
    Event,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionType,
    PositionUpdate,
)
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.intents import (
    CancelOrder,
    NoWorkingOrders,
    PositionClosed,
    ReduceTo,
    ResizeOrder,
    StopAt,
)
from simple_risk.resources import default_ruleset_path

ACCOUNT = 7
T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
MES = "CON.F.US.MES.Z26"
MNQ = "CON.F.US.MNQ.Z26"


def _contract(contract_id: str, root: str) -> ContractLoaded:
    info = ContractInfo(
        contract_id, f"F.US.{root}", root, root, Decimal("0.25"), Decimal("1.25"), 1
    )
    return ContractLoaded(at=T0, contract=info)


def _position(contract_id: str, size: int, minutes: int, long: bool = True) -> PositionUpdate:
    return PositionUpdate(
        at=T0 + timedelta(minutes=minutes),
        account_id=ACCOUNT,
        contract_id=contract_id,
        type=PositionType.LONG if long else PositionType.SHORT,
        size=size,
        average_price=Decimal(6000),
        created_at=T0 + timedelta(minutes=minutes),
    )


def _order(
    order_id: int, contract_id: str, type_: OrderType, side: OrderSide, **kw: object
) -> OrderUpdate:
    return OrderUpdate(
        at=T0 + timedelta(minutes=30),
        account_id=ACCOUNT,
        order_id=order_id,
        contract_id=contract_id,
        status=OrderStatus.OPEN,
        type=type_,
        side=side,
        **{"size": 1, **kw},  # type: ignore[arg-type]
    )


def _state(*events: Event) -> AccountState:
    engine = Engine(load_ruleset(default_ruleset_path()), accounts=[ACCOUNT])
    for event in (_contract(MES, "MES"), _contract(MNQ, "MNQ"), *events):
        engine.apply(event)
    state = engine.account(ACCOUNT)
    assert state is not None
    return state


def test_a_target_already_met_plans_nothing() -> None:
    state = _state()
    assert plan(PositionClosed(ACCOUNT, MES), state) == []
    assert plan(CancelOrder(ACCOUNT, 42), state) == []
    assert plan(NoWorkingOrders(ACCOUNT), state) == []
    assert plan(ReduceTo(ACCOUNT, "account", max_units=50), state) == []


def test_close_and_cancel_name_exactly_what_is_there() -> None:
    state = _state(
        _position(MES, 2, 1),
        _order(41, MES, OrderType.LIMIT, OrderSide.BUY, limit_price=Decimal(5900)),
        _order(42, MNQ, OrderType.LIMIT, OrderSide.BUY, limit_price=Decimal(20000)),
    )
    [close] = plan(PositionClosed(ACCOUNT, MES), state)
    assert (close.endpoint, close.body["contractId"]) == (Endpoint.POSITION_CLOSE, MES)
    cancels = plan(NoWorkingOrders(ACCOUNT, contract_id=MES), state)
    assert [c.body["orderId"] for c in cancels] == [41]
    assert [c.body["orderId"] for c in plan(NoWorkingOrders(ACCOUNT), state)] == [41, 42]


def test_reduce_to_cuts_the_newest_position_first_by_the_excess_only() -> None:
    state = _state(_position(MES, 40, 1), _position(MNQ, 20, 2))
    [cut] = plan(ReduceTo(ACCOUNT, "account", max_units=50), state)
    assert cut.endpoint is Endpoint.POSITION_PARTIAL_CLOSE
    assert (cut.body["contractId"], cut.body["size"]) == (MNQ, 10)


def test_reduce_to_after_the_reduction_plans_nothing_more() -> None:
    state = _state(_position(MES, 40, 1), _position(MNQ, 10, 2))
    assert plan(ReduceTo(ACCOUNT, "account", max_units=50), state) == []


def test_reduce_to_closes_whole_positions_when_needed() -> None:
    state = _state(_position(MES, 40, 1), _position(MNQ, 20, 2))
    calls = plan(ReduceTo(ACCOUNT, "account", max_units=30), state)
    assert [(c.endpoint, c.body.get("size")) for c in calls] == [
        (Endpoint.POSITION_CLOSE, None),
        (Endpoint.POSITION_PARTIAL_CLOSE, 10),
    ]


def test_stop_at_places_a_stop_or_moves_the_existing_one_never_looser() -> None:
    state = _state(_position(MES, 2, 1))
    [place] = plan(StopAt(ACCOUNT, MES, Decimal(5990)), state)
    assert place.endpoint is Endpoint.ORDER_PLACE
    assert (place.body["side"], place.body["size"], place.body["stopPrice"]) == (
        1,
        2,
        Decimal(5990),
    )
    protected = _state(
        _position(MES, 2, 1),
        _order(43, MES, OrderType.STOP, OrderSide.SELL, stop_price=Decimal(5980), size=2),
    )
    [move] = plan(StopAt(ACCOUNT, MES, Decimal(5990)), protected)
    assert (move.endpoint, move.body["orderId"]) == (Endpoint.ORDER_MODIFY, 43)
    assert "size" not in move.body
    assert plan(StopAt(ACCOUNT, MES, Decimal(5970)), protected) == []


def test_stop_at_resizes_a_stop_that_no_longer_covers_a_scaled_in_position() -> None:
    scaled_in = _state(
        _position(MES, 3, 1),
        _order(43, MES, OrderType.STOP, OrderSide.SELL, stop_price=Decimal(5990), size=1),
    )
    [resize] = plan(StopAt(ACCOUNT, MES, Decimal(5990), size=3), scaled_in)
    assert resize.endpoint is Endpoint.ORDER_MODIFY
    assert (resize.body["orderId"], resize.body["stopPrice"], resize.body["size"]) == (
        43,
        Decimal(5990),
        3,
    )
    # a tighter stop that covers only part keeps its price and grows
    tighter = _state(
        _position(MES, 3, 1),
        _order(43, MES, OrderType.STOP, OrderSide.SELL, stop_price=Decimal(5995), size=2),
    )
    [grow] = plan(StopAt(ACCOUNT, MES, Decimal(5990), size=3), tighter)
    assert (grow.body["stopPrice"], grow.body["size"]) == (Decimal(5995), 3)


def test_reducing_a_position_resizes_its_protective_stop_never_cancels_it() -> None:
    """Long 4 with a sell-4 stop, limit 3: cut 1, and the stop follows the position to 3."""
    state = _state(
        _position(MNQ, 4, 1),
        _order(43, MNQ, OrderType.STOP, OrderSide.SELL, stop_price=Decimal(5990), size=4),
    )
    calls = plan(ReduceTo(ACCOUNT, "root", max_contracts=3, symbol="MNQ"), state)
    assert [(c.endpoint, c.body.get("orderId"), c.body.get("size")) for c in calls] == [
        (Endpoint.POSITION_PARTIAL_CLOSE, None, 1),
        (Endpoint.ORDER_MODIFY, 43, 3),
    ]
    assert "stopPrice" not in calls[1].body  # its price stays where the trader put it


def test_a_reduction_resizes_a_brackets_legs_and_leaves_fitting_orders_alone() -> None:
    bracket = {"parent_order_id": 40, "created_at": T0}
    state = _state(
        _position(MNQ, 4, 1),
        _order(
            41, MNQ, OrderType.STOP, OrderSide.SELL, stop_price=Decimal(5990), size=4, **bracket
        ),
        _order(
            42, MNQ, OrderType.LIMIT, OrderSide.SELL, limit_price=Decimal(6010), size=4, **bracket
        ),
        _order(44, MNQ, OrderType.LIMIT, OrderSide.SELL, limit_price=Decimal(6020), size=1),
    )
    calls = plan(ReduceTo(ACCOUNT, "contract", max_contracts=2, contract_id=MNQ), state)
    assert [(c.endpoint, c.body.get("orderId"), c.body.get("size")) for c in calls] == [
        (Endpoint.POSITION_PARTIAL_CLOSE, None, 2),
        (Endpoint.ORDER_MODIFY, 41, 2),
        (Endpoint.ORDER_MODIFY, 42, 2),
    ]


def test_a_full_close_by_reduction_resizes_nothing() -> None:
    state = _state(
        _position(MES, 40, 1),
        _position(MNQ, 20, 2),
        _order(43, MNQ, OrderType.STOP, OrderSide.SELL, stop_price=Decimal(5990), size=20),
    )
    calls = plan(ReduceTo(ACCOUNT, "account", max_units=40), state)
    assert [c.endpoint for c in calls] == [Endpoint.POSITION_CLOSE]


def test_resize_order_shrinks_the_order_once_and_keeps_its_fills() -> None:
    state = _state(
        _position(MNQ, 3, 1),
        _order(
            43, MNQ, OrderType.STOP, OrderSide.SELL, stop_price=Decimal(5990), size=5, fill_volume=1
        ),
    )
    [resize] = plan(ResizeOrder(ACCOUNT, 43, 3), state)
    assert (resize.endpoint, resize.body["orderId"], resize.body["size"]) == (
        Endpoint.ORDER_MODIFY,
        43,
        4,  # 1 filled + 3 working
    )
    assert plan(ResizeOrder(ACCOUNT, 43, 4), state) == []
    assert plan(ResizeOrder(ACCOUNT, 99, 1), state) == []
