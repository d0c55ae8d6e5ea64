"""Macros: named expressions that are inlined, as copies, wherever a rule uses their name.

An inlined copy remembers where it was used (``_macro_use``) and which macro it came from
(``_macro_name``), so a mistake inside a macro is reported at the rule that uses it, with the
macro's name, and ``explain`` shows the macro's name rather than its body. Kept apart because
inlining is a tree rewrite of its own, used both by the expression compiler and, for
``macro_references``, by the unused-definitions lint.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterable

from simple_risk.engine.dsl.scope import Scope


def macro_references(tree: ast.expr, macros: Iterable[str]) -> frozenset[str]:
    """The names of ``macros`` that ``tree`` uses directly (not through another macro)."""
    names = set(macros)
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in names)


def inline_macros(
    tree: ast.expr, scope: Scope, stack: tuple[str, ...] = (), use: ast.AST | None = None
) -> ast.expr:
    """Replace macro names by (copies of) their bodies, remembering the use site."""

    class Inliner(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            macro = scope.macros.get(node.id)
            if macro is None or macro.tree is None or node.id in stack:
                return node
            body = inline_macros(copy.deepcopy(macro.tree), scope, (*stack, node.id), use or node)
            for sub in ast.walk(body):
                sub._macro_use = use or node  # type: ignore[attr-defined]
                sub._macro_name = node.id  # type: ignore[attr-defined]
            return body

    wrapper = ast.Expression(body=tree)
    result = Inliner().visit(wrapper)
    assert isinstance(result, ast.Expression)
    return result.body
