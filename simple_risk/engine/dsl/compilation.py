"""What compiling one ruleset file produces, shared by every section's compiler and the lint.

A :class:`Compilation` collects, while the file is compiled section by section
(:mod:`~simple_risk.engine.dsl.compiler`, :mod:`~simple_risk.engine.dsl.sections`,
:mod:`~simple_risk.engine.dsl.calendar_spec`, :mod:`~simple_risk.engine.dsl.rules`,
:mod:`~simple_risk.engine.dsl.derive`, :mod:`~simple_risk.engine.dsl.overlay`), the ruleset,
every located problem and what the lint checks (:mod:`simple_risk.engine.dsl.checks`) need
afterwards. Kept apart so the section compilers and the checks can import the record they
fill or read without importing the compiler that runs them (which imports them: a cycle).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from simple_risk.calendars import ExchangeDays
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.scope import CheckedExpression, ConstantPool, DerivedName, Macro, Scope
from simple_risk.engine.dsl.yamlload import Document, Path
from simple_risk.engine.model import Ruleset

_WRITTEN = re.compile(r"\b(?:(params|derived)\s*\.\s*)?([A-Za-z_][A-Za-z0-9_]*)")


def names_written(text: str) -> set[str]:
    """``params.NAME``, ``derived.NAME`` and bare names as they appear in ``text``, even if it
    does not parse."""
    return {f"{prefix}.{name}" if prefix else name for prefix, name in _WRITTEN.findall(text)}


@dataclass(slots=True)
class Compilation:
    """Everything one file produced: the ruleset (if clean so far), problems, and for lint
    the checked expressions, macros, and which params / lists / macros are used."""

    doc: Document
    ruleset: Ruleset | None = None
    problems: list[Problem] = field(default_factory=list)
    expressions: list[CheckedExpression] = field(default_factory=list)
    macros: dict[str, Macro] = field(default_factory=dict)
    used_names: set[str] = field(default_factory=set)
    #: names written in expressions that failed to compile (``params.x``, bare names): lint
    #: must not call a definition unused when its only user has another error
    attempted_names: set[str] = field(default_factory=set)
    rule_ids: list[tuple[str, Path]] = field(default_factory=list)
    params: dict[str, object] = field(default_factory=dict)
    lists: dict[str, tuple[object, ...]] = field(default_factory=dict)
    sessions: frozenset[str] = frozenset()
    #: the exchange calendar the ruleset named (before its own overrides), for the lint
    exchange: ExchangeDays | None = None
    pool: ConstantPool = field(default_factory=ConstantPool)
    #: the ``derive:`` facts expressions may read as ``derived.NAME`` (dsl/derive.py)
    derived: dict[str, DerivedName] = field(default_factory=dict)
    #: ``derive:`` entries with an error of their own, by name: the line it is reported on
    broken_derived: dict[str, int] = field(default_factory=dict)
    #: for an account overlay: the base ruleset's compilation, whose scope the added rules
    #: share (lint checks read its symbols and the names its rules use)
    base: Compilation | None = None

    def attempted(self, value: object) -> None:
        """Remember the names written in ``value`` (text, or a list / mapping of texts)."""
        if isinstance(value, str):
            self.attempted_names |= names_written(value)
        elif isinstance(value, list):
            for item in value:
                self.attempted(item)
        elif isinstance(value, dict):
            for item in value.values():
                self.attempted(item)

    def error(
        self,
        path: Path,
        message: str,
        check: str,
        hint: str | None = None,
        rule_id: str | None = None,
        key: bool = False,
        severity: str = "error",
    ) -> None:
        mark = self.doc.key_at(path) if key else self.doc.at(path)
        self.problems.append(
            Problem(self.doc.file, mark.line, mark.column, message, check, rule_id, hint, severity)
        )


def base_scope(out: Compilation, rule_id: str | None = None, is_macro: bool = False) -> Scope:
    """The scope the file's macros, derived facts and rules start from."""
    return Scope(
        file=out.doc.file,
        rule_id=rule_id,
        params=out.params,
        lists=frozenset(out.lists),
        macros=out.macros,
        sessions=out.sessions,
        pool=out.pool,
        is_macro=is_macro,
        derived=out.derived,
        broken_derived=out.broken_derived,
    )
