"""A YAML syntax error as a located problem on the line that causes it, with a hint.

PyYAML's error has two marks: ``problem_mark``, where the parser gave up, and
``context_mark``, where the construct it was reading began. Which one is the author's line
depends on the error: "could not find expected ':'" *while scanning a simple key* gives up on
the line after the culprit (a line that is not ``key: value``, typically a continuation of the
value above that lost its indentation), so the context is the line to show; otherwise the
problem mark is. Indentation mistakes around block scalars (``>-``, ``|``) get a hint naming
the block and the column its lines start at.
"""

from __future__ import annotations

import re

import yaml

from simple_risk.engine.dsl.problems import Problem

#: a line that opens a block scalar: ``key: >-``, ``- |`` (a comment may follow)
_BLOCK_HEADER = re.compile(r"(?:^|:|-)\s+([>|][-+0-9]*)\s*(?:#.*)?$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block_hint(lines: list[str], culprit: int) -> str | None:
    """A hint when line ``culprit`` (0-based) is indented less than the block scalar above."""
    if not 0 <= culprit < len(lines):
        return None
    indent = _indent(lines[culprit])
    body: list[int] = []
    for number in range(culprit - 1, -1, -1):
        text = lines[number]
        if not text.strip():
            continue
        header = _BLOCK_HEADER.search(text)
        if header is not None and body:
            body_indent = min(_indent(lines[n]) for n in body)
            if indent >= body_indent:
                return None
            return (
                f"line {culprit + 1} is indented less than the lines of the"
                f" {header.group(1)} block that starts on line {number + 1}, so it ends the"
                f" block; indent it to column {body_indent + 1} like them"
            )
        if _indent(text) <= indent:
            return None
        body.append(number)
    return None


#: ``key: VALUE`` or ``- VALUE`` on one line: where the value starts
_VALUE = re.compile(r"^\s*(?:-\s+)?(?:[^\s:#'\"{\[][^:#]*:\s+)?")


def _value_hint(culprit: str, column: int) -> str | None:
    """A hint when the value on the culprit line is a quoted string that ends early (a quote
    inside it) or starts with ``{`` (a flow mapping to YAML, a message field to the author);
    ``column`` is where the parser gave up (0-based)."""
    start = _VALUE.match(culprit)
    value = culprit[start.end() :] if start is not None else culprit.lstrip()
    at = len(culprit) - len(value)
    if value.startswith('"'):
        close = value.find('"', 1)
        if close > 0 and column > at + close:
            return (
                'the quoted value ends at the second "; inside it write single quotes'
                " (session.open('rth')), or quote the whole value with ' … '"
            )
    if value.startswith("'"):
        close = value.find("'", 1)
        if close > 0 and column > at + close:
            return "the quoted value ends at the second '; write '' for an apostrophe inside it"
    if value.startswith("{") and not value.rstrip().endswith("}"):
        return 'a value that starts with { is a YAML mapping; quote it: "{…} …"'
    return None


def yaml_syntax_problem(exc: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    """The located problem for a YAML syntax error of ``text``."""
    lines = text.splitlines()
    mark = exc.problem_mark or exc.context_mark
    context = (exc.context or "").strip()
    problem = (exc.problem or "").strip()
    if context == "while scanning a simple key" and exc.context_mark is not None:
        mark = exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    hint = _block_hint(lines, line - 1)
    culprit = lines[line - 1] if 0 < line <= len(lines) else ""
    if "\t" in culprit[: len(culprit) - len(culprit.lstrip())] or "'\\t'" in problem:
        # an editor's tab: YAML indents with spaces only, and says so in its own words
        hint = "YAML indents with spaces, never tabs: replace the tab with spaces"
    if hint is None and mark is not None:
        hint = _value_hint(culprit, mark.column)
    if hint is None and context == "while scanning a simple key":
        hint = "every line here is key: value or - item; a value continued on the next line"
        hint += " must be indented deeper than its key"
    elif hint is None and problem == "mapping values are not allowed here":
        hint = 'a plain value cannot contain ": "; quote the value, or write it in a >- block'
    elif hint is None and problem and context:
        hint = context
    message = problem or context or "invalid YAML"
    return Problem(file, line, column, f"YAML: {message}", "yaml-syntax", hint=hint)
