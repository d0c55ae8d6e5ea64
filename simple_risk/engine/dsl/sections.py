"""The small top-level sections of a ruleset: ``requires:``, ``symbols:``, ``params:``, the
names of ``lists:`` and ``macros:``, and the macro bodies.

Each is compiled into the :class:`~simple_risk.engine.dsl.compilation.Compilation` before any
rule, because rules read them: params (after a caller's overrides), lists and macros are the
names an expression may use. Kept apart from the rules (:mod:`~simple_risk.engine.dsl.rules`)
and the calendar (:mod:`~simple_risk.engine.dsl.calendar_spec`), which have jobs of their own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from simple_risk import __version__
from simple_risk.engine import namespace
from simple_risk.engine.dsl.catalogue import tickers
from simple_risk.engine.dsl.compilation import Compilation, base_scope
from simple_risk.engine.dsl.expressions import check_macro
from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.dsl.scope import Locator, Macro
from simple_risk.engine.dsl.yamlload import Mark, Path
from simple_risk.engine.model import SymbolSpec


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"[0-9]+", text))


def check_requires(out: Compilation, top: Mapping[object, object]) -> None:
    """``requires: simple-risk>=X``: a ruleset written for a newer version says so."""
    requires = top.get("requires")
    if not isinstance(requires, str) or ">=" not in requires:
        return
    wanted = _version_tuple(requires.split(">=", 1)[1])
    if wanted and wanted > _version_tuple(__version__):
        out.error(
            ("requires",),
            f"this ruleset needs {requires.strip()}; this is simple-risk {__version__}",
            "requires",
            "upgrade simple-risk or use a ruleset written for this version",
        )


def compile_symbols(raw: object) -> SymbolSpec:
    """The ruleset's ``symbols:`` over the shipped contract catalogue (read here, at load
    time, so the engine never reads a file)."""
    catalogue = tickers()
    if not isinstance(raw, dict):
        return SymbolSpec(catalogue=catalogue)
    aliases = raw.get("aliases")
    weights = raw.get("weights")
    products = raw.get("products")
    per_lot = raw.get("units_per_lot", 10)
    return SymbolSpec(
        aliases=MappingProxyType(
            {str(k): v for k, v in aliases.items() if isinstance(v, str)}
            if isinstance(aliases, dict)
            else {}
        ),
        weights=MappingProxyType(
            {
                str(k): v
                for k, v in weights.items()
                if isinstance(v, int) and not isinstance(v, bool)
            }
            if isinstance(weights, dict)
            else {}
        ),
        units_per_lot=per_lot if isinstance(per_lot, int) and not isinstance(per_lot, bool) else 10,
        products=MappingProxyType(
            {str(k): v for k, v in products.items() if isinstance(v, str)}
            if isinstance(products, dict)
            else {}
        ),
        catalogue=catalogue,
    )


def compile_params(out: Compilation, raw: object, overrides: Mapping[str, object]) -> None:
    """``params:`` with the caller's overrides applied (an override must name a declared param)."""
    declared: dict[str, object] = (
        {str(k): v for k, v in raw.items()} if isinstance(raw, dict) else {}
    )
    for name, value in overrides.items():
        if name not in declared:
            hint = did_you_mean(name, declared) or (
                "declared: " + ", ".join(sorted(declared)) if declared else None
            )
            out.problems.append(
                Problem(
                    out.doc.file,
                    1,
                    1,
                    f'override names unknown param "{name}"',
                    "unknown-param",
                    hint=hint,
                )
            )
            continue
        if value_kind(value) != value_kind(declared[name]):
            out.problems.append(
                Problem(
                    out.doc.file,
                    1,
                    1,
                    f'param "{name}" is {value_kind(declared[name])} in the ruleset,'
                    f" but the override is {value_kind(value)}",
                    "wrong-type",
                )
            )
            continue
        declared[name] = value
    out.params = declared


def value_kind(value: object) -> str:
    """What kind of YAML value a param holds, in the words a message uses."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "empty"


def check_definition_names(out: Compilation, top: Mapping[object, object]) -> None:
    """List and macro names share the expression namespace with facts and functions."""
    seen: dict[str, str] = {}
    for section, word in (("lists", "list"), ("macros", "macro")):
        table = top.get(section)
        if not isinstance(table, dict):
            continue
        for name in table:
            if not isinstance(name, str):
                continue
            if name in namespace.RESERVED_NAMES:
                kind = "a fact family" if name in namespace.FAMILIES else "a built-in name"
                out.error(
                    (section, name),
                    f'{word} name "{name}" is {kind}',
                    "reserved-name",
                    "choose another name",
                    key=True,
                )
            elif name in seen:
                out.error(
                    (section, name),
                    f'{word} "{name}" has the same name as a {seen[name]}',
                    "reserved-name",
                    "lists and macros share one namespace",
                    key=True,
                )
            seen[name] = word


def compile_macros(out: Compilation, raw: object) -> None:
    """``macros:``: every body checked, and a macro that uses itself, directly or through
    others, reported with its chain and left empty."""
    if not isinstance(raw, dict):
        return
    names = [str(n) for n in raw]
    scope = base_scope(out, is_macro=True)
    # every macro name is known before any body is checked (macros may use each other)
    scope.macros = {n: Macro(n, None, Locator(out.doc.file, Mark(1, 1))) for n in names}
    for name, source in raw.items():
        if not isinstance(source, str):
            continue
        path: Path = ("macros", name)
        locator = Locator(out.doc.file, out.doc.at(path), out.doc.span(path))
        macro, problems = check_macro(str(name), source, locator, scope)
        out.problems += problems
        out.macros[str(name)] = macro
    for name in names:
        cycle = _cycle_from(name, out.macros)
        if cycle is not None:
            out.error(
                ("macros", name),
                f'macro "{name}" refers to itself: {" -> ".join(cycle)}',
                "macro-cycle",
                "a macro may use other macros, but not in a loop",
            )
    for name in names:
        if _cycle_from(name, out.macros) is not None and name in out.macros:
            out.macros[name].tree = None


def _cycle_from(start: str, macros: Mapping[str, Macro]) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, trail = stack.pop()
        macro = macros.get(name)
        if macro is None:
            continue
        for ref in sorted(macro.references):
            if ref == start:
                return [*trail, ref]
            if ref not in seen:
                seen.add(ref)
                stack.append((ref, [*trail, ref]))
    return None
