"""``simple-risk rules``: lint rulesets, print the schema and the fact reference.

``rules lint FILE…`` reports every problem of every file as
``FILE:LINE:COL: rule "ID": MESSAGE (hint)`` and ``SUCCESS: N rules in FILE`` for each clean
file; exit 0 when clean, 1 on any error, 2 on usage errors. ``rules lint --base RULESET
OVERLAY…`` checks account overlays the way the daemon applies them: the base ruleset first,
then each overlay against it, every overlay problem located in the overlay file. Other
modules attach more commands (``rules test``) to the ``rules`` group object defined here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from simple_risk.cli import cli
from simple_risk.engine.dsl import lint_paths
from simple_risk.engine.dsl.facts_doc import render_facts_markdown
from simple_risk.engine.dsl.problems import LintResult
from simple_risk.engine.dsl.schema import schema_text, shipped_schema


@cli.group()
def rules() -> None:
    """Work with rulesets: lint, schema, facts (and test)."""


def _text_report(result: LintResult, files: list[str], base: str | None = None) -> str:
    lines: list[str] = []
    for file in files:
        lines += [p.format() for p in result.problems if p.file == file]
        if file in result.rule_counts:
            count = result.rule_counts[file]
            over = f" over {base}" if base is not None and file != base else ""
            lines.append(f"SUCCESS: {count} rule{'s' if count != 1 else ''} in {file}{over}")
    return "\n".join(lines)


def _json_report(result: LintResult, files: list[str], base: str | None = None) -> str:
    report = {
        "ok": result.ok,
        "files": [
            {
                "file": file,
                "ok": file in result.rule_counts,
                "rules": result.rule_counts.get(file),
                **({"base": base} if base is not None and file != base else {}),
                "problems": [p.as_json() for p in result.problems if p.file == file],
            }
            for file in files
        ],
    }
    return json.dumps(report, indent=2, ensure_ascii=False)


@rules.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--strict",
    is_flag=True,
    help="Also report unused params/lists/macros, rules without description and disabled rules.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json for editors and CI.",
)
@click.option(
    "--base",
    metavar="RULESET",
    type=click.Path(exists=True, dir_okay=False),
    help="FILES are account overlays (params:, disable:, rules:) of RULESET: check RULESET, "
    "then each overlay against it, as the daemon applies them.",
)
def lint(files: tuple[str, ...], strict: bool, output_format: str, base: str | None) -> None:
    """Check ruleset FILES: every problem in every file, with its line and column.

    \b
    simple-risk rules lint rulesets/topstep.yaml
    simple-risk rules lint --base rulesets/topstep.yaml overlays/20100001.yaml
    """
    names = list(dict.fromkeys(f for f in files if f != base))
    result = lint_paths(names, strict=strict, base=base)
    shown = [base, *names] if base is not None else names
    report = (
        _json_report(result, shown, base)
        if output_format == "json"
        else _text_report(result, shown, base)
    )
    if report:
        click.echo(report)
    sys.exit(0 if result.ok else 1)


@rules.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
def schema(output: Path | None) -> None:
    """Print the ruleset JSON Schema (draft 2020-12) for editors."""
    text = json.dumps(shipped_schema(), indent=2, ensure_ascii=False) + "\n"
    if not text.strip() or text == "{}\n":
        text = schema_text()
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@rules.command()
def facts() -> None:
    """Print every fact, method, function and action an expression may use (Markdown)."""
    click.echo(render_facts_markdown(), nl=False)
