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
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType

from simple_risk import __version__
from simple_risk.engine import namespace
from simple_risk.engine.dsl.catalogue import tickers
from simple_risk.engine.dsl.compilation import Compilation, base_scope
from simple_risk.engine.dsl.durations import is_duration, parse_duration, too_long, unit_choices
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


def compile_params(
    out: Compilation, raw: object, overrides: Mapping[str, object], raw_ranges: object = None
) -> None:
    """``params:`` with the caller's overrides applied (an override must name a declared param
    and stay within the param's ``param_ranges:`` entry, as the ruleset's own value must)."""
    declared: dict[str, object] = (
        {str(k): v for k, v in raw.items()} if isinstance(raw, dict) else {}
    )
    ranges = compile_param_ranges(out, raw_ranges, declared)
    for name, value in declared.items():
        said_out_of_range(out, name, value, ranges, "param_ranges:")
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
            message, hint = mistyped_override(str(name), declared[name], value)
            out.problems.append(Problem(out.doc.file, 1, 1, message, "wrong-type", hint=hint))
            continue
        refused = out_of_range(value, ranges.get(name))
        if refused is not None:
            out.problems.append(
                Problem(
                    out.doc.file,
                    1,
                    1,
                    f'the override of param "{name}" is {refused}',
                    "param-range",
                    hint=f"the ruleset's param_ranges: gives {name} {describe_range(ranges[name])}",
                )
            )
            continue
        declared[name] = value
    out.params = declared


#: a param's allowed values: (min, max), either end None when open
ParamRange = tuple[Decimal | None, Decimal | None]


def compile_param_ranges(
    out: Compilation, raw: object, declared: Mapping[str, object]
) -> dict[str, ParamRange]:
    """``param_ranges:``: for each named number param, the values it may take (both ends
    included). A limit typed with the wrong sign (``daily_loss_limit: -500``, in the file, an
    overlay or ``--set``) would otherwise lock or flatten the account at the first event; the
    range makes it an error before the ruleset runs."""
    ranges: dict[str, ParamRange] = {}
    if not isinstance(raw, dict):
        return ranges
    for name, spec in raw.items():
        if not isinstance(spec, dict):
            continue  # the schema said so
        low, high = _bound(spec.get("min")), _bound(spec.get("max"))
        if name not in declared:
            out.error(
                ("param_ranges", name),
                f'param_ranges names unknown param "{name}"',
                "unknown-param",
                did_you_mean(str(name), list(declared))
                or ("declared: " + ", ".join(sorted(declared)) if declared else None),
                key=True,
            )
        elif not _numbers_of(declared[name]):
            out.error(
                ("param_ranges", name),
                f'param "{name}" is {value_kind(declared[name])}: only numbers have a range',
                "wrong-type",
                number_hint(str(name), declared[name])
                or "give a range to a number param, or a list or map of numbers",
                key=True,
            )
        elif low is not None and high is not None and low > high:
            out.error(
                ("param_ranges", name),
                f'the range of param "{name}" is empty: min {low} is above max {high}',
                "bad-value",
                "swap min and max",
            )
        else:
            ranges[str(name)] = (low, high)
    return ranges


def said_out_of_range(
    out: Compilation, name: str, value: object, ranges: Mapping[str, ParamRange], whose: str
) -> bool:
    """Report ``params.NAME`` of ``out``'s file outside its range, at the value (a list or map
    param: at the item that is out); whether it was. ``whose`` names the ranges in the hint
    (``param_ranges:``, or the ruleset's when the value is an overlay's)."""
    found = first_out_of_range(value, ranges.get(name))
    if found is None:
        return False
    item, outside = found
    out.error(
        ("params", name) if item is None else ("params", name, item),
        f'param "{name}" is {outside}',
        "param-range",
        f"{whose} gives {name} {describe_range(ranges[name])}",
    )
    return True


