"""A string compared with a fact that can never hold it: the rule never (or always) fires.

Some string facts take a closed set of words — ``order.side`` is ``buy`` or ``sell``,
``position.side`` ``long`` or ``short``, ``session.weekday`` ``mon`` … ``sun``, ``order.type``
and ``order.status`` the lower-case ProjectX names — and ``session.time`` /
``session.trading_day`` have a fixed shape (``"08:30"``, ``"2026-12-24"``). A rule author who
writes ``order.side == "long"``, ``session.weekday == "Monday"``, ``order.type == "Limit"``
or ``session.time >= "8:30"`` gets a rule that compiles, evaluates without error and is silently
wrong: Python compares the strings and answers False (or, for ``"8:30"``, compares text the
wrong way round). Each ``==``, ``!=``, ``in``, ``not in`` between such a fact and a literal,
a list or a param is checked, item by item, and every word the fact never holds is an error
at the word, with the fact's words as the fix.

FAIL::

    lists:
      weekend: [Sat, Sun]             # session.weekday is "sat" … "sun"
    ...
    when: order.side == "long" or session.weekday in weekend
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from simple_risk.engine.calendar import WEEKDAY_NAMES
from simple_risk.engine.dsl.checks.base import CheckDef, comparisons
from simple_risk.engine.dsl.checks.list_types import _container, _text, _where
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.durations import TIME_PATTERN
from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.dsl.scope import CheckedExpression
from simple_risk.engine.dsl.yamlload import Mark
from simple_risk.engine.events import OrderStatus, OrderType

_CHECK = "unknown-value"

#: the words each closed-set string fact holds (as the fact store spells them)
WORDS: dict[str, tuple[str, ...]] = {
    "order.side": ("buy", "sell"),
    "trade.side": ("buy", "sell"),
    "position.side": ("long", "short"),
    "order.type": tuple(member.name.lower() for member in OrderType),
    "order.status": tuple(member.name.lower() for member in OrderStatus),
    "session.weekday": WEEKDAY_NAMES,
    "lock.scope": ("account", "symbol"),
}

#: facts whose value has a fixed shape, with an example of it
SHAPES: dict[str, tuple[re.Pattern[str], str]] = {
    # "24:00" sorts after every time of the day, so as a bound it compares right
    "session.time": (
        re.compile(f"{TIME_PATTERN}|^24:00$"),
        'a 24-hour time "HH:MM", e.g. "08:30"',
    ),
    "session.trading_day": (
        re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
        'an ISO date "YYYY-MM-DD", e.g. "2026-12-24"',
    ),
}

#: the word of the other side's vocabulary an author most likely meant
_CROSSED = {"long": "buy", "short": "sell", "buy": "long", "sell": "short"}


def _fact(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        name = f"{node.value.id}.{node.attr}"
        if name in WORDS or name in SHAPES:
            return name
    return None


def _fix(fact: str, word: str) -> str:
    if fact in SHAPES:
        return f"{fact} is {SHAPES[fact][1]}"
    words = WORDS[fact]
    if fact == "order.status" and word.lower() == "working":
        return "use order.is_working (open, pending or suspended)"
    if word.lower() in words:
        return f'write it in lower case: "{word.lower()}"'
    crossed = _CROSSED.get(word.lower())
    if crossed in words:
        return f'did you mean "{crossed}"?'
    guess = did_you_mean(word.lower(), list(words))
    if guess is None and len(word) > 3 and word[:3].lower() in words:
        guess = f'did you mean "{word[:3].lower()}"?'
    listed = ", ".join(w for w in words if w not in ("unknown", "none"))
    return f"{guess + ' ' if guess else ''}{fact} is one of: {listed}"


def _wrong(fact: str, word: object) -> bool:
    if not isinstance(word, str):
        return False  # another type: list-type and comparison-type say so
    if fact in SHAPES:
        return not SHAPES[fact][0].match(word)
    return word not in WORDS[fact]


def _problems(
    compilation: Compilation, checked: CheckedExpression, fact: str, other: ast.expr, how: str
) -> Iterator[tuple[Mark, object, str]]:
    """(where, word, how it is used) of every word on ``other``'s side the fact never holds."""
    if isinstance(other, ast.Constant):
        if _wrong(fact, other.value):
            yield checked.locator.mark(other), other.value, how
        return
    if isinstance(other, ast.List | ast.Tuple | ast.Set):
        for item in other.elts:
            if isinstance(item, ast.Constant) and _wrong(fact, item.value):
                yield checked.locator.mark(item), item.value, how
        return
    if (
        isinstance(other, ast.Attribute)
        and isinstance(other.value, ast.Name)
        and other.value.id == "params"
        and (how in ("==", "!=") or fact in SHAPES)
    ):
        value = compilation.params.get(other.attr)
        if _wrong(fact, value):
            mark = compilation.doc.at(("params", other.attr))
            if compilation.doc.get(("params", other.attr)) != value:
                mark = checked.locator.mark(other)
            yield mark, value, how
        return
    container = _container(compilation, other, keys=False)
    if container is None or how not in ("in", "not in"):
        return
    for listed, place in container.items:
        if _wrong(fact, listed):
            mark = _where(compilation, checked, container, place, listed, False, other)
            yield mark, listed, how


_OPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}


def run(compilation: Compilation) -> Iterator[Problem]:
    for checked in compilation.expressions:
        for op, left, right in comparisons(checked.tree):
            how = _OPS.get(type(op))
            if how is None:
                continue
            fact = _fact(left)
            other = right
            if fact is None and how in ("==", "!=", "<", "<=", ">", ">="):
                fact, other = _fact(right), left
            if fact is None or (how not in ("==", "!=", "in", "not in") and fact in WORDS):
                continue
            for mark, word, used in _problems(compilation, checked, fact, other, how):
                compared = f"{_text(checked, left)} {used} {_text(checked, right)}"
                if fact in SHAPES:
                    outcome = "compares text, so it is wrong"
                elif used in ("==", "in"):
                    outcome = "is never true"
                else:
                    outcome = "is always true"
                yield Problem(
                    compilation.doc.file,
                    mark.line,
                    mark.column,
                    f'{fact} is never "{word}": {compared} {outcome}',
                    _CHECK,
                    checked.scope.rule_id,
                    _fix(fact, str(word)),
                )


CHECK = CheckDef(_CHECK, "Strings compared with a fact are words the fact can hold.", run)
