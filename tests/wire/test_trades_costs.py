"""Live trade shapes through the converters and the engine: one fill, one cost (§14.2).

The fixture is one MNQ round trip as the hub sends it (fees and commissions) and as REST
``Trade/search`` returns it (fees, no commissions field). The day's costs must keep the
commissions whichever copy comes first, and count every fill once.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from simple_risk.adapters.topstepx.converters import trades_from_rest
from simple_risk.adapters.topstepx.hubconverter import Converter
from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import Event, TradeFill

HERE = Path(__file__).resolve().parent
FIXTURE: dict[str, Any] = json.loads(
    (HERE / "fixtures" / "trades_mnq_hub_and_rest.json").read_text(encoding="utf-8")
)
TOPSTEP = load_ruleset(HERE.parents[1] / "rulesets" / "topstep.yaml")
ACCOUNT = 9012345
#: Wednesday 19 August 2026, 09:15 in Chicago: inside the regular session
T0 = datetime(2026, 8, 19, 14, 15, tzinfo=UTC)


def hub_fills() -> list[TradeFill]:
    converter = Converter()
    fills: list[TradeFill] = []
    for i, arguments in enumerate(FIXTURE["hub"]):
        for event in converter.user("GatewayUserTrade", arguments, T0 + timedelta(seconds=i)):
            assert isinstance(event, TradeFill)
            fills.append(event)
    return fills


def rest_fills() -> list[TradeFill]:
    return trades_from_rest(FIXTURE["rest"], T0 + timedelta(seconds=30))


def engine() -> Engine:
    eng = Engine(TOPSTEP, unknown_alert_after=None)
    for event in Converter().user("GatewayUserAccount", FIXTURE["account"], T0):
        eng.apply(event)
    return eng


def feed(eng: Engine, events: list[TradeFill]) -> list[Firing]:
    out: list[Firing] = []
    for i, event in enumerate(events):
        # engine time only moves forward, whichever copy arrives first
        out.extend(eng.apply(_at(event, T0 + timedelta(seconds=60 + i))))
    return out


def _at(event: TradeFill, at: datetime) -> Event:
    return replace(event, at=at)


def day(eng: Engine) -> Any:
    return eng.facts(ACCOUNT)["day"]


def test_the_hub_copy_carries_commissions_and_the_rest_copy_leaves_them_unknown() -> None:
    hub = hub_fills()
    rest = rest_fills()
    assert [f.commissions for f in hub] == [Decimal("0.25"), Decimal("0.25")]
    assert [f.commissions for f in rest] == [None, None]  # absent, not zero
    assert [f.fees for f in rest] == [Decimal("0.36"), Decimal("0.36")]
    assert [f.pnl for f in rest] == [None, Decimal(-49)]
    assert [f.trade_id for f in hub] == [f.trade_id for f in rest]


def test_hub_fills_then_the_rest_copies_keep_the_commissions() -> None:
    eng = engine()
    feed(eng, hub_fills())
    assert day(eng).fees == Decimal("1.22")
    feed(eng, rest_fills())  # a reconcile brings the same fills without commissions
    assert day(eng).fees == Decimal("1.22")
    assert day(eng).realized_pnl == Decimal("-50.22")
    assert day(eng).trade_count == 2


def test_rest_copies_then_the_hub_fills_add_the_commissions_once() -> None:
    eng = engine()
    feed(eng, rest_fills())
    assert day(eng).fees == Decimal("0.72")  # only what REST says
    feed(eng, hub_fills())
    assert day(eng).fees == Decimal("1.22")
    feed(eng, rest_fills())
    assert day(eng).realized_pnl == Decimal("-50.22")
    assert day(eng).trade_count == 2


@settings(max_examples=60, deadline=None)
@given(order=st.permutations(range(4)))
def test_any_arrival_order_of_the_four_copies_gives_the_same_day(order: list[int]) -> None:
    copies = hub_fills() + rest_fills()
    eng = engine()
    feed(eng, [copies[i] for i in order])
    assert (day(eng).fees, day(eng).realized_pnl, day(eng).trade_count) == (
        Decimal("1.22"),
        Decimal("-50.22"),
        2,
    )
