"""Type errors found by evaluating every expression with simpleeval on sample facts.

``when:`` must give true/false, action values (``contracts``, ``to``) a number, ``symbol`` a
root, ``side`` buy or sell, a lockout's ``for:`` a duration, each message field must accept
its format spec, and a derived fact's expression must give its declared type (a ``count:`` a
condition, ``max:``/``min:``/``sum:`` a number).

FAIL::

    when: session.time > 830                # type error: '>' not supported …
    when: day.realized_pnl                  # when: must be true or false, got a number
    message: "{position.symbol:.2f}"        # format ".2f" does not fit a string
    derive: {label: {type: money, value: account.name}}   # money, but gives a string
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from decimal import Decimal

from simple_risk.engine import namespace
from simple_risk.engine.dsl.actions.base import SIDES
from simple_risk.engine.dsl.checks.base import CheckDef
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.durations import (
    invalid_duration,
    is_duration,
    parse_duration,
    too_long,
    unit_choices,
)
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.reference import FactObject, reference_evaluate, sample_families
from simple_risk.engine.dsl.scope import CheckedExpression
from simple_risk.engine.functions import FUNCTIONS, Params

_WORDS = {bool: "true or false", str: "a string", int: "a number", Decimal: "a number"}


def _kind(value: object) -> str:
    if value is None:
        return "unknown (None)"
    return _WORDS.get(type(value), type(value).__name__)


def _problem(
    checked: CheckedExpression, message: str, check: str, hint: str | None = None
) -> Problem:
    mark = checked.locator.fallback
    scope = checked.scope
    return Problem(scope.file, mark.line, mark.column, message, check, scope.rule_id, hint)


def sample_of(node: ast.expr, env: dict[str, object]) -> object:
    """``node`` evaluated on the sample facts ``env``, or None when it cannot be: the type checks
    report what cannot be evaluated, so the checks that compare samples skip it."""
    try:
        return reference_evaluate(ast.Expression(body=node), env)
    except Exception:
        return None


def sample_env(compilation: Compilation) -> dict[str, object]:
    """Every name an expression of this file may read, bound to sample facts."""
    env: dict[str, object] = {
        **sample_families(),
        **FUNCTIONS,
        **compilation.pool.values,
        "params": Params(compilation.params),
    }
    for name, values in compilation.lists.items():
        env[name] = tuple(values)
    derived = {d.name: namespace.sample_value(d.type) for d in compilation.derived.values()}
    env["derived"] = FactObject("derived", derived)
    return env


def _side(checked: CheckedExpression, value: object) -> bool:
    """buy or sell; a string read from a fact (``order.side``) has only a sample value here."""
    if value in SIDES:
        return True
    return isinstance(value, str) and any(
        not name.startswith("params.") for name in checked.compiled.names
    )


def _is_position_side(checked: CheckedExpression) -> bool:
    """Whether an order side is written as ``position.side`` (long / short, never buy / sell)."""
    body = checked.tree.body
    return (
        isinstance(body, ast.Attribute)
        and isinstance(body.value, ast.Name)
        and (body.value.id, body.attr) == ("position", "side")
    )


def _of_type(value: object, fact_type: str) -> bool:
    """A derived fact's sample fits its declared type (unknown always fits)."""
    if value is None:
        return True
    if fact_type == "bool":
        return isinstance(value, bool)
    if fact_type == "str":
        return isinstance(value, str)
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


#: Python's names of the values an expression computes with, in the rule book's words
_TYPE_WORDS = {
    "decimal.Decimal": "a number",
    "Decimal": "a number",
    "int": "a number",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "NoneType": "unknown (None)",
}
_QUOTED_TYPE = re.compile(r"'([A-Za-z_][A-Za-z_.]*)'")


def _type_error(exc: Exception) -> tuple[str, str | None]:
    """The failure of an expression on sample facts in the author's words: Python's
    ``'<=' not supported between instances of 'decimal.Decimal' and 'str'`` becomes
    ``'<=' between a number and a string``, with the usual causes (a quoted number, an
    unquoted time) as the hint."""
    text = str(exc)
    if isinstance(exc, ZeroDivisionError):  # decimal's DivisionByZero is one too
        return "divides by zero", (
            "a divisor of 0 makes the rule fail (an engine-error alert) each time it is"
            " evaluated; guard it, e.g. x / y if y != 0 else 0"
        )
    if not isinstance(exc, TypeError):
        return f"fails on sample facts: {text}", None
    words = _QUOTED_TYPE.sub(lambda m: _TYPE_WORDS.get(m[1], m[0]), text)
    words = words.replace("not supported between instances of", "between")
    words = words.replace("unsupported operand type(s) for", "cannot apply")
    words = words.replace("bad operand type for", "cannot apply")
    hint = None
    if "a string" in words and "a number" in words:
        hint = (
            'compare numbers with numbers and strings with strings: 500 is a number, "500" a'
            ' string, and so is a time ("08:30")'
        )
    return f"type error: {words}", hint


def _positive_duration(value: object) -> bool:
    return is_duration(value) and not too_long(value) and parse_duration(value) > timedelta(0)


