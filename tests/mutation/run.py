"""Mutation check of ``rulesets/topstep.yaml`` and of the derived-fact examples: every mutant
must be caught by a test.

Run by CI (``python tests/mutation/run.py``). For each rule it makes small, plausible slips —
a comparison loses or gains its ``=`` (``<=`` → ``<``), a threshold param moves by one dollar,
one contract or one tick, one action of ``then:`` is dropped, a duration (``for:``, a lockout's
``for:``, a param holding one, such as a window ``trades.count(within=params.X)`` reads) is
halved, a trigger is forgotten — writes the mutant next to a copy of
``tests/rules/`` and runs the rule tests against it; a mutant the rule tests let through is
played against the oracle on a fixed set of generated days (``tests/oracle``). It prints every
mutant and what caught it, and exits 1 if any mutant survives: a slip nobody would notice is a
test that is missing.

The example rulesets with derived facts (``rulesets/examples/derived-*.yaml``) are mutated
the same way, and their ``derive:`` section too — an aggregate swapped for its opposite
(``min`` → ``max``, ``first`` → ``last``), a period (``over:``) dropped, a window
(``within:``) halved, a comparison in a derived expression flipped, a trigger forgotten —
and each mutant must fail that example's own rule test (tests/rules/examples/); the oracle
knows only topstep.yaml, so there a mutant the rule test lets through survives.

A mutant that no longer compiles is reported as rejected by lint (it could never be loaded)
and does not count as a survivor. The unmutated ruleset must pass first (exit 2 otherwise):
a failing suite would "catch" every mutant.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from simple_risk.engine.dsl import RulesetError, load_ruleset  # noqa: E402
from simple_risk.engine.dsl.problems import Problem  # noqa: E402
from simple_risk.engine.ruletest.runner import load_files, run_cases  # noqa: E402
from simple_risk.engine.ruletest.testfile import RuleTestCase  # noqa: E402

RULESET = ROOT / "rulesets" / "topstep.yaml"
RULE_TESTS = ROOT / "tests" / "rules"
#: the example rulesets whose derived facts the check covers, each with its rule test
DERIVED_EXAMPLES = ROOT / "rulesets" / "examples"
EXAMPLE_TESTS = RULE_TESTS / "examples"

_COMPARISON = re.compile(r"<=|>=|<|>")
_FLIP = {"<=": "<", ">=": ">", "<": "<=", ">": ">="}
_DURATION = re.compile(r"\bfor: ([0-9]+)(s|m|h)\b")
_SECONDS = {"s": 1, "m": 60, "h": 3600}
_NUMBER = re.compile(r"^(\s*)([a-z_]+): (-?[0-9]+(?:\.[0-9]+)?)(\s*(?:#.*)?)$")
#: a param holding a duration (``trade_window_hour: 60m``, ``pause: "15m"``)
_DURATION_PARAM = re.compile(r'^(\s*)([a-z_]+): ("?)([0-9]+)(s|m|h)("?)(\s*(?:#.*)?)$')
_MAP_ENTRY = re.compile(r"([A-Z0-9]+): (-?[0-9]+)")
_WITHIN = re.compile(r"\bwithin: ([0-9]+)(s|m|h)\b")
_AGGREGATE = re.compile(r"^    (max|min|first|last): ")
_OPPOSITE = {"max": "min", "min": "max", "first": "last", "last": "first"}


@dataclass(frozen=True)
class Mutant:
    rule: str
    kind: str
    description: str
    text: str


def _rule_blocks(lines: list[str]) -> Iterator[tuple[str, int, int]]:
    """(rule id, first line index, end line index) of each rule of the rules: list."""
    starts = [
        (i, line.split("id:", 1)[1].strip())
        for i, line in enumerate(lines)
        if line.startswith("  - id:")
    ]
    for index, (start, rule_id) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(lines)
        yield rule_id, start, end


def _key_span(lines: list[str], start: int, end: int, key: str) -> tuple[int, int] | None:
    """Lines of a rule key's value: the key line and its more-indented continuation."""
    for i in range(start, end):
        if lines[i].startswith(f"    {key}:"):
            j = i + 1
            while j < end and (lines[j].startswith("     ") or not lines[j].strip()):
                j += 1
            return i, j
    return None


