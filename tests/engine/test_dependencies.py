"""The dependency index: which woken rules an event must re-evaluate (engine/dependencies.py).

That the incremental engine fires exactly what a full re-evaluation fires is the property in
tests/oracle/test_incremental_matches_full.py; these cases pin the decisions themselves on the
shipped rules, so a change that silently stops saving work shows too.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from simple_risk.engine import dependencies
from simple_risk.engine.dependencies import (
    ACCOUNT,
    CHANGE_ID,
    FILL,
    ORDER,
    POSITION,
    QUOTE,
    QUOTE_SAME,
    RUN,
    SCOPED,
    SKIP,
    TIME,
    Change,
    decide,
    reads_of,
)
from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.engine import CompiledRule, Engine

TOPSTEP = Path(__file__).resolve().parents[2] / "rulesets" / "topstep.yaml"


@pytest.fixture(scope="module")
def topstep() -> dict[str, CompiledRule]:
    loaded = load_ruleset(TOPSTEP)
    ruleset = dataclasses.replace(
        loaded, rules=tuple(dataclasses.replace(rule, enabled=True) for rule in loaded.rules)
    )
    return {compiled.rule.id: compiled for compiled in Engine(ruleset).rules}


def _decide(rule: CompiledRule, change: Change) -> int:
    return decide(rule.reads, rule.each, change)


def test_a_quote_that_repeats_the_prices_re_evaluates_no_open_pnl_rule(
    topstep: dict[str, CompiledRule],
) -> None:
    for rule_id in ("daily-unrealized-loss", "max-unrealized-profit"):
        assert _decide(topstep[rule_id], QUOTE_SAME) == SKIP
        assert _decide(topstep[rule_id], QUOTE) == SCOPED


def test_a_moving_quote_re_evaluates_the_trailing_stop_of_its_position_only(
    topstep: dict[str, CompiledRule],
) -> None:
    trail = topstep["trade-management-trail"]
    assert _decide(trail, QUOTE) == SCOPED
    assert _decide(trail, QUOTE_SAME) == SKIP
    # an order changes the protection of its own contract's position only, and the stop's
    # target reads only the position it protects (its own item): that position alone runs
    assert _decide(trail, ORDER) == SCOPED
    assert _decide(trail, FILL) == SKIP  # a fill changes the ledger, never a position


def test_an_order_update_re_evaluates_only_its_own_root_for_symbol_blocks(
    topstep: dict[str, CompiledRule],
) -> None:
    blocks = topstep["symbol-blocks"]
    assert _decide(blocks, ORDER) == SCOPED
    assert _decide(blocks, POSITION) == SCOPED
    assert _decide(blocks, FILL) == SKIP  # a fill changes no open size or working order
    assert _decide(blocks, dependencies.EVERYTHING) == RUN


def test_time_dependent_rules_run_whenever_they_are_woken(
    topstep: dict[str, CompiledRule],
) -> None:
    for rule_id in ("no-stop-loss-grace", "no-stop-loss-total"):
        assert topstep[rule_id].reads.volatile
        assert _decide(topstep[rule_id], TIME) == RUN
    assert topstep["trade-frequency-minute"].reads.volatile  # a sliding window


def test_a_session_rule_waits_for_its_exposure_or_a_session_edge(
    topstep: dict[str, CompiledRule],
) -> None:
    outside = topstep["session-block-outside"]
    assert not outside.reads.volatile
    assert dependencies.SESSION_EDGE in outside.reads.keys  # marked stale at each edge
    assert _decide(outside, TIME) == SKIP  # a clock tick between two edges changes nothing
    assert _decide(outside, ORDER) == RUN  # its exposure: the working orders
    assert _decide(outside, dependencies.EVERYTHING) == RUN


def test_session_facts_of_the_day_change_only_at_the_daily_reset() -> None:
    for name in sorted(dependencies.SESSION_DAY):
        reads = reads_of([name], each=None, item_mode="", timed=False)
        assert not reads.volatile
        assert decide(reads, None, TIME) == SKIP
        assert decide(reads, None, dependencies.EVERYTHING) == RUN


def test_the_session_clock_and_the_minutes_to_an_edge_are_volatile() -> None:
    for name in ("session.time", "session.minutes_to_close", "session.minutes_to_open"):
        assert reads_of([name], each=None, item_mode="", timed=False).volatile
    assert reads_of(["session"], each=None, item_mode="", timed=False).volatile


def test_a_rule_about_the_event_s_own_item_follows_every_event(
    topstep: dict[str, CompiledRule],
) -> None:
    assert topstep["cooldown-after-loss-1"].reads.volatile  # one episode per losing order
    assert topstep["max-contracts-order"].reads.volatile


def test_account_rules_wait_for_a_change_of_what_they_read(
    topstep: dict[str, CompiledRule],
) -> None:
    daily_loss = topstep["daily-realized-loss"]
    assert _decide(daily_loss, FILL) == RUN
    assert _decide(daily_loss, QUOTE) == SKIP
    assert _decide(daily_loss, TIME) == SKIP
    auth = topstep["auth-loss-guard"]
    assert _decide(auth, ACCOUNT) == RUN
    assert _decide(auth, QUOTE) == SKIP


def test_a_fact_the_index_does_not_classify_is_volatile() -> None:
    assert not reads_of(
        ["position.unrealized_pnl"], each="position", item_mode="position", timed=False
    ).volatile
    for name in ("position.not_yet_declared", "symbol.not_yet_declared", "nosuch.fact"):
        assert reads_of([name], each="position", item_mode="position", timed=False).volatile


def test_a_derived_fact_is_one_more_key_its_module_reports_changes_of() -> None:
    reads = reads_of(["derived.peak_loss"], each=None, item_mode="", timed=False)
    assert not reads.volatile
    assert reads.keys == frozenset({"derived.peak_loss"})
    assert decide(reads, None, QUOTE) == SKIP  # only a reported change re-evaluates it


def test_a_rule_with_a_timer_or_a_periodic_refire_is_volatile() -> None:
    assert reads_of(["account.balance"], each=None, item_mode="", timed=True).volatile


def test_params_and_lists_never_change() -> None:
    reads = reads_of(
        ["params.limit", "blocked_symbols", "account.balance"],
        each=None,
        item_mode="",
        timed=False,
        lists=["blocked_symbols"],
    )
    assert reads.keys == frozenset({"account.balance"})


def test_every_kind_of_change_has_an_id_for_the_fact_store() -> None:
    assert [dependencies.CHANGES[CHANGE_ID[c.name]] for c in dependencies.CHANGES] == list(
        dependencies.CHANGES
    )


def test_the_engine_runs_nothing_for_a_repeated_quote_on_the_shipped_book() -> None:
    loaded = load_ruleset(TOPSTEP)
    engine = Engine(
        dataclasses.replace(
            loaded, rules=tuple(dataclasses.replace(r, enabled=True) for r in loaded.rules)
        )
    )
    assert engine._change_plans["quote", CHANGE_ID["quote-same"]] == ()
    assert engine._plans["quote"] != ()


def test_a_rule_about_the_event_s_own_item_is_narrowed_by_its_first_condition() -> None:
    narrowed = 'order.symbol == "NQ" and order.size > 3'
    assert dependencies.ticker_of(narrowed, None, "order") == "NQ"
    assert dependencies.ticker_of('symbol.root == "ES" and symbol.size > 1', None, "symbol") == "ES"
    # the account has one episode (no item): never narrowed, an event of any root may end it
    assert dependencies.ticker_of(narrowed, None, "") is None
    # a first condition about another family's ticker does not narrow it
    assert (
        dependencies.ticker_of('position.symbol == "NQ" and order.size > 3', None, "order") is None
    )


def test_each_kind_of_account_event_changes_only_its_own_account_facts(
    topstep: dict[str, CompiledRule],
) -> None:
    permission = topstep["auth-loss-guard"]  # not account.can_trade
    assert _decide(permission, ACCOUNT) == RUN
    assert _decide(permission, FILL) == SKIP  # a fill moves the ledger, not the permission
    assert _decide(permission, POSITION) == SKIP
    size = topstep["max-contracts"]  # account.open_contracts
    assert _decide(size, POSITION) == RUN
    assert _decide(size, ACCOUNT) == SKIP  # a balance update opens nothing
    assert _decide(size, FILL) == SKIP
