"""Bracket order families in the fact store, and enforcement that never strips a position of
its protection (the TopstepX rule book: rulesets/topstep.yaml, CL limited to 3)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from engine_builders import ACCOUNT, at, fill, loaded, order, position, tick

from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import Event, OrderStatus, OrderType, OrderUpdate, OwnOrder
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.intents import CancelOrder, ReduceTo, ResizeOrder

TOPSTEP = load_ruleset(Path(__file__).parents[2] / "rulesets" / "topstep.yaml")
CL = "CON.F.US.CL.Z26"
ES = "CON.F.US.ES.Z26"


def feed(engine: Engine, *events: Event) -> list[Firing]:
    out: list[Firing] = []
    for event in events:
        out.extend(engine.apply(event))
    return out


def started(*events: Event) -> tuple[Engine, AccountState, list[Firing]]:
    engine = Engine(TOPSTEP, accounts=[ACCOUNT])
    firings = feed(engine, loaded(0, CL, "0.01", "10"), loaded(0, ES, "0.25", "12.5"), *events)
    state = engine.account(ACCOUNT)
    assert state is not None
    return engine, state, firings


def intents_of(firings: list[Firing]) -> list[object]:
    return [intent for firing in firings for intent in firing.intents]


def child(update: OrderUpdate, parent: int | None = None, linked: int | None = None) -> OrderUpdate:
    return replace(update, parent_order_id=parent, linked_order_id=linked)


def test_reducing_an_oversized_position_resizes_its_stop_and_keeps_the_rest_protected() -> None:
    """Long 4 CL with a sell-4 stop, limit 3, while a cooldown is on: the position is cut to
    3 and the stop resized to 3 — never cancelled as "would add exposure", so
    no-stop-loss-grace never closes the 3 allowed contracts."""
    stop = order(2, 50, side="sell", size=4, kind=OrderType.STOP, stop="61.90", contract=CL)
    engine, state, firings = started(
        position(1, 4, "62.00", contract=CL),
        stop,
        fill(3, 1, pnl="-150", contract=CL),  # cooldown-after-loss: the account cools down
    )
    assert ReduceTo(ACCOUNT, "root", max_contracts=3, symbol="CL") in intents_of(firings)
    assert engine.locks(ACCOUNT)

    reduced = feed(engine, position(4, 3, "62.00", contract=CL))
    assert ResizeOrder(ACCOUNT, 50, 3) in intents_of(reduced)
    assert not any(isinstance(i, CancelOrder) for i in intents_of(firings + reduced))
    assert state.positions[CL].protected  # over-covered until the resize lands, never bare

    feed(engine, replace(stop, at=at(5), size=3))  # the executor's modify
    assert ResizeOrder(ACCOUNT, 50, 3) not in engine.unmet_intents(ACCOUNT)
    later = feed(engine, tick(45))
    assert "no-stop-loss-grace" not in {f.rule_id for f in later}
    assert state.positions[CL].protected and state.positions[CL].size == 3


def test_a_lockout_cancels_a_stop_only_when_other_stops_cover_the_position() -> None:
    engine, state, _ = started(
        fill(1, 1, pnl="-150", contract=CL),
        position(2, 2, "62.00", contract=CL),
        order(3, 60, side="sell", size=2, kind=OrderType.STOP, stop="61.50", contract=CL),
    )
    extra = feed(
        engine, order(4, 61, side="sell", size=1, kind=OrderType.STOP, stop="61.40", contract=CL)
    )
    assert CancelOrder(ACCOUNT, 61) in intents_of(extra)
    assert state.positions[CL].protected


def test_children_named_only_by_tag_join_their_entry_when_it_arrives_after_them() -> None:
    sl = order(1, 72, side="sell", size=2, kind=OrderType.STOP, contract=ES, tag="b7-SL")
    tp = order(1, 73, side="sell", size=2, kind=OrderType.LIMIT, contract=ES, tag="b7-TP")
    suspended = [replace(o, status=OrderStatus.SUSPENDED) for o in (sl, tp)]
    engine, state, _ = started(*suspended)
    assert not state.orders[72].is_child  # nothing names "b7" yet
    feed(
        engine,
        order(2, 71, side="buy", size=2, kind=OrderType.LIMIT, limit="6000", contract=ES, tag="b7"),
    )
    assert [state.orders[i].parent_id for i in (72, 73)] == [71, 71]
    es = state.symbol("ES")
    assert (es.working_buy, es.working_sell) == (2, 0)  # the legs close nothing yet
    assert (es.if_filled_long, es.if_filled_short) == (2, 0)


def test_a_familys_legs_count_once_and_only_up_to_the_position() -> None:
    engine, state, _ = started(
        order(1, 81, side="buy", size=3, kind=OrderType.MARKET, contract=ES),
        child(
            order(
                1,
                82,
                side="sell",
                size=3,
                kind=OrderType.STOP,
                status=OrderStatus.SUSPENDED,
                contract=ES,
            ),
            81,
        ),
        child(order(1, 83, side="sell", size=3, status=OrderStatus.SUSPENDED, contract=ES), 81, 82),
    )
    feed(
        engine,
        order(
            2,
            81,
            side="buy",
            size=3,
            kind=OrderType.MARKET,
            status=OrderStatus.FILLED,
            filled=3,
            contract=ES,
        ),
        position(2, 3, "6000", contract=ES),
        child(order(3, 82, side="sell", size=3, kind=OrderType.STOP, stop="5990", contract=ES), 81),
        child(order(3, 83, side="sell", size=3, limit="6010", contract=ES), 81, 82),
    )
    es = state.symbol("ES")
    assert (es.working_sell, es.if_filled_short) == (3, 0)
    # a trader's extra sell is counted on top of the family's one leg: the worst case is
    # the take-profit filling and then that sell
    feed(engine, order(4, 84, side="sell", size=2, limit="6020", contract=ES))
    assert (state.symbol("ES").working_sell, state.symbol("ES").if_filled_short) == (5, 2)
    # the trader closes 1 by hand: the legs now count for the 2 that are left
    feed(engine, position(5, 2, "6000", contract=ES))
    assert state.symbol("ES").working_sell == 4


def test_a_snapshot_brings_families_back() -> None:
    engine, state, _ = started(
        position(0, 1, "6000", contract=ES),
        order(1, 90, side="sell", size=1, kind=OrderType.STOP, stop="5990", contract=ES),
        child(order(1, 88, side="sell", size=1, kind=OrderType.STOP, stop="5990", contract=ES), 87),
        child(order(1, 89, side="sell", size=1, limit="6010", contract=ES), 87, 88),
        order(1, 91, side="buy", size=2, kind=OrderType.LIMIT, limit="6000", contract=ES),
        child(
            order(
                1,
                92,
                side="sell",
                size=2,
                kind=OrderType.STOP,
                status=OrderStatus.SUSPENDED,
                contract=ES,
            ),
            91,
        ),
        child(order(1, 93, side="sell", size=2, status=OrderStatus.SUSPENDED, contract=ES), 91, 92),
    )
    restored = Engine.restore(TOPSTEP, engine.snapshot(), accounts=[ACCOUNT])
    again = restored.account(ACCOUNT)
    assert again is not None
    assert [again.orders[i].parent_id for i in (88, 89, 92, 93)] == [87, 87, 91, 91]
    for name in ("working_buy", "working_sell", "if_filled_long", "if_filled_short"):
        assert getattr(again.symbol("ES"), name) == getattr(state.symbol("ES"), name)
    for order_id, restored_order in again.orders.items():
        assert restored_order.if_filled_symbol_size == state.orders[order_id].if_filled_symbol_size
    # the trader's stop and the family's one leg could both fill: short 1 at worst
    assert again.symbol("ES").if_filled_short == 1


def test_what_families_remember_of_ended_orders_does_not_outlive_the_day() -> None:
    engine, state, _ = started(
        order(1, 95, side="buy", size=1, kind=OrderType.MARKET, contract=ES, tag="old"),
        order(
            2,
            95,
            side="buy",
            size=1,
            kind=OrderType.MARKET,
            status=OrderStatus.FILLED,
            filled=1,
            contract=ES,
            tag="old",
        ),
        order(3, 96, side="buy", size=1, limit="5990", contract=ES, tag="live"),
    )
    assert state.ended_fills[95] == 1 and set(state.tags) == {"old", "live"}
    feed(engine, tick(24 * 3600))  # past the 17:00 CT boundary
    assert 95 not in state.ended_fills and set(state.tags) == {"live"}


def test_the_daemons_own_orders_that_ended_are_forgotten_at_the_day_boundary() -> None:
    """The daemon remembers the orders it placed (its protective stops) by tag, id and size;
    those that ended are no longer needed once the day is over, and kept they grew the
    engine's memory and every snapshot for as long as the daemon ran. A working one, and a
    tag whose order id is not known yet, are kept."""
    engine, state, _ = started(
        OwnOrder(at=at(0.1), account_id=ACCOUNT, custom_tag="sr-stop-1", order_id=95, size=1),
        OwnOrder(at=at(0.2), account_id=ACCOUNT, custom_tag="sr-stop-2", order_id=96, size=1),
        OwnOrder(at=at(0.3), account_id=ACCOUNT, custom_tag="sr-stop-3"),
        order(
            1,
            95,
            side="sell",
            size=1,
            kind=OrderType.STOP,
            stop="5990",
            contract=ES,
            tag="sr-stop-1",
        ),
        order(
            2,
            95,
            side="sell",
            size=1,
            kind=OrderType.STOP,
            stop="5990",
            contract=ES,
            tag="sr-stop-1",
            status=OrderStatus.CANCELLED,
        ),
        order(
            3,
            96,
            side="sell",
            size=1,
            kind=OrderType.STOP,
            stop="5980",
            contract=ES,
            tag="sr-stop-2",
        ),
    )
    assert state.own_ids == {95, 96} and set(state.own_tags) == {
        "sr-stop-1",
        "sr-stop-2",
        "sr-stop-3",
    }
    feed(engine, tick(24 * 3600))  # past the 17:00 CT boundary
    assert state.own_ids == {96} and set(state.own_sizes) == {96}
    assert set(state.own_tags) == {"sr-stop-2", "sr-stop-3"}
    assert state.orders[96].own  # still the daemon's stop
    restored = Engine.restore(TOPSTEP, engine.snapshot(), accounts=[ACCOUNT]).account(ACCOUNT)
    assert restored is not None and restored.own_ids == {96}


def test_a_lock_resizes_a_brackets_open_legs_to_a_reduced_position_never_cancels_them() -> None:
    legs = [
        child(order(1, 98, side="sell", size=3, kind=OrderType.STOP, stop="5990", contract=ES), 97),
        child(order(1, 99, side="sell", size=3, limit="6010", contract=ES), 97, 98),
    ]
    engine, state, _ = started(
        position(0, 3, "6000", contract=ES), *legs, fill(2, 1, pnl="-150", contract=CL)
    )
    assert engine.locks(ACCOUNT)
    reduced = feed(engine, position(3, 2, "6000", contract=ES))  # the trader sold 1 by hand
    assert sorted(
        (i.order_id, i.size) for i in intents_of(reduced) if isinstance(i, ResizeOrder)
    ) == [(98, 2), (99, 2)]
    assert not any(isinstance(i, CancelOrder) for i in intents_of(reduced))
    assert state.positions[ES].protected