def _halve(match: re.Match[str]) -> str:
    return f"for: {_half(match.group(1), match.group(2))}"


def _half(number: str, unit: str) -> str:
    """Half of the duration NUMBER UNIT (s, m or h), as a duration."""
    half = int(number) * _SECONDS[unit] // 2
    return f"{half}s" if half % 60 else f"{half // 60}m"


def mutants(text: str) -> Iterator[Mutant]:
    lines = text.split("\n")
    for rule_id, start, end in _rule_blocks(lines):
        when = _key_span(lines, start, end, "when")
        if when is not None:
            for i in range(when[0], when[1]):
                body_from = 0
                if i == when[0]:
                    body_from = lines[i].index("when:") + 5
                    if lines[i][body_from:].strip() in (">-", ">", "|", "|-"):
                        continue  # a block scalar indicator, not a comparison
                for match in _COMPARISON.finditer(lines[i], body_from):
                    op = match.group(0)
                    new = lines[i][: match.start()] + _FLIP[op] + lines[i][match.end() :]
                    mutated = [*lines[:i], new, *lines[i + 1 :]]
                    yield Mutant(
                        rule_id,
                        "comparison",
                        f"line {i + 1}: {op} -> {_FLIP[op]}",
                        "\n".join(mutated),
                    )
        yield from _drop_triggers(rule_id, lines, start, end)
        then = _key_span(lines, start, end, "then")
        if then is not None:
            yield from _drop_actions(rule_id, lines, then)
        for i in range(start, end):
            for match in _DURATION.finditer(lines[i]):
                new = lines[i][: match.start()] + _halve(match) + lines[i][match.end() :]
                mutated = [*lines[:i], new, *lines[i + 1 :]]
                yield Mutant(
                    rule_id,
                    "duration",
                    f"line {i + 1}: {match.group(0)} halved",
                    "\n".join(mutated),
                )
    yield from _param_mutants(lines)
    yield from _macro_mutants(lines)
    yield from _derive_mutants(lines)


def _derive_mutants(lines: list[str]) -> Iterator[Mutant]:
    """Slips in the ``derive:`` section: each derived fact's aggregate, period, window,
    triggers and the comparisons of its expression."""
    try:
        start = lines.index("derive:")
    except ValueError:
        return
    name = ""
    i = start + 1
    in_expression = False
    while i < len(lines) and (lines[i].startswith("  ") or not lines[i].strip()):
        line = lines[i]
        if line.startswith("  ") and not line.startswith("   ") and line.strip().endswith(":"):
            name, in_expression = line.strip().rstrip(":"), False
            i += 1
            continue
        fact = f"derived.{name}"
        if line.startswith("    ") and not line.startswith("     "):
            key = line.strip().split(":", 1)[0]
            in_expression = key in ("value", "max", "min", "sum", "count", "first", "last")
        aggregate = _AGGREGATE.match(line)
        if aggregate is not None:
            old = aggregate.group(1)
            new = line.replace(f"{old}:", f"{_OPPOSITE[old]}:", 1)
            what = f"line {i + 1}: {old} -> {_OPPOSITE[old]}"
            yield Mutant(fact, "aggregate", what, "\n".join([*lines[:i], new, *lines[i + 1 :]]))
        if line.startswith("    over:") and line.strip() != "over: position":
            # (a per-position fact lives as long as its position anyway: dropping
            # ``over: position`` changes nothing, an equivalent mutant)
            what = f"line {i + 1}: drop {line.strip()}"
            yield Mutant(fact, "period", what, "\n".join([*lines[:i], *lines[i + 1 :]]))
        for match in _WITHIN.finditer(line):
            halved = _halve(match).replace("for:", "within:")
            new = line[: match.start()] + halved + line[match.end() :]
            what = f"line {i + 1}: {match.group(0)} halved"
            yield Mutant(fact, "window", what, "\n".join([*lines[:i], new, *lines[i + 1 :]]))
        if line.startswith("    trigger: ["):
            head, _, rest = line.partition("[")
            triggers = [t.strip() for t in rest.partition("]")[0].split(",")]
            for index, trigger in enumerate(triggers):
                if trigger == "reconcile" or len(triggers) < 2:
                    continue  # a reconcile brings no fact of its own; no trigger: every event
                kept = triggers[:index] + triggers[index + 1 :]
                new = f"{head}[{', '.join(kept)}]"
                mutated = [*lines[:i], new, *lines[i + 1 :]]
                what = f"line {i + 1}: drop trigger {trigger}"
                yield Mutant(fact, "trigger", what, "\n".join(mutated))
        if in_expression:
            offset = 0
            if line.startswith("    ") and not line.startswith("     "):
                offset = line.index(":") + 1
                if line[offset:].strip() in (">-", ">", "|", "|-"):
                    i += 1
                    continue  # a block scalar indicator, not a comparison
            for match in _COMPARISON.finditer(line, offset):
                op = match.group(0)
                new = line[: match.start()] + _FLIP[op] + line[match.end() :]
                what = f"line {i + 1}: {op} -> {_FLIP[op]}"
                yield Mutant(
                    fact, "comparison", what, "\n".join([*lines[:i], new, *lines[i + 1 :]])
                )
        i += 1