def _duration_problem(checked: CheckedExpression, value: object) -> Problem:
    """A duration expression that gives no positive duration; a zero or negative one (from a
    param: ``pause: -5m``) is said as such, not as a wrong type."""
    if too_long(value):
        message, hint = invalid_duration(value)
        return _problem(checked, f"{message}{_from_params(checked)}", "bad-duration", hint)
    if is_duration(value):
        return _problem(
            checked,
            f'{checked.compiled.source} gives "{value}": a lockout for no time ends as it starts',
            "bad-duration",
            "give a positive duration, e.g. 5m",
        )
    if isinstance(value, str) and value.startswith("-") and is_duration(value[1:]):
        return _problem(
            checked,
            f'{checked.compiled.source} gives "{value}", a negative duration: a lockout cannot'
            " last less than nothing",
            "bad-duration",
            f"write a positive duration, e.g. {value[1:]}",
        )
    if isinstance(value, str):
        # a string param that is not a duration (``pause: 5 min``): say what it holds
        message, hint = invalid_duration(value)
        return _problem(checked, f"{message}{_from_params(checked)}", "bad-duration", hint)
    source = checked.compiled.source
    if (
        source.startswith("params.")
        and source[7:].isidentifier()
        and isinstance(value, int | Decimal)
        and not isinstance(value, bool)
        and value > 0
    ):
        # a number of seconds, as a rule's for: would read it: the lockout needs the unit
        return _problem(
            checked,
            f"{source} is {value}, a number: a lockout's for: needs a duration",
            "type-error",
            unit_choices(source[7:], value),
        )
    return _problem(
        checked,
        f"must be a duration, got {_kind(value)}",
        "type-error",
        'give a duration string, e.g. params.pause with pause: "15m"',
    )


def _from_params(checked: CheckedExpression) -> str:
    """`` (from params.NAME)`` when the value is not written where it is used."""
    return f" (from {checked.compiled.source})" if checked.compiled.names else ""


def _negative_size(checked: CheckedExpression, value: object) -> bool:
    """A contract count below zero, when the expression reads only params and constants
    (then its value here is the value the engine will see, not a sample fact's)."""
    reads_facts = any(not name.startswith("params.") for name in checked.compiled.names)
    return (
        not reads_facts
        and isinstance(value, int | Decimal)
        and not isinstance(value, bool)
        and value < 0
    )


def _map_durations(
    compilation: Compilation, checked: CheckedExpression, seen: set[tuple[str, object]]
) -> Iterator[Problem]:
    """Every value a duration's ``lookup(params.MAP, key, default)`` can give is a length:
    the sample facts find one key, and a value of another (``pauses: {ES: 5 min}``) would
    make the lockout fail for that key only, at run time — a critical alert, no lockout."""
    for node in ast.walk(checked.tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "lookup"
            and node.args
            and isinstance(node.args[0], ast.Attribute)
            and isinstance(node.args[0].value, ast.Name)
            and node.args[0].value.id == "params"
        ):
            continue
        name = node.args[0].attr
        values = compilation.params.get(name)
        if not isinstance(values, Mapping):
            continue
        for key, value in values.items():
            if _positive_duration(value) or (name, key) in seen:
                continue
            seen.add((name, key))
            if is_duration(value):
                said, hint = "is no time", "give a positive duration, e.g. 5m"
            else:
                message, hint = invalid_duration(value)
                said = message.removeprefix(f'"{value}" ')
            path = ("params", name, key)
            written = compilation.doc.get(path) == value
            mark = compilation.doc.at(path) if written else checked.locator.fallback
            yield Problem(
                checked.scope.file,
                mark.line,
                mark.column,
                f'param "{name}" value "{value}" for {key} {said}: the lockout\'s for: reads it'
                f" with lookup(...), and for {key} the lockout would fail (a critical alert,"
                " no lockout)",
                "bad-duration",
                checked.scope.rule_id,
                hint,
            )


def run(compilation: Compilation) -> Iterator[Problem]:
    env = sample_env(compilation)
    seen: set[tuple[str, object]] = set()
    for checked in compilation.expressions:
        try:
            value = reference_evaluate(checked.tree, env)
        except Exception as exc:  # any failure on sample facts is the author's type error
            message, hint = _type_error(exc)
            yield _problem(checked, message, "type-error", hint)
            continue
        role = checked.role
        if role == "when" and not isinstance(value, bool):
            yield _problem(
                checked,
                f"must be a condition (true or false), got {_kind(value)}",
                "not-boolean",
                "compare it, e.g. x > 0",
            )
        elif role in ("value", "contracts") and (
            isinstance(value, bool) or not isinstance(value, int | Decimal)
        ):
            yield _problem(checked, f"must be a number, got {_kind(value)}", "type-error")
        elif role == "symbol" and not isinstance(value, str):
            yield _problem(checked, f"must be a symbol root, got {_kind(value)}", "type-error")
        elif role == "side" and _is_position_side(checked):
            yield _problem(
                checked,
                "position.side is long or short, never a side of an order: it"
                " would cancel nothing (a critical alert instead)",
                "type-error",
                'the orders that close a long sell: "sell" if position.side == "long" else "buy"',
            )
        elif role == "side" and not _side(checked, value):
            yield _problem(
                checked, f'must be a side ("buy" or "sell"), got {_kind(value)}', "type-error"
            )
        elif role == "duration" and not _positive_duration(value):
            yield _duration_problem(checked, value)
        elif role == "duration":
            yield from _map_durations(compilation, checked, seen)
        elif role == "contracts" and _negative_size(checked, value):
            yield _problem(
                checked,
                f"reduce_to {value} contracts{_from_params(checked)}: a position cannot be"
                " reduced below 0",
                "negative-size",
                "give 0 or more (0 closes every position in scope)",
            )
        elif role.startswith("derive-") and not _of_type(value, declared := role[7:]):
            yield _problem(
                checked,
                f"the derived fact is {declared}, but this gives {_kind(value)}",
                "type-error",
                "change its type: or its expression",
            )
        elif role == "message" and checked.spec:
            try:
                format(value, checked.spec)
            except (ValueError, TypeError):
                yield _problem(
                    checked,
                    f'format ":{checked.spec}" does not fit {_kind(value)}',
                    "bad-format-spec",
                )


CHECK = CheckDef("sample-evaluation", "Expressions evaluate to the right type.", run)
