"""The expression compiler: rule text → checked AST → Python code object (docs/architecture.md §3).

Called by the ruleset compiler for every ``when:``, macro, expression-valued action argument
and message field. Each expression is parsed once with ``ast.parse(mode="eval")``, checked
against a whitelist of node types and against the fact namespace (unknown names get a
did-you-mean and a position mapped back into the YAML file), macros are inlined, optional facts
must be guarded by ``known(...)``, and the tree is rewritten so it stays exact:

* float literals (``0.5``) become hidden ``Decimal`` constants built from the literal's text;
* ``a / b`` becomes ``_exact_divide(a, b)`` (``7 / 2`` is ``Decimal("3.5")``, never a float);
* duration arguments (``trades.count(within="60s")``) become hidden ``timedelta`` constants.

Hidden constants live in a :class:`~simple_risk.engine.dsl.scope.ConstantPool` that ends up in
``Ruleset.constants`` and in :func:`simple_risk.engine.dsl.base_env`. The code object's
filename is the rule id, and it is evaluated without builtins.

This module only runs the steps in order; each step is its own module: parsing and syntax
mistakes (:mod:`~simple_risk.engine.dsl.syntax`), macro inlining
(:mod:`~simple_risk.engine.dsl.macros`), the ``known(...)`` guards
(:mod:`~simple_risk.engine.dsl.knowns`), names, binding and the exact rewrite
(:mod:`~simple_risk.engine.dsl.resolve`) and the pieces ``explain`` shows
(:mod:`~simple_risk.engine.dsl.explain`), over the shared types of
:mod:`~simple_risk.engine.dsl.scope`.
"""

from __future__ import annotations

import ast
import copy

from simple_risk.engine import namespace
from simple_risk.engine.dsl.explain import comparisons_of, operands_of
from simple_risk.engine.dsl.knowns import asserted_known, inline_known, unguarded
from simple_risk.engine.dsl.macros import inline_macros, macro_references
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.resolve import Resolver
from simple_risk.engine.dsl.scope import CheckedExpression, Locator, Macro, Scope
from simple_risk.engine.dsl.syntax import parse
from simple_risk.engine.dsl.yamlload import Mark
from simple_risk.engine.model import CompiledExpression, SourceLocation


def check_macro(
    name: str, source: str, locator: Locator, scope: Scope
) -> tuple[Macro, list[Problem]]:
    """Parse a macro body and check its names; binding and guards are checked where used."""
    tree, problems = parse(source, locator, scope)
    if tree is None:
        return Macro(name, None, locator), problems
    resolver = Resolver(scope, locator)
    resolver.visit(copy.deepcopy(tree))
    problems += resolver.problems
    return Macro(name, tree, locator, macro_references(tree, scope.macros)), problems


def guards_of(source: str, locator: Locator, scope: Scope) -> frozenset[str]:
    """The optional facts a ``when:`` that did not compile still guards (its ``known(...)``
    tests), so its actions and messages are not also told to guard what it guards; nothing
    when it does not even parse."""
    tree, _ = parse(source, locator, scope)
    if tree is None:
        return frozenset()
    return asserted_known(inline_macros(tree, scope), scope.optional_derived)


def compile_expression(
    source: str, locator: Locator, scope: Scope, role: str
) -> tuple[CheckedExpression | None, list[Problem]]:
    """Parse, check and compile one expression; returns it or the located problems."""
    tree, problems = parse(source, locator, scope)
    if tree is None:
        return None, problems
    direct_macros = macro_references(tree, scope.macros)
    tree = inline_macros(tree, scope)
    for node, key in unguarded(tree, scope.guarded, scope.optional_derived):
        if not _bound_here(key, scope):
            continue  # the unbound-family problem says what is wrong
        problems.append(
            Problem(
                scope.file,
                *_line_col(locator.mark(node)),
                f'"{key}" can be unknown; guard it with known({key})'
                + (
                    f' (in macro "{macro}")'
                    if (macro := getattr(node, "_macro_name", None))
                    else ""
                ),
                "unguarded-optional",
                scope.rule_id,
                f"e.g. known({key}) and …",
            )
        )
    resolver = Resolver(scope, locator)
    rewritten = resolver.visit(tree)
    problems += resolver.problems
    if problems:
        return None, problems
    expression = ast.fix_missing_locations(ast.Expression(body=rewritten))
    filename = scope.rule_id or "<ruleset>"
    try:
        code = compile(inline_known(copy.deepcopy(expression)), filename, "eval")
        operands = tuple(operands_of(expression, source.strip(), filename))
        comparisons = tuple(comparisons_of(expression, source.strip(), filename))
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError) as exc:
        return None, [
            scope.problem(locator.fallback, f"cannot compile expression: {exc}", "compile")
        ]
    mark = locator.fallback
    compiled = CompiledExpression(
        source=source.strip(),
        code=code,
        location=SourceLocation(scope.file, mark.line, mark.column),
        names=frozenset(resolver.names),
        operands=operands,
        comparisons=comparisons,
    )
    used = resolver.names | resolver.lists_used | {f"macro:{name}" for name in direct_macros}
    return CheckedExpression(compiled, expression, role, scope, locator, used), []


def _bound_here(key: str, scope: Scope) -> bool:
    family = key.split(".", 1)[0]
    spec = namespace.FAMILIES[family]
    if spec.lock_only:
        return scope.in_lock
    if scope.lock_only:
        return spec.bound_by_triggers is None or (family == "symbol" and scope.lock_symbol)
    return namespace.family_is_bound(family, scope.triggers, scope.each)


def _line_col(mark: Mark) -> tuple[int, int]:
    return mark.line, mark.column