def _bound(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        return None
    return Decimal(str(value))


def _items(value: object) -> list[tuple[str | int | None, object]]:
    """A param's values with where each is: itself (None), each list item (its index) or each
    map value (its key)."""
    if isinstance(value, dict):
        return [(str(key), item) for key, item in value.items()]
    if isinstance(value, list | tuple):
        return list(enumerate(value))
    return [(None, value)]


def _numbers_of(value: object) -> list[tuple[str | int | None, Decimal]]:
    """The numbers a param holds, each with where it is (empty when any is not a number)."""
    items = _items(value)
    numbers = [(where, _bound(item)) for where, item in items]
    if not items or any(n is None for _, n in numbers):
        return []
    return [(where, n) for where, n in numbers if n is not None]


def describe_range(bounds: ParamRange) -> str:
    """``1 or more``, ``at most 10``, ``0 to 5``: the words of a range in a message."""
    low, high = bounds
    if low is not None and high is not None:
        return f"{low} to {high}"
    if low is not None:
        return f"{low} or more"
    return f"at most {high}"


def out_of_range(value: object, bounds: ParamRange | None) -> str | None:
    """Why ``value`` is outside ``bounds`` (``-500, below the smallest value allowed (1)``),
    or None when it is inside or has no range."""
    found = first_out_of_range(value, bounds)
    return None if found is None else found[1]


def first_out_of_range(
    value: object, bounds: ParamRange | None
) -> tuple[str | int | None, str] | None:
    """Where in ``value`` (a list index, a map key, None for the value itself) the first
    number outside ``bounds`` is, and why."""
    if bounds is None:
        return None
    low, high = bounds
    for where, number in _numbers_of(value):
        if low is not None and number < low:
            why = f"below the smallest value allowed ({low})"
        elif high is not None and number > high:
            why = f"above the largest value allowed ({high})"
        else:
            continue
        text = f"{number}, {why}" if where is None else f"{_shown(value)}: {number} is {why}"
        return where, text
    return None


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


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


_WRITTEN_NUMBER = re.compile(
    r"^\s*(?P<sign>[-+]?)\s*\$?\s*(?P<digits>\d{1,3}(?:,\d{3})+|\d+)(?P<fraction>\.\d+)?"
    r"\s*(?:\$|usd|dollars?)?\s*$",
    re.IGNORECASE,
)


def number_hint(name: str, value: object) -> str | None:
    """For a number written as text (``$500``, ``500 USD``, ``1,000``): the fix, the number
    alone (``write the number alone: daily_loss_limit: 500``); None for other values."""
    if not isinstance(value, str):
        return None
    found = _WRITTEN_NUMBER.match(value)
    if found is None:
        return None
    number = found["sign"].replace("+", "") + found["digits"].replace(",", "")
    number += found["fraction"] or ""
    return f"write the number alone, without a currency or a thousands separator: {name}: {number}"


def mistyped_override(name: str, declared: object, value: object) -> tuple[str, str | None]:
    """The message and hint for an override (``--set``, a rule test's or an overlay's
    ``params:``) of another kind than the ruleset's value. A param keeps its form: a number of
    seconds given for a duration (``600`` for ``10m``) could mean seconds or minutes, so the
    hint gives both, written as durations; a duration given for a number of seconds gives
    that number."""
    was, now = value_kind(declared), value_kind(value)
    seconds = _seconds_of(value)
    if is_duration(declared) and seconds is not None:
        return (
            f'param "{name}" is a duration in the ruleset ({declared}), but the override is {now}',
            unit_choices(name, seconds),
        )
    message = f'param "{name}" is {was} in the ruleset, but the override is {now}'
    if _seconds_of(declared) is not None and is_duration(value) and not too_long(value):
        total = Decimal(parse_duration(value) // timedelta(milliseconds=1)) / 1000
        plain = total.to_integral_value() if total == total.to_integral_value() else total
        return message, f"the ruleset counts it in seconds where it is a duration: {name}: {plain}"
    return message, number_hint(name, value)


def _seconds_of(value: object) -> int | Decimal | None:
    """A number that can be a number of seconds (positive, at most ten years), else None."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return value if 0 < value <= _MAX_SECONDS else None


#: the longest number of seconds a duration hint converts (ten years)
_MAX_SECONDS = 3650 * 86400


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
