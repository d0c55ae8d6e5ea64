"""Plays rule test cases against the engine and compares what happened with what was expected.

Called by ``simple-risk rules test`` (:mod:`simple_risk.cli.rules_test`). Each case gets a fresh
engine built from its ruleset with the case's param overrides. The runner feeds, in engine time:
contract metadata, the opening balance and a reconciliation at the case start, then the case's
events; before each event (and before each expectation) it fires every timer the engine asks
for (``next_deadline()``), plus a clock tick every ``tick:`` when the case asks for one, exactly
as the daemon's clock does — so ``for:`` grace periods, cooldown ends and the daily reset happen
at their exact instants, and nothing ever sleeps.

An expectation at time T looks at the firings since the previous expectation (the first one:
since the case start), up to and including T, and at the lockouts in force at T.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.events import (
    AccountUpdate,
    ClockTick,
    ContractLoaded,
    Event,
    Reconciled,
)
from simple_risk.engine.model import Ruleset
from simple_risk.engine.ruletest.observe import (
    ObservedFiring,
    ObservedLock,
    Observer,
    describe_intent,
    intent_key,
)
from simple_risk.engine.ruletest.testfile import (
    Expectation,
    LockExpectation,
    RuleTestCase,
    load_test_file,
)


@dataclass(slots=True)
class CaseResult:
    case: RuleTestCase
    failures: list[str] = field(default_factory=list)
    fired_rules: set[str] = field(default_factory=set)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None


@dataclass(slots=True)
class RunReport:
    results: list[CaseResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: ruleset path → (rule ids in file order, rule id → tags)
    rulesets: dict[Path, tuple[list[str], dict[str, tuple[str, ...]]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.passed for r in self.results)

    def coverage(self) -> dict[Path, tuple[list[str], list[str]]]:
        """Per ruleset: (rules some passing case made fire, rules no test made fire)."""
        out: dict[Path, tuple[list[str], list[str]]] = {}
        for path, (rule_ids, _tags) in self.rulesets.items():
            fired: set[str] = set()
            for result in self.results:
                if result.case.ruleset == path and result.passed:
                    fired |= result.fired_rules
            covered = [r for r in rule_ids if r in fired]
            missing = [r for r in rule_ids if r not in fired]
            out[path] = (covered, missing)
        return out


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """Test files named on the command line; a directory means its ``*.test.yaml`` files."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.test.yaml")))
        else:
            files.append(path)
    return files


def load_files(paths: Sequence[Path]) -> tuple[list[RuleTestCase], list[Problem]]:
    """Every case of the files (a directory: its ``*.test.yaml``), and every problem found
    loading them: parsed once, the cases can be run again against a changed ruleset (the
    mutation check plays each of its mutants against the same cases)."""
    cases: list[RuleTestCase] = []
    problems: list[Problem] = []
    for path in collect_files(paths):
        loaded = load_test_file(path)
        problems.extend(loaded.problems)
        # a file with an error is not run: what its cases would test is not what it says
        # (of a duplicate key, the second silently won), and a PASS beside the error misleads
        if not any(problem.severity == "error" for problem in loaded.problems):
            cases.extend(loaded.cases)
    return cases, problems


def run_files(
    paths: Sequence[Path], *, name_filter: str | None = None, first_failure: bool = False
) -> RunReport:
    """Load every file (reporting all problems), then run the cases whose name matches."""
    cases, problems = load_files(paths)
    return run_cases(cases, problems, name_filter=name_filter, first_failure=first_failure)


def run_cases(
    cases: Sequence[RuleTestCase],
    problems: Sequence[Problem] = (),
    *,
    name_filter: str | None = None,
    first_failure: bool = False,
) -> RunReport:
    """Run ``cases`` in order, each on a fresh engine; each ruleset is read from its file
    once per run. With ``first_failure`` the run stops after the first case that fails (the
    cases after it are not in the report)."""
    report = RunReport(problems=list(problems))
    pattern = re.compile(name_filter) if name_filter else None
    rulesets: dict[tuple[Path, tuple[tuple[str, str], ...], tuple[str, ...]], Ruleset] = {}
    for case in cases:
        if pattern is not None and not pattern.search(case.name):
            continue
        params_key = tuple(sorted((k, repr(v)) for k, v in case.params.items()))
        key = (case.ruleset, params_key, tuple(sorted(case.enable)))
        if key not in rulesets:
            loaded_ruleset = case_ruleset(case, report)
            if loaded_ruleset is None:
                continue
            rulesets[key] = loaded_ruleset
        ruleset = rulesets[key]
        _check_names(case, ruleset, report)
        if case.ruleset not in report.rulesets:
            report.rulesets[case.ruleset] = (
                [rule.id for rule in ruleset.rules],
                {rule.id: rule.tags for rule in ruleset.rules},
            )
        try:
            result = run_case(case, ruleset)
        except Exception as exc:  # an engine bug must fail the case, not crash the run
            result = CaseResult(case, error=f"the engine raised {type(exc).__name__}: {exc}")
        report.results.append(result)
        if first_failure and not result.passed:
            break
    return report