def _macro_mutants(lines: list[str]) -> Iterator[Mutant]:
    """Comparisons inside macros, which rules use by name."""
    try:
        start = lines.index("macros:")
    except ValueError:
        return
    i = start + 1
    name = ""
    while i < len(lines) and (lines[i].startswith("  ") or not lines[i].strip()):
        if lines[i].startswith("   "):
            offset = 0  # a continuation line of a block scalar
        else:
            name, colon, body = lines[i].strip().partition(":")
            if not colon or body.strip() in (">-", ">", "|", "|-"):
                i += 1
                continue
            offset = lines[i].index(":") + 1
        for match in _COMPARISON.finditer(lines[i], offset):
            op = match.group(0)
            new = lines[i][: match.start()] + _FLIP[op] + lines[i][match.end() :]
            mutated = [*lines[:i], new, *lines[i + 1 :]]
            what = f"line {i + 1}: {op} -> {_FLIP[op]}"
            yield Mutant(f"macros.{name}", "comparison", what, "\n".join(mutated))
        i += 1


def _drop_triggers(rule_id: str, lines: list[str], start: int, end: int) -> Iterator[Mutant]:
    """Forget one trigger. ``reconcile`` is left alone: a reconciliation evaluates every rule
    whatever its triggers say, so dropping it changes nothing (an equivalent mutant)."""
    for i in range(start, end):
        if not lines[i].startswith("    trigger: ["):
            continue
        head, _, rest = lines[i].partition("[")
        inside, _, tail = rest.partition("]")
        triggers = [t.strip() for t in inside.split(",")]
        if len(triggers) < 2:
            return
        for index, trigger in enumerate(triggers):
            if trigger == "reconcile":
                continue
            kept = triggers[:index] + triggers[index + 1 :]
            new = f"{head}[{', '.join(kept)}]{tail}"
            mutated = [*lines[:i], new, *lines[i + 1 :]]
            yield Mutant(
                rule_id, "trigger", f"line {i + 1}: drop trigger {trigger}", "\n".join(mutated)
            )


