"""Firing messages: ``"Daily P&L {day.realized_pnl:.2f} reached -{params.daily_loss_limit}"``.

Each ``{expression:format}`` field is compiled and checked exactly like a ``when:`` (same names,
same binding, same ``known(...)`` guards); ``{{`` and ``}}`` are literal braces. Called by the
ruleset compiler for ``message:``, ``alert: {message}`` and ``lockout: {reason}``.
"""

from __future__ import annotations

import re
from dataclasses import replace

from simple_risk.engine.dsl.expressions import compile_expression
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.scope import CheckedExpression, Locator, Scope
from simple_risk.engine.model import CompiledExpression, MessageTemplate, SourceLocation

#: a str.format conversion at the end of a field (``{trade.symbol!r}``)
_CONVERSION = re.compile(r"![rsa]\s*$")
_OPEN = "([{"
_CLOSE = ")]}"


def split_template(text: str) -> tuple[list[tuple[str, str | None, str, int]], str | None, int]:
    """Split into (literal, expression, spec, offset of expression) parts.

    Returns the parts and, on a malformed template, an error message and its offset.
    """
    parts: list[tuple[str, str | None, str, int]] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "{" and text.startswith("{{", i):
            literal.append("{")
            i += 2
            continue
        if char == "}" and text.startswith("}}", i):
            literal.append("}")
            i += 2
            continue
        if char == "}":
            return parts, 'single "}" in message (write "}}" for a literal brace)', i
        if char != "{":
            literal.append(char)
            i += 1
            continue
        start = i + 1
        depth = 0
        quote: str | None = None
        colon: int | None = None
        j = start
        while j < len(text):
            c = text[j]
            if quote is not None:
                if c == quote:
                    quote = None
            elif c in "'\"":
                quote = c
            elif c in _OPEN:
                depth += 1
            elif c in _CLOSE:
                if c == "}" and depth == 0:
                    break
                depth -= 1
            elif c == ":" and depth == 0 and colon is None:
                colon = j
            j += 1
        else:
            return parts, 'unclosed "{" in message (write "{{" for a literal brace)', i
        end_expr = colon if colon is not None else j
        expression = text[start:end_expr]
        spec = text[colon + 1 : j] if colon is not None else ""
        parts.append(("".join(literal), expression, spec, start))
        literal = []
        i = j + 1
    parts.append(("".join(literal), None, "", len(text)))
    return parts, None, 0


def compile_template(
    text: str, locator: Locator, scope: Scope, role: str
) -> tuple[MessageTemplate | None, list[CheckedExpression], list[Problem]]:
    """Compile every field of a message template; problems are located per field."""
    parts, error, offset = split_template(text)
    mark = locator.fallback
    if error is not None:
        at = locator.position(1, offset)
        problem = scope.problem(at, error, "bad-template")
        return None, [], [problem]
    compiled_parts: list[tuple[str, CompiledExpression | None, str]] = []
    checked: list[CheckedExpression] = []
    problems: list[Problem] = []
    for literal, expression, spec, start in parts:
        if expression is None:
            compiled_parts.append((literal, None, ""))
            continue
        field_locator = replace(locator, prefix=locator.prefix + start)
        field_locator.fallback = locator.position(1, start)
        conversion = _CONVERSION.search(expression)
        if conversion is not None:
            # Python's {x!r}: the parser would say only "invalid syntax"
            at = locator.position(1, start + conversion.start())
            problems.append(
                scope.problem(
                    at,
                    f'"{conversion.group().strip()}" conversions are not part of message fields',
                    "bad-template",
                    "a field is an expression with an optional :format, e.g. {trade.symbol}"
                    " or {day.realized_pnl:.2f}",
                )
            )
            continue
        result, field_problems = compile_expression(expression, field_locator, scope, role)
        problems += field_problems
        if result is not None:
            result.spec = spec
            checked.append(result)
            compiled_parts.append((literal, result.compiled, spec))
    if problems:
        return None, checked, problems
    location = SourceLocation(scope.file, mark.line, mark.column)
    return MessageTemplate(text, tuple(compiled_parts), location), checked, []
