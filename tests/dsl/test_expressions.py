"""The expression compiler: exact arithmetic, checked names, guards, macros, code objects."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsl.helpers import env_for, load_one, one_rule
from simple_risk.engine.dsl import RulesetError, analyse_text, load_ruleset_text
from simple_risk.engine.dsl.durations import (
    DURATION_HINT,
    format_duration,
    invalid_duration,
    parse_duration,
)
from simple_risk.engine.model import LockoutSpec


def _checks(text: str) -> list[str]:
    with pytest.raises(RulesetError) as info:
        load_ruleset_text(text, "t.yaml")
    return [p.check for p in info.value.problems]


def test_decimal_literals_are_exact_so_point_one_plus_point_two_is_point_three() -> None:
    ruleset = load_one("0.1 + 0.2 == 0.3")
    assert ruleset.rules[0].when.evaluate(env_for(ruleset)) is True
    assert Decimal("0.1") in ruleset.constants.values()


def test_division_is_exact_even_between_integers() -> None:
    ruleset = load_one("account.open_units / 4 == 2.5")
    env = env_for(ruleset, account={"open_units": 10})
    assert ruleset.rules[0].when.evaluate(env) is True


def test_three_losses_sum_exactly_to_an_inclusive_limit() -> None:
    ruleset = load_one("day.realized_pnl <= -500", trigger="[trade]")
    pnl = Decimal("-100.10") + Decimal("-200.20") + Decimal("-199.70")
    assert ruleset.rules[0].when.evaluate(env_for(ruleset, day={"realized_pnl": pnl})) is True


def test_the_code_object_is_named_after_the_rule_and_runs_without_builtins() -> None:
    ruleset = load_one("day.fees > 0")
    assert ruleset.rules[0].when.code.co_filename == "r"


def test_duration_arguments_become_timedelta_constants_at_compile_time() -> None:
    ruleset = load_one('trades.count(within="90s") > 3')
    assert timedelta(seconds=90) in ruleset.constants.values()
    seen: list[object] = []
    env = env_for(ruleset)

    class Trades:
        def count(self, within: timedelta) -> int:
            seen.append(within)
            return 4

    env["trades"] = Trades()
    assert ruleset.rules[0].when.evaluate(env) is True
    assert seen == [timedelta(seconds=90)]


def test_a_duration_param_can_feed_a_window() -> None:
    ruleset = load_ruleset_text(
        one_rule("trades.count(within=params.window) > 3", head="params: {window: 1h30m}\n"),
        "t.yaml",
    )
    assert timedelta(hours=1, minutes=30) in ruleset.constants.values()


def _window_problems(window: str) -> list[str]:
    head = f"params: {{window: {window}}}\n"
    text = one_rule("trades.count(within=params.window) > 3", head=head)
    found = analyse_text(text, "t.yaml").problems
    return [f"{p.message}; {p.hint} ({p.check})" for p in found]


def test_a_number_param_in_a_window_counts_seconds_as_in_for_and_within() -> None:
    ruleset = load_ruleset_text(
        one_rule("trades.count(within=params.window) > 3", head="params: {window: 600}\n"),
        "t.yaml",
    )
    assert timedelta(minutes=10) in ruleset.constants.values()
    assert _window_problems("90.5") == []


def test_a_window_param_whose_name_says_minutes_must_say_so_in_its_value() -> None:
    text = one_rule(
        "trades.count(within=params.window_minutes) > 3", head="params: {window_minutes: 30}\n"
    )
    found = [f"{p.message}; {p.hint}" for p in analyse_text(text, "t.yaml").problems]
    assert found == [
        'param "window_minutes" is 30, read as 30 seconds, but its name says minutes;'
        " write the unit: window_minutes: 30m (or 30s if seconds are meant)"
    ]


def test_a_negative_window_param_is_refused_as_in_for() -> None:
    assert [p.rsplit("(", 1)[1] for p in _window_problems("-60")] == ["bad-duration)"]


def _wait_of(params: str, for_: str, **overrides: object) -> timedelta | None:
    text = one_rule(
        "not position.protected",
        trigger="[position, clock]",
        then="[close_position]",
        extra=f"    each: position\n    for: {for_}\n",
        head=f"params: {params}\n",
    )
    return load_ruleset_text(text, "t.yaml", params=overrides or None).rules[0].for_


def test_a_rules_for_may_name_a_param_holding_a_duration() -> None:
    assert _wait_of("{grace: 1m30s}", "params.grace") == timedelta(minutes=1, seconds=30)


def test_a_number_param_in_for_counts_seconds_like_the_seconds_facts() -> None:
    assert _wait_of("{grace: 30}", "params.grace") == timedelta(seconds=30)
    assert _wait_of("{grace: 2.5}", "params.grace") == timedelta(seconds=2.5)


def test_an_override_of_the_param_moves_the_wait_of_the_rule() -> None:
    assert _wait_of("{grace: 30}", "params.grace", grace=60) == timedelta(seconds=60)


def test_a_param_named_only_by_a_for_is_not_reported_unused() -> None:
    text = one_rule(
        "not position.protected",
        trigger="[position, clock]",
        then="[close_position]",
        extra="    each: position\n    for: params.grace\n",
        head="params: {grace: 30}\n",
    )
    assert [p.check for p in analyse_text(text, "t.yaml").problems] == []


def test_macros_are_inlined_so_no_macro_name_exists_at_run_time() -> None:
    ruleset = load_ruleset_text(
        one_rule("losing and day.fees > 0", head="macros: {losing: day.realized_pnl < 0}\n"),
        "t.yaml",
    )
    when = ruleset.rules[0].when
    assert "losing" not in when.code.co_names
    assert {"day.realized_pnl", "day.fees"} <= when.names


def test_map_params_are_read_with_lookup_and_lists_by_name() -> None:
    head = "params: {limits: {MNQ: 2}}\nlists: {blocked: [RTY]}\n"
    ruleset = load_ruleset_text(
        one_rule(
            "symbol.size > lookup(params.limits, symbol.root, 1) or symbol.root in blocked",
            trigger="[position]",
            head=head,
        ),
        "t.yaml",
    )
    when = ruleset.rules[0].when
    assert when.evaluate(env_for(ruleset, symbol={"root": "MNQ", "size": 3})) is True
    assert when.evaluate(env_for(ruleset, symbol={"root": "MNQ", "size": 2})) is False
    assert when.evaluate(env_for(ruleset, symbol={"root": "RTY", "size": 0})) is True


@pytest.mark.parametrize(
    "when",
    [
        "known(position.unrealized_pnl) and position.unrealized_pnl < 0",
        "not known(position.unrealized_pnl) or position.unrealized_pnl < 0",
        "position.unrealized_pnl < 0 if known(position.unrealized_pnl) else False",
        "known(position.unrealized_pnl) and known(position.tick_size)"
        " and position.unrealized_pnl < position.tick_size",
    ],
)
def test_an_optional_fact_guarded_by_known_compiles(when: str) -> None:
    load_one(when, trigger="[position]")


@pytest.mark.parametrize(
    "when",
    [
        "position.unrealized_pnl < 0",
        "position.unrealized_pnl < 0 and known(position.unrealized_pnl)",
        "known(position.unrealized_pnl) or position.unrealized_pnl < 0",
        "not known(position.unrealized_pnl) and position.unrealized_pnl < 0",
    ],
)
def test_an_optional_fact_without_a_known_guard_is_rejected(when: str) -> None:
    text = one_rule(when, trigger="[position]")
    assert "unguarded-optional" in _checks(text)


def test_actions_may_use_what_the_when_guarded() -> None:
    text = one_rule(
        "known(position.best_price) and known(position.tick_size)",
        trigger="[position]",
        then="[{move_stop: {to: 'position.best_price - 4 * position.tick_size'}}]",
    )
    rule = load_ruleset_text(text, "t.yaml").rules[0]
    assert rule.then[0].kind == "move_stop"


def test_a_quote_fact_in_an_account_rule_is_not_bound() -> None:
    assert _checks(one_rule('quote.symbol == "ES"', trigger="[account]")) == ["unbound-family"]


def test_unknown_fact_errors_point_inside_the_expression() -> None:
    with pytest.raises(RulesetError) as info:
        load_ruleset_text(one_rule("day.fees > 0 and day.realised_pnl < 0"), "t.yaml")
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (5, 29)
    assert problem.hint == 'did you mean "day.realized_pnl"?'


def test_evaluation_has_no_builtins_to_reach() -> None:
    assert "forbidden-syntax" in _checks(one_rule("day.fees.__class__ == 1"))
    assert "unknown-name" in _checks(one_rule("open('x') == 1"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("1h30m", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("2d", timedelta(days=2)),
    ],
)
def test_durations_read_as_written(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["30x", "90", "", "m5", "5m30h", "1.5h"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (">-\n      known(position.tick_size)\n      and position.profit_tiks >= 10", (8, 11)),
        ("known(position.tick_size) and\n      position.profit_tiks >= 10", (7, 7)),
        ('"known(position.tick_size) and\n      position.profit_tiks >= 10"', (7, 7)),
        ("'known(position.tick_size) and position.profit_tiks >= 10'", (6, 42)),
    ],
)
def test_positions_inside_multi_line_expressions_map_back_to_the_file(
    style: str, expected: tuple[int, int]
) -> None:
    text = (
        "ruleset: t\nrules:\n  - id: r\n    trigger: [position]\n    each: position\n"
        f"    when: {style}\n    then: [close_position]\n"
    )
    with pytest.raises(RulesetError) as info:
        load_ruleset_text(text, "t.yaml")
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == expected


@given(st.timedeltas(min_value=timedelta(milliseconds=1), max_value=timedelta(days=30)))
def test_a_negative_duration_is_named_and_the_fix_is_the_same_without_the_minus(
    length: timedelta,
) -> None:
    written = format_duration(length // timedelta(milliseconds=1) * timedelta(milliseconds=1))
    message, hint = invalid_duration(f"-{written}")
    assert (
        message == f'"-{written}" is a negative duration: a wait, a window or a lockout cannot be'
    )
    assert hint == f"write a positive duration, e.g. {written}"
    assert parse_duration(written) > timedelta(0)


@pytest.mark.parametrize("text", ["-", "--5m", "-5x", "5m-", "soon"])
def test_what_is_not_a_negative_duration_is_just_not_a_duration(text: str) -> None:
    message, hint = invalid_duration(text)
    assert message == f'"{text}" is not a valid duration'
    assert hint == DURATION_HINT


def _lock_while(scope: str, condition: str) -> list[str]:
    text = one_rule(
        "position.size > 2",
        trigger="[position]",
        then=f'[{{lockout: {{scope: {scope}, while: "{condition}"}}}}]',
        extra="    each: position\n",
    )
    return [f"{p.message} ({p.check}) {p.hint}" for p in analyse_text(text, "t.yaml").problems]


def test_a_symbol_lockouts_while_reads_the_locked_symbols_facts() -> None:
    assert _lock_while("symbol", "symbol.size > 0 and not symbol.traded_today") == []
    text = one_rule(
        "position.size > 2",
        trigger="[position]",
        then='[{lockout: {scope: symbol, while: "symbol.size > 0"}}]',
        extra="    each: position\n",
    )
    (lock,) = load_ruleset_text(text, "t.yaml").rules[0].then
    spec = lock.args["lockout"]
    assert isinstance(spec, LockoutSpec) and spec.while_expr is not None
    assert spec.while_expr.names == frozenset({"symbol.size"})


def test_an_account_lockouts_while_cannot_read_symbol_facts_it_locks_no_symbol() -> None:
    assert _lock_while("account", "symbol.size > 0") == [
        '"symbol.size" is not bound in an account lockout\'s while: it locks no symbol'
        " (unbound-family) lock the symbol (scope: symbol) to read its facts as symbol.*, or"
        " use account-level facts and lock.*"
    ]


def test_a_symbol_lockouts_while_reads_no_position_of_its_own() -> None:
    assert _lock_while("symbol", "position.size > 0") == [
        '"position.size" is not bound in a lockout\'s while: (unbound-family) while: is'
        " re-checked after the firing; use account-level facts and lock.*, and symbol.* (the"
        " locked symbol's)"
    ]


def test_an_unknown_symbol_fact_in_a_lockouts_while_is_named_with_did_you_mean() -> None:
    found = _lock_while("symbol", "symbol.open_size > 0")
    assert found == ['unknown fact "symbol.open_size" (unknown-fact) did you mean "symbol.size"?']


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("5 min", "5m"),
        ("10 minutes", "10m"),
        ("1h 30m", "1h30m"),
        ("1 hour, 30 minutes", "1h30m"),
        ("1.5h", "1h30m"),
        ("90 Seconds", "1m30s"),
        ("2 days", "2d"),
        ("250 ms", "250ms"),
    ],
)
def test_a_duration_written_another_way_is_refused_with_the_way_to_write_it(
    written: str, meant: str
) -> None:
    message, hint = invalid_duration(written)
    assert (message, hint) == (f'"{written}" is not a valid duration', f"write {meant}")


@pytest.mark.parametrize("written", ["600", 600])
def test_a_number_where_a_duration_is_written_is_asked_for_its_unit(written: object) -> None:
    message, hint = invalid_duration(written)
    assert message == f'"{written}" is not a valid duration'
    assert hint == "a duration needs its unit: 600s for seconds, 600m for minutes"


def test_a_window_param_written_another_way_is_refused_with_the_line_to_write() -> None:
    assert _window_problems('"10 min"') == [
        '"10 min" is not a valid duration (from params.window); write window: 10m (bad-duration)'
    ]


def test_a_fill_window_longer_than_the_fills_kept_is_refused() -> None:
    """trades.count keeps 8 days of fills: a 14-day window counted 8 and missed the rest."""
    text = one_rule('trades.count(within="14d") > 2')
    found = [(p.message, p.hint, p.check) for p in analyse_text(text, "t.yaml").problems]
    assert found == [
        (
            'trades.count() sees the fills of the last 8 days only: a window of "14d" would'
            " miss the older ones",
            "use a window of 8d or less, week.* for the trading week, or a derived count"
            " (derive: {NAME: {trigger: [trade], count: ..., within: 14d}})",
            "bad-duration",
        )
    ]
    assert _window_problems("8d") == []
    assert [p.rsplit("(", 1)[1] for p in _window_problems("691201")] == ["bad-duration)"]


def _pause_problems(params: str, duration: str) -> list[tuple[str, str | None, str]]:
    text = one_rule(
        "known(trade.order_pnl) and trade.order_pnl < 0",
        trigger="[trade]",
        then=f'[{{lockout: {{for: "{duration}", kind: cooldown}}}}]',
        head=f"params: {params}\n",
    )
    return [(p.message, p.hint, p.check) for p in analyse_text(text, "t.yaml").problems]


def test_a_lockout_param_of_seconds_is_told_the_duration_to_write() -> None:
    assert _pause_problems("{pause: 900}", "params.pause") == [
        (
            "params.pause is 900, a number: a lockout's for: needs a duration",
            "write it with its unit: pause: 15m for 900 seconds, 900m for 900 minutes",
            "type-error",
        )
    ]


def test_a_map_of_pauses_in_seconds_is_told_the_unit_not_to_quote_the_number() -> None:
    # quoting 600 to match the default's type (the list-type advice) gives "600", still no
    # duration: the one problem said is the duration's, with the unit to write
    found = _pause_problems("{pauses: {ES: 600}}", "lookup(params.pauses, trade.symbol, '5m')")
    assert [(hint, check) for _message, hint, check in found] == [
        ("a duration needs its unit: 600s for seconds, 600m for minutes", "bad-duration")
    ]
