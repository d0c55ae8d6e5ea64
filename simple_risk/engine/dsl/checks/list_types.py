"""Typed lists: an item of a list (or list / map param) must be of the type rules compare it with.

YAML decides an item's type by how it is written: ``[2026-12-09]`` holds a date and ``[1234]``
a number, while ``session.trading_day`` is a string and ``symbol.root`` is text. ``X in LIST``
compares with ``==``, so an item of another type never matches, the rule never fires, and
nothing else would ever say so. Each ``X in LIST`` / ``X not in LIST`` (and each
``lookup(params.MAP, X, …)``) is checked: X is evaluated on sample facts, like the type
checks do, and every item of another type is an error at the item, with the fix.

FAIL::

    lists:
      closed_days: [2026-12-09]     # a date, but session.trading_day is a string
    ...
    when: session.trading_day in closed_days

PASS::

    lists:
      closed_days: ["2026-12-09"]
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from simple_risk.engine.dsl.checks.base import CheckDef
from simple_risk.engine.dsl.checks.sample_evaluation import sample_env, sample_of
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.scope import CheckedExpression
from simple_risk.engine.dsl.yamlload import Mark, Path

_CHECK = "list-type"


def _kind(value: object) -> str | None:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dt.date):
        return "a date"
    return None


def _shown(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _fix(item: object, wanted: str) -> str:
    if wanted == "a string":
        return f'quote it: "{_shown(item)}"'
    if wanted == "a number" and isinstance(item, str):
        try:
            Decimal(item)
        except InvalidOperation:
            pass
        else:
            return f"write it without quotes: {item}"
    return f"items compared with it must be {wanted[2:]}s"


@dataclass(frozen=True, slots=True)
class _Container:
    """A list or map a rule compares against: its items and where each is written."""

    word: str  # 'list "x"' or 'param "x"'
    path: Path  # ("lists", "x") or ("params", "x")
    items: tuple[tuple[object, object], ...]  # (item, its index or key)


def _indexed(values: Iterable[object]) -> tuple[tuple[object, object], ...]:
    return tuple((value, index) for index, value in enumerate(values))


def _container(compilation: Compilation, node: ast.expr, keys: bool) -> _Container | None:
    if isinstance(node, ast.Name) and node.id in compilation.lists and not keys:
        values = compilation.lists[node.id]
        return _Container(f'list "{node.id}"', ("lists", node.id), _indexed(values))
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "params"
    ):
        value = compilation.params.get(node.attr)
        path: Path = ("params", node.attr)
        if keys and isinstance(value, Mapping):
            return _Container(f'param "{node.attr}"', path, tuple((k, k) for k in value))
        if not keys and isinstance(value, list | tuple):
            return _Container(f'param "{node.attr}"', path, _indexed(value))
    return None


def _uses(tree: ast.AST) -> Iterator[tuple[ast.expr, ast.expr, bool, str]]:
    """(compared value, list or map node, compares with map keys, how) of each membership."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for index, op in enumerate(node.ops):
                if isinstance(op, ast.In | ast.NotIn):
                    how = "in" if isinstance(op, ast.In) else "not in"
                    yield sides[index], sides[index + 1], False, how
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "lookup"
            and len(node.args) >= 2
        ):
            yield node.args[1], node.args[0], True, "lookup"


def _text(checked: CheckedExpression, node: ast.expr) -> str:
    if getattr(node, "_macro_use", None) is None:
        segment = ast.get_source_segment(checked.compiled.source, node)
        if segment:
            return segment
    return ast.unparse(node)


def _where(
    compilation: Compilation,
    checked: CheckedExpression,
    container: _Container,
    place: object,
    item: object,
    keys: bool,
    value_node: ast.expr,
) -> Mark:
    """The item where this file writes it, else (an overlay's rule using the base's list)
    the compared value in the rule."""
    doc = compilation.doc
    path = (*container.path, place)
    if keys:
        written = doc.get(container.path)
        if isinstance(written, dict) and place in written:
            return doc.key_at(path)
    elif doc.get(path) == item:
        return doc.at(path)
    return checked.locator.mark(value_node)


def run(compilation: Compilation) -> Iterator[Problem]:
    env = sample_env(compilation)
    for checked in compilation.expressions:
        for value_node, container_node, keys, how in _uses(checked.tree):
            container = _container(compilation, container_node, keys)
            if container is None:
                continue
            wanted = _kind(sample_of(value_node, env))
            if wanted is None:
                continue
            compared = _text(checked, value_node)
            listed = _text(checked, container_node)
            use = (
                f"lookup({listed}, {compared}, …) never finds it"
                if keys
                else f"{compared} {how} {listed} never matches it"
            )
            for item, place in container.items:
                kind = _kind(item)
                if kind is None or kind == wanted:
                    continue
                mark = _where(compilation, checked, container, place, item, keys, value_node)
                yield Problem(
                    compilation.doc.file,
                    mark.line,
                    mark.column,
                    f"{container.word} {'key' if keys else 'item'} {_shown(item)} is {kind},"
                    f" but {compared} is {wanted}: {use}",
                    _CHECK,
                    checked.scope.rule_id,
                    _fix(item, wanted),
                )


def _lookups(tree: ast.AST) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(map node, default node) of each ``lookup(MAP, key, default)``."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "lookup"
            and len(node.args) == 3
        ):
            yield node.args[0], node.args[2]


def _map_values(compilation: Compilation) -> Iterator[Problem]:
    """A map param's values are what ``lookup`` gives: one of another type than its default
    (``limits: {ES: 5, NQ: "5"}`` with ``lookup(params.limits, order.symbol, 1)``) makes the
    rule fail at run time for that key only — an engine-error alert instead of the limit."""
    env = sample_env(compilation)
    seen: set[tuple[str, object]] = set()
    for checked in compilation.expressions:
        if checked.role == "duration":
            continue  # each value must be a duration: said so, with the fix, by its own check
        for map_node, default_node in _lookups(checked.tree):
            if not (
                isinstance(map_node, ast.Attribute)
                and isinstance(map_node.value, ast.Name)
                and map_node.value.id == "params"
            ):
                continue
            values = compilation.params.get(map_node.attr)
            if not isinstance(values, Mapping):
                continue
            default = sample_of(default_node, env)
            wanted = _kind(default)
            if wanted is None:
                continue
            for key, value in values.items():
                kind = _kind(value)
                if kind is None or kind == wanted or (map_node.attr, key) in seen:
                    continue
                seen.add((map_node.attr, key))
                shown = f'"{value}"' if isinstance(value, str) else _shown(value)
                path: Path = ("params", map_node.attr, key)
                written = compilation.doc.get(path) == value
                mark = compilation.doc.at(path) if written else checked.locator.mark(map_node)
                yield Problem(
                    compilation.doc.file,
                    mark.line,
                    mark.column,
                    f'param "{map_node.attr}" value {shown} for {key} is {kind}, but'
                    f" its default {_text(checked, default_node)} is {wanted}: lookup gives"
                    f" {key} a value rules cannot compare like the others",
                    _CHECK,
                    checked.scope.rule_id,
                    _fix(value, wanted),
                )


def _run(compilation: Compilation) -> Iterator[Problem]:
    yield from run(compilation)
    yield from _map_values(compilation)


CHECK = CheckDef(_CHECK, "List items have the type rules compare them with.", _run)