def _drop_actions(rule_id: str, lines: list[str], span: tuple[int, int]) -> Iterator[Mutant]:
    first = lines[span[0]]
    if "[" in first:  # flow form: then: [a, b]
        head, _, rest = first.partition("[")
        items = [item.strip() for item in rest.rstrip().rstrip("]").split(",")]
        for index, item in enumerate(items):
            kept = items[:index] + items[index + 1 :]
            new = f"{head}[{', '.join(kept)}]"
            mutated = [*lines[: span[0]], new, *lines[span[0] + 1 :]]
            yield Mutant(rule_id, "action", f"line {span[0] + 1}: drop {item}", "\n".join(mutated))
        return
    item_starts = [i for i in range(span[0] + 1, span[1]) if lines[i].startswith("      - ")]
    for index, item_start in enumerate(item_starts):
        item_end = item_starts[index + 1] if index + 1 < len(item_starts) else span[1]
        mutated = lines[:item_start] + lines[item_end:]
        action = lines[item_start].strip()[2:].split(":")[0]
        yield Mutant(rule_id, "action", f"line {item_start + 1}: drop {action}", "\n".join(mutated))


def _param_mutants(lines: list[str]) -> Iterator[Mutant]:
    try:
        start = lines.index("params:")
    except ValueError:
        return
    i = start + 1
    while i < len(lines) and (lines[i].startswith("  ") or not lines[i].strip()):
        line = lines[i]
        number = _NUMBER.match(line)
        duration = _DURATION_PARAM.match(line)
        if duration is not None:
            # a window or a wait a rule reads through the param (within=params.X, for:,
            # a derived fact's within:): halved as one written in place is
            indent, name, quote, amount, unit, closing, tail = duration.groups()
            new = f"{indent}{name}: {quote}{_half(amount, unit)}{closing}{tail}"
            mutated = [*lines[:i], new, *lines[i + 1 :]]
            what = f"{name}: {quote}{amount}{unit}{closing} halved"
            yield Mutant(f"params.{name}", "duration", what, "\n".join(mutated))
        elif number is not None:
            indent, name, value, tail = number.groups()
            for delta in (1, -1):
                moved = Decimal(value) + delta
                new = f"{indent}{name}: {moved}{tail}"
                mutated = [*lines[:i], new, *lines[i + 1 :]]
                yield Mutant(
                    f"params.{name}", "threshold", f"{name}: {value} -> {moved}", "\n".join(mutated)
                )
        elif "{" in line:
            name = line.strip().split(":", 1)[0]
            for entry in _MAP_ENTRY.finditer(line):
                for delta in (1, -1):
                    moved = int(entry.group(2)) + delta
                    new = line[: entry.start()] + f"{entry.group(1)}: {moved}" + line[entry.end() :]
                    mutated = [*lines[:i], new, *lines[i + 1 :]]
                    what = f"{name}.{entry.group(1)}: {entry.group(2)} -> {moved}"
                    yield Mutant(f"params.{name}", "threshold", what, "\n".join(mutated))
        i += 1


#: the rule tests each working copy loaded, by folder: a mutant changes the ruleset, never the
#: tests, so each process parses them once (the cases read their ruleset file on each run)
_LOADED: dict[Path, tuple[list[RuleTestCase], list[Problem]]] = {}


def caught_by_rule_tests(
    mutant: Mutant, workdir: Path, ruleset: str = "topstep.yaml", tests: str = "tests/rules"
) -> str | None:
    """The first failing case (file: name) of the rule tests against the mutant, if any.

    The cases run in file order and the run stops at the first failure, so the verdict names
    the same case a whole run would name first."""
    (workdir / "rulesets" / ruleset).write_text(mutant.text, encoding="utf-8")
    folder = workdir / tests
    if folder not in _LOADED:
        _LOADED[folder] = load_files([folder])
    cases, problems = _LOADED[folder]
    report = run_cases(cases, problems, first_failure=True)
    if report.problems:
        return f"test files rejected: {report.problems[0].format()}"
    for result in report.results:
        if not result.passed:
            return f"{Path(result.case.file).name}: {result.case.name}"
    return None


