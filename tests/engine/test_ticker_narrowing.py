"""Rules narrowed to one ticker by their first condition (``position.symbol == "MNQ" and …``)
run only where an item of that ticker is, or where they still keep a state: the episodes are
those of evaluating them everywhere."""

from __future__ import annotations

from engine_builders import action, position, rule, ruleset, tick

from simple_risk.engine.engine import Engine

HELD = 'position.symbol == "MNQ" and position.size >= 1'


def test_a_narrowed_rule_is_narrowed() -> None:
    engine = Engine(
        ruleset(rule("mnq-held", HELD, ["clock"], [action("flatten")], each="position"))
    )
    assert engine.rules[0].ticker == "MNQ"


def test_a_position_that_closed_unseen_ends_its_episode_at_the_next_tick() -> None:
    # the rule wakes on the clock only: the position closes on an event that does not wake it,
    # and the tick after it (no MNQ held any more) must still end the episode, so that the
    # position opened again is a new breach
    engine = Engine(
        ruleset(rule("mnq-held", HELD, ["clock"], [action("flatten")], each="position"))
    )
    engine.apply(position(0, 1))
    assert [f.rule_id for f in engine.apply(tick(1))] == ["mnq-held"]
    engine.apply(position(2, 0))
    assert engine.apply(tick(3)) == []
    engine.apply(position(4, 1))
    assert [f.rule_id for f in engine.apply(tick(5))] == ["mnq-held"]
