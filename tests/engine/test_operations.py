"""Operations on a running engine (simple_risk.engine.operations): reload, explain, limits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from engine_builders import (
    ACCOUNT,
    MNQ,
    account_update,
    at,
    fill,
    loaded,
    order,
    position,
    quote,
    tick,
)

from simple_risk.engine.dsl import load_ruleset_text
from simple_risk.engine.engine import Engine
from simple_risk.engine.events import OrderType, Reconciled
from simple_risk.engine.lock_changes import KeptLock, clear_locks, lift_locks, restore_locks
from simple_risk.engine.model import Ruleset
from simple_risk.engine.operations import (
    explain,
    limit_usage,
    lockouts,
    mandatory_violations,
    pending_rules,
    reload_engine,
    ruleset_changes,
)

BASE = """\
ruleset: ops
calendar:
  timezone: America/Chicago
  trading_day_starts: "17:00"
  sessions:
    rth: {start: "00:00", end: "23:59", days: [mon, tue, wed, thu, fri, sat, sun]}
params:
  daily_loss_limit: 500
  max_contracts: 5
  floor: 10
lists:
  blocked: [RTY]
macros:
  too_many: account.open_contracts > params.max_contracts
rules:
  - id: daily-loss
    severity: critical
    mandatory: true
    trigger: [trade, reconcile]
    when: day.realized_pnl <= -params.daily_loss_limit
    then:
      - flatten
      - lockout: {until: trading_day_end, reason: "daily loss limit"}
    message: "Daily P&L {day.realized_pnl:.2f}"
  - id: max-contracts
    trigger: [position, reconcile]
    when: too_many
    then:
      - reduce_to: {contracts: params.max_contracts, scope: account}
  - id: no-stop
    trigger: [position, order, clock, reconcile]
    each: position
    when: not position.protected
    for: 30s
    then: [close_position]
  - id: blocked-symbol
    trigger: [position, reconcile]
    each: symbol
    when: symbol.root in blocked and symbol.size > 0
    then:
      - close_position: {symbol: symbol.root}
  - id: optional-floor
    enabled: false
    trigger: [account]
    when: known(account.balance) and account.balance < params.floor
    then: [flatten]
