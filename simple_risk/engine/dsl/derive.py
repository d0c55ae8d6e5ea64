"""The ``derive:`` section: named, typed facts computed before the rules run.

Called by the ruleset compiler in two steps. :func:`declare` first reads every entry's name,
type, item and aggregate, so that macros, rules and other derived facts may read
``derived.NAME`` whatever order the file lists them in. :func:`compile_derived` then compiles
each entry's expression in a scope like a rule's (its ``trigger:`` and ``each:`` decide which
families are bound), rejects a cycle between derived facts with the chain that makes it, and
orders the facts so each comes after every fact it reads — the order the engine evaluates
them in (simple_risk.engine.derive).

PASS::

    derive:
      worst_open_loss:                 # per position, since it opened
        type: money
        each: position
        min: position.unrealized_pnl
        over: position
      losing_fills:                    # fills that lost more than a param, last 10 minutes
        trigger: [trade]
        count: known(trade.net_pnl) and trade.net_pnl < -params.fill_loss
        within: 10m                    # or a param: within: params.loss_window

FAIL::

    derive:
      a: {type: int, value: derived.b}   # derived fact "a" reads itself: a -> b -> a
      b: {type: int, value: derived.a}
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from simple_risk.engine import namespace
from simple_risk.engine.dsl.durations import (
    DURATION_HINT,
    invalid_duration,
    parse_duration,
    too_long,
)
from simple_risk.engine.dsl.expressions import compile_expression
from simple_risk.engine.dsl.param_durations import param_duration, resolve
from simple_risk.engine.dsl.schema import PARAM_REFERENCE_PATTERN
from simple_risk.engine.dsl.scope import DerivedName, Locator, Scope
from simple_risk.engine.model import AGGREGATES, DERIVE_EACH, PERIODS, DerivedFact, SourceLocation

if TYPE_CHECKING:
    from simple_risk.engine.dsl.compilation import Compilation

#: the key that holds a derived fact's expression: ``value:`` (no aggregate) or an aggregate
EXPRESSION_KEYS = ("value", *AGGREGATES)
#: types an aggregate that computes with its samples (max, min, sum) accepts
_NUMBERS = frozenset({"money", "price", "decimal", "seconds", "int"})
_DERIVED_NAME = re.compile(r"\bderived\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
#: ``within: params.NAME``: a window named by a param (the schema allows exactly this form)
PARAM_REFERENCE = re.compile(PARAM_REFERENCE_PATTERN)
_TYPES_HINT = "type: one of " + ", ".join(t.value for t in namespace.FactType)


def _expression_key(spec: Mapping[object, object]) -> str | None:
    keys = [key for key in EXPRESSION_KEYS if key in spec]
    return keys[0] if len(keys) == 1 else None


def declare(out: Compilation, raw: object) -> dict[str, DerivedName]:
    """Every well-formed ``derive:`` entry's name, type, item and optionality (problems with
    the entry's shape are reported here, once)."""
    declared: dict[str, DerivedName] = {}
    if not isinstance(raw, dict):
        return declared
    spans = _entry_spans(out, raw)
    for key, spec in raw.items():
        name = str(key)
        path = ("derive", key)
        if not isinstance(spec, dict):
            continue  # the schema said it must be a mapping
        info = _declare_one(out, path, name, spec)
        if info is not None:
            declared[name] = info
            continue
        # its own error is the one to fix: a reader is pointed at it (the first problem
        # written inside the entry, the schema's included), not told the fact does not exist
        start, end = spans[key]
        lines = [p.line for p in out.problems if p.file == out.doc.file and start <= p.line < end]
        out.broken_derived[name] = min(lines, default=start)
    return declared


def _entry_spans(out: Compilation, raw: Mapping[object, object]) -> dict[object, tuple[int, int]]:
    """The lines each ``derive:`` entry covers: from its key to the next key (of the section,
    or the next top-level key after it)."""
    top = out.doc.get(())
    starts = sorted((out.doc.key_at(("derive", key)).line, key) for key in raw)
    after = [
        out.doc.key_at((key,)).line
        for key in (top if isinstance(top, dict) else {})
        if out.doc.key_at((key,)).line > out.doc.key_at(("derive",)).line
    ]
    ends = [line for line, _ in starts[1:]] + [min(after, default=1 << 30)]
    return {key: (line, end) for (line, key), end in zip(starts, ends, strict=True)}


