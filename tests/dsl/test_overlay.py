"""Account overlays through the DSL API: ``analyse_overlay`` and ``load_ruleset(overlay=)``.

The golden files in ``tests/lint/overlays`` pin the exact messages; these tests pin the API:
what the merged ruleset holds, which file each problem is in, and that nothing raises.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from simple_risk.engine.dsl import (
    RulesetError,
    analyse_overlay,
    base_env,
    lint_paths,
    load_ruleset,
)

BASE = """\
ruleset: base
params:
  limit: 500
  grace: 30s
lists:
  blocked: [RTY]
macros:
  losing: day.realized_pnl < 0
rules:
  - id: daily-loss
    mandatory: true
    trigger: [trade]
    when: day.realized_pnl <= -params.limit
    then: [flatten]
  - id: blocked-root
    trigger: [position]
    each: position
    when: position.symbol in blocked
    then: [close_position]
"""

ADDED = """\
params: {limit: 400}
disable: [blocked-root]
rules:
  - id: early-warning
    trigger: [trade]
    when: losing and day.realized_pnl <= -params.limit * 0.75
    then:
      - alert: {level: warning, message: "75 % of the limit"}
"""


def _files(tmp_path: Path, overlay: str) -> tuple[Path, Path]:
    base = tmp_path / "base.yaml"
    base.write_text(BASE, encoding="utf-8")
    path = tmp_path / "o.yaml"
    path.write_text(overlay, encoding="utf-8")
    return base, path


def test_the_merged_ruleset_appends_added_rules_in_the_base_scope(tmp_path: Path) -> None:
    base, overlay = _files(tmp_path, ADDED)
    ruleset = load_ruleset(base, overlay=overlay)
    assert [(r.id, r.enabled) for r in ruleset.rules] == [
        ("daily-loss", True),
        ("blocked-root", False),
        ("early-warning", True),
    ]
    assert ruleset.params["limit"] == 400 and ruleset.name == "base"
    added = ruleset.rule("early-warning")
    assert (added.location.file, added.location.line, added.location.column) == (
        str(overlay),
        4,
        5,
    )
    # the added rule's exact constant (0.75) joined the environment the engine builds
    env = base_env(ruleset)
    assert Decimal("0.75") in env.values()


def test_params_given_to_the_loader_apply_before_the_overlay(tmp_path: Path) -> None:
    base, overlay = _files(tmp_path, "rules: []\n")
    assert load_ruleset(base, overlay=overlay, params={"limit": 100}).params["limit"] == 100
    base, overlay = _files(tmp_path, ADDED)
    assert load_ruleset(base, overlay=overlay, params={"limit": 100}).params["limit"] == 400


def test_problems_are_split_between_the_base_and_the_overlay(tmp_path: Path) -> None:
    broken_base = BASE.replace("[flatten]", "[flaten]")
    compilation = analyse_overlay(
        broken_base, "base.yaml", ADDED.replace("losing", "lossing"), "o.yaml"
    )
    assert compilation.ruleset is None
    assert compilation.base is not None
    assert [(p.file, p.line, p.check) for p in compilation.base.problems] == [
        ("base.yaml", 14, "unknown-action")
    ]
    assert [(p.file, p.line, p.column, p.rule_id) for p in compilation.problems] == [
        ("o.yaml", 6, 11, "early-warning")
    ]
    base, overlay = tmp_path / "b.yaml", tmp_path / "o.yaml"
    base.write_text(broken_base, encoding="utf-8")
    overlay.write_text(ADDED, encoding="utf-8")
    with pytest.raises(RulesetError) as error:
        load_ruleset(base, overlay=overlay)
    assert [p.file for p in error.value.problems] == [str(base)]


def test_an_unreadable_or_malformed_overlay_is_a_located_problem(tmp_path: Path) -> None:
    base, overlay = _files(tmp_path, "")
    with pytest.raises(RulesetError) as error:
        load_ruleset(base, overlay=tmp_path / "missing.yaml")
    assert error.value.problems[0].message.startswith("cannot read file")
    overlay.write_bytes(b"params:\n  limit: \xff\n")
    with pytest.raises(RulesetError) as error:
        load_ruleset(base, overlay=overlay)
    assert (error.value.problems[0].line, error.value.problems[0].check) == (2, "encoding")
    for text, check in (
        ("- a list\n", "wrong-type"),
        ("rules: {id: x}\n", "wrong-type"),
        ("disable: [daily-loss, daily-loss]\n", "bad-value"),
        ("params: {limit: 1}\nparams: {limit: 2}\n", "duplicate-key"),
    ):
        compilation = analyse_overlay(BASE, "base.yaml", text, "o.yaml")
        assert compilation.ruleset is None
        assert check in {p.check for p in compilation.problems}, (text, compilation.problems)
        assert all(p.file == "o.yaml" for p in compilation.problems)


def test_a_base_rule_is_changed_by_disabling_it_and_adding_another_id() -> None:
    compilation = analyse_overlay(
        BASE,
        "base.yaml",
        "disable: [blocked-root]\n"
        "rules:\n"
        "  - id: blocked-root-v2\n"
        "    trigger: [position]\n"
        "    each: position\n"
        "    when: position.symbol in blocked or position.symbol == 'BTC'\n"
        "    then: [close_position]\n",
        "o.yaml",
    )
    assert compilation.problems == []
    assert compilation.ruleset is not None
    assert [r.id for r in compilation.ruleset.rules if r.enabled] == [
        "daily-loss",
        "blocked-root-v2",
    ]


def test_lint_paths_with_a_base_counts_the_merged_rules(tmp_path: Path) -> None:
    base, overlay = _files(tmp_path, ADDED)
    result = lint_paths([overlay], base=base)
    assert result.ok
    assert result.rule_counts == {str(base): 2, str(overlay): 3}
    missing = lint_paths([overlay], base=tmp_path / "nope.yaml")
    assert not missing.ok and missing.problems[0].file == str(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("written", "number"),
    [("$500", "500"), ("500 USD", "500"), ("1,000", "1000"), ("$ 1,250.50", "1250.50")],
)
def test_a_limit_written_as_money_says_to_write_the_number_alone(written: str, number: str) -> None:
    """An admin writes a limit as the statement shows it ($500, 1,000): that is a string, and
    the refusal said only "the override is a string", leaving the fix to guess."""
    compilation = analyse_overlay(BASE, "base.yaml", f'params: {{limit: "{written}"}}\n', "o.yaml")
    assert compilation.ruleset is None
    (problem,) = compilation.problems
    assert (problem.line, problem.check) == (1, "wrong-type")
    assert problem.hint is not None and problem.hint.endswith(f"limit: {number}")


def test_a_word_where_a_number_belongs_gets_no_number_hint() -> None:
    compilation = analyse_overlay(BASE, "base.yaml", "params: {limit: five hundred}\n", "o.yaml")
    (problem,) = compilation.problems
    assert problem.check == "wrong-type" and problem.hint is None


def test_a_base_rule_broken_by_one_overlay_param_is_reported_at_that_param() -> None:
    """A duration the base reads from a param, given by the overlay as "90 min": the problem
    is the overlay's, and was reported at its line 1 ("params:"), not at the value to fix."""
    overlay = 'disable: [blocked-root]\nparams:\n  limit: 400\n  grace: "90 min"\n'
    base = BASE.replace("then: [flatten]", "for: params.grace\n    then: [flatten]")
    compilation = analyse_overlay(base, "base.yaml", overlay, "o.yaml")
    assert compilation.ruleset is None
    (problem,) = compilation.problems
    assert (problem.file, problem.line, problem.column) == ("o.yaml", 4, 10), problem
    assert '"90 min" is not a valid duration' in problem.message