def caught_by_oracle(mutant: Mutant, workdir: Path, days: int) -> str | None:
    from oracle import harness
    from oracle.strategies import STARTS, fixed_day

    from bench.workload import Profile

    original = harness.TOPSTEP
    harness.TOPSTEP = workdir / "rulesets" / "topstep.yaml"
    try:
        for seed in range(days):
            profile = _oracle_profile(seed, STARTS, Profile)
            events = fixed_day(profile, seed)
            # every other day with the off-by-default rules switched on
            enable = ("trade-management-breakeven", "trade-management-trail") if seed % 2 else ()
            engine, oracle, _all = harness.play(events, enable=enable)
            if harness.difference(engine, oracle):
                return f"oracle (generated day {seed})"
    finally:
        harness.TOPSTEP = original
    return None


def _oracle_profile(seed: int, starts: tuple[object, ...], profile_type: type) -> object:
    from datetime import timedelta

    return profile_type(
        accounts=1 + seed % 2,
        events=220,
        quote_share=0.65,
        start=starts[seed % len(starts)],
        duration=timedelta(minutes=5 + seed % 20),
        roots=("EP", "MNQ", "YM", "MES") if seed % 3 else ("ENQ", "CLE", "MGC"),
        clock_every=timedelta(seconds=5),
        max_lots=3,
        p_no_stop=0.4,
        p_oversize=0.2,
        p_blocked=0.1,
        p_auth_loss=0.05,
        p_resting_limit=0.2,
        p_scale_in=0.3,
        stop_ticks=(4, 40),
        volatility=(4, 12, 30)[seed % 3],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ruleset", type=Path, default=RULESET)
    parser.add_argument("--tests", type=Path, default=RULE_TESTS)
    parser.add_argument("--oracle-days", type=int, default=24, help="generated days per survivor")
    parser.add_argument("--only", metavar="REGEX", help="only mutants of matching rules/params")
    parser.add_argument(
        "--no-examples",
        action="store_true",
        help="only the ruleset: skip the derived-fact example rulesets",
    )
    parser.add_argument(
        "--oracle-only",
        action="store_true",
        help="skip the rule tests: measure what the oracle comparison alone catches",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="mutants judged at once, each in its own process (default: one per CPU)",
    )
    args = parser.parse_args(argv)
    text = args.ruleset.read_text(encoding="utf-8")
    pattern = re.compile(args.only) if args.only else None
    started = time.perf_counter()
    survivors: list[Mutant] = []
    counts = {"rules test": 0, "oracle": 0, "lint": 0}
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        workdir = Path(tmp)
        (workdir / "rulesets").mkdir()
        # the rule tests of topstep.yaml (those of the example rulesets live in examples/)
        (workdir / "tests" / "rules").mkdir(parents=True)
        for test_file in sorted(args.tests.glob("*.test.yaml")):
            shutil.copy(test_file, workdir / "tests" / "rules" / test_file.name)
        baseline = Mutant("(none)", "baseline", "the ruleset as it is", text)
        failing = caught_by_rule_tests(baseline, workdir)
        if failing is None and not args.oracle_only:
            failing = caught_by_oracle(baseline, workdir, args.oracle_days)
        if failing is not None:
            print(f"BASELINE FAILS: {failing}: fix that first, a failing suite catches everything")
            return 2
        chosen = [m for m in mutants(text) if pattern is None or pattern.search(m.rule)]
        judge = partial(
            _judge,
            root=workdir,
            tests=args.tests,
            days=args.oracle_days,
            oracle_only=args.oracle_only,
        )
        # each mutant is judged on its own (its own copy of the rule tests per worker), so
        # the verdicts are the same however many run at once; they are printed in order
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for mutant, (how, detail) in zip(chosen, pool.map(judge, chosen), strict=True):
                label = f"{mutant.rule:40} {mutant.kind:10} {mutant.description}"
                if how == "lint":
                    counts["lint"] += 1
                    print(f"REJECTED  {label}  (lint: {detail})", flush=True)
                elif how:
                    counts[how] += 1
                    print(f"CAUGHT    {label}  by {detail}", flush=True)
                else:
                    survivors.append(mutant)
                    print(f"SURVIVED  {label}", flush=True)
    if not args.no_examples and not args.oracle_only:
        for example in sorted(DERIVED_EXAMPLES.glob("derived-*.yaml")):
            status = _check_example(example, pattern, counts, survivors)
            if status:
                return status
    total = sum(counts.values()) + len(survivors)
    elapsed = time.perf_counter() - started
    print(
        f"{total} mutants: {counts['rules test']} caught by the rule tests, "
        f"{counts['oracle']} by the oracle, {counts['lint']} rejected by lint, "
        f"{len(survivors)} survived ({elapsed:.0f} s)"
    )
    return 1 if survivors else 0


#: the worker's own working copy of the rule tests (made on its first mutant)
_WORKDIR: Path | None = None


def _worker_dir(root: Path, tests: Path) -> Path:
    """This process's working copy, under ``root`` (the run's temporary folder, removed by
    the main process when it ends)."""
    global _WORKDIR
    if _WORKDIR is None:
        _WORKDIR = root / f"worker-{os.getpid()}"
        (_WORKDIR / "rulesets").mkdir(parents=True)
        (_WORKDIR / "tests" / "rules").mkdir(parents=True)
        for test_file in sorted(tests.glob("*.test.yaml")):
            shutil.copy(test_file, _WORKDIR / "tests" / "rules" / test_file.name)
    return _WORKDIR


def _judge(
    mutant: Mutant, root: Path, tests: Path, days: int, oracle_only: bool
) -> tuple[str, str]:
    """What catches ``mutant``: ("lint", why), ("rules test" | "oracle", which case), or
    ("", "") when nothing does (it survives)."""
    workdir = _worker_dir(root, tests)
    try:
        load_ruleset_text_check(mutant.text, workdir)
    except RulesetError as exc:
        return "lint", exc.problems[0].message
    verdict = None if oracle_only else caught_by_rule_tests(mutant, workdir)
    if verdict is not None:
        return "rules test", verdict
    verdict = caught_by_oracle(mutant, workdir, days)
    if verdict is not None:
        return "oracle", verdict
    return "", ""


def _check_example(
    example: Path, pattern: re.Pattern[str] | None, counts: dict[str, int], survivors: list[Mutant]
) -> int:
    """Mutate one example ruleset and play each mutant against its own rule test; returns 2
    when the unmutated example fails (else 0)."""
    name = example.name
    tests = "tests/rules/examples"
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        workdir = Path(tmp)
        (workdir / "rulesets" / "examples").mkdir(parents=True)
        (workdir / tests).mkdir(parents=True)
        shutil.copy(EXAMPLE_TESTS / f"{example.stem}.test.yaml", workdir / tests)
        where = f"examples/{name}"
        text = example.read_text(encoding="utf-8")
        failing = caught_by_rule_tests(
            Mutant("(none)", "baseline", "", text), workdir, where, tests
        )
        if failing is not None:
            print(f"BASELINE FAILS: {name}: {failing}: fix that first")
            return 2
        for mutant in mutants(text):
            if pattern is not None and not pattern.search(mutant.rule):
                continue
            label = f"{name}: {mutant.rule:30} {mutant.kind:10} {mutant.description}"
            path = workdir / "rulesets" / where
            path.write_text(mutant.text, encoding="utf-8")
            try:
                load_ruleset(path)
            except RulesetError as exc:
                counts["lint"] += 1
                print(f"REJECTED  {label}  (lint: {exc.problems[0].message})")
                continue
            verdict = caught_by_rule_tests(mutant, workdir, where, tests)
            if verdict is not None:
                counts["rules test"] += 1
                print(f"CAUGHT    {label}  by {verdict}")
                continue
            survivors.append(mutant)
            print(f"SURVIVED  {label}")
    return 0


def load_ruleset_text_check(text: str, workdir: Path) -> None:
    path = workdir / "rulesets" / "topstep.yaml"
    path.write_text(text, encoding="utf-8")
    load_ruleset(path)


if __name__ == "__main__":
    sys.exit(main())
