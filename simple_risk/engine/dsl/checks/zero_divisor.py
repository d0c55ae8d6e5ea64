"""A warning for a division by a fact that is 0 at times, with nothing guarding it.

``day.winning_trades / day.closed_trades`` (a win rate) or ``day.realized_pnl /
day.closed_trades`` (an average) is natural to write, and the sample facts lint evaluates on
are not 0, so nothing else would say it: but each trading day starts with no closed trade,
and until the first one every evaluation raises — an engine-error firing, a critical alert —
instead of the rule. A count, an amount or a derived ``sum:`` / ``count:`` starts at 0. The
division is guarded when the divisor's facts are tested before it: the condition of an
``a if TEST else b`` around it, or an earlier operand of an ``and`` it is part of.

WARN::

    when: day.closed_trades >= 5 and day.winning_trades / day.closed_trades < 0.4   # guarded
    when: day.winning_trades / day.closed_trades < 0.4                              # warned
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from simple_risk.engine import namespace
from simple_risk.engine.dsl.checks.base import CheckDef
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.functions import EXACT_DIVIDE

_CHECK = "zero-divisor"
#: fact types that are 0 in the ordinary course of a day (a price or a tick size never is)
_CAN_BE_ZERO = frozenset(
    {
        namespace.FactType.INT,
        namespace.FactType.DECIMAL,
        namespace.FactType.MONEY,
        namespace.FactType.SECONDS,
    }
)


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def _zero_facts(compilation: Compilation, divisor: ast.expr) -> list[str]:
    """The facts of ``divisor`` that can be 0 (a fact, or a derived sum or count)."""
    names: list[str] = []
    for node in ast.walk(divisor):
        name = _dotted(node)
        if name is None:
            continue
        fact = namespace.FACTS.get(name)
        if fact is not None and fact.type in _CAN_BE_ZERO:
            names.append(name)
        derived = compilation.derived.get(name.removeprefix("derived."))
        if name.startswith("derived.") and derived is not None and derived.type in _CAN_BE_ZERO:
            names.append(name)
    return names


def _mentions(node: ast.AST, name: str) -> bool:
    return any(_dotted(child) == name for child in ast.walk(node))


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}


def _guarded(node: ast.AST, name: str, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether ``name`` is tested before ``node`` is evaluated."""
    child = node
    parent = parents.get(child)
    while parent is not None:
        if (
            isinstance(parent, ast.IfExp)
            and child is not parent.test
            and _mentions(parent.test, name)
        ):
            return True
        if isinstance(parent, ast.BoolOp):
            earlier = parent.values[: parent.values.index(child)] if child in parent.values else []
            if any(_mentions(value, name) for value in earlier):
                return True
        child, parent = parent, parents.get(parent)
    return False


def _divisions(tree: ast.AST) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(division, divisor) of every ``a / b`` (compiled to an exact division) and ``a // b``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div | ast.FloorDiv):
            yield node, node.right
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == EXACT_DIVIDE
            and len(node.args) == 2
        ):
            yield node, node.args[1]


def run(compilation: Compilation) -> Iterator[Problem]:
    seen: set[tuple[int, int, str]] = set()
    for checked in compilation.expressions:
        parents = _parents(checked.tree)
        for node, divisor in _divisions(checked.tree):
            if isinstance(divisor, ast.Call):
                continue  # max(1, x), abs(...): the author shaped the divisor already
            unguarded = [
                name
                for name in _zero_facts(compilation, divisor)
                if not _guarded(node, name, parents)
            ]
            if not unguarded:
                continue
            mark = checked.locator.mark(divisor)
            key = (mark.line, mark.column, unguarded[0])
            if key in seen:
                continue
            seen.add(key)
            name = unguarded[0]
            yield Problem(
                checked.scope.file,
                mark.line,
                mark.column,
                f"divides by {name}, which can be 0 (counts and amounts start at 0): each"
                " evaluation then fails with an engine-error alert",
                _CHECK,
                checked.scope.rule_id,
                f"test it first: {name} > 0 and …, or … if {name} > 0 else …",
                "warning",
            )


CHECK = CheckDef(_CHECK, "A division by a fact that can be 0 is guarded (a warning).", run)
