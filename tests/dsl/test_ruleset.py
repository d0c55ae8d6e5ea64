"""Loading the shipped TopstepX ruleset and the public API the engine builds on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.helpers import env_for, one_rule
from simple_risk import resources
from simple_risk.engine.dsl import (
    RulesetError,
    analyse_text,
    base_env,
    lint_paths,
    load_ruleset,
    load_ruleset_text,
)
from simple_risk.engine.dsl.actions import ACTIONS
from simple_risk.engine.model import LockoutSpec, MessageTemplate

TOPSTEP = resources.default_ruleset_path()


def test_the_default_ruleset_loads_with_all_twelve_rules_tagged() -> None:
    ruleset = load_ruleset(TOPSTEP)
    tags = {tag for rule in ruleset.rules for tag in rule.tags}
    assert tags == {f"RULE-{n:03d}" for n in range(1, 13)}
    assert ruleset.name == "topstep-50k"


def test_the_default_ruleset_uses_every_action_kind() -> None:
    ruleset = load_ruleset(TOPSTEP)
    kinds = {action.kind for rule in ruleset.rules for action in rule.then}
    assert kinds == set(ACTIONS)


def test_the_default_ruleset_lints_clean_even_with_strict_checks() -> None:
    assert lint_paths([TOPSTEP], strict=True).problems == []
    ruleset = load_ruleset(TOPSTEP)
    # the trade-management rules are shipped off on purpose, and say so
    assert (
        {r.id for r in ruleset.rules if not r.enabled}
        == {r.id for r in ruleset.rules if r.optional}
        == {"trade-management-breakeven", "trade-management-trail"}
    )


def test_the_calendar_symbols_and_params_are_compiled() -> None:
    ruleset = load_ruleset(TOPSTEP)
    assert ruleset.calendar.trading_day_starts == dt.time(17, 0)
    assert ruleset.calendar.sessions["rth"].days == frozenset(range(5))
    assert dt.date(2026, 12, 25) in ruleset.calendar.holidays
    assert ruleset.calendar.early_closes[dt.date(2026, 12, 24)] == dt.time(12, 15)
    assert ruleset.symbols.root("ENQ") == "NQ"
    assert ruleset.symbols.units("MNQ") == 1
    assert ruleset.symbols.units("NQ") == 10
    assert ruleset.params["per_symbol_limits"]["MNQ"] == 50  # type: ignore[index]


def test_daily_loss_flattens_and_locks_until_the_trading_day_ends() -> None:
    rule = load_ruleset(TOPSTEP).rule("daily-realized-loss")
    assert [a.kind for a in rule.then] == ["flatten", "lockout"]
    lock = rule.then[1].args["lockout"]
    assert isinstance(lock, LockoutSpec)
    assert lock.until_trading_day_end
    assert rule.mandatory


def test_a_message_template_formats_its_fields() -> None:
    ruleset = load_ruleset(TOPSTEP)
    rule = ruleset.rule("daily-realized-loss")
    assert isinstance(rule.message, MessageTemplate)
    env = env_for(ruleset, day={"realized_pnl": Decimal("-512.5")})
    text = "".join(
        literal + (format(expr.evaluate(env), spec) if expr is not None else "")
        for literal, expr, spec in rule.message.parts
    )
    assert text == "Daily realized P&L $-512.50 reached the $-500.00 limit"


def test_params_can_be_overridden_and_must_name_existing_params() -> None:
    ruleset = load_ruleset(TOPSTEP, params={"daily_loss_limit": 1000})
    assert ruleset.params["daily_loss_limit"] == 1000
    when = ruleset.rule("daily-realized-loss").when
    assert when.evaluate(env_for(ruleset, day={"realized_pnl": Decimal("-600")})) is False
    with pytest.raises(RulesetError) as info:
        load_ruleset(TOPSTEP, params={"daily_loss_limt": 1000})
    assert info.value.problems[0].hint == 'did you mean "daily_loss_limit"?'


def _ranges_of_the_shipped_ruleset() -> dict[str, dict[str, float]]:
    data = yaml.safe_load(TOPSTEP.read_text(encoding="utf-8"))
    return {name: dict(spec) for name, spec in data["param_ranges"].items()}


def test_every_number_limit_of_the_shipped_ruleset_has_a_range() -> None:
    ruleset = load_ruleset(TOPSTEP)
    numbers = {
        name
        for name, value in ruleset.params.items()
        if isinstance(value, int | Decimal)
        or (hasattr(value, "values") and all(isinstance(v, int) for v in value.values()))
    }
    assert numbers == set(_ranges_of_the_shipped_ruleset())


@given(st.data())
@settings(max_examples=40, deadline=None)
def test_a_param_below_its_range_is_refused_and_its_smallest_value_loads(
    data: st.DataObject,
) -> None:
    """A limit typed with the loss's sign (daily_loss_limit: -500) is refused wherever it is
    set, instead of firing at the first event; the range's own end is allowed."""
    ranges = _ranges_of_the_shipped_ruleset()
    name = data.draw(st.sampled_from(sorted(ranges)))
    low = Decimal(str(ranges[name]["min"]))
    below = low - Decimal(data.draw(st.integers(min_value=1, max_value=1_000_000))) / 100
    shipped = load_ruleset(TOPSTEP).params[name]

    def shaped(number: Decimal) -> object:
        return {key: number for key in shipped} if hasattr(shipped, "keys") else number

    with pytest.raises(RulesetError) as info:
        load_ruleset(TOPSTEP, params={name: shaped(below)})
    assert [p.check for p in info.value.problems] == ["param-range"]
    assert f'param "{name}"' in info.value.problems[0].message
    assert load_ruleset(TOPSTEP, params={name: shaped(low)}).params[name] is not None


