"""The small types every step of expression checking shares: what an expression may name.

A :class:`Scope` says which names an expression may use and what its rule binds; a
:class:`Locator` maps a position inside an expression back into the YAML file; a
:class:`ConstantPool` collects the hidden constants (exact ``Decimal`` literals, durations) of
a ruleset; a :class:`Macro` is a named, checked expression; a :class:`DerivedName` is what an
expression must know of a ``derive:`` fact; a :class:`CheckedExpression` is the result. They
live apart from the steps that use them (:mod:`~simple_risk.engine.dsl.syntax`,
:mod:`~simple_risk.engine.dsl.resolve`, :mod:`~simple_risk.engine.dsl.knowns`,
:mod:`~simple_risk.engine.dsl.explain`, :mod:`~simple_risk.engine.dsl.expressions`) so that
each step imports only types, never another step, and the ruleset compiler, derived facts and
message templates can build scopes without importing the checker.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field

from simple_risk.engine import namespace
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.yamlload import Mark, ScalarSpan
from simple_risk.engine.model import CompiledExpression


class ConstantPool:
    """Hidden constants (Decimal literals, durations) shared by every expression of a ruleset."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self._names: dict[tuple[str, object], str] = {}

    def name_for(self, value: object) -> str:
        key = (type(value).__name__, value)
        if key not in self._names:
            name = f"_k{len(self._names)}"
            self._names[key] = name
            self.values[name] = value
        return self._names[key]


@dataclass(slots=True)
class Locator:
    """Maps a node's position inside an expression back to a position in the YAML file."""

    file: str
    fallback: Mark
    span: ScalarSpan | None = None
    #: text offset of the expression inside the scalar (message template fields)
    prefix: int = 0

    def mark(self, node: ast.AST | None) -> Mark:
        origin = getattr(node, "_macro_use", None)
        if origin is not None:
            node = origin
        line = getattr(node, "lineno", None)
        column = getattr(node, "col_offset", None)
        if not isinstance(line, int) or not isinstance(column, int):
            return self.fallback
        return self.position(line, column)

    def position(self, line: int, column: int) -> Mark:
        if self.span is None:
            return self.fallback
        if line == 1:
            column += self.prefix
        return self.span.position(line, column)


@dataclass(slots=True)
class Macro:
    """A named expression; inlined wherever a rule uses its name."""

    name: str
    tree: ast.expr | None
    locator: Locator
    references: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DerivedName:
    """What an expression must know of a ``derive:`` fact it reads as ``derived.NAME``: its
    type, the item it is kept per (None: the account) and whether it can be unknown."""

    name: str
    type: namespace.FactType
    each: str | None = None
    optional: bool = False


@dataclass(slots=True)
class Scope:
    """What names an expression may use and what its rule binds."""

    file: str
    rule_id: str | None
    params: Mapping[str, object]
    lists: frozenset[str]
    macros: Mapping[str, Macro]
    sessions: frozenset[str]
    pool: ConstantPool
    triggers: frozenset[str] = frozenset()
    each: str | None = None
    in_lock: bool = False
    #: lockout ``while:``: only always-bound families, params, lists and ``lock.*``
    lock_only: bool = False
    #: a symbol lockout's ``while:``: ``symbol.*`` is bound too, to the locked symbol
    lock_symbol: bool = False
    #: macro bodies are checked for names only; binding and guards are checked where used
    is_macro: bool = False
    #: optional facts already known here: actions and messages run only when ``when`` held
    guarded: frozenset[str] = frozenset()
    #: the ruleset's ``derive:`` facts, by name (``derived.NAME``)
    derived: Mapping[str, DerivedName] = field(default_factory=dict)
    #: ``derive:`` entries that have an error of their own (name → its line): a reader is
    #: pointed there instead of being told the fact does not exist
    broken_derived: Mapping[str, int] = field(default_factory=dict)

    @property
    def optional_derived(self) -> frozenset[str]:
        """``derived.NAME`` of the derived facts that can be unknown (need ``known(...)``)."""
        return frozenset(f"derived.{d.name}" for d in self.derived.values() if d.optional)

    def problem(self, mark: Mark, message: str, check: str, hint: str | None = None) -> Problem:
        return Problem(self.file, mark.line, mark.column, message, check, self.rule_id, hint)


@dataclass(slots=True)
class CheckedExpression:
    """A compiled expression plus the checked tree, kept for lint's sample evaluation."""

    compiled: CompiledExpression
    tree: ast.Expression
    role: str
    scope: Scope
    locator: Locator
    names_used: set[str] = field(default_factory=set)
    #: format spec when this is a message template field
    spec: str | None = None


def family_attr(node: ast.AST) -> tuple[str, str] | None:
    """``day.realized_pnl`` → ("day", "realized_pnl") when the base is a bare name."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id, node.attr
    return None
