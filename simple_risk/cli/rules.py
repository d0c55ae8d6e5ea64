"""``simple-risk rules``: lint rulesets, print the schema and the fact reference.

``rules lint FILE…`` reports every problem of every file as
``FILE:LINE:COL: error: rule "ID": MESSAGE; HINT (check-id)`` (or ``warning:``),
``SUCCESS: N rules in FILE`` for each file that compiled and a summary line (the formats are
in :mod:`simple_risk.cli.lint_report`); a directory is every ruleset under it and ``-`` is
standard input; exit 0 when clean, 1 on any error, 2 on usage errors.
``rules lint --base RULESET OVERLAY…`` checks account overlays the way the daemon applies
them: the base ruleset first, then each overlay against it, every overlay problem located in
the overlay file. Other modules attach more commands (``rules test``) to the ``rules`` group
object defined here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from simple_risk.cli import cli
from simple_risk.cli.lint_report import REPORTS
from simple_risk.engine.dsl import lint_paths
from simple_risk.engine.dsl.facts_doc import render_facts_markdown
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.schema import schema_text, shipped_schema


@cli.group()
def rules() -> None:
    """Work with rulesets: lint, schema, facts (and test)."""


def ruleset_files(directory: Path) -> list[str]:
    """Every ``*.yaml`` / ``*.yml`` under ``directory``, recursively, in sorted order.

    Hidden directories (``.git``, ``.venv``) and rule test files (``*.test.yaml``, which
    ``rules test`` reads) are skipped: a directory of rulesets may hold its tests. A link to
    nothing is listed (lint reports it cannot be read) rather than passed over in silence.
    """
    found: list[str] = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).parts
        dangling = path.is_symlink() and not path.exists()
        if any(part.startswith(".") for part in relative) or not (path.is_file() or dangling):
            continue
        name = path.name
        if name.endswith((".yaml", ".yml")) and not name.endswith((".test.yaml", ".test.yml")):
            found.append(str(path))
    return found


def _expand(paths: tuple[str, ...]) -> list[str]:
    names: list[str] = []
    for raw in paths:
        if raw != "-" and Path(raw).is_dir():
            inside = ruleset_files(Path(raw))
            if not inside:
                raise click.BadParameter(f"no *.yaml or *.yml files in {raw}", param_hint="FILES")
            names += inside
        else:
            names.append(raw)
    return list(dict.fromkeys(names))


@rules.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, allow_dash=True))
@click.option(
    "--strict",
    is_flag=True,
    help="Also report unused params/lists/macros, rules without description and disabled "
    "rules not marked optional: true.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(sorted(REPORTS)),
    default="text",
    show_default=True,
    help="json for editors, github for GitHub Actions annotations.",
)
@click.option(
    "--base",
    metavar="RULESET",
    type=click.Path(exists=True, dir_okay=False),
    help="FILES are account overlays (params:, disable:, rules:) of RULESET: check RULESET, "
    "then each overlay against it, as the daemon applies them.",
)
@click.option(
    "--stdin-filename",
    metavar="NAME",
    default="<stdin>",
    show_default=True,
    help="The name problems in standard input (FILE -) are reported under.",
)
def lint(
    files: tuple[str, ...],
    strict: bool,
    output_format: str,
    base: str | None,
    stdin_filename: str,
) -> None:
    """Check ruleset FILES: every problem in every file, with its line and column.

    A directory means every *.yaml and *.yml file under it (recursively; hidden directories
    and *.test.yaml rule tests are skipped); - reads one ruleset from standard input.

    \b
    simple-risk rules lint rulesets/topstep.yaml
    simple-risk rules lint --strict rulesets/
    simple-risk rules lint --base rulesets/topstep.yaml overlays/
    """
    named = click.get_current_context().get_parameter_source("stdin_filename")
    if named is ParameterSource.COMMANDLINE and "-" not in files:
        raise click.UsageError(
            f"--stdin-filename names what is read from standard input, and no FILE is -: "
            f"write - among the FILES (cat {stdin_filename} | simple-risk rules lint "
            f"--stdin-filename {stdin_filename} -)"
        )
    given: dict[str, str] = {}
    unreadable: list[Problem] = []
    if "-" in files:
        with click.open_file("-", "rb") as stream:
            raw = stream.read()
        try:
            given[stdin_filename] = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            unreadable.append(_not_utf8(stdin_filename, raw, exc.start))
    expanded = [stdin_filename if f == "-" else f for f in _expand(files)]
    names = [f for f in expanded if f != base]
    readable = [f for f in names if f in given or f != stdin_filename]
    result = lint_paths(readable, strict=strict, base=base, given=given)
    result.problems[:0] = unreadable
    shown = [base, *names] if base is not None else names
    click.echo(REPORTS[output_format](result, shown, base))
    sys.exit(0 if result.ok else 1)


def _not_utf8(name: str, raw: bytes, start: int) -> Problem:
    """Standard input that is not UTF-8 text, located as a file's would be."""
    line = raw[:start].count(b"\n") + 1
    column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
    return Problem(name, line, column, "the file is not UTF-8 text", "encoding")


@rules.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output (an older schema file is replaced; "
    "any other existing file needs --force).",
)
@click.option("--force", is_flag=True, help="Replace --output even if it is not a schema file.")
def schema(output: Path | None, force: bool) -> None:
    """Print the ruleset JSON Schema (draft 2020-12) for editors.

    \b
    simple-risk rules schema -o .vscode/ruleset.schema.json
    """
    text = json.dumps(shipped_schema(), indent=2, ensure_ascii=False) + "\n"
    if not text.strip() or text == "{}\n":
        text = schema_text()
    if output is not None:
        if not force and output.is_file() and not _is_schema_file(output):
            raise click.UsageError(
                f"{output} exists and is not a ruleset schema (a ruleset?): it was left as it "
                "is; name another file, or add --force to replace it",
                ctx=click.get_current_context(),
            )
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise click.FileError(str(output), exc.strerror or str(exc)) from None
    else:
        click.echo(text, nl=False)


def _is_schema_file(path: Path) -> bool:
    """Whether ``path`` holds a JSON Schema (one this command wrote, or any other): the only
    kind of file ``rules schema -o`` replaces without --force."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and "$schema" in data


@rules.command()
def facts() -> None:
    """Print every fact, method, function and action an expression may use (Markdown)."""
    click.echo(render_facts_markdown(), nl=False)
