"""The mutation check makes every kind of slip it promises, and only valid YAML edits."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

RULESET = """\
ruleset: tiny
params:
  daily_loss_limit: 500
  per_symbol_limits: {ES: 2, MNQ: 2}
rules:
  - id: daily-loss
    description: The day's loss locks the account.
    trigger: [trade, reconcile]
    when: day.realized_pnl <= -params.daily_loss_limit
    then:
      - flatten
      - lockout: {for: 30m}
  - id: naked
    description: Unprotected positions are closed.
    trigger: [position, order, clock]
    each: position
    when: >-
      not position.protected
    for: 30s
    then: [close_position]
"""


def _run_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "mutation_run", Path(__file__).with_name("run.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_every_kind_of_slip_is_made() -> None:
    mutants = list(_run_module().mutants(RULESET))
    described = {(m.rule, m.kind, m.description) for m in mutants}
    assert ("daily-loss", "comparison", "line 9: <= -> <") in described
    assert ("daily-loss", "action", "line 11: drop flatten") in described
    assert ("daily-loss", "duration", "line 12: for: 30m halved") in described
    assert ("daily-loss", "trigger", "line 8: drop trigger trade") in described
    assert ("naked", "duration", "line 19: for: 30s halved") in described
    assert ("naked", "action", "line 20: drop close_position") in described
    assert ("params.daily_loss_limit", "threshold", "daily_loss_limit: 500 -> 501") in described
    assert ("params.per_symbol_limits", "threshold", "per_symbol_limits.MNQ: 2 -> 1") in described
    kinds = Counter(m.kind for m in mutants)
    assert kinds["trigger"] == 4  # reconcile is never dropped: it changes nothing
    assert all(m.text != RULESET for m in mutants)


def test_a_block_scalar_indicator_is_not_a_comparison() -> None:
    mutants = list(_run_module().mutants(RULESET))
    assert not [m for m in mutants if m.rule == "naked" and m.kind == "comparison"]


DERIVED = """\
ruleset: tiny
params:
  big_loss: 100
derive:
  worst:
    type: money
    each: position
    trigger: [quote, position, reconcile]
    min: position.unrealized_pnl
    over: position
  big_losses:
    trigger: [trade]
    count: >-
      known(trade.net_pnl)
      and trade.net_pnl < -params.big_loss
    within: 10m
  most_lots:
    type: int
    max: account.open_contracts_raw
    over: day
rules:
  - id: r
    trigger: [trade]
    when: derived.big_losses >= 3
    then: [flatten]
"""


def test_every_kind_of_slip_is_made_in_the_derived_facts() -> None:
    described = {(m.rule, m.kind, m.description) for m in _run_module().mutants(DERIVED)}
    assert ("derived.worst", "aggregate", "line 9: min -> max") in described
    assert ("derived.most_lots", "aggregate", "line 19: max -> min") in described
    assert ("derived.most_lots", "period", "line 20: drop over: day") in described
    assert ("derived.big_losses", "window", "line 16: within: 10m halved") in described
    assert ("derived.big_losses", "comparison", "line 15: < -> <=") in described
    assert ("derived.worst", "trigger", "line 8: drop trigger quote") in described
    assert ("derived.worst", "trigger", "line 8: drop trigger position") in described


def test_slips_that_change_nothing_are_not_made_in_the_derived_facts() -> None:
    mutants = list(_run_module().mutants(DERIVED))
    described = {(m.rule, m.kind, m.description) for m in mutants}
    # a per-position fact lives as long as its position; a reconcile brings no fact itself;
    # a block scalar's indicator is no comparison; a lone trigger is not dropped
    assert not [d for d in described if d[1] == "period" and d[0] == "derived.worst"]
    assert not [d for d in described if "drop trigger reconcile" in d[2]]
    assert not [d for d in described if d[0] == "derived.big_losses" and d[1] == "trigger"]
    assert not [d for d in described if d[2] == "line 13: > -> >="]


WINDOWS = """\
ruleset: tiny
params:
  max_trades: 3
  trade_window: 60m                   # fills in the last hour
  pause: "15m"
  loss_window: 10m
derive:
  losses:
    trigger: [trade]
    count: trade.is_closing
    within: params.loss_window
rules:
  - id: busy
    trigger: [trade]
    when: trades.count(within=params.trade_window) > params.max_trades
    then:
      - lockout: {for: params.pause}
"""


def test_a_duration_given_by_a_param_is_halved_as_one_written_in_place() -> None:
    described = {(m.rule, m.kind, m.description) for m in _run_module().mutants(WINDOWS)}
    assert ("params.trade_window", "duration", "trade_window: 60m halved") in described
    assert ("params.pause", "duration", 'pause: "15m" halved') in described
    assert ("params.loss_window", "duration", "loss_window: 10m halved") in described
    halved = {m.description: m.text for m in _run_module().mutants(WINDOWS) if m.kind == "duration"}
    assert (
        "  trade_window: 30m                   # fills in the last hour\n"
        in (halved["trade_window: 60m halved"])
    )
    assert '  pause: "450s"\n' in halved['pause: "15m" halved']
