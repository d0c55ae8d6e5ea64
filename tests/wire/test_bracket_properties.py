"""Property: whatever bracket families a trader runs and however their events interleave, no
child is ever cancelled by an exposure rule or a lockout while its position is open, and the
if-filled figures never count both legs of a family (nor any leg as exposure).

Each family lives in ES (limit 5, ``rulesets/topstep.yaml``) and goes through the §14.3
lifecycle, frame by frame as live-shaped hub payloads: its entry and two suspended children are
born in any order; the entry then rests, is cancelled (its children cancelled after it, or left
orphaned), or fills — the children open with prices — and later one leg fills and the other is
cancelled. The families' steps interleave at random, and a losing fill elsewhere may set a
cooldown lockout at any point. After every event the figures are checked against a model
that knows only the entries and the position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.daemon.planning import plan
from simple_risk.engine.intents import NoWorkingOrders

from .harness import ACCOUNT, ES, Wire

OUTCOMES = ("rest", "cancel", "orphan", "open", "take_profit", "stop_loss")


@dataclass
class Family:
    """One bracket and where its lifecycle stands."""

    index: int
    size: int
    outcome: str
    long: bool
    entry_working: bool = False
    filled: bool = False
    closed: bool = False
    #: the three birth frames not sent yet, in the drawn order
    birth: list[str] = field(default_factory=list)

    @property
    def entry(self) -> int:
        return 3_000_000_000 + 10 * self.index

    @property
    def stop_loss(self) -> int:
        return self.entry + 1

    @property
    def take_profit(self) -> int:
        return self.entry + 2

    @property
    def tag(self) -> str:
        return f"AutoBracket-{self.index:04x}"


def _order(
    family: Family, which: str, status: int, *, fill: int = 0, priced: bool = False
) -> dict[str, Any]:
    entry_side = 0 if family.long else 1
    data: dict[str, Any] = {
        "accountId": ACCOUNT,
        "contractId": ES,
        "symbolId": "F.US.EP",
        "creationTimestamp": "2026-11-24T15:00:01.1234567+00:00",
        "status": status,
        "size": family.size,
        "fillVolume": fill,
    }
    sign = 1 if family.long else -1
    if which == "entry":
        data.update(id=family.entry, type=2, side=entry_side, customTag=family.tag)
    elif which == "sl":
        data.update(
            id=family.stop_loss,
            type=4,
            side=1 - entry_side,
            customTag=family.tag + "-SL",
            parentOrderId=family.entry,
            trailDistance=-16 * sign,
        )
        if priced:
            data["stopPrice"] = 6000 - 0.25 * sign  # one tick: within max_stop_risk
    else:
        data.update(
            id=family.take_profit,
            type=1,
            side=1 - entry_side,
            customTag=family.tag + "-TP",
            parentOrderId=family.entry,
            linkedOrderId=family.stop_loss,
            trailDistance=32 * sign,
        )
        if priced:
            data["limitPrice"] = 6000 + 8 * sign
    return {"target": "GatewayUserOrder", "arguments": [{"action": 1, "data": data}]}


class Run:
    """The drawn families fed through the converter and engine, checked after every event."""

    def __init__(self, families: list[Family]) -> None:
        self.wire = Wire()
        self.families = families
        self.net = 0  # contracts held, on the families' side
        self.ms = 0
        self.trade_id = 5_000_000_000

    def send(self, frame: dict[str, Any]) -> None:
        self.ms += 1
        self.wire.hub([{**frame, "ms": self.ms}])
        self.check()

    def position(self, long: bool) -> dict[str, Any]:
        data = {
            "id": 825399999,
            "accountId": ACCOUNT,
            "contractId": ES,
            "contractDisplayName": "ESZ6",
            "creationTimestamp": "2026-11-24T15:00:01.1638333+00:00",
            "type": (1 if long else 2) if self.net else 0,
            "size": self.net,
            "averagePrice": 6000,
        }
        return {
            "target": "GatewayUserPosition",
            "arguments": [{"action": 1 if self.net else 2, "data": data}],
        }

    def trade(self, order: int, side: int, size: int, pnl: int | None, contract: str) -> None:
        self.trade_id += 1
        data: dict[str, Any] = {
            "id": self.trade_id,
            "accountId": ACCOUNT,
            "contractId": contract,
            "creationTimestamp": "2026-11-24T15:00:01.1638333+00:00",
            "price": 6000,
            "fees": 4.2,
            "commissions": 1.5,
            "side": side,
            "size": size,
            "voided": False,
            "orderId": order,
        }
        if pnl is not None:
            data["profitAndLoss"] = pnl
        self.send({"target": "GatewayUserTrade", "arguments": [{"action": 0, "data": data}]})

    # -- the lifecycle, one step at a time ---------------------------------------------------

    def step(self, family: Family) -> bool:
        """Send the family's next step; False when its lifecycle is over."""
        if family.birth:
            which = family.birth.pop(0)
            status = 6 if which == "entry" else 8
            family.entry_working = family.entry_working or which == "entry"
            self.send(_order(family, which, status))
            return True
        if family.closed or family.outcome == "rest":
            return False
        side = 0 if family.long else 1
        if family.outcome in ("cancel", "orphan"):
            family.entry_working = False
            family.closed = True
            self.send(_order(family, "entry", 3))
            if family.outcome == "cancel":
                self.send(_order(family, "sl", 3))
                self.send(_order(family, "tp", 3))
            return True
        if not family.filled:
            family.filled = True
            self.trade(family.entry, side, family.size, None, ES)
            family.entry_working = False
            self.send(_order(family, "entry", 2, fill=family.size))
            self.net += family.size
            self.send(self.position(family.long))
            self.send(_order(family, "sl", 1, priced=True))
            self.send(_order(family, "tp", 1, priced=True))
            return True
        if family.outcome == "open":
            return False
        family.closed = True
        winner, loser = ("tp", "sl") if family.outcome == "take_profit" else ("sl", "tp")
        leg = family.take_profit if winner == "tp" else family.stop_loss
        self.send(_order(family, winner, 2, fill=family.size, priced=True))
        self.trade(leg, 1 - side, family.size, 100 if winner == "tp" else -50, ES)
        self.send(_order(family, loser, 3, priced=True))
        self.net -= family.size
        self.send(self.position(family.long))
        return True

    def lose_elsewhere(self) -> None:
        """A losing MNQ round trip: cooldown-after-loss sets an account-wide lockout."""
        self.trade(4_000_000_001, 1, 1, -150, "CON.F.US.MNQ.Z26")

    # -- the invariants ----------------------------------------------------------------------

    def check(self) -> None:
        wire = self.wire
        state = wire.state
        children = {f.stop_loss: f for f in self.families} | {
            f.take_profit: f for f in self.families
        }
        # no exposure rule and no lockout cancels a child; nothing cancels wholesale
        assert not set(wire.cancelled_orders()) & children.keys()
        assert not any(
            isinstance(intent, NoWorkingOrders) for f in wire.firings for intent in f.intents
        )
        # and no pending intent's plan cancels the child of a filled entry
        for intent in wire.engine.unmet_intents(ACCOUNT):
            for call in plan(intent, state):
                child = children.get(int(str(call.body.get("orderId", 0))))
                if child is not None and call.endpoint is Endpoint.ORDER_CANCEL:
                    assert not child.filled, f"{intent} cancels a protective child"
        # the figures: children are never exposure and never counted twice
        long = self.families[0].long
        entries = sum(f.size for f in self.families if f.entry_working)
        es = state.symbol("ES")
        position = state.positions.get(ES)
        held = position.size if position is not None else 0
        assert held == self.net
        grows, shrinks = (
            (es.if_filled_long, es.if_filled_short)
            if long
            else (es.if_filled_short, es.if_filled_long)
        )
        assert grows == self.net + entries
        assert shrinks == 0
        for order in state.orders.values():
            if order.id in children:
                assert order.is_child and order.reduces_only
                assert order.if_filled_symbol_size == 0
            else:
                assert order.if_filled_symbol_size == self.net + entries


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Family], list[int], int | None]:
    long = draw(st.booleans())
    count = draw(st.integers(min_value=1, max_value=3))
    families = []
    for index in range(count):
        family = Family(
            index=index + 1,
            size=draw(st.integers(min_value=1, max_value=4)),
            outcome=draw(st.sampled_from(OUTCOMES)),
            long=long,
        )
        family.birth = draw(st.permutations(["entry", "sl", "tp"]))
        families.append(family)
    schedule = draw(st.lists(st.integers(min_value=0, max_value=count - 1), max_size=24))
    loss_at = draw(st.none() | st.integers(min_value=0, max_value=24))
    return families, schedule, loss_at


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_children_are_never_cancelled_and_never_exposure(
    scenario: tuple[list[Family], list[int], int | None],
) -> None:
    families, schedule, loss_at = scenario
    run = Run(families)
    for position, index in enumerate(schedule):
        if position == loss_at:
            run.lose_elsewhere()
        run.step(families[index])
    for family in families:  # then let every family run to its end
        while run.step(family):
            pass
    if loss_at is not None and loss_at >= len(schedule):
        run.lose_elsewhere()
    if any(family.filled and not family.closed for family in families):
        # open families: their children protect the position through the grace period
        run.wire.tick(45)
        position = run.wire.state.positions[ES]
        assert position.protected
        run.check()
