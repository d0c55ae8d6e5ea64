"""The independent reference evaluator (simpleeval) and sample facts for it.

``rules lint`` evaluates every checked expression here on sample facts so a type error (a
string compared with a number, ``abs`` of a session name) is reported before the market finds
it; the hypothesis tests assert the compiled code object and this interpreter agree on random
facts. Both evaluate the same checked tree (macros inlined, literals exact), so what they
cross-check is the compilation to a code object and its builtin-free evaluation.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

from simpleeval import DEFAULT_OPERATORS, EvalWithCompoundTypes

from simple_risk.engine import namespace
from simple_risk.engine.functions import EXACT_DIVIDE, FUNCTIONS, exact_divide


class FactObject:
    """A family bound in an expression: plain attributes, as the engine provides them."""

    def __init__(self, family: str, values: Mapping[str, object]) -> None:
        self._family = family
        for name, value in values.items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        attrs = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return f"{self._family}({attrs})"


def _returning(value: object) -> Callable[..., object]:
    def method(*args: object, **kwargs: object) -> object:
        return value

    return method


def family_object(
    family: str,
    values: Mapping[str, object] | None = None,
    method_results: Mapping[str, object] | None = None,
) -> FactObject:
    """A family object; facts not in ``values`` get the namespace's sample value."""
    attrs: dict[str, object] = {}
    for fact in namespace.family_facts(family):
        attrs[fact.attr] = (values or {}).get(fact.attr, namespace.sample_value(fact.type))
    for method in namespace.METHODS.values():
        if method.family == family:
            result = (method_results or {}).get(method.attr, namespace.sample_value(method.returns))
            attrs[method.attr] = _returning(result)
    return FactObject(family, attrs)


def sample_families() -> dict[str, object]:
    """Every family bound to sample facts (lint binds all; the compiler checked binding)."""
    return {name: family_object(name) for name in namespace.FAMILIES}


def reference_evaluator(env: Mapping[str, object]) -> EvalWithCompoundTypes:
    """simpleeval over ``env`` with the declared functions and exact division."""
    operators: dict[type[ast.AST], Any] = dict(DEFAULT_OPERATORS)
    operators[ast.Div] = exact_divide
    functions: dict[str, Any] = dict(FUNCTIONS)
    functions[EXACT_DIVIDE] = exact_divide
    names = {k: v for k, v in env.items() if k not in functions}
    return EvalWithCompoundTypes(operators=operators, functions=functions, names=names)


def reference_evaluate(tree: ast.Expression, env: Mapping[str, object]) -> object:
    """Evaluate a checked tree with simpleeval (raises what the expression raises)."""
    return reference_evaluator(env).eval("", previously_parsed=tree.body)
