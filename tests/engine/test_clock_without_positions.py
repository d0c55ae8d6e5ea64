"""A clock tick has nothing to evaluate for ``each: position`` rules on an account without
positions — unless such a rule still keeps a state there, which the tick must end."""

from __future__ import annotations

import pytest
from engine_builders import ACCOUNT, MNQ, action, position, rule, ruleset, tick

from simple_risk.engine.engine import Engine


@pytest.mark.parametrize("incremental", [True, False])
def test_a_position_that_closed_unseen_ends_its_episode_at_the_next_tick(
    incremental: bool,
) -> None:
    # the rule wakes on the clock only, so the account without positions after the close
    # still has the rule's firing state: the tick drops it, and the position opened again is
    # a new breach
    engine = Engine(
        ruleset(
            rule("held", "position.size >= 1", ["clock"], [action("flatten")], each="position")
        ),
        incremental=incremental,
    )
    engine.apply(position(0, 1))
    assert [f.rule_id for f in engine.apply(tick(1))] == ["held"]
    engine.apply(position(2, 0))
    assert engine.apply(tick(3)) == []
    assert engine.state_of("held", ACCOUNT, "position:" + MNQ) == "inactive"
    engine.apply(position(4, 1))
    assert [f.rule_id for f in engine.apply(tick(5))] == ["held"]
