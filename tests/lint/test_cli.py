"""``rules lint`` as CI and editors call it: the output formats, directories and standard input.

The golden files pin the text format problem by problem; here: the summary line, the JSON
summary, GitHub workflow annotations (escaped as the runner expects), a directory linted as
every ruleset under it (rule tests skipped) and ``-`` read from standard input.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the rules group)
)
from simple_risk.cli.lint_report import annotation
from simple_risk.engine.dsl.problems import Problem

HERE = Path(__file__).resolve().parent
GOOD = """\
ruleset: good
rules:
  - id: daily-loss
    description: Daily loss limit.
    trigger: [trade]
    when: day.realized_pnl <= -500
    then: [flatten]
"""
BAD = GOOD.replace("day.realized_pnl", "day.realised_pnl")


def _lint(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["rules", "lint", *args], input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_the_summary_counts_errors_and_warnings_of_every_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(HERE)
    code, output = _lint("many-mistakes.yaml", "warn_unknown-symbol.yaml", "type-error.yaml")
    assert code == 1
    assert output.splitlines()[-1] == "9 errors, 8 warnings in 3 files"


def test_warnings_alone_pass_and_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    code, output = _lint("warn_unknown-symbol.yaml")
    lines = output.splitlines()
    assert code == 0
    assert ": warning: " in lines[0] and lines[0].endswith("(unknown-symbol)")
    assert lines[-1] == "0 errors, 8 warnings in 1 file"


def test_json_carries_severity_check_and_a_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    _, output = _lint("--format", "json", "many-mistakes.yaml", "warn_unknown-symbol.yaml")
    report = json.loads(output)
    assert report["summary"] == {"errors": 8, "warnings": 8, "files": 2}
    first = report["files"][0]["problems"][0]
    assert (first["severity"], first["check"], first["line"]) == ("error", "bad-timezone", 3)
    assert report["files"][1]["problems"][0]["severity"] == "warning"


def test_github_format_prints_one_workflow_annotation_per_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(HERE)
    code, output = _lint("--format", "github", "unknown-param.yaml", "warn_unknown-symbol.yaml")
    lines = output.splitlines()
    assert code == 1
    assert lines[0] == (
        "::error file=unknown-param.yaml,line=7,col=32,title=unknown-param::"
        'rule "daily-loss": unknown param "daily_loss_limt"; did you mean "daily_loss_limit"?'
    )
    assert lines[1].startswith("::warning file=warn_unknown-symbol.yaml,line=")
    assert lines[-1] == "1 error, 8 warnings in 2 files"


def test_an_annotation_escapes_what_the_runner_would_misread() -> None:
    problem = Problem("dir,x/a:b.yaml", 0, 0, "50% off\nnext", "file")
    assert annotation(problem) == "::error file=dir%2Cx/a%3Ab.yaml,title=file::50%25 off%0Anext"


def test_a_directory_is_every_ruleset_under_it_but_not_its_rule_tests(tmp_path: Path) -> None:
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "nested" / "deeper" / "b.yml").write_text(BAD, encoding="utf-8")
    (tmp_path / "nested" / "a.test.yaml").write_text("not: a ruleset\n", encoding="utf-8")
    (tmp_path / ".hidden" / "c.yaml").write_text("broken: [\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored\n", encoding="utf-8")
    code, output = _lint("--strict", str(tmp_path))
    lines = output.splitlines()
    assert code == 1
    assert lines[0] == f"SUCCESS: 1 rule in {tmp_path / 'a.yaml'}"
    assert lines[1].startswith(f"{tmp_path / 'nested' / 'deeper' / 'b.yml'}:6:11: error: ")
    assert lines[-1] == "1 error, 0 warnings in 2 files"


def test_a_directory_without_rulesets_is_a_usage_error(tmp_path: Path) -> None:
    code, output = _lint(str(tmp_path))
    assert code == 2
    assert "no *.yaml or *.yml files" in output


def test_dash_reads_one_ruleset_from_standard_input() -> None:
    code, output = _lint("-", stdin=BAD)
    assert code == 1
    assert output.splitlines()[0].startswith('<stdin>:6:11: error: rule "daily-loss": ')
    code, output = _lint("--stdin-filename", "mine.yaml", "-", stdin=GOOD)
    assert (code, output) == (0, "SUCCESS: 1 rule in mine.yaml\nno problems in 1 file\n")


def test_a_stdin_filename_without_stdin_is_a_usage_error_not_ignored(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    code, output = _lint("--stdin-filename", "mine.yaml", str(tmp_path / "a.yaml"))
    assert code == 2
    assert "no FILE is -" in output and "--stdin-filename mine.yaml -" in output


def test_a_file_named_again_inside_a_directory_is_linted_once(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    code, output = _lint(str(tmp_path / "a.yaml"), str(tmp_path))
    assert (code, output.splitlines()[-1]) == (0, "no problems in 1 file")


def test_a_directory_of_overlays_is_checked_against_its_base(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(GOOD, encoding="utf-8")
    (tmp_path / "overlays").mkdir()
    (tmp_path / "overlays" / "1.yaml").write_text("params: {}\n", encoding="utf-8")
    (tmp_path / "overlays" / "2.yaml").write_text("disable: [daily-los]\n", encoding="utf-8")
    code, output = _lint("--base", str(base), str(tmp_path / "overlays"))
    lines = output.splitlines()
    assert code == 1
    assert lines[:2] == [
        f"SUCCESS: 1 rule in {base}",
        f"SUCCESS: 1 rule in {tmp_path / 'overlays' / '1.yaml'} over {base}",
    ]
    assert lines[2].endswith('did you mean "daily-loss"? (unknown-rule)')
    assert lines[-1] == "1 error, 0 warnings in 3 files"
