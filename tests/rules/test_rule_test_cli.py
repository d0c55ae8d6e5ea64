"""``simple-risk rules test``: exit status, -v, --run and --coverage as a gate."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from simple_risk.cli import cli
from simple_risk.cli import commands as _commands  # noqa: F401  (registers the sub-groups)

RULESET = """\
ruleset: tiny
params:
  daily_loss_limit: 500
rules:
  - id: daily-loss
    description: The day's net realized P&L at or below the limit locks the account.
    trigger: [trade, reconcile]
    when: day.realized_pnl <= -params.daily_loss_limit
    then:
      - flatten
  - id: can-trade
    description: canTrade false flattens.
    trigger: [account]
    when: not account.can_trade
    then: [flatten]
"""

CASES = """\
ruleset: tiny.yaml
start: 2026-11-24T09:00:00-06:00
tests:
  - name: a loss of exactly the limit breaches
    events:
      - {at: 1s, fill: {order: 1, contract: MNQ, side: sell, size: 1, price: 21000, pnl: -500}}
    expect:
      - {at: 1s, fired: [daily-loss]}
  - name: a smaller loss does not
    events:
      - {at: 1s, fill: {order: 1, contract: MNQ, side: sell, size: 1, price: 21000, pnl: -499}}
    expect:
      - {at: 1s, fired: [can-trade]}
"""


def _files(tmp_path: Path, cases: str) -> Path:
    (tmp_path / "tiny.yaml").write_text(RULESET, encoding="utf-8")
    path = tmp_path / "tiny.test.yaml"
    path.write_text(cases, encoding="utf-8")
    return path


def test_passing_cases_exit_zero_and_verbose_lists_them(tmp_path: Path) -> None:
    path = _files(tmp_path, CASES.replace("fired: [can-trade]", "fired: []"))
    result = CliRunner().invoke(cli, ["rules", "test", "-v", str(path)])
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and "a smaller loss does not" in result.output
    assert result.output.rstrip().endswith("SUCCESS: 2 cases passed")


def test_a_failing_case_exits_one_with_expected_and_got(tmp_path: Path) -> None:
    path = _files(tmp_path, CASES)
    result = CliRunner().invoke(cli, ["rules", "test", str(path)])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "expected: [can-trade]" in result.output
    assert "FAILED: 1 of 2 cases" in result.output


def test_run_selects_cases_by_regex(tmp_path: Path) -> None:
    path = _files(tmp_path, CASES)
    result = CliRunner().invoke(cli, ["rules", "test", "--run", "exactly", str(path)])
    assert result.exit_code == 0, result.output
    assert "SUCCESS: 1 cases passed" in result.output


def test_coverage_fails_when_a_rule_never_fires(tmp_path: Path) -> None:
    path = _files(tmp_path, CASES.replace("fired: [can-trade]", "fired: []"))
    result = CliRunner().invoke(cli, ["rules", "test", "--coverage", str(path)])
    assert result.exit_code == 1
    assert "coverage: tiny.yaml: 1/2 rules fire" in result.output
    assert "no test makes can-trade fire" in result.output


def test_a_broken_test_file_exits_one_with_a_located_error(tmp_path: Path) -> None:
    path = _files(
        tmp_path,
        CASES.replace(
            "contract: MNQ, side: sell, size: 1, price: 21000, pnl: -500", "contract: MNQ"
        ),
    )
    result = CliRunner().invoke(cli, ["rules", "test", str(path)])
    assert result.exit_code == 1
    assert f"{path}:6:" in result.output


def test_a_test_file_that_is_not_utf8_is_a_located_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "saved-by-notepad.test.yaml"
    path.write_bytes(b"\xff\xferuleset: tiny.yaml\n")
    result = CliRunner().invoke(cli, ["rules", "test", str(path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{path}:1:1: the file is not UTF-8 text" in result.output


def test_an_empty_test_file_says_what_a_test_file_holds(tmp_path: Path) -> None:
    path = tmp_path / "new.test.yaml"
    path.write_text("", encoding="utf-8")
    result = CliRunner().invoke(cli, ["rules", "test", str(path)])
    assert result.exit_code == 1
    assert f"{path}:1:1: the file is empty" in result.output
    assert "a ruleset is" not in result.output and "tests:" in result.output


def test_a_run_filter_that_is_no_regex_is_a_usage_error(tmp_path: Path) -> None:
    path = _files(tmp_path, CASES)
    result = CliRunner().invoke(cli, ["rules", "test", str(path), "--run", "(loss"])
    assert result.exit_code == 2
    assert "--run" in result.output and "not a regular expression" in result.output


def test_what_ran_nothing_says_why(tmp_path: Path) -> None:
    path = _files(tmp_path, CASES)
    result = CliRunner().invoke(cli, ["rules", "test", str(path), "--run", "no such case"])
    assert result.exit_code == 1
    assert "no test case matches --run 'no such case'" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["rules", "test", str(empty)])
    assert result.exit_code == 1
    assert f"no *.test.yaml file in {empty}" in result.output


def test_exitfirst_stops_at_the_first_failing_case(tmp_path: Path) -> None:
    first_fails = CASES.replace("fired: [daily-loss]", "fired: []")
    path = _files(tmp_path, first_fails)
    result = CliRunner().invoke(cli, ["rules", "test", "-x", str(path)])
    assert result.exit_code == 1
    assert "a loss of exactly the limit breaches" in result.output
    assert "a smaller loss does not" not in result.output
    assert "FAILED: 1 of 1 cases" in result.output
    assert "stopped at the first failing case" in result.output


def test_exitfirst_runs_every_case_when_none_fails(tmp_path: Path) -> None:
    path = _files(tmp_path, CASES.replace("fired: [can-trade]", "fired: []"))
    result = CliRunner().invoke(cli, ["rules", "test", "--exitfirst", str(path)])
    assert result.exit_code == 0, result.output
    assert "SUCCESS: 2 cases passed" in result.output


def test_exitfirst_and_coverage_are_refused_together(tmp_path: Path) -> None:
    path = _files(tmp_path, CASES)
    result = CliRunner().invoke(cli, ["rules", "test", "-x", "--coverage", str(path)])
    assert result.exit_code == 2
    assert "--coverage needs every case run" in result.output