def _declare_one(
    out: Compilation, path: tuple[object, ...], name: str, spec: Mapping[object, object]
) -> DerivedName | None:
    given = [key for key in EXPRESSION_KEYS if key in spec]
    if len(given) != 1:
        what = "has " + " and ".join(f"{k}:" for k in given) if given else "has no expression"
        out.error(
            path,
            f'derived fact "{name}" {what}',
            "derive-spec",
            "give exactly one of " + ", ".join(f"{k}:" for k in EXPRESSION_KEYS),
            key=True,
        )
        return None
    aggregate = None if given[0] == "value" else given[0]
    raw_type = spec.get("type")
    if aggregate == "count":
        if raw_type is not None and raw_type != "int":
            out.error(
                (*path, "type"),
                f'derived fact "{name}" counts: its type is int, not {raw_type}',
                "derive-spec",
                "remove type: or write type: int",
            )
            return None
        raw_type = "int"
    if raw_type is None:
        out.error(path, f'derived fact "{name}" needs a type', "derive-spec", _TYPES_HINT, key=True)
        return None
    if raw_type not in {t.value for t in namespace.FactType}:
        return None  # the schema reported it
    if aggregate in ("max", "min", "sum") and raw_type not in _NUMBERS:
        out.error(
            (*path, "type"),
            f'{aggregate} needs a number, but derived fact "{name}" is {raw_type}',
            "derive-spec",
            "type: money, price, decimal, seconds or int",
        )
        return None
    raw_each = spec.get("each")
    each = raw_each if isinstance(raw_each, str) and raw_each in DERIVE_EACH else None
    if not _period_ok(out, path, name, spec, aggregate, each):
        return None
    fact_type = namespace.FactType(raw_type)
    return DerivedName(name, fact_type, each, aggregate not in ("sum", "count"))


def _period_ok(
    out: Compilation,
    path: tuple[object, ...],
    name: str,
    spec: Mapping[object, object],
    aggregate: str | None,
    each: object,
) -> bool:
    """``over:`` / ``within:`` / ``session:`` fit together and with the aggregate."""
    over, within, session = spec.get("over"), spec.get("within"), spec.get("session")
    if over is not None and within is not None:
        out.error(
            (*path, "within"),
            f'derived fact "{name}" has both over: and within:',
            "derive-spec",
            "over: a period (day, week, session, position) or within: a sliding window",
        )
        return False
    if aggregate is None and (over is not None or within is not None):
        word = "over" if over is not None else "within"
        out.error(
            (*path, word),
            f'{word}: needs an aggregate, but derived fact "{name}" has value:',
            "derive-spec",
            "write max:, min:, sum:, count:, first: or last: instead of value:",
        )
        return False
    if over == "position" and each != "position":
        out.error(
            (*path, "over"),
            f'derived fact "{name}" runs over the life of a position, so it is kept per one',
            "derive-spec",
            "add each: position",
        )
        return False
    if over == "session" and not isinstance(session, str):
        out.error(
            (*path, "over"),
            f'derived fact "{name}" runs over a session: name it',
            "derive-spec",
            "add session: NAME, one of calendar.sessions",
        )
        return False
    if session is not None and over != "session":
        out.error(
            (*path, "session"),
            f'session: is for over: session, but derived fact "{name}" does not run over one',
            "derive-spec",
            "add over: session, or remove session:",
        )
        return False
    if isinstance(session, str) and session not in out.sessions:
        listed = ", ".join(sorted(out.sessions)) or "none"
        out.error(
            (*path, "session"),
            f'unknown session "{session}"',
            "unknown-session",
            f"calendar.sessions defines: {listed}",
        )
        return False
    if within is not None:
        source = ""
        if isinstance(within, str) and PARAM_REFERENCE.match(within):
            window = param_duration(out, (*path, "within"), within, "within:", "a window")
            if window is None:
                return False
            source = f" (from {within})"
        else:
            try:
                window = parse_duration(within)
            except ValueError:
                if too_long(within):  # the schema accepts its shape: only its length is wrong
                    message, hint = invalid_duration(within)
                    out.error((*path, "within"), message, "bad-duration", hint)
                return False  # else the schema reported it
        if window <= timedelta(0):
            out.error(
                (*path, "within"),
                f'the window of derived fact "{name}" is empty{source}',
                "bad-duration",
                DURATION_HINT,
            )
            return False
    return True


def compile_derived(
    out: Compilation, raw: object, scope_for: Callable[[None], Scope]
) -> tuple[DerivedFact, ...]:
    """The declared facts compiled, checked for cycles and in evaluation order (empty when
    any of them has a problem: the compilation then keeps no ruleset anyway)."""
    if not isinstance(raw, dict) or not out.derived:
        return ()
    compiled: dict[str, DerivedFact] = {}
    for key, spec in raw.items():
        name = str(key)
        info = out.derived.get(name)
        if info is None or not isinstance(spec, dict):
            continue
        fact = _compile_one(out, ("derive", key), info, spec, scope_for(None))
        if fact is not None:
            compiled[name] = fact
    cyclic = _report_cycles(out, raw)
    if cyclic or len(compiled) != len(out.derived):
        return ()
    return _in_order(compiled)