"""


def compile_text(text: str) -> Ruleset:
    return load_ruleset_text(text, "ops.yaml")


def started(ruleset: Ruleset) -> Engine:
    engine = Engine(ruleset, accounts=[ACCOUNT])
    engine.apply(account_update(0))
    engine.apply(loaded(0))
    engine.apply(quote(1, "21000"))
    return engine


def test_an_unchanged_reload_keeps_facts_lockouts_and_running_timers() -> None:
    engine = started(compile_text(BASE))
    engine.apply(position(2, 1))  # no stop: the 30 s grace starts
    engine.apply(fill(3, 1, pnl="-600"))  # daily loss: flatten and lock for the day
    assert engine.state_of("no-stop", ACCOUNT, "position:" + MNQ) == "pending"
    assert [lock.rule for lock in engine.locks(ACCOUNT)] == ["daily-loss"]

    fresh, changes = reload_engine(engine, compile_text(BASE))

    assert changes.empty
    assert fresh.state_of("no-stop", ACCOUNT, "position:" + MNQ) == "pending"
    assert fresh.state_of("daily-loss", ACCOUNT) == "firing"
    assert [lock.rule for lock in fresh.locks(ACCOUNT)] == ["daily-loss"]
    assert fresh.facts(ACCOUNT)["day"].realized_pnl == Decimal("-600")  # type: ignore[attr-defined]
    # the timer keeps its start: it fires 30 s after the position opened, not after the reload
    assert fresh.next_deadline() == at(32)
    firings = fresh.apply(tick(32))
    assert [f.rule_id for f in firings] == ["no-stop"]


def test_a_changed_rule_starts_afresh_and_the_others_keep_their_state() -> None:
    engine = started(compile_text(BASE))
    engine.apply(position(2, 1))
    engine.apply(fill(3, 1, pnl="-600"))
    edited = BASE.replace("for: 30s", "for: 40s").replace("max_contracts: 5", "max_contracts: 4")

    fresh, changes = reload_engine(engine, compile_text(edited))

    assert changes.changed == ("max-contracts", "no-stop")
    assert changes.params == {"max_contracts": (5, 4)}
    assert fresh.state_of("no-stop", ACCOUNT, "position:" + MNQ) == "inactive"
    assert fresh.state_of("daily-loss", ACCOUNT) == "firing"  # unchanged: no second firing
    firings = fresh.apply(Reconciled(at=at(4), account_id=ACCOUNT))
    assert "daily-loss" not in [f.rule_id for f in firings]
    assert fresh.state_of("no-stop", ACCOUNT, "position:" + MNQ) == "pending"
    assert fresh.next_deadline() == at(44)


def test_an_edited_macro_changes_the_rules_that_use_it() -> None:
    edited = BASE.replace(
        "too_many: account.open_contracts > params.max_contracts",
        "too_many: account.open_contracts >= params.max_contracts",
    )
    changes = ruleset_changes(compile_text(BASE), compile_text(edited))
    assert changes.changed == ("max-contracts",)


def test_a_new_list_value_changes_only_the_rule_reading_it() -> None:
    changes = ruleset_changes(compile_text(BASE), compile_text(BASE.replace("[RTY]", "[RTY, CL]")))
    assert changes.changed == ("blocked-symbol",)


def test_a_calendar_change_changes_every_rule() -> None:
    edited = BASE.replace('trading_day_starts: "17:00"', 'trading_day_starts: "16:00"')
    changes = ruleset_changes(compile_text(BASE), compile_text(edited))
    assert set(changes.changed) == {
        "daily-loss",
        "max-contracts",
        "no-stop",
        "blocked-symbol",
        "optional-floor",
    }


def test_added_removed_enabled_and_disabled_rules_are_reported() -> None:
    edited = BASE.replace("    enabled: false\n", "")
    edited = edited.replace("  - id: blocked-symbol", "  - id: blocked-root")
    changes = ruleset_changes(compile_text(BASE), compile_text(edited))
    assert changes.added == ("blocked-root",)
    assert changes.removed == ("blocked-symbol",)
    assert changes.enabled == ("optional-floor",)
    assert changes.as_json()["enabled"] == ["optional-floor"]


def test_removing_or_disabling_a_mandatory_rule_is_a_violation() -> None:
    old = compile_text(BASE)
    disabled = compile_text(
        BASE.replace("    mandatory: true\n", "    mandatory: true\n    enabled: false\n")
    )
    assert mandatory_violations(old, disabled) == [
        'rule "daily-loss" is mandatory and cannot be disabled'
    ]
    assert mandatory_violations(old, old) == []


def test_explain_shows_each_comparison_with_the_values_it_saw() -> None:
    engine = started(compile_text(BASE))
    engine.apply(fill(3, 1, pnl="-600"))
    explained = explain(engine, "daily-loss", ACCOUNT, at(4))
    assert explained["when"] == "day.realized_pnl <= -params.daily_loss_limit"
    assert explained["location"].startswith("ops.yaml:")
    (evaluation,) = explained["evaluations"]
    assert evaluation["item"] == ""
    assert evaluation["result"] is True
    assert evaluation["state"] == "firing"
    (comparison,) = evaluation["comparisons"]
    assert comparison["left"] == {"text": "day.realized_pnl", "value": Decimal("-600")}
    assert comparison["op"] == "<="
    assert comparison["right"] == {"text": "-params.daily_loss_limit", "value": -500}
    assert comparison["result"] is True


def test_explain_shows_a_running_for_timer_per_item() -> None:
    engine = started(compile_text(BASE))
    engine.apply(position(2, 1))
    explained = explain(engine, "no-stop", ACCOUNT, at(12))
    (evaluation,) = explained["evaluations"]
    assert evaluation["item"] == "position:" + MNQ
    assert evaluation["state"] == "pending"
    assert evaluation["fires_at"] == at(32)
    assert evaluation["remaining_s"] == 20.0
    assert explained["for"] == 30.0


def test_explain_of_a_macro_comparison_names_the_macro_operands() -> None:
    engine = started(compile_text(BASE))
    (evaluation,) = explain(engine, "max-contracts", ACCOUNT, at(4))["evaluations"]
    (comparison,) = evaluation["comparisons"]
    assert comparison["text"] == "account.open_contracts > params.max_contracts"
    assert comparison["result"] is False


def test_explain_refuses_an_unknown_rule_and_describes_a_disabled_one() -> None:
    engine = started(compile_text(BASE))
    with pytest.raises(KeyError):
        explain(engine, "nope", ACCOUNT, at(4))
    disabled = explain(engine, "optional-floor", ACCOUNT, at(4))
    assert disabled["enabled"] is False
    assert disabled["evaluations"] == []


def test_limit_usage_lists_account_level_limits_with_the_share_used() -> None:
    engine = started(compile_text(BASE))
    engine.apply(fill(3, 1, pnl="-125"))
    engine.apply(position(4, 2))
    usage = {entry["rule"]: entry for entry in limit_usage(engine, ACCOUNT)}
    assert set(usage) == {"daily-loss", "max-contracts"}  # per-item and disabled rules are not
    loss = usage["daily-loss"]
    assert (loss["fact"], loss["value"], loss["limit"], loss["used_pct"]) == (
        "day.realized_pnl",
        Decimal("-125"),
        -500,
        25.0,
    )
    assert usage["max-contracts"]["used_pct"] == 4.0  # 2 MNQ: 0.2 lots of 5 (MNQ is a micro)


def test_a_comparison_with_zero_is_a_condition_not_a_limit_to_come_close_to() -> None:
    """``account.open_contracts > 0`` (flat outside the session) is no bound: it is left out
    of the limits, so neither `engine status` nor the page shows "0 of 0"."""
    text = BASE.replace(
        "rules:\n",
        "rules:\n"
        "  - id: flat-at-night\n"
        "    trigger: [position]\n"
        '    when: account.open_contracts > 0 and not session.open("rth")\n'
        "    then: [flatten]\n",
        1,
    )
    engine = started(compile_text(text))
    engine.apply(position(4, 2))
    assert "flat-at-night" not in {entry["rule"] for entry in limit_usage(engine, ACCOUNT)}


def test_pending_rules_count_down_to_the_deadline() -> None:
    engine = started(compile_text(BASE))
    engine.apply(position(2, 1))
    (pending,) = pending_rules(engine, ACCOUNT, at(27))
    assert pending["rule"] == "no-stop"
    assert pending["remaining_s"] == 5.0


def test_clear_locks_ends_the_lock_and_its_deadline() -> None:
    engine = started(compile_text(BASE))
    engine.apply(fill(3, 1, pnl="-600"))
    (shown,) = lockouts(engine, ACCOUNT, at(4))
    assert shown["rule"] == "daily-loss" and shown["remaining_s"] > 0
    cleared = clear_locks(engine, ACCOUNT, "all")
    assert [lock.rule for lock in cleared] == ["daily-loss"]
    assert engine.locks(ACCOUNT) == []
    assert clear_locks(engine, ACCOUNT, "symbol") == []
    # a new position is no longer refused by the lock
    assert engine.apply(position(5, 1)) == []
    assert engine.next_deadline() is not None and engine.next_deadline() <= at(5) + timedelta(
        seconds=30
    )


def kept(rule: str, set_at: float, ends_at: float | None, **more: object) -> KeptLock:
    """A lockout as the store keeps it (account scope unless said)."""
    fields: dict[str, object] = {"scope": "account", "symbol": None, "reason": rule}
    fields.update(more)
    return KeptLock(
        rule=rule,
        set_at=at(set_at),
        ends_at=at(ends_at) if ends_at is not None else None,
        **fields,  # type: ignore[arg-type]
    )


def test_restore_locks_puts_back_a_lock_with_its_end_leaving_what_the_account_holds() -> None:
    """A rebuild from the journal (no clock ticks) lacks a lockout a tick set: it comes back
    with its own end and its rule's kind; what the account holds now is its baseline, so
    nothing held is closed for it and more is refused."""
    engine = started(compile_text(BASE))
    engine.apply(order(2, 5, side="sell", kind=OrderType.STOP, stop="20990"))
    engine.apply(position(2, 1))
    (lock,) = restore_locks(engine, ACCOUNT, [kept("daily-loss", 3, 600)])
    assert (lock.rule, lock.kind, lock.ends_at) == ("daily-loss", "lock", at(600))
    assert lock.baseline == {MNQ: (True, 1)}
    assert engine.locks(ACCOUNT) == [lock]
    assert engine.apply(Reconciled(at=at(4), account_id=ACCOUNT)) == []  # the lot held stays
    (refused,) = engine.apply(order(5, 7, limit="20990"))  # a buy adds exposure
    assert refused.kind == "lockout" and refused.rule_id == "daily-loss"
    assert engine.apply(tick(600)) == [] and engine.locks(ACCOUNT) == []  # its end, not later


def test_restore_locks_keeps_the_latest_end_and_corrects_one_the_replay_derived_late() -> None:
    """A lockout set again only ever ends later, so the latest stored end is the lock's; a
    replay that derived it at a later event (no ticks in the journal) gets the stored one."""
    engine = started(compile_text(BASE))
    engine.apply(fill(300, 1, pnl="-600"))  # as a replay would: late, ending at the day's end
    (derived,) = engine.locks(ACCOUNT)
    assert derived.ends_at is not None and derived.ends_at > at(900)
    (lock,) = restore_locks(
        engine, ACCOUNT, [kept("daily-loss", 3, 600), kept("daily-loss", 5, 900)]
    )
    assert lock is derived and lock.ends_at == at(900)
    assert restore_locks(engine, ACCOUNT, [kept("daily-loss", 5, 900)]) == []  # nothing to change


def test_lift_locks_ends_only_the_lock_of_the_firing_the_admin_lifted() -> None:
    """A rebuild replays the fill that set the daily lock; the admin's clear of it is not in
    the journal. The lifted entry (same identity, same start) ends it and marks the episode
    as an admin clear does; an entry of another start (a later firing) ends nothing."""
    engine = started(compile_text(BASE))
    engine.apply(fill(3, 1, pnl="-600"))
    (lock,) = engine.locks(ACCOUNT)
    assert lift_locks(engine, ACCOUNT, [kept("daily-loss", 2, None)]) == []
    assert engine.locks(ACCOUNT) == [lock]
    assert lift_locks(engine, ACCOUNT, [kept("daily-loss", 3, None)]) == [lock]
    assert engine.locks(ACCOUNT) == []
    assert engine.apply(Reconciled(at=at(4), account_id=ACCOUNT)) == []  # quiet, as cleared
    (again,) = engine.apply(fill(5, 2, pnl="-10"))  # the next fill finds it broken: locks
    assert again.rule_id == "daily-loss" and [lk.rule for lk in engine.locks(ACCOUNT)] == [
        "daily-loss"
    ]


WHILE_RULE = """\
  - id: blocked-lock
    trigger: [position, reconcile]
    each: symbol
    when: symbol.root in blocked and symbol.size > 0
    then:
      - lockout: {scope: symbol, while: "known(lock.symbol) and lock.symbol in blocked"}
