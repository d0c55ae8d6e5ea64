"""Unknown facts: which reads of an optional fact a ``known(...)`` guards, and how ``known``
is compiled.

An optional fact (``position.stop_price``, a ``derived.NAME`` that can be unknown) is None
until the gateway has sent it; a rule must say what it means then, so every read of one must
sit behind a ``known(...)`` on the path to it (:func:`unguarded`), and what a true ``when:``
guarantees known carries over to the rule's actions and message (:func:`asserted_known`).
:func:`inline_known` rewrites ``known(x)`` for evaluation so the common case costs no call.
Kept apart from name checking (:mod:`simple_risk.engine.dsl.resolve`) because it is a
separate analysis over the tree, with its own rules about ``and`` / ``or`` / ``if``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from simple_risk.engine import namespace
from simple_risk.engine.dsl.scope import family_attr


def _optional_key(node: ast.AST, derived: frozenset[str] = frozenset()) -> str | None:
    """The dotted name of an optional fact (or optional method call) this node reads;
    ``derived`` names the derived facts that are optional."""
    pair = family_attr(node)
    if pair is not None:
        dotted = f"{pair[0]}.{pair[1]}"
        if dotted in derived:
            return dotted
        fact = namespace.FACTS.get(dotted)
        if fact is not None and fact.optional:
            return fact.name
        return None
    if isinstance(node, ast.Call):
        pair = family_attr(node.func)
        if pair is not None:
            method = namespace.METHODS.get(f"{pair[0]}.{pair[1]}")
            if method is not None and method.optional:
                return method.name
    return None


def _is_known_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "known"
        and len(node.args) == 1
    )


def asserted_known(tree: ast.AST, derived: frozenset[str] = frozenset()) -> frozenset[str]:
    """Optional facts a true ``when:`` guarantees known (its top-level ``known(...)`` guards);
    ``derived`` names the optional derived facts."""
    body = tree.body if isinstance(tree, ast.Expression) else tree
    return frozenset(_asserted(body, True, derived))


def _asserted(node: ast.AST, truth: bool, derived: frozenset[str]) -> set[str]:
    """Optional facts known to be known when ``node`` evaluates to ``truth``."""
    if _is_known_call(node):
        assert isinstance(node, ast.Call)
        if not truth:
            return set()
        return {
            k for sub in ast.walk(node.args[0]) if (k := _optional_key(sub, derived)) is not None
        }
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _asserted(node.operand, not truth, derived)
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And) and truth:
            return set().union(*(_asserted(v, True, derived) for v in node.values))
        if isinstance(node.op, ast.Or) and not truth:
            return set().union(*(_asserted(v, False, derived) for v in node.values))
    return set()


def unguarded(
    node: ast.AST, guarded: frozenset[str], derived: frozenset[str] = frozenset()
) -> Iterator[tuple[ast.AST, str]]:
    """Reads of optional facts not protected by a ``known(...)`` on the path to them."""
    if _is_known_call(node):
        return
    if isinstance(node, ast.BoolOp):
        accumulated = set(guarded)
        for value in node.values:
            yield from unguarded(value, frozenset(accumulated), derived)
            accumulated |= _asserted(value, isinstance(node.op, ast.And), derived)
        return
    if isinstance(node, ast.IfExp):
        yield from unguarded(node.test, guarded, derived)
        yield from unguarded(node.body, guarded | _asserted(node.test, True, derived), derived)
        yield from unguarded(node.orelse, guarded | _asserted(node.test, False, derived), derived)
        return
    key = _optional_key(node, derived)
    if key is not None and key not in guarded:
        yield node, key
    for child in ast.iter_child_nodes(node):
        yield from unguarded(child, guarded, derived)


class _KnownInliner(ast.NodeTransformer):
    """``known(x)`` → ``(x is not None or known(None))``: the same value, and ``known`` is
    still called (with None) when the fact is unknown, which is when the engine's ``known``
    has something to note; a known fact, the common case, costs no call."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if not _is_known_call(node):
            return node
        (value,) = node.args
        return ast.copy_location(
            ast.BoolOp(
                op=ast.Or(),
                values=[
                    ast.Compare(
                        left=value, ops=[ast.IsNot()], comparators=[ast.Constant(value=None)]
                    ),
                    ast.Call(
                        func=node.func, args=[ast.Constant(value=None)], keywords=node.keywords
                    ),
                ],
            ),
            node,
        )


def inline_known(tree: ast.Expression) -> ast.Expression:
    """The tree to compile for evaluation (see :class:`_KnownInliner`)."""
    inlined = _KnownInliner().visit(tree)
    assert isinstance(inlined, ast.Expression)
    return ast.fix_missing_locations(inlined)