def _compile_one(
    out: Compilation,
    path: tuple[object, ...],
    info: DerivedName,
    spec: Mapping[object, object],
    scope: Scope,
) -> DerivedFact | None:
    key = _expression_key(spec)
    assert key is not None  # declare() kept only entries with one expression key
    raw_triggers = spec.get("trigger")
    triggers = (
        frozenset(t for t in raw_triggers if t in namespace.TRIGGERS)
        if isinstance(raw_triggers, list)
        else frozenset(namespace.TRIGGERS)
    )
    scope.triggers = triggers
    scope.each = info.each
    source_path = (*path, key)
    value = out.doc.get(source_path)
    if isinstance(value, bool):
        source: str | None = "True" if value else "False"
    elif isinstance(value, int | str):
        source = str(value)
    else:
        source = None
    if source is None:
        return None
    scope.guarded = _lone_optional(source, scope)
    # a count's expression is a condition, max/min/sum need a number, value/first/last a
    # value of the declared type (checked on sample facts by lint's sample evaluation)
    role = {"count": "when", "max": "value", "min": "value", "sum": "value"}.get(
        key, f"derive-{info.type.value}"
    )
    locator = Locator(out.doc.file, out.doc.at(source_path), out.doc.span(source_path))
    checked, problems = compile_expression(source, locator, scope, role)
    out.problems += problems
    if checked is None:
        out.attempted(source)
        return None
    out.expressions.append(checked)
    out.used_names |= checked.names_used
    within = spec.get("within")
    over = spec.get("over")
    session = spec.get("session")
    description = spec.get("description")
    mark = out.doc.key_at(path)
    names = checked.compiled.names
    return DerivedFact(
        name=info.name,
        type=info.type.value,
        value=checked.compiled,
        location=SourceLocation(out.doc.file, mark.line, mark.column),
        triggers=triggers,
        aggregate=None if key == "value" else key,
        over=over if isinstance(over, str) and over in PERIODS else None,
        session=session if isinstance(session, str) else None,
        within=_window(out.params, within),
        each=info.each,
        reads=frozenset(n.removeprefix("derived.") for n in names if n.startswith("derived.")),
        description=description if isinstance(description, str) else "",
    )


def _window(params: Mapping[str, object], within: object) -> timedelta | None:
    """The sliding window ``within:`` gives: as written, or the duration of the param it
    names (``params.loss_window``), resolved after the overrides."""
    if within is None:
        return None
    if isinstance(within, str) and PARAM_REFERENCE.match(within):
        window = resolve(params, within, "within:", "a window")
        assert isinstance(window, timedelta)  # declare() kept no entry whose param misfits
        return window
    return parse_duration(within)


def _lone_optional(source: str, scope: Scope) -> frozenset[str]:
    """An expression that is one optional fact (``min: position.unrealized_pnl``) needs no
    ``known(...)``: an unknown sample is simply not taken."""
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except (SyntaxError, ValueError):
        return frozenset()
    if isinstance(tree, ast.Attribute) and isinstance(tree.value, ast.Name):
        dotted = f"{tree.value.id}.{tree.attr}"
        fact = namespace.FACTS.get(dotted)
        if (fact is not None and fact.optional) or dotted in scope.optional_derived:
            return frozenset({dotted})
    return frozenset()


def _written_reads(raw: Mapping[object, object]) -> dict[str, frozenset[str]]:
    """The derived facts each entry's expression names, as written (even one that does not
    compile: a loop is reported whatever else is wrong with its members)."""
    reads: dict[str, frozenset[str]] = {}
    for key, spec in raw.items():
        if not isinstance(spec, dict):
            continue
        expression = _expression_key(spec)
        source = spec.get(expression) if expression is not None else None
        if isinstance(source, str):
            reads[str(key)] = frozenset(_DERIVED_NAME.findall(source))
    return reads


def _report_cycles(out: Compilation, raw: Mapping[object, object]) -> bool:
    """Report each derived fact that reads itself, through others or directly."""
    found = False
    reads = _written_reads(raw)
    for key in raw:
        name = str(key)
        cycle = _cycle_from(name, reads)
        if cycle is None:
            continue
        found = True
        spec = raw[key]
        out.error(
            ("derive", key, _expression_key(spec) or "value")
            if isinstance(spec, dict)
            else ("derive", key),
            f'derived fact "{name}" reads itself: {" -> ".join(cycle)}',
            "derive-cycle",
            "a derived fact may read others, but not in a loop",
        )
    return found


def _cycle_from(start: str, reads: Mapping[str, frozenset[str]]) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, trail = stack.pop()
        for ref in sorted(reads.get(name, ())):
            if ref == start:
                return [*trail, ref]
            if ref not in seen:
                seen.add(ref)
                stack.append((ref, [*trail, ref]))
    return None


def _in_order(facts: Mapping[str, DerivedFact]) -> tuple[DerivedFact, ...]:
    """File order, except that a fact comes after every fact it reads (no cycles here)."""
    ordered: list[DerivedFact] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        placed.add(name)
        for ref in sorted(facts[name].reads):
            place(ref)
        ordered.append(facts[name])

    for name in facts:
        place(name)
    return tuple(ordered)


__all__ = ["EXPRESSION_KEYS", "compile_derived", "declare"]
