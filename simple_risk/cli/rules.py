"""``simple-risk rules``: lint rulesets, print the schema and the fact reference.

``rules lint FILE…`` reports every problem of every file as
``FILE:LINE:COL: rule "ID": MESSAGE (hint)`` and ``SUCCESS: N rules in FILE`` for each clean
file; exit 0 when clean, 1 on any error, 2 on usage errors. Other modules attach more commands
(``rules test``) to the ``rules`` group object defined here.
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


def _text_report(result: LintResult, files: list[str]) -> str:
    lines: list[str] = []
    for file in files:
        lines += [p.format() for p in result.problems if p.file == file]
        if file in result.rule_counts:
            count = result.rule_counts[file]
            lines.append(f"SUCCESS: {count} rule{'s' if count != 1 else ''} in {file}")
    return "\n".join(lines)


def _json_report(result: LintResult, files: list[str]) -> str:
    report = {
        "ok": result.ok,
        "files": [
            {
                "file": file,
                "ok": file in result.rule_counts,
                "rules": result.rule_counts.get(file),
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
def lint(files: tuple[str, ...], strict: bool, output_format: str) -> None:
    """Check ruleset FILES: every problem in every file, with its line and column."""
    names = list(dict.fromkeys(files))
    result = lint_paths(names, strict=strict)
    report = _json_report(result, names) if output_format == "json" else _text_report(result, names)
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