def case_ruleset(case: RuleTestCase, report: RunReport) -> Ruleset | None:
    """The case's ruleset with its params and ``enable:``; problems go to ``report``."""
    from simple_risk.engine.dsl import load_ruleset
    from simple_risk.engine.dsl.problems import RulesetError

    try:
        ruleset = load_ruleset(case.ruleset, params=case.params or None)
    except RulesetError as exc:
        for problem in exc.problems:
            problem = _at_override(problem, case)
            if problem not in report.problems:
                report.problems.append(problem)
        return None
    return _enabled(ruleset, case, report)


_OVERRIDE = re.compile(r'(?:override names unknown param|^the override of param|^param) "([^"]+)"')


def _at_override(problem: Problem, case: RuleTestCase) -> Problem:
    """A problem the ruleset compiler found with an override (``params: {limit: "500"}``
    where ``limit`` is a number, a param it does not declare, a value outside the param's
    range) is the test file's: it is
    reported where the override is written, not at line 1 of the ruleset."""
    found = _OVERRIDE.search(problem.message)
    at_top = (problem.line, problem.column) == (1, 1)
    if found is None or "override" not in problem.message or not at_top:
        return problem
    for place in case.param_places:
        if place.name == found.group(1):
            return dataclasses.replace(
                problem, file=case.file, line=place.line, column=place.column
            )
    return problem


#: firing names other than a rule's own id: ``lockout:RULE``, ``error:RULE``, ``unknown:RULE``
_FIRING_PREFIXES = ("lockout:", "error:", "unknown:")
#: the first word of every intent a test may expect (docs/rule-tests.md, "Intents")
INTENT_WORDS = (
    "cancel_order",
    "resize_order",
    "cancel_orders",
    "close_position",
    "reduce_to",
    "stop_at",
    "alert",
)


def _check_names(case: RuleTestCase, ruleset: Ruleset, report: RunReport) -> None:
    """Rule ids and intents an expectation names must exist: ``not_fired: [typo]`` could
    never fail, and ``fired: [typo]`` would fail as if the rule were wrong."""
    known = {rule.id for rule in ruleset.rules}
    # a derived fact whose sample fails fires as error:derived.NAME
    known |= {f"derived.{fact.name}" for fact in ruleset.derived}

    def problem(line: int, message: str, hint: str) -> None:
        found = Problem(case.file, line, 1, message, "rule-test", hint=hint)
        if found not in report.problems:
            report.problems.append(found)

    for expectation in case.expectations:
        named = [*(expectation.fired or ()), *expectation.not_fired]
        named += [lock.rule for lock in expectation.lockouts or () if lock.rule is not None]
        for name in named:
            rule_id = next((name[len(p) :] for p in _FIRING_PREFIXES if name.startswith(p)), name)
            if rule_id not in known:
                ids = sorted(known)
                listed = ", ".join(ids[:8]) + (", …" if len(ids) > 8 else "")
                hint = did_you_mean(rule_id, known) or f"{case.ruleset.name} has: {listed}"
                problem(expectation.line, f"no rule {rule_id!r} in the ruleset", hint)
        for intent in [*(expectation.intents or ()), *(expectation.pending or ())]:
            word = intent.split()[0] if intent.split() else intent
            if word not in INTENT_WORDS:
                hint = did_you_mean(word, INTENT_WORDS) or "one of: " + ", ".join(INTENT_WORDS)
                problem(expectation.line, f"unknown intent {intent!r}", hint)


def _enabled(ruleset: Ruleset, case: RuleTestCase, report: RunReport) -> Ruleset | None:
    """The ruleset with the case's ``enable:`` rules switched on, as an overlay would."""
    if not case.enable:
        return ruleset
    known = {rule.id for rule in ruleset.rules}
    unknown = [rule_id for rule_id in case.enable if rule_id not in known]
    if unknown:
        hint = did_you_mean(unknown[0], known) or "enable names rules of the ruleset"
        message = f"case {case.name!r} enables unknown rule {unknown[0]!r}"
        report.problems.append(Problem(case.file, case.line, 1, message, "rule-test", hint=hint))
        return None
    rules = tuple(
        dataclasses.replace(rule, enabled=True) if rule.id in case.enable else rule
        for rule in ruleset.rules
    )
    return dataclasses.replace(ruleset, rules=rules)


def run_case(case: RuleTestCase, ruleset: Ruleset) -> CaseResult:
    """Play one case against a fresh engine and check every expectation."""
    result = CaseResult(case)
    observer = Observer(ruleset, case.unknown_after)
    setup: list[Event] = [ContractLoaded(at=case.start, contract=c) for c in case.contracts]
    setup.append(
        AccountUpdate(
            at=case.start,
            account_id=case.account,
            name=f"TEST-{case.account}",
            balance=case.balance,
            can_trade=True,
        )
    )
    setup.append(Reconciled(at=case.start, account_id=case.account))
    timeline = [*setup, *(timed.event for timed in case.events)]
    player = _Player(observer, case)
    window_start = 0
    queue = deque(timeline)
    for expectation in case.expectations:
        while queue and queue[0].at <= expectation.at:
            player.feed(queue.popleft())
        player.advance_to(expectation.at)
        firings = observer.firings[window_start:]
        window_start = len(observer.firings)
        result.fired_rules |= {f.rule for f in firings}
        locks = observer.active_locks(case.account, expectation.at)
        pending = observer.pending(case.account)
        result.failures.extend(_compare(case, expectation, firings, locks, pending))
    # events after the last expectation would be checked by nothing: they are not played, and
    # a rule they would make fire does not count as covered
    return result


