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
