"""The shipped ruleset through the DSL compiler and the engine, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from engine_builders import ACCOUNT, account_update, at, fill, loaded, order, position
from hypothesis import given, settings
from test_properties import event_streams

from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import Event, OrderStatus, Reconciled
from simple_risk.engine.intents import CancelOrder, NoWorkingOrders, PositionClosed

TOPSTEP = load_ruleset(Path(__file__).parents[2] / "rulesets" / "topstep.yaml")


def feed(engine: Engine, *events: Event) -> list[Firing]:
    out: list[Firing] = []
    for event in events:
        out.extend(engine.apply(event))
    return out


def test_a_fresh_reconcile_raises_no_rule_errors() -> None:
    engine = Engine(TOPSTEP)
    firings = feed(engine, account_update(0), Reconciled(at=at(0)))
    assert [f for f in firings if f.kind == "error"] == []


def test_daily_loss_flattens_and_locks_until_the_day_ends() -> None:
    engine = Engine(TOPSTEP, unknown_alert_after=None)  # no quotes here: about the lock only
    feed(
        engine, account_update(0), loaded(0), position(1, 1), order(2, 5, side="buy", limit="20000")
    )
    firings = feed(engine, fill(3, 1, order_id=4, pnl="-560"))
    loss = [f for f in firings if f.rule_id == "daily-realized-loss"]
    assert len(loss) == 1
    assert loss[0].intents[0] == NoWorkingOrders(ACCOUNT)
    assert PositionClosed(ACCOUNT, "CON.F.US.MNQ.Z26") in loss[0].intents
    assert any(lock.kind == "lock" and lock.ends_at == at(8 * 3600) for lock in loss[0].locks)
    # while the flatten is still pending, a new order is covered by it: nothing new to ask
    assert feed(engine, order(4, 6, side="buy", limit="20000")) == []
    feed(
        engine, order(5, 5, status=OrderStatus.CANCELLED), order(5, 6, status=OrderStatus.CANCELLED)
    )
    assert engine.unmet_intents(ACCOUNT) == [PositionClosed(ACCOUNT, "CON.F.US.MNQ.Z26")]
    # once the account has no working orders, an order that adds exposure is refused
    late = feed(engine, order(10, 7, side="buy", limit="20000"))
    assert [(f.kind, f.intents) for f in late] == [("lockout", (CancelOrder(ACCOUNT, 7),))]


@settings(max_examples=60)
@given(event_streams())
def test_random_streams_never_raise_and_never_hit_a_rule_error(events: list[Event]) -> None:
    engine = Engine(TOPSTEP)
    for event in events:
        for firing in engine.apply(event):
            assert firing.kind != "error", firing.message
    json.dumps(engine.snapshot())
