"""Breach episodes across time: the daily reset, moving stop targets, reconcile, snapshots."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from engine_builders import (
    ACCOUNT,
    MNQ,
    action,
    at,
    expr,
    fill,
    loaded,
    lockout,
    order,
    position,
    quote,
    rule,
    ruleset,
    tick,
)

from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import Event, Reconciled
from simple_risk.engine.intents import PositionClosed, StopAt

BOUNDARY = 8 * 3600  # 17:00 Chicago on the test day


def feed(engine: Engine, *events: Event) -> list[Firing]:
    out: list[Firing] = []
    for event in events:
        out.extend(engine.apply(event))
    return out


def test_a_day_rule_starts_a_new_episode_after_the_daily_reset() -> None:
    engine = Engine(
        ruleset(
            rule(
                "loss", "day.realized_pnl <= -100", ["trade"], [lockout(until_trading_day_end=True)]
            )
        )
    )
    assert len(feed(engine, fill(0, 1, pnl="-150"))) == 1
    assert engine.locks(ACCOUNT)[0].ends_at == at(BOUNDARY)
    feed(engine, tick(BOUNDARY))
    assert engine.locks(ACCOUNT) == []
    assert engine.state_of("loss", ACCOUNT) == "inactive"
    assert [f.rule_id for f in feed(engine, fill(BOUNDARY + 60, 2, pnl="-150"))] == ["loss"]


def test_a_trailing_stop_rule_fires_again_when_its_target_moves() -> None:
    engine = Engine(
        ruleset(
            rule(
                "trail",
                "known(position.profit_ticks) and position.profit_ticks >= 20",
                ["quote", "position"],
                [action("move_stop", to=expr("position.best_price - 10 * position.tick_size"))],
                each="position",
            )
        )
    )
    feed(engine, loaded(0), position(0, 1, "21000"))
    first = feed(engine, quote(1, "21005"))
    assert first[0].intents == (StopAt(ACCOUNT, MNQ, Decimal("21002.50"), True, 1, long=True),)
    assert feed(engine, quote(2, "21005")) == []  # same target: nothing new
    assert feed(engine, quote(3, "21004")) == []  # best price unchanged
    moved = feed(engine, quote(4, "21006"))
    assert moved[0].intents == (StopAt(ACCOUNT, MNQ, Decimal("21003.50"), True, 1, long=True),)


def test_a_stop_placing_rule_fires_again_when_the_protected_position_grows() -> None:
    engine = Engine(
        ruleset(
            rule(
                "breakeven",
                "known(position.profit_ticks) and position.profit_ticks >= 10",
                ["quote", "position"],
                [action("place_stop", to=expr("position.avg_price"))],
                each="position",
            )
        )
    )
    feed(engine, loaded(0), position(0, 1, "21000"))
    first = feed(engine, quote(1, "21003"))
    assert first[0].intents == (StopAt(ACCOUNT, MNQ, Decimal("21000"), True, 1, long=True),)
    assert feed(engine, quote(2, "21003.25")) == []  # same price, same size
    grown = feed(engine, position(3, 2, "21000"))  # a scale-in at the same average
    assert grown[0].intents == (StopAt(ACCOUNT, MNQ, Decimal("21000"), True, 2, long=True),)
    assert engine.state_of("breakeven", ACCOUNT, "position:" + MNQ) == "firing"


def test_reconcile_evaluates_order_rules_over_the_working_orders() -> None:
    engine = Engine(
        ruleset(
            rule("big", "order.size > 2", ["order"], [action("cancel_order")]),
            rule("fill", "trade.size > 0", ["trade"]),
        )
    )
    engine.store.account(ACCOUNT)
    feed(engine, order(0, 9, size=3))  # fires on the order event
    firings = feed(engine, order(1, 10, size=5), Reconciled(at=at(2)))
    assert [(f.rule_id, f.item, f.kind) for f in firings] == [("big", "order:10", "rule")]


def test_decisive_values_include_lists_and_params() -> None:
    engine = Engine(
        ruleset(
            rule("blocked", "symbol.root in blocked and params.on", ["order"]),
            lists={"blocked": ("MNQ",)},
            params={"on": True},
        )
    )
    firing = feed(engine, order(0, 9))[0]
    assert firing.values == {"blocked": ("MNQ",), "params.on": True, "symbol.root": "MNQ"}


def test_a_restored_engine_keeps_timers_locks_and_intents() -> None:
    rs = ruleset(
        rule(
            "no-stop",
            "not position.protected",
            ["position", "clock"],
            [action("close_position"), lockout(duration=timedelta(minutes=5))],
            each="position",
            for_=timedelta(seconds=30),
        )
    )
    engine = Engine(rs)
    feed(engine, position(0, 1), tick(10))
    restored = Engine.restore(rs, json.loads(json.dumps(engine.snapshot())))
    assert restored.next_deadline() == at(30)
    firings = feed(restored, tick(30))
    assert [f.rule_id for f in firings] == ["no-stop"]
    assert restored.locks(ACCOUNT)[0].ends_at == at(330)
    again = Engine.restore(rs, json.loads(json.dumps(restored.snapshot())))
    assert again.unmet_intents(ACCOUNT) == restored.unmet_intents(ACCOUNT)
    # the cancel-orders target was met when issued (no orders), so only the close is unmet
    assert again.unmet_intents(ACCOUNT) == [PositionClosed(account=ACCOUNT, contract_id=MNQ)]
    assert feed(again, order(31, 5)) == feed(restored, order(31, 5))
