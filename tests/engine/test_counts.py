"""Counts and sets as facts: open positions, working orders per side, roots traded today,
and whether an order opens a new position, adds to one or reduces one.

Each is read the way a rule reads it, through the engine's bound families, after the events
that make it change; the daily reset and snapshot/restore carry them with the state they are
counted from.
"""

from __future__ import annotations

import json

from engine_builders import ACCOUNT, ES, MNQ, fill, order, position, rule, ruleset, tick

from simple_risk.engine.engine import Engine
from simple_risk.engine.events import Event, OrderStatus

BOUNDARY = 8 * 3600  # the daily reset of the test calendar


def engine_after(*events: Event) -> Engine:
    engine = Engine(ruleset(), accounts=[ACCOUNT])
    for event in events:
        engine.apply(event)
    return engine


def facts(engine: Engine) -> dict[str, object]:
    env = engine.facts(ACCOUNT)
    account, day = env["account"], env["day"]
    return {
        "open_positions": account.open_positions,
        "buy": account.working_buy_orders,
        "sell": account.working_sell_orders,
        "roots_traded": day.roots_traded,
    }


def test_open_positions_counts_contracts_with_a_position() -> None:
    assert facts(engine_after())["open_positions"] == 0
    two = engine_after(position(0, 1), position(1, 2, contract=ES, long=False))
    assert facts(two)["open_positions"] == 2
    closed = engine_after(position(0, 1), position(1, 2, contract=ES), position(2, 0))
    assert facts(closed)["open_positions"] == 1


def test_working_orders_are_counted_per_side_orders_not_contracts() -> None:
    engine = engine_after(
        order(0, 1, side="buy", size=3),
        order(1, 2, side="buy"),
        order(2, 3, side="sell", size=5),
        order(3, 4, side="sell", status=OrderStatus.CANCELLED),
    )
    assert (facts(engine)["buy"], facts(engine)["sell"]) == (2, 1)


def test_roots_traded_today_counts_distinct_roots_and_resets_with_the_day() -> None:
    engine = engine_after(
        fill(0, 1, contract=MNQ), fill(1, 2, contract=MNQ), fill(2, 3, contract=ES)
    )
    assert facts(engine)["roots_traded"] == 2
    engine.apply(tick(BOUNDARY))
    assert facts(engine)["roots_traded"] == 0
    engine.apply(fill(BOUNDARY + 1, 4, contract=ES))
    assert facts(engine)["roots_traded"] == 1


def test_a_voided_fill_does_not_count_as_traded() -> None:
    engine = engine_after(fill(0, 1, contract=ES), fill(1, 1, contract=ES, voided=True))
    assert facts(engine)["roots_traded"] == 0


def test_symbol_traded_today_is_membership_in_that_set() -> None:
    engine = Engine(ruleset(rule("again", "symbol.traded_today", ["order"])), accounts=[ACCOUNT])
    assert engine.apply(order(0, 1, contract=ES)) == []  # ES not traded yet today
    engine.apply(fill(1, 1, order_id=1, contract=ES))
    assert [f.rule_id for f in engine.apply(order(2, 2, contract=ES))] == ["again"]
    assert engine.apply(order(3, 3, contract=MNQ)) == []


def effect_rules() -> Engine:
    return Engine(
        ruleset(
            rule("opens", "order.opens_position", ["order"]),
            rule("adds", "order.adds_to_position", ["order"]),
            rule("reduces", "order.reduces_position", ["order"]),
        ),
        accounts=[ACCOUNT],
    )


def test_an_order_opens_adds_to_or_reduces_its_contracts_position() -> None:
    engine = effect_rules()
    assert [f.rule_id for f in engine.apply(order(0, 1, side="buy"))] == ["opens"]
    engine.apply(position(1, 2))  # long 2 MNQ
    assert [f.rule_id for f in engine.apply(order(2, 2, side="buy"))] == ["adds"]
    assert [f.rule_id for f in engine.apply(order(3, 3, side="sell", size=5))] == ["reduces"]
    # another contract has no position: its order opens one
    assert [f.rule_id for f in engine.apply(order(4, 4, contract=ES))] == ["opens"]


def test_a_short_position_is_added_to_by_sells_and_reduced_by_buys() -> None:
    engine = effect_rules()
    engine.apply(position(0, 1, long=False))
    assert [f.rule_id for f in engine.apply(order(1, 1, side="sell"))] == ["adds"]
    assert [f.rule_id for f in engine.apply(order(2, 2, side="buy"))] == ["reduces"]


def test_counts_survive_snapshot_and_restore() -> None:
    engine = engine_after(
        position(0, 1), order(1, 1, side="sell"), fill(2, 1, contract=ES), fill(3, 2)
    )
    restored = Engine.restore(
        ruleset(), json.loads(json.dumps(engine.snapshot())), accounts=[ACCOUNT]
    )
    assert (
        facts(restored)
        == facts(engine)
        == {
            "open_positions": 1,
            "buy": 0,
            "sell": 1,
            "roots_traded": 2,
        }
    )