def test_base_env_holds_params_lists_functions_and_hidden_constants() -> None:
    ruleset = load_ruleset(TOPSTEP)
    env = base_env(ruleset)
    assert env["blocked_symbols"] == ("RTY", "BTC")
    assert {"known", "lookup", "round_to_tick", "abs", "min", "max"} <= set(env)
    assert set(ruleset.constants) <= set(env)
    params = env["params"]
    assert params.daily_loss_limit == 500  # type: ignore[attr-defined]


def test_a_broken_file_raises_with_every_problem_located() -> None:
    text = one_rule("day.realised_pnl < 0", then="[flaten]")
    with pytest.raises(RulesetError) as info:
        load_ruleset_text(text, "t.yaml")
    assert [p.check for p in info.value.problems] == ["unknown-fact", "unknown-action"]
    assert str(info.value).startswith("t.yaml:5:12:")


def test_a_missing_file_is_a_ruleset_error(tmp_path: Path) -> None:
    with pytest.raises(RulesetError) as info:
        load_ruleset(tmp_path / "nope.yaml")
    assert info.value.problems[0].check == "file"


def test_every_shipped_ruleset_lints_clean_with_strict_checks() -> None:
    shipped = sorted(resources.data_dir("rulesets").rglob("*.yaml"))
    assert shipped
    result = lint_paths(shipped, strict=True)
    assert result.problems == [], [p.format() for p in result.problems]


def test_a_rule_is_named_by_its_label_else_by_its_id_in_words() -> None:
    labelled = load_ruleset_text(
        one_rule("day.realized_pnl <= -500", extra="    label: Daily loss\n").replace(
            "id: r\n", "id: daily-realized-loss\n"
        ),
        "t.yaml",
    )
    assert labelled.rules[0].title == "Daily loss"
    plain = load_ruleset_text(
        one_rule("day.realized_pnl <= -500").replace("id: r\n", "id: max_trades-per.hour\n"),
        "t.yaml",
    )
    assert plain.rules[0].title == "Max trades per hour"


def test_an_empty_label_is_refused() -> None:
    with pytest.raises(RulesetError):
        load_ruleset_text(one_rule("day.realized_pnl <= -500", extra='    label: ""\n'), "t.yaml")


def test_a_ranged_param_written_as_money_says_to_write_the_number_alone() -> None:
    """``daily_loss_limit: $450`` is a string: the error at its range said only that strings
    have no range; it now gives the number to write."""
    text = TOPSTEP.read_text(encoding="utf-8").replace(
        "daily_loss_limit: 500 ", "daily_loss_limit: $450 ", 1
    )
    compilation = analyse_text(text, "topstep.yaml")
    (ranged,) = [p for p in compilation.problems if "only numbers have a range" in p.message]
    assert ranged.hint is not None and ranged.hint.endswith("daily_loss_limit: 450")
