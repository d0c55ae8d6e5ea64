"""Protection that means something: cumulative unprotected time, and what a stop risks.

A stop that comes and goes does not restart the grace (``position.unprotected_total`` adds
every unprotected spell since the position opened), and a stop far from the entry risks
money (``position.stop_ticks``, ``position.stop_risk``): ``position.unprotected_time(max)``
counts the time protected only by stops risking more than ``max`` as unprotected.
"""

from __future__ import annotations

import json
from decimal import Decimal

from engine_builders import ACCOUNT, ES, MNQ, loaded, order, position, quote, ruleset, tick
from hypothesis import given, settings
from hypothesis import strategies as st

from simple_risk.engine.engine import Engine
from simple_risk.engine.events import Event, OrderStatus, OrderType
from simple_risk.engine.facts.positions import Position

STOP = OrderType.STOP
CANCELLED = OrderStatus.CANCELLED


def run(*events: Event, engine: Engine | None = None) -> Engine:
    engine = engine if engine is not None else Engine(ruleset())
    for event in events:
        engine.apply(event)
    return engine


def held(engine: Engine, contract: str = MNQ) -> Position:
    state = engine.account(ACCOUNT)
    assert state is not None
    return state.positions[contract]


def test_a_flashed_stop_does_not_restart_the_unprotected_time() -> None:
    # a stop placed for 0.3 s every 25 s: unprotected 79.1 of 80 s, not 4.7 s
    events: list[Event] = [position(0, 1)]
    for start in (25, 50, 75):
        events.append(order(start, start, side="sell", kind=STOP, stop="20990"))
        events.append(
            order(start + 0.3, start, side="sell", kind=STOP, stop="20990", status=CANCELLED)
        )
    engine = run(*events, tick(80))
    pos = held(engine)
    assert pos.unprotected_for == Decimal("4.7")
    assert pos.unprotected_total == Decimal("79.1")


def test_protected_time_does_not_count() -> None:
    engine = run(position(0, 1), order(10, 9, side="sell", kind=STOP, stop="20990"), tick(100))
    assert held(engine).unprotected_total == 10


def test_a_new_position_after_a_close_starts_from_nothing() -> None:
    engine = run(position(0, 1), position(20, 0), position(30, 1), tick(35))
    assert held(engine).unprotected_total == 5


def test_a_sell_stop_far_under_es_risks_its_distance_times_tick_value() -> None:
    # ES at 6000, a sell stop at 100.00: 23 600 ticks × 12.50 = 295 000 per contract
    engine = run(
        loaded(0, ES, tick_size="0.25", tick_value="12.5"),
        quote(0, "6000", contract=ES),
        position(1, 2, "6000", contract=ES),
        order(2, 9, side="sell", size=2, kind=STOP, stop="100.00", contract=ES),
    )
    pos = held(engine, ES)
    assert pos.protected
    assert pos.stop_ticks == 23600
    assert pos.stop_risk == 590000


def test_stop_risk_adds_each_stop_for_the_contracts_it_closes() -> None:
    engine = run(
        loaded(0, tick_size="0.25", tick_value="0.5"),
        position(1, 3, "21000"),
        order(2, 9, side="sell", size=1, kind=STOP, stop="20990"),  # 40 ticks
        order(3, 10, side="sell", size=2, kind=STOP, stop="20980"),  # 80 ticks
    )
    pos = held(engine)
    assert pos.stop_ticks == 80
    assert pos.stop_risk == 40 * Decimal("0.5") + 80 * Decimal("0.5") * 2


def test_a_stop_that_locks_in_profit_risks_less_than_nothing() -> None:
    engine = run(
        loaded(0),
        quote(0, "20900"),
        position(1, 1, "21000", long=False),
        order(2, 9, side="buy", kind=STOP, stop="20990"),
    )
    pos = held(engine)
    assert pos.protected
    assert pos.stop_ticks == -40
    assert pos.stop_risk == -20


def test_without_a_priced_stop_the_risk_is_unknown() -> None:
    assert held(run(loaded(0), position(1, 1))).stop_risk is None
    trailing = order(2, 9, side="sell", kind=OrderType.TRAILING_STOP)
    pos = held(run(loaded(0), position(1, 1), trailing))
    assert pos.protected
    assert pos.stop_ticks is None and pos.stop_risk is None


def test_a_stop_of_unknown_risk_counts_as_protection() -> None:
    trailing = order(10, 9, side="sell", kind=OrderType.TRAILING_STOP)
    pos = held(run(loaded(0), position(0, 1), trailing, tick(30)))
    assert pos.unprotected_time(0) == 10


def test_time_behind_a_stop_risking_too_much_counts_as_unprotected() -> None:
    engine = run(
        loaded(0),
        position(0, 1, "21000"),
        order(10, 9, side="sell", kind=STOP, stop="20000"),  # 4000 ticks: 2000
        order(40, 9, side="sell", kind=STOP, stop="20990"),  # 40 ticks: 20
        tick(100),
    )
    pos = held(engine)
    assert pos.unprotected_total == 10
    assert pos.unprotected_time(500) == 40
    assert pos.unprotected_time(2000) == 10  # a limit is inclusive: 2000 is not more
    assert pos.unprotected_time(10) == 100


def test_a_restore_keeps_the_protection_history() -> None:
    engine = run(
        loaded(0),
        position(0, 1, "21000"),
        order(10, 9, side="sell", kind=STOP, stop="20000"),
        order(20, 9, side="sell", kind=STOP, stop="20000", status=CANCELLED),
        tick(25),
    )
    restored = Engine.restore(ruleset(), json.loads(json.dumps(engine.snapshot())))
    run(tick(30), engine=engine)
    run(tick(30), engine=restored)
    assert held(restored).unprotected_total == held(engine).unprotected_total == 20
    assert held(restored).unprotected_time(500) == held(engine).unprotected_time(500) == 30
    assert restored.snapshot() == engine.snapshot()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 20_000), st.booleans()),  # (ms after the last step, stop on?)
        max_size=25,
    ),
    st.integers(0, 20_000),
)
def test_unprotected_total_is_the_sum_of_the_unprotected_intervals(
    steps: list[tuple[int, bool]], tail_ms: int
) -> None:
    engine = Engine(ruleset())
    engine.apply(position(0, 1))
    now_ms = 0
    stop_on = False
    expected_ms = 0
    for delay_ms, on in steps:
        if not stop_on:
            expected_ms += delay_ms
        now_ms += delay_ms
        status = OrderStatus.OPEN if on else CANCELLED
        engine.apply(order(now_ms / 1000, 9, side="sell", kind=STOP, stop="20990", status=status))
        stop_on = on
    if not stop_on:
        expected_ms += tail_ms
    engine.apply(tick((now_ms + tail_ms) / 1000))
    assert held(engine).unprotected_total == Decimal(expected_ms) / 1000
