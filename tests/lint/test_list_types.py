"""Typed lists: an item of another type than the value a rule compares with it is an error.

YAML types an item by how it is written (``2026-12-09`` is a date, ``5`` a number, ``"5"`` a
string) and ``in`` compares with ``==``, so such an item never matches. The property: for any
list, exactly the items of another kind than the compared fact are reported, each at its own
place in the file, and a list whose items all fit is clean.
"""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.engine.dsl import analyse_text

DATES = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))
ITEMS = st.one_of(
    DATES.map(lambda d: (d.isoformat(), "date")),
    DATES.map(lambda d: (f'"{d.isoformat()}"', "string")),
    st.integers(0, 10**6).map(lambda n: (str(n), "number")),
    st.integers(0, 10**6).map(lambda n: (f'"{n}"', "string")),
    st.from_regex(r"[A-Z]{2,5}", fullmatch=True).map(lambda s: (s, "string")),
)
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
FACTS = st.sampled_from([("session.trading_day", "string"), ("day.trade_count", "number")])


def _ruleset(items: list[str], fact: str) -> str:
    return (
        "ruleset: typed\n"
        f"lists:\n  days: [{', '.join(items)}]\n"
        "rules:\n"
        "  - id: listed\n"
        "    trigger: [trade]\n"
        f"    when: {fact} in days\n"
        "    then: [flatten]\n"
    )


@given(st.lists(ITEMS, min_size=1, max_size=6), FACTS)
def test_exactly_the_items_of_another_type_are_reported(
    items: list[tuple[str, str]], fact: tuple[str, str]
) -> None:
    texts = [text for text, _ in items]
    compilation = analyse_text(_ruleset(texts, fact[0]), "typed.yaml")
    reported = sorted((p.line, p.column) for p in compilation.problems if p.check == "list-type")
    # each item's column on line 3: "  days: [" then the items joined by ", "
    columns, column = [], len("  days: [") + 1
    for text in texts:
        columns.append(column)
        column += len(text) + 2
    expected = sorted(
        (3, col) for col, (_, kind) in zip(columns, items, strict=True) if kind != fact[1]
    )
    assert reported == expected
    # a string that is no ISO date is never a trading day either (unknown-value, at the item)
    not_a_day = sorted(
        (3, col)
        for col, (text, kind) in zip(columns, items, strict=True)
        if fact[0] == "session.trading_day" and kind == "string" and not ISO_DATE.match(text[1:-1])
    )
    words = sorted((p.line, p.column) for p in compilation.problems if p.check == "unknown-value")
    assert words == not_a_day
    assert (compilation.ruleset is None) == bool(expected or not_a_day)


def test_a_date_item_gets_the_quoted_fix() -> None:
    compilation = analyse_text(_ruleset(["2026-12-09"], "session.trading_day"), "typed.yaml")
    (problem,) = compilation.problems
    assert (problem.line, problem.column, problem.rule_id) == (3, 10, "listed")
    assert problem.hint == 'quote it: "2026-12-09"'
    assert "never matches" in problem.message


def test_an_overlay_rule_using_the_base_list_is_told_at_its_comparison() -> None:
    from simple_risk.engine.dsl import analyse_overlay

    base = (
        "ruleset: base\nlists:\n  days: [2026-12-09]\nrules:\n"
        "  - id: r\n    trigger: [trade]\n    when: day.trade_count > 9\n    then: [flatten]\n"
    )
    overlay = (
        "rules:\n  - id: mine\n    trigger: [trade]\n"
        "    when: session.trading_day in days\n    then: [flatten]\n"
    )
    compilation = analyse_overlay(base, "base.yaml", overlay, "mine.yaml")
    (problem,) = [p for p in compilation.problems if p.check == "list-type"]
    assert (problem.file, problem.line, problem.column) == ("mine.yaml", 4, 11)
