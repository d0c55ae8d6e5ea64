"""Bracket (Auto-OCO) families as the live gateway sends them, against the max-contracts rules.

ES is limited to 5 contracts (``rulesets/topstep.yaml``), so a 3-lot bracket is more than half
the limit: counting its suspended take-profit as new exposure, or its two legs as if both
could fill, would see 6 and cancel it. Neither may happen, whichever arrives first, the entry
or its children; and an entry that does breach goes, and its children with it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.daemon.planning import plan
from simple_risk.engine.codec import event_from_json, event_to_json
from simple_risk.engine.events import OrderStatus, OrderUpdate
from simple_risk.engine.intents import CancelOrder, is_met

from .harness import ES, T0, Wire, children_first, fixture

ARRIVALS = ["entry first", "children first"]


def _birth(frames: list[dict[str, Any]], arrival: str) -> list[dict[str, Any]]:
    return children_first(frames) if arrival == "children first" else frames


@pytest.mark.parametrize("arrival", ARRIVALS)
def test_a_bracket_within_the_limit_is_never_cancelled_and_its_fill_is_protected(
    arrival: str,
) -> None:
    data = fixture("bracket-long-3-es.json")
    frames = _birth(data["frames"], arrival)
    wire = Wire()

    wire.hub(frames[:3])  # born together, before the fill
    state = wire.state
    sl, tp = state.orders[data["stop_loss"]], state.orders[data["take_profit"]]
    assert (sl.is_child, tp.is_child) == (True, True)
    assert sl.parent_id == tp.parent_id == data["entry"]
    assert sl.status == tp.status == "suspended"
    assert sl.update.status is OrderStatus.SUSPENDED and sl.stop_price is None
    assert sl.reduces_only and tp.reduces_only
    es = state.symbol("ES")
    assert (es.if_filled_long, es.if_filled_short) == (3, 0)
    assert state.orders[data["entry"]].if_filled_symbol_size == 3
    assert tp.if_filled_symbol_size == 0

    wire.hub(frames[3:9])  # the entry fills, the children open with prices
    position = state.positions[ES]
    assert (position.size, position.protected) == (3, True)
    assert position.stop_price == Decimal("6008.25")
    es = state.symbol("ES")
    assert (es.if_filled_long, es.if_filled_short) == (3, 0)  # the legs close it once
    wire.tick(45)  # past no-stop-loss-grace's 30 s: the stop-loss child protects the fill

    wire.hub(frames[9:])  # the take-profit fills, the stop-loss is cancelled (OCO)
    assert not state.positions and not state.orders
    assert wire.cancelled_orders() == []
    assert wire.exposure_cuts() == []
    assert wire.engine.locks(state.id) == []


@pytest.mark.parametrize("arrival", ARRIVALS)
def test_a_breaching_bracketed_entry_is_cancelled_with_its_children(arrival: str) -> None:
    data = fixture("bracket-breach-6-es.json")
    entry, sl, tp = data["entry"], data["stop_loss"], data["take_profit"]
    wire = Wire()

    wire.hub(_birth(data["frames"], arrival))
    assert set(wire.cancelled_orders()) == {entry}  # the entry, never a child
    fired = {firing.rule_id for firing in wire.firings}
    assert {"max-contracts-per-instrument-order", "max-contracts-order"} <= fired
    state = wire.state
    cancel = CancelOrder(state.id, entry)
    # while the entry may still fill, only the entry is cancelled: its children must be
    # there to protect a fill that beats the cancel
    assert [call.body["orderId"] for call in plan(cancel, state)] == [entry]

    wire.hub(data["cancelled"])  # the entry ended unfilled: its children are orphans
    assert not is_met(cancel, state)
    calls = plan(cancel, state)
    assert [(call.endpoint, call.body["orderId"]) for call in calls] == [
        (Endpoint.ORDER_CANCEL, sl),
        (Endpoint.ORDER_CANCEL, tp),
    ]

    wire.hub(data["children_cancelled"])
    assert is_met(cancel, state)
    assert plan(cancel, state) == []
    assert not state.orders


def test_a_filled_entrys_children_are_not_cancelled_with_it() -> None:
    """The cancel lost the race: the entry filled. Its children now protect the position."""
    data = fixture("bracket-breach-6-es.json")
    wire = Wire()
    wire.hub(data["frames"])
    cancel = CancelOrder(wire.state.id, data["entry"])
    filled = data["cancelled"][0]
    payload = {**filled["arguments"][0]["data"], "status": 2, "fillVolume": 6}
    wire.hub([{**filled, "arguments": [{"action": 1, "data": payload}]}])
    assert is_met(cancel, wire.state)
    assert plan(cancel, wire.state) == []


@pytest.mark.parametrize("reverse", [False, True])
def test_rest_children_without_links_are_found_by_their_tag(reverse: bool) -> None:
    data = fixture("bracket-rest-after-fill.json")
    body = data["order_search"]
    orders = list(reversed(body["orders"])) if reverse else body["orders"]
    wire = Wire()
    wire.rest(Endpoint.ORDER_SEARCH, {**body, "orders": orders})
    wire.rest(Endpoint.POSITION_SEARCH_OPEN, data["position_search_open"])
    state = wire.state
    for child in (data["stop_loss"], data["take_profit"]):
        assert state.orders[child].is_child
        assert state.orders[child].parent_id == data["entry"]
    position = state.positions[ES]
    assert (position.long, position.size, position.protected) == (False, 3, True)
    es = state.symbol("ES")
    assert es.working_buy == 3  # stop-loss and take-profit: one leg of 3, not 6
    assert (es.if_filled_long, es.if_filled_short) == (0, 3)
    assert wire.cancelled_orders() == [] and wire.exposure_cuts() == []


@pytest.mark.parametrize(
    "name", ["bracket-long-3-es.json", "bracket-breach-6-es.json", "bracket-rest-after-fill.json"]
)
def test_every_converted_event_is_journaled_and_read_back_exactly(name: str) -> None:
    data = fixture(name)
    wire = Wire()
    events = []
    for frame in data.get("frames", []) + data.get("cancelled", []):
        events += wire.converter.user(frame["target"], frame["arguments"], T0)
    if "order_search" in data:
        events += wire.converter.rest(Endpoint.ORDER_SEARCH, data["order_search"], T0)
    assert events and not wire.converter.rejected
    linked = [e for e in events if isinstance(e, OrderUpdate) and e.parent_order_id is not None]
    assert linked or name == "bracket-rest-after-fill.json"
    for event in events:
        assert event_from_json(json.loads(json.dumps(event_to_json(event)))) == event
