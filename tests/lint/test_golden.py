"""Golden files: every lint check has a bad ruleset here and its exact expected report.

``tests/lint/<check>.yaml`` is linted from this directory (so paths in the report are relative
and machine-independent) and the output must equal ``<check>.expected`` exactly, so a check
that stops reporting, or reports the wrong place, fails. Files named ``strict_*`` are linted
with ``--strict``; files named ``warn_*`` hold only warnings, so lint still succeeds; a check
with several cases has ``<check>--<case>.yaml`` files. After a
deliberate change of wording, regenerate with ``UPDATE_GOLDEN=1 pytest tests/lint`` and
review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the rules group)
)

HERE = Path(__file__).resolve().parent
CASES = sorted(p.name for p in HERE.glob("*.yaml"))

#: every check id the compiler and the lint checks can report, each with its golden file
CHECK_IDS = {
    "action-argument",
    "action-context",
    "assignment",
    "bad-arguments",
    "bad-date",
    "bad-duration",
    "bad-format-spec",
    "bad-key",
    "bad-symbol",
    "bad-template",
    "bad-time",
    "bad-timezone",
    "bad-value",
    "calendar-override",
    "comparison-type",
    "derive-cycle",
    "derive-spec",
    "disabled-rule",
    "duplicate-key",
    "duplicate-rule-id",
    "empty-file",
    "encoding",
    "expression-syntax",
    "fires-at-rest",
    "forbidden-syntax",
    "list-type",
    "macro-cycle",
    "missing-description",
    "missing-key",
    "negative-size",
    "multiple-statements",
    "never-fires",
    "param-range",
    "not-boolean",
    "optional-enabled",
    "requires",
    "refire-clock",
    "refire-conflict",
    "refire-trigger",
    "reserved-name",
    "type-error",
    "unbound-family",
    "unguarded-optional",
    "unknown-action",
    "unknown-fact",
    "unknown-key",
    "unknown-name",
    "unknown-param",
    "unknown-session",
    "unknown-symbol",
    "unknown-value",
    "unused-list",
    "unused-macro",
    "unused-param",
    "unused-derived",
    "wrong-type",
    "yaml-alias",
    "yaml-depth",
    "yaml-key",
    "yaml-size",
    "yaml-syntax",
    "yaml-tag",
    "yaml-value",
    "zero-divisor",
}


def _lint(monkeypatch: pytest.MonkeyPatch, name: str, *extra: str) -> tuple[int, str]:
    monkeypatch.chdir(HERE)
    args = ["rules", "lint", *extra]
    if name.startswith("strict_"):
        args.append("--strict")
    result = CliRunner().invoke(cli, [*args, name])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


@pytest.mark.parametrize("name", CASES)
def test_each_bad_ruleset_reports_exactly_its_golden_output(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    code, output = _lint(monkeypatch, name)
    expected_file = HERE / name.replace(".yaml", ".expected")
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.write_text(output, encoding="utf-8")
    assert output == expected_file.read_text(encoding="utf-8")
    assert code == (0 if name.startswith("warn_") else 1)


@pytest.mark.parametrize("name", CASES)
def test_each_golden_file_exercises_the_check_it_is_named_after(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    case = name.removesuffix(".yaml").removeprefix("strict_").removeprefix("warn_")
    check = case.split("--")[0]
    _, output = _lint(monkeypatch, name, "--format", "json")
    report = json.loads(output)
    checks = {p["check"] for f in report["files"] for p in f["problems"]}
    if check == "unused":
        assert {"unused-param", "unused-list", "unused-macro"} <= checks
    elif check == "unused-after-error":
        # a definition whose only user failed is not "unused": that user's error is reported
        unused = [
            p["message"]
            for f in report["files"]
            for p in f["problems"]
            if p["check"].startswith("unused-")
        ]
        assert unused == ['param "spare_limit" is never used']
        assert "unknown-fact" in checks
    elif check == "many-mistakes":
        assert len(report["files"][0]["problems"]) == 8
    else:
        assert check in checks


def test_every_check_has_a_golden_file(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[str] = set()
    for name in CASES:
        _, output = _lint(monkeypatch, name, "--format", "json")
        seen |= {p["check"] for f in json.loads(output)["files"] for p in f["problems"]}
    assert seen >= CHECK_IDS, CHECK_IDS - seen
    assert seen <= CHECK_IDS, seen - CHECK_IDS


def test_a_ruleset_with_many_mistakes_gets_one_located_message_per_mistake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, output = _lint(monkeypatch, "many-mistakes.yaml")
    *lines, summary = output.splitlines()
    assert len(lines) == 8
    assert all(line.startswith("many-mistakes.yaml:") for line in lines)
    assert all(": error: " in line for line in lines)
    assert len({line.split(": ", 1)[0] for line in lines}) == 8
    assert summary == "8 errors, 0 warnings in 1 file"


def test_all_files_are_reported_in_one_run_and_good_files_say_success(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(HERE)
    good = HERE.parent.parent / "rulesets" / "topstep.yaml"
    result = CliRunner().invoke(
        cli, ["rules", "lint", "unknown-fact.yaml", str(good), "type-error.yaml"]
    )
    lines = result.output.splitlines()
    assert result.exit_code == 1
    assert lines[0].startswith("unknown-fact.yaml:5:11:")
    assert re.fullmatch(rf"SUCCESS: [0-9]+ rules in {re.escape(str(good))}", lines[-3])
    assert lines[-2].startswith("type-error.yaml:5:11: error: ")
    assert re.fullmatch(r"[0-9]+ errors, 0 warnings in 3 files", lines[-1])


def test_every_check_is_documented_in_the_lint_page() -> None:
    page = (HERE.parent.parent / "docs" / "lint.md").read_text(encoding="utf-8")
    missing = sorted(c for c in CHECK_IDS if f"`{c}`" not in page)
    assert not missing, f"add these check ids to the table in docs/lint.md: {missing}"
