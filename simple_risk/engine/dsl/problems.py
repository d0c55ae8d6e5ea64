"""Located problems: what the loader, the compiler and every lint check report.

A problem is a value, never an exception, so one run can report every mistake in every file.
``Problem.format()`` is the short line the daemon and the admin commands print,
``FILE:LINE:COL: rule "ID": MESSAGE (hint)``; ``rules lint`` adds the severity and the check
id (:mod:`simple_risk.cli.lint_report`, the format its golden files compare).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Problem:
    """One located mistake (or, with ``severity="warning"``, a suspicious construct)."""

    file: str
    line: int
    column: int
    message: str
    check: str
    rule_id: str | None = None
    hint: str | None = None
    severity: str = "error"

    def format(self) -> str:
        rule = f'rule "{self.rule_id}": ' if self.rule_id is not None else ""
        level = "warning: " if self.severity == "warning" else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.file}:{self.line}:{self.column}: {level}{rule}{self.message}{hint}"

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "rule": self.rule_id,
            "message": self.message,
            "hint": self.hint,
            "severity": self.severity,
            "check": self.check,
        }


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """File order, then position; duplicates (same place, same text) are reported once."""
    seen: set[tuple[str, int, int, str]] = set()
    unique: list[Problem] = []
    for problem in problems:
        key = (problem.file, problem.line, problem.column, problem.message)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return sorted(unique, key=lambda p: (p.file, p.line, p.column))


class RulesetError(Exception):
    """A ruleset failed to load; ``problems`` holds every located error found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        first = self.problems[0].format() if self.problems else "invalid ruleset"
        more = len(self.problems) - 1
        super().__init__(first + (f" (and {more} more)" if more > 0 else ""))


@dataclass(slots=True)
class LintResult:
    """Problems of every linted file plus the rule count of each file that compiled."""

    problems: list[Problem] = field(default_factory=list)
    rule_counts: dict[str, int] = field(default_factory=dict)
    #: file → for each compiled rule: its id, ``refire:`` and what that makes it do
    episodes: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean "x"?' hint when a close candidate exists."""
    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f'did you mean "{matches[0]}"?' if matches else None
