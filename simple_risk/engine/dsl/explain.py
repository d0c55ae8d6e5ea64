"""Explaining a compiled expression: its comparisons and their operands, each compiled alone.

``simple-risk engine status --explain RULE`` and the status server's limit usage show, for
every comparison of a rule, the text of each side, its value now and the facts it reads
(``day.realized_pnl <= -params.daily_loss_limit``: -480 against -500). This module takes the
checked tree apart into those pieces once, at compile time; the engine evaluates them only
when asked. Kept apart because it reads a finished tree and never decides whether an
expression is valid.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from types import CodeType

from simple_risk.engine import namespace
from simple_risk.engine.dsl.scope import family_attr
from simple_risk.engine.model import Comparison, Operand


def operands_of(tree: ast.Expression, text: str, filename: str) -> Iterator[tuple[str, CodeType]]:
    """Every comparison operand, for ``--explain`` (source text and compiled code)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                if isinstance(operand, ast.Constant):
                    continue
                shown = None
                if getattr(operand, "_macro_use", None) is None:
                    shown = ast.get_source_segment(text, operand)
                label = shown or ast.unparse(operand)
                code = compile(ast.Expression(body=operand), filename, "eval")
                yield label, code


_OPERATORS: dict[type[ast.cmpop], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
}


def comparisons_of(tree: ast.Expression, text: str, filename: str) -> Iterator[Comparison]:
    """Every binary comparison (``a < b < c`` is two), each side with its text, code and the
    dotted names it reads, for ``explain`` and the status server's limit usage."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        in_macro = getattr(node, "_macro_use", None) is not None
        sides = [
            _operand(side, text, filename, in_macro) for side in (node.left, *node.comparators)
        ]
        for index, op in enumerate(node.ops):
            left, right = sides[index], sides[index + 1]
            symbol = _OPERATORS.get(type(op), type(op).__name__)
            yield Comparison(f"{left.text} {symbol} {right.text}", left, symbol, right)


def _operand(node: ast.expr, text: str, filename: str, in_macro: bool) -> Operand:
    use = getattr(node, "_macro_use", None)
    shown: str | None
    if use is None:
        shown = ast.get_source_segment(text, node)
    elif not in_macro:
        # a macro used as a whole operand of the rule's own comparison: show its name
        shown = ast.get_source_segment(text, use)
    else:
        shown = None
    code = compile(ast.Expression(body=node), filename, "eval")
    return Operand(shown or ast.unparse(node), code, frozenset(_dotted_names(node)))


def _dotted_names(node: ast.AST) -> Iterator[str]:
    """``family.attr`` and ``params.name`` read anywhere under ``node``."""
    for sub in ast.walk(node):
        pair = family_attr(sub)
        if pair is not None and (pair[0] in namespace.FAMILIES or pair[0] == "params"):
            yield f"{pair[0]}.{pair[1]}"
