"""A lockout cleared by an admin while its rule is still broken locks again at the rule's next
firing — the next fill, the next reconcile — as docs/admin.md promises; not at once, and not
never. A rule no longer broken stays quiet; the locks the admin did not clear keep their end."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from engine_builders import (
    ACCOUNT,
    action,
    at,
    fill,
    lockout,
    position,
    rule,
    ruleset,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import Event, Reconciled
from simple_risk.engine.intents import NoWorkingOrders
from simple_risk.engine.lock_changes import clear_locks
from simple_risk.engine.model import Ruleset

RTY = "CON.F.US.RTY.Z26"
M2K = "CON.F.US.M2K.Z26"


def feed(engine: Engine, *events: Event) -> list[Firing]:
    out: list[Firing] = []
    for event in events:
        out.extend(engine.apply(event))
    return out


def daily_loss() -> Ruleset:
    return ruleset(
        rule(
            "daily-loss",
            "day.realized_pnl <= -500",
            ["trade", "reconcile"],
            [action("flatten"), lockout(until_trading_day_end=True)],
        )
    )


def blocked_symbols() -> Ruleset:
    return ruleset(
        rule(
            "blocked",
            "symbol.root in ('RTY', 'M2K') and symbol.size > 0",
            ["position", "reconcile"],
            [action("close_position"), lockout("symbol", duration=timedelta(minutes=10))],
            each="symbol",
        )
    )


def locked_rules(engine: Engine) -> list[str]:
    return sorted(lock.rule for lock in engine.locks(ACCOUNT))


def test_a_cleared_daily_loss_lock_locks_again_at_the_next_fill() -> None:
    engine = Engine(daily_loss())
    assert [f.rule_id for f in feed(engine, fill(0, 1, pnl="-600"))] == ["daily-loss"]

    clear_locks(engine, ACCOUNT, "all")

    assert engine.locks(ACCOUNT) == []
    # the day is still 590 down: the next fill fires the rule again, flattening and locking
    (again,) = feed(engine, fill(10, 2, order_id=2, pnl="10"))
    assert again.rule_id == "daily-loss"
    assert NoWorkingOrders(account=ACCOUNT) in again.intents
    assert locked_rules(engine) == ["daily-loss"]
    assert engine.locks(ACCOUNT)[0].set_at == at(10)
    # one new episode: the fill after that does not fire a third time
    assert feed(engine, fill(20, 3, order_id=3, pnl="-1")) == []


def test_clearing_locks_again_at_the_rules_next_trigger_never_at_once_nor_on_a_reconcile() -> None:
    engine = Engine(daily_loss())
    feed(engine, fill(0, 1, pnl="-600"))
    clear_locks(engine, ACCOUNT, "all")
    # a position event is not one of the rule's triggers: nothing fires, nothing locks
    assert feed(engine, position(5, 1)) == []
    # a reconcile re-reads what the admin saw when clearing (the daemon reconciles every
    # 45 s and at a restart): it does not undo the clear
    assert feed(engine, Reconciled(at=at(6), account_id=ACCOUNT)) == []
    assert engine.locks(ACCOUNT) == []
    # the trader's next fill is the rule's next firing
    assert [f.rule_id for f in feed(engine, fill(7, 2, order_id=2, pnl="0"))] == ["daily-loss"]
    assert locked_rules(engine) == ["daily-loss"]


def test_a_rule_no_longer_broken_stays_quiet_after_its_lock_is_cleared() -> None:
    engine = Engine(daily_loss())
    feed(engine, fill(0, 1, pnl="-600"))
    clear_locks(engine, ACCOUNT, "all")
    assert feed(engine, fill(10, 2, order_id=2, pnl="200")) == []  # the day is 400 down
    assert engine.locks(ACCOUNT) == []


def test_clearing_one_symbol_keeps_the_other_symbols_lock_and_its_end() -> None:
    engine = Engine(blocked_symbols())
    feed(engine, position(0, 1, contract=RTY), position(60, 1, contract=M2K))
    assert {lock.symbol: lock.ends_at for lock in engine.locks(ACCOUNT)} == {
        "RTY": at(600),
        "M2K": at(660),
    }

    (cleared,) = clear_locks(engine, ACCOUNT, "symbol", "RTY")

    assert cleared.symbol == "RTY"
    # RTY still open: its next position event locks it again; M2K's episode goes on, unchanged
    (again,) = feed(engine, position(120, 2, contract=RTY))
    assert again.item == "symbol:RTY"
    assert feed(engine, position(130, 2, contract=M2K)) == []
    assert {lock.symbol: lock.ends_at for lock in engine.locks(ACCOUNT)} == {
        "RTY": at(720),
        "M2K": at(660),
    }


def test_a_restored_engine_locks_again_exactly_as_the_uninterrupted_one() -> None:
    rs = daily_loss()
    engine = Engine(rs)
    feed(engine, fill(0, 1, pnl="-600"))
    clear_locks(engine, ACCOUNT, "all")
    restored = Engine.restore(rs, json.loads(json.dumps(engine.snapshot())))
    assert restored.snapshot() == engine.snapshot()
    later = fill(10, 2, order_id=2, pnl="10")
    assert feed(restored, later) == feed(engine, later)
    assert restored.snapshot() == engine.snapshot()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-300, max_value=300), min_size=1, max_size=6))
def test_after_a_clear_the_first_fill_still_over_the_limit_locks_again(pnls: list[int]) -> None:
    engine = Engine(daily_loss())
    feed(engine, fill(0, 1, pnl="-600"))
    clear_locks(engine, ACCOUNT, "all")
    day = Decimal(-600)
    expected_lock_at: int | None = None
    for n, pnl in enumerate(pnls, start=1):
        day += pnl
        firings = feed(engine, fill(n, n + 1, order_id=n + 1, pnl=str(pnl)))
        if expected_lock_at is None and day <= -500:
            expected_lock_at = n
            assert [f.rule_id for f in firings] == ["daily-loss"]
        elif expected_lock_at is None:
            assert firings == []
            assert engine.locks(ACCOUNT) == []
    if expected_lock_at is not None:
        assert [lock.set_at for lock in engine.locks(ACCOUNT)] == [at(expected_lock_at)]
