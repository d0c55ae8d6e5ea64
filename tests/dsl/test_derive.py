"""The ``derive:`` section as the compiler reads it: names any rule may use, an order the
engine can evaluate in, and mistakes reported where the author wrote them."""

from __future__ import annotations

from datetime import timedelta

from simple_risk.engine.dsl import analyse_overlay, analyse_text, load_ruleset_text

BASE = """\
ruleset: t
params: {limit: 3}
derive:
  doubled:
    type: int
    value: derived.peak * 2 if known(derived.peak) else None
  peak:
    type: int
    trigger: [position, reconcile]
    max: account.open_contracts_raw
    over: day
  recent_fills:
    trigger: [trade]
    count: "True"
    within: 90s
rules:
  - id: r
    description: Too many lots at once today.
    trigger: [position]
    when: known(derived.peak) and derived.peak >= params.limit
    then: [flatten]
"""


def problems(text: str) -> list[str]:
    return [
        f"{p.line}:{p.column} {p.message} ({p.check})"
        for p in analyse_text(text, "t.yaml").problems
    ]


def test_a_derived_fact_comes_after_every_fact_it_reads_whatever_the_file_order() -> None:
    ruleset = load_ruleset_text(BASE, "t.yaml")
    assert [fact.name for fact in ruleset.derived] == ["peak", "doubled", "recent_fills"]
    doubled = ruleset.derived[1]
    assert doubled.reads == frozenset({"peak"})
    assert doubled.triggers == frozenset(
        {"account", "order", "position", "trade", "quote", "clock", "reconcile"}
    )  # no trigger: every event takes a sample


def test_the_compiled_fact_keeps_its_aggregate_period_window_and_optionality() -> None:
    facts = {fact.name: fact for fact in load_ruleset_text(BASE, "t.yaml").derived}
    assert (facts["peak"].aggregate, facts["peak"].over, facts["peak"].optional) == (
        "max",
        "day",
        True,
    )
    assert (facts["recent_fills"].type, facts["recent_fills"].within) == (
        "int",
        timedelta(seconds=90),
    )
    assert facts["recent_fills"].optional is False  # a count starts at 0


def test_a_rule_added_by_an_account_overlay_reads_the_base_rulesets_derived_facts() -> None:
    overlay = """\
rules:
  - id: mine
    description: Fills in a burst.
    trigger: [trade]
    when: derived.recent_fills > 5
    then: [flatten]
"""
    compilation = analyse_overlay(BASE, "base.yaml", overlay, "acct.yaml")
    assert compilation.ruleset is not None, [p.format() for p in compilation.problems]
    assert [rule.id for rule in compilation.ruleset.rules] == ["r", "mine"]
    assert len(compilation.ruleset.derived) == 3


def test_derived_is_a_reserved_name_for_lists_and_macros() -> None:
    text = BASE + "lists:\n  derived: [ES]\n"
    assert any("reserved-name" in p and '"derived"' in p for p in problems(text))


def test_a_derived_fact_may_use_macros_and_macros_may_read_derived_facts() -> None:
    text = BASE.replace(
        "rules:",
        "macros:\n  crowded: known(derived.peak) and derived.peak >= params.limit\nrules:",
    ).replace("when: known(derived.peak) and derived.peak >= params.limit", "when: crowded")
    assert load_ruleset_text(text, "t.yaml").rules[0].when.names >= {"derived.peak"}


def test_an_unknown_session_for_a_session_period_is_named() -> None:
    text = BASE.replace("    over: day\n", "    over: session\n    session: rht\n")
    assert any('unknown session "rht"' in p for p in problems(text))


def test_a_per_fill_expression_needs_the_trade_trigger_like_a_rule() -> None:
    text = BASE.replace('    trigger: [trade]\n    count: "True"', "    count: trade.size > 1")
    found = problems(text)
    assert any('"trade.size" is not bound for triggers' in p for p in found), found


def _window_of(param: str, **overrides: object) -> timedelta | None:
    text = BASE.replace("params: {limit: 3}", f"params: {{limit: 3, window: {param}}}").replace(
        "within: 90s", "within: params.window"
    )
    facts = {f.name: f for f in load_ruleset_text(text, "t.yaml", params=overrides).derived}
    return facts["recent_fills"].within


def test_a_window_may_name_a_param_holding_a_duration_as_a_rules_for_may() -> None:
    assert _window_of("10m") == timedelta(minutes=10)


def test_a_number_param_in_within_counts_seconds_as_in_for() -> None:
    assert _window_of("90") == timedelta(seconds=90)
    assert _window_of("2.5") == timedelta(seconds=2.5)


def test_an_override_of_the_param_moves_the_window() -> None:
    assert _window_of("10m", window="30m") == timedelta(minutes=30)


def test_an_overlays_params_move_the_window_of_the_base_rulesets_fact() -> None:
    base = BASE.replace("params: {limit: 3}", "params: {limit: 3, window: 10m}").replace(
        "within: 90s", "within: params.window"
    )
    compilation = analyse_overlay(base, "base.yaml", "params: {window: 2m}\n", "acct.yaml")
    assert compilation.ruleset is not None, [p.format() for p in compilation.problems]
    facts = {f.name: f for f in compilation.ruleset.derived}
    assert facts["recent_fills"].within == timedelta(minutes=2)


def test_a_param_named_only_by_a_window_is_not_reported_unused() -> None:
    text = BASE.replace("params: {limit: 3}", "params: {limit: 3, window: 10m}").replace(
        "within: 90s", "within: params.window"
    )
    found = [p.format() for p in analyse_text(text, "t.yaml", strict=True).problems]
    assert not [p for p in found if "param" in p], found


LOCKED = """\
ruleset: t
derive:
  root_losses: {each: symbol, trigger: [trade], count: trade.is_closing, within: 10m}
  worst: {type: money, each: position, min: position.unrealized_pnl, over: position}
rules:
  - id: r
    description: Two closing fills in a root within 10 minutes lock it.
    trigger: [trade]
    when: derived.root_losses >= 2
    then:
      - lockout: {scope: SCOPE, kind: cooldown, while: WHILE}
"""


def _lock_problems(scope: str, condition: str) -> list[str]:
    return problems(LOCKED.replace("SCOPE", scope).replace("WHILE", condition))


def test_a_symbol_locks_while_reads_the_locked_symbols_derived_facts() -> None:
    assert _lock_problems("symbol", "derived.root_losses >= 2") == []


def test_an_account_locks_while_cannot_read_a_derived_fact_kept_per_symbol() -> None:
    found = _lock_problems("account", "derived.root_losses >= 2")
    assert found == [
        '11:58 "derived.root_losses" is kept per symbol: not bound in a lockout\'s while:'
        " (unbound-family)"
    ]


def test_a_symbol_locks_while_cannot_read_a_derived_fact_kept_per_position() -> None:
    found = _lock_problems("symbol", "not known(derived.worst)")
    assert found == [
        '11:67 "derived.worst" is kept per position: not bound in a lockout\'s while:'
        " (unbound-family)"
    ]
