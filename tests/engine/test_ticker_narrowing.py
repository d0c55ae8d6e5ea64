"""Rules narrowed to one ticker by their first condition (``position.symbol == "MNQ" and …``)
run only where an item of that ticker is, or where they still keep a state: the episodes are
those of evaluating them everywhere."""

from __future__ import annotations

from engine_builders import ACCOUNT, ES, action, order, position, rule, ruleset, tick

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


def _order_book() -> Engine:
    """Per-ticker copies interleaved the way a generated book has them: order-size limits about
    the event's own order, and position limits over every position."""
    rules = []
    for ticker in ("MNQ", "ES", "NQ", "CL"):
        rules.append(
            rule(
                f"order-size-{ticker}",
                f'order.symbol == "{ticker}" and order.size > 2',
                ["order"],
                [action("cancel_order")],
            )
        )
        rules.append(
            rule(
                f"position-size-{ticker}",
                f'position.symbol == "{ticker}" and position.size >= 2 and not position.protected',
                ["order", "position"],
                [action("flatten")],
                each="position",
            )
        )
    return Engine(ruleset(*rules))


def test_an_event_about_one_root_runs_only_the_copies_that_can_see_its_items() -> None:
    engine = _order_book()
    assert [f.rule_id for f in engine.apply(position(0, 2))] == ["position-size-MNQ"]
    assert [f.rule_id for f in engine.apply(order(1, 101, size=3))] == ["order-size-MNQ"]
    assert not [key for key in engine._rooted.get(ACCOUNT, {}) if key[1] == "ES"]
    assert [f.rule_id for f in engine.apply(order(2, 102, size=3, contract=ES))] == [
        "order-size-ES"
    ]
    # the plan the ES order walked: ES's order copy, and the position copies of the ticker
    # held (MNQ) and the order's own (ES: a stop would protect it); the plan it was narrowed
    # from, every ticker's copies
    ((key, plan),) = [(key, p) for key, p in engine._rooted[ACCOUNT].items() if key[1] == "ES"]
    walked = [compiled.rule.id for _mode, entries, _by in plan for compiled, _c, _s in entries]
    assert walked == ["position-size-MNQ", "order-size-ES", "position-size-ES"]
    whole = engine._account_plans[ACCOUNT][key[0]]
    assert len([c for _mode, entries, _by in whole for c, _c, _s in entries]) == 8
    assert len(whole) == 8 and len(plan) == 3


def test_narrowed_plans_fire_what_evaluating_every_copy_fires() -> None:
    events = [
        position(0, 2),
        order(1, 101, size=3),
        order(2, 102, size=3, contract=ES),
        position(3, 2, contract=ES),
        order(4, 103, size=1, contract=ES),
        position(5, 0),
        order(6, 104, size=5),
        tick(7),
    ]
    narrowed, full = _order_book(), Engine(_order_book().ruleset, incremental=False)
    for event in events:
        assert [(f.rule_id, f.item) for f in narrowed.apply(event)] == [
            (f.rule_id, f.item) for f in full.apply(event)
        ]
