"""What a lint check module declares: one ``CHECK = CheckDef(...)`` per module.

Checks run after the compiler on its :class:`~simple_risk.engine.dsl.compilation.Compilation`
(document, checked expressions, names used) and yield located problems. ``strict`` checks run
only under ``rules lint --strict``. The registry in ``__init__`` finds the modules.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.scope import CheckedExpression
from simple_risk.engine.dsl.yamlload import Mark


@dataclass(frozen=True, slots=True)
class CheckDef:
    id: str
    summary: str
    run: Callable[[Compilation], Iterable[Problem]]
    strict: bool = False


def comparisons(tree: ast.AST) -> Iterator[tuple[ast.cmpop, ast.expr, ast.expr]]:
    """Every (operator, left, right) of the comparisons in ``tree``; a chain ``a < b < c``
    gives two, ``a < b`` and ``b < c``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for index, op in enumerate(node.ops):
                yield op, sides[index], sides[index + 1]


def rule_whens(compilation: Compilation) -> Iterator[tuple[str, Mark, CheckedExpression]]:
    """Each rule's ``when:`` as compiled (its id, where it is written, its checked
    expression), in file order; a rule whose ``when:`` did not compile is left out. A lockout's
    ``while:`` is compiled in the ``when`` role too: it is told apart by where it is written."""
    doc = compilation.doc
    whens = {
        (checked.scope.rule_id, checked.locator.fallback): checked
        for checked in compilation.expressions
        if checked.role == "when"
    }
    for rule_id, path in compilation.rule_ids:
        mark = doc.at((*path, "when"))
        checked = whens.get((rule_id, mark))
        if checked is not None:
            yield rule_id, mark, checked