class _Player:
    """Feeds events in engine time, firing the engine's timers (and optional ticks) between."""

    def __init__(self, observer: Observer, case: RuleTestCase) -> None:
        self.observer = observer
        self.tick = case.tick
        self.next_tick = case.start + case.tick if case.tick is not None else None
        self.now = case.start

    def advance_to(self, at: datetime) -> None:
        stalled = 0
        while True:
            deadline = self.observer.next_deadline()
            candidates = [d for d in (deadline, self.next_tick) if d is not None and d <= at]
            if not candidates:
                return
            when = max(min(candidates), self.now)
            if self.next_tick is not None and self.tick is not None and self.next_tick <= when:
                self.next_tick += self.tick
            elif when == self.now:
                # the engine asked again for an instant it has just been given: it will not
                # progress by ticking it once more (the expectation shows what it did)
                stalled += 1
                if stalled > 2:
                    return
            self.observer.apply(ClockTick(at=when))
            self.now = when

    def feed(self, event: Event) -> None:
        self.advance_to(event.at)
        self.observer.apply(event)
        self.now = max(self.now, event.at)


def _compare(
    case: RuleTestCase,
    expectation: Expectation,
    firings: list[ObservedFiring],
    locks: list[ObservedLock],
    pending: list[str],
) -> list[str]:
    failures: list[str] = []
    where = f"{case.file}:{expectation.line}: at {expectation.at.isoformat()}"
    tz = expectation.at.tzinfo
    got_rules = sorted(f.rule for f in firings)
    if expectation.fired is not None and Counter(got_rules) != Counter(expectation.fired):
        failures.append(
            f"{where}: fired\n    expected: {_list(sorted(expectation.fired))}\n"
            f"    got:      {_list(got_rules)}{_detail(firings, tz)}"
        )
    wrongly = sorted({r for r in expectation.not_fired if r in got_rules})
    if wrongly:
        failures.append(
            f"{where}: not_fired\n    fired anyway: {_list(wrongly)}{_detail(firings, tz)}"
        )
    if expectation.intents is not None:
        got_intents = [describe_intent(i) for f in firings for i in f.intents]
        if _intent_keys(got_intents) != _intent_keys(expectation.intents):
            failures.append(
                f"{where}: intents\n    expected: {_list(list(expectation.intents))}\n"
                f"    got:      {_list(got_intents)}"
            )
    if expectation.pending is not None and _intent_keys(pending) != _intent_keys(
        expectation.pending
    ):
        failures.append(
            f"{where}: pending\n    expected: {_list(list(expectation.pending))}\n"
            f"    got:      {_list(pending)}"
        )
    if expectation.lockouts is not None and not _locks_match(expectation.lockouts, locks):
        wanted = [e.describe() for e in expectation.lockouts]
        failures.append(
            f"{where}: lockouts\n    expected: {_list(wanted)}\n"
            f"    got:      {_list([lock.describe() for lock in locks])}"
        )
    if expectation.locked is not None:
        account_locked = any(lock.scope == "account" for lock in locks)
        if account_locked != expectation.locked:
            failures.append(
                f"{where}: locked\n    expected: {str(expectation.locked).lower()}\n"
                f"    got:      {str(account_locked).lower()}"
                f" ({_list([lock.describe() for lock in locks])})"
            )
    return failures


def _intent_keys(intents: Sequence[str]) -> Counter[str]:
    return Counter(intent_key(text) for text in intents)


def _locks_match(expected: Sequence[LockExpectation], got: Sequence[ObservedLock]) -> bool:
    """Exact set: every expected lock matches a distinct active one, and none is left over."""
    if len(expected) != len(got):
        return False
    remaining = list(got)
    for want in expected:
        for index, lock in enumerate(remaining):
            if lock.matches(want):
                del remaining[index]
                break
        else:
            return False
    return True


def _list(items: Sequence[str]) -> str:
    return "[" + ", ".join(items) + "]" if items else "[] (nothing)"


def _detail(firings: Sequence[ObservedFiring], tz: tzinfo | None) -> str:
    """One line per firing, its instant in the case's own UTC offset (as ``at:`` is shown):
    the engine keeps some firings (``unknown:RULE``, deadlines) in UTC."""
    if not firings:
        return ""
    lines = [
        f"\n      {f.at.astimezone(tz).isoformat()} {f.rule}{f'[{f.item}]' if f.item else ''}"
        for f in firings
    ]
    return "".join(lines)
