"""``simple-risk rules test FILE…``: run rule test files, in the spirit of ``promtool test rules``.

Attached to the ``rules`` group of :mod:`simple_risk.cli.rules`; the format of the files is in
``docs/rule-tests.md``. Exit status 0 only when every file loads and every case passes (and,
with ``--coverage``, when every rule of every tested ruleset fires in some passing case — OPA's
``test --coverage`` turned into a gate, so CI notices a rule nobody tests).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from simple_risk.cli.rules import rules
from simple_risk.engine.ruletest.runner import RunReport, collect_files, run_files


@rules.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="Print every case, passing or not.")
@click.option(
    "--run",
    "run_filter",
    metavar="REGEX",
    callback=lambda ctx, param, value: _regex(value),
    help="Only cases whose name matches.",
)
@click.option(
    "--coverage",
    is_flag=True,
    help="List the rules no test makes fire; fail unless every rule fires somewhere.",
)
@click.option(
    "-x",
    "--exitfirst",
    is_flag=True,
    help="Stop at the first failing case (the cases after it are not run).",
)
def test_command(
    files: tuple[Path, ...],
    verbose: bool,
    run_filter: str | None,
    coverage: bool,
    exitfirst: bool,
) -> None:
    """Run rule test files (FILE or a directory of *.test.yaml).

    \b
    Examples:
      simple-risk rules test tests/rules/
      simple-risk rules test -x --run 'loss' tests/rules/
    """
    if exitfirst and coverage:
        raise click.UsageError("--coverage needs every case run: leave out --exitfirst")
    report = run_files(files, name_filter=run_filter, first_failure=exitfirst)
    status = _print_report(report, verbose=verbose, coverage=coverage)
    if exitfirst and status and report.results and not report.results[-1].passed:
        click.echo("stopped at the first failing case (--exitfirst): later cases were not run")
    if not report.results and not report.problems:
        if run_filter is not None:
            click.echo(f"no test case matches --run {run_filter!r}", err=True)
        for path in files:
            if path.is_dir() and not collect_files([path]):
                click.echo(f"no *.test.yaml file in {path}", err=True)
    sys.exit(status)


def _regex(value: str | None) -> str | None:
    """``--run``: checked here, so a typo is a usage error and not a traceback."""
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise click.BadParameter(f"{value!r} is not a regular expression: {exc}") from None
    return value


def _print_report(report: RunReport, *, verbose: bool, coverage: bool) -> int:
    for problem in report.problems:
        click.echo(problem.format(), err=True)
    failed = 0
    for result in report.results:
        label = f"{result.case.file}:{result.case.line}: {result.case.name}"
        if result.passed:
            if verbose:
                click.echo(f"PASS  {label}")
            continue
        failed += 1
        click.echo(f"FAIL  {label}")
        if result.error is not None:
            click.echo(f"  {result.error}")
        for failure in result.failures:
            click.echo(f"  {failure}")
    total = len(report.results)
    uncovered = 0
    if coverage:
        for path, (covered, missing) in report.coverage().items():
            rule_ids, tags = report.rulesets[path]
            all_tags = sorted({t for r in rule_ids for t in tags[r] if t.startswith("RULE-")})
            covered_tags = sorted({t for r in covered for t in tags[r] if t.startswith("RULE-")})
            line = f"coverage: {path.name}: {len(covered)}/{len(rule_ids)} rules fire"
            if all_tags:
                line += f", {len(covered_tags)}/{len(all_tags)} RULE tags"
            click.echo(line)
            for rule_id in missing:
                click.echo(f"  no test makes {rule_id} fire")
            uncovered += len(missing)
    if report.problems:
        click.echo(f"ERROR: {len(report.problems)} problem(s) in the test files", err=True)
        return 1
    if total == 0:
        click.echo("ERROR: no test case ran", err=True)
        return 1
    if failed:
        click.echo(f"FAILED: {failed} of {total} cases")
        return 1
    if uncovered:
        click.echo(f"FAILED: {total} cases passed, but {uncovered} rule(s) never fire")
        return 1
    click.echo(f"SUCCESS: {total} cases passed")
    return 0