"""


def test_restore_locks_puts_back_a_while_lock_only_while_its_rule_has_that_condition() -> None:
    engine = started(compile_text(BASE + WHILE_RULE))
    stored = kept(
        "blocked-lock",
        3,
        None,
        scope="symbol",
        symbol="RTY",
        while_source="known(lock.symbol) and lock.symbol in blocked",
    )
    (lock,) = restore_locks(engine, ACCOUNT, [stored])
    assert lock.while_expr is not None and lock.symbol == "RTY" and lock.ends_at is None
    edited = WHILE_RULE.replace('while: "known(lock.symbol) and lock.symbol in blocked"', "for: 5m")
    other = started(compile_text(BASE + edited))
    assert restore_locks(other, ACCOUNT, [stored]) == []
    assert other.locks(ACCOUNT) == []


def test_each_limit_is_named_by_what_it_protects_and_counted_in_its_unit() -> None:
    labelled = BASE.replace(
        "  - id: max-contracts\n", "  - id: max-contracts\n    label: Contracts open\n"
    )
    engine = started(compile_text(labelled))
    engine.apply(position(4, 2))
    usage = {entry["rule"]: entry for entry in limit_usage(engine, ACCOUNT)}
    assert (usage["max-contracts"]["label"], usage["max-contracts"]["unit"]) == (
        "Contracts open",
        "lots",
    )
    # no label: the rule id in words; realized P&L is money
    assert (usage["daily-loss"]["label"], usage["daily-loss"]["unit"]) == ("Daily loss", "usd")
