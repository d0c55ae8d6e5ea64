"""``rules test``: timed input events in, expected firings, intents and lockouts out.

The engine-side half of ``simple-risk rules test`` (the click command is
:mod:`simple_risk.cli.rules_test`): :mod:`.testfile` loads and validates test files with
located errors, :mod:`.runner` plays each case against a fresh :class:`~simple_risk.engine.
engine.Engine` in engine time and compares, :mod:`.observe` turns firings, intents and locks
into the words test files use, :mod:`.contracts` resolves tickers to contract metadata. The
file format is documented in ``docs/rule-tests.md``.
"""

from simple_risk.engine.ruletest.runner import (
    CaseResult,
    RunReport,
    collect_files,
    load_files,
    run_case,
    run_cases,
    run_files,
)
from simple_risk.engine.ruletest.testfile import (
    RuleTestCase,
    RuleTestFile,
    load_test_file,
    load_test_text,
)

__all__ = [
    "CaseResult",
    "RuleTestCase",
    "RuleTestFile",
    "RunReport",
    "collect_files",
    "load_files",
    "load_test_file",
    "load_test_text",
    "run_case",
    "run_cases",
    "run_files",
]
