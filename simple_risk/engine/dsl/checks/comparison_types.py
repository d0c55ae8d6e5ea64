"""``==`` / ``!=`` between values of two types: never equal, so the rule never (or always) fires.

The sibling of typed lists for single values: a param written ``2026-12-09`` is a date, while
``session.trading_day`` is a string; ``symbol.root == 5`` compares a string with a number.
Python answers False without complaint, so the type checks on sample facts cannot see it.
Both sides are evaluated on sample facts; true/false and unknown values are left alone.

FAIL::

    params:
      last_day: 2026-12-09            # a date
    ...
    when: session.trading_day == params.last_day
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from simple_risk.engine.dsl.checks.base import CheckDef, comparisons
from simple_risk.engine.dsl.checks.sample_evaluation import sample_env, sample_of
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.scope import CheckedExpression

_CHECK = "comparison-type"


def _kind(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dt.date):
        return "a date"
    return None


def _text(checked: CheckedExpression, node: ast.expr) -> str:
    if getattr(node, "_macro_use", None) is None:
        segment = ast.get_source_segment(checked.compiled.source, node)
        if segment:
            return segment
    return ast.unparse(node)


def _fixable(node: ast.expr) -> bool:
    """A literal or a param: the side the author writes, so the side to point at."""
    return isinstance(node, ast.Constant | ast.Name) or (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "params"
    )


def _hint(value: object, wanted: str | None, node: ast.expr) -> str:
    if wanted == "a string" and isinstance(value, dt.date | int | Decimal):
        shown = value.isoformat() if isinstance(value, dt.date) else str(value)
        if isinstance(node, ast.Attribute):
            return f'quote the value of param "{node.attr}": "{shown}"'
        return f'quote it: "{shown}"'
    return "compare values of one type"


def run(compilation: Compilation) -> Iterator[Problem]:
    env = sample_env(compilation)
    for checked in compilation.expressions:
        for op, left, right in comparisons(checked.tree):
            if not isinstance(op, ast.Eq | ast.NotEq):
                continue
            values = sample_of(left, env), sample_of(right, env)
            kinds = _kind(values[0]), _kind(values[1])
            if None in kinds or kinds[0] == kinds[1]:
                continue
            at, other = (right, 0) if _fixable(right) or not _fixable(left) else (left, 1)
            mark = checked.locator.mark(at)
            symbol = "==" if isinstance(op, ast.Eq) else "!="
            result = "never true" if symbol == "==" else "always true"
            mine = 1 - other
            yield Problem(
                checked.scope.file,
                mark.line,
                mark.column,
                f"{_text(checked, left)} {symbol} {_text(checked, right)} compares"
                f" {kinds[0]} with {kinds[1]}: it is {result}",
                _CHECK,
                checked.scope.rule_id,
                _hint(values[mine], kinds[other], at),
            )


CHECK = CheckDef(_CHECK, "== and != compare values of one type.", run)
