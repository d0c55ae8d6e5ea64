"""``session.open(name)`` changes only at a session's start and end, so the engine keeps its
readers by those instants: a rule reading it runs again when time reaches the next edge (the
engine names that instant as its next deadline, so the daemon ticks exactly there) or when
something else it reads changes, never on the clock ticks in between."""

from __future__ import annotations

from engine_builders import action, at, order, position, rule, ruleset, tick

from simple_risk.engine.engine import Engine

CLOSE = 6 * 3600  # 15:00 Chicago on the test day (T0 is 09:00): the RTH close
OPEN_NEXT_DAY = CLOSE + 17 * 3600 + 30 * 60  # 08:30 the next morning
OUTSIDE = 'account.open_contracts_raw > 0 and not session.open("rth")'


def test_the_session_close_is_the_engine_s_next_deadline_and_the_rule_fires_on_it() -> None:
    engine = Engine(ruleset(rule("outside", OUTSIDE, ["clock", "position"], [action("flatten")])))
    assert engine.apply(position(0, 1)) == []
    assert engine.next_deadline() == at(CLOSE)
    assert engine.apply(tick(CLOSE - 1)) == []
    fired = engine.apply(tick(CLOSE))
    assert [(f.rule_id, f.at) for f in fired] == [("outside", at(CLOSE))]


def test_a_rule_woken_only_by_orders_sees_the_close_at_the_next_order_event() -> None:
    # an order update changes neither the open contracts nor the session: only the edge
    # between the two order updates makes the rule run again
    engine = Engine(ruleset(rule("outside", OUTSIDE, ["order"], [action("flatten")])))
    engine.apply(position(0, 1))
    assert engine.apply(order(10, 1, side="sell", limit="21100")) == []
    assert engine.apply(tick(CLOSE + 60)) == []  # the clock does not wake it
    fired = engine.apply(order(CLOSE + 120, 2, side="sell", limit="21100"))
    assert [f.rule_id for f in fired] == ["outside"]


def test_after_the_close_the_next_open_is_the_next_edge() -> None:
    inside = 'account.open_contracts_raw > 0 and session.open("rth")'
    engine = Engine(ruleset(rule("inside", inside, ["clock", "position"])))
    assert [f.rule_id for f in engine.apply(position(0, 1))] == ["inside"]
    assert engine.apply(tick(CLOSE)) == []  # the episode ends at the close
    assert engine.next_deadline() is not None
    # the daily reset (17:00) comes first; past it, the next session edge is the open
    for moment in (CLOSE + 2 * 3600, OPEN_NEXT_DAY - 1):
        assert engine.apply(tick(moment)) == []
    assert engine.next_deadline() == at(OPEN_NEXT_DAY)
    assert [f.rule_id for f in engine.apply(tick(OPEN_NEXT_DAY))] == ["inside"]


def test_a_restored_engine_finds_the_edge_again() -> None:
    rules = ruleset(rule("outside", OUTSIDE, ["clock", "position"], [action("flatten")]))
    engine = Engine(rules)
    engine.apply(position(0, 1))
    restored = Engine.restore(rules, engine.snapshot())
    assert restored.apply(tick(CLOSE - 1)) == []
    assert [f.rule_id for f in restored.apply(tick(CLOSE))] == ["outside"]
