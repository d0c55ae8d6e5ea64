"""Every rule test file under tests/rules passes, and every rule of every tested ruleset fires.

The same check as ``simple-risk rules test tests/rules --coverage``, one pytest case per rule
test case so a failure names the case and prints expected against got.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simple_risk.engine.ruletest import RuleTestCase, collect_files, load_test_file, run_files
from simple_risk.engine.ruletest.runner import RunReport, case_ruleset, run_case

HERE = Path(__file__).resolve().parent
FILES = collect_files([HERE])
LOADED = [load_test_file(path) for path in FILES]
CASES = [case for loaded in LOADED for case in loaded.cases]


def test_rule_test_files_load_without_problems() -> None:
    problems = [p.format() for loaded in LOADED for p in loaded.problems]
    assert not problems, "\n".join(problems)
    assert len(FILES) >= 13


@pytest.mark.parametrize("case", CASES, ids=[f"{Path(c.file).stem}: {c.name}" for c in CASES])
def test_rule_test_case(case: RuleTestCase) -> None:
    report = RunReport()
    ruleset = case_ruleset(case, report)
    assert ruleset is not None, [p.format() for p in report.problems]
    result = run_case(case, ruleset)
    assert result.passed, "\n".join(result.failures)


def test_every_rule_of_every_tested_ruleset_fires_in_some_test() -> None:
    report = run_files([HERE])
    coverage = report.coverage()
    missing = {
        path.name: uncovered for path, (_covered, uncovered) in coverage.items() if uncovered
    }
    assert not missing, missing
    topstep = next(p for p in coverage if p.name == "topstep.yaml")
    _ids, tags = report.rulesets[topstep]
    rule_tags = {t for rule_tags in tags.values() for t in rule_tags if t.startswith("RULE-")}
    assert rule_tags == {f"RULE-{n:03d}" for n in range(1, 13)}
