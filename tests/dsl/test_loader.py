"""The strict YAML loader: exact numbers, only true/false booleans, located everything."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from simple_risk.engine.dsl.yamlload import Mark, load_document


def _data(text: str) -> object:
    doc, problems = load_document(text, "f.yaml")
    assert problems == []
    assert doc is not None
    return doc.data


def test_only_true_and_false_are_booleans_so_on_yes_and_no_stay_words() -> None:
    assert _data("a: true\nb: false\nc: on\nd: yes\ne: no\nf: off\ng: True\n") == {
        "a": True,
        "b": False,
        "c": "on",
        "d": "yes",
        "e": "no",
        "f": "off",
        "g": "True",
    }


def test_numbers_are_exact_integers_or_decimals_and_5e2_is_a_number() -> None:
    data = _data("a: 5\nb: 0.1\nc: 5e2\nd: -100.10\ne: '5e2'\n")
    assert data == {
        "a": 5,
        "b": Decimal("0.1"),
        "c": Decimal("500"),
        "d": Decimal("-100.10"),
        "e": "5e2",
    }
    assert isinstance(data, dict)
    assert type(data["a"]) is int
    assert isinstance(data["c"], Decimal)


def test_clock_times_are_strings_not_sexagesimal_numbers() -> None:
    assert _data("start: 17:00\nend: '08:30'\n") == {"start": "17:00", "end": "08:30"}


def test_iso_dates_are_dates_and_null_is_none() -> None:
    assert _data("h: [2026-12-25]\nn: null\nt: ~\n") == {
        "h": [dt.date(2026, 12, 25)],
        "n": None,
        "t": None,
    }


def test_a_duplicate_key_is_an_error_naming_both_lines() -> None:
    _, problems = load_document("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert [p.format() for p in problems] == [
        'f.yaml:3:1: duplicate key "a" (lines 1 and 3)'
        " (a key may appear once per mapping; the second would silently win)"
    ]


def test_every_key_and_value_keeps_its_line_and_column() -> None:
    doc, _ = load_document("rules:\n  - id: x\n    when: day.fees > 0\n", "f.yaml")
    assert doc is not None
    assert doc.at(("rules", 0, "when")) == Mark(3, 11)
    assert doc.key_at(("rules", 0, "when")) == Mark(3, 5)
    assert doc.at(("rules", 0)) == Mark(2, 5)


def test_python_tags_are_refused_instead_of_constructed() -> None:
    _, problems = load_document("a: !!python/object/apply:os.system [echo]\n", "f.yaml")
    assert [p.check for p in problems] == ["yaml-tag"]


def test_alias_bombs_are_refused_quickly() -> None:
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n"
    doc, problems = load_document(text, "f.yaml")
    assert doc is None
    assert [p.check for p in problems] == ["yaml-size"]


def test_syntax_errors_are_located_problems_not_exceptions() -> None:
    doc, problems = load_document("a: [1, 2\nb: 3\n", "f.yaml")
    assert doc is None
    assert problems[0].check == "yaml-syntax"
    assert problems[0].line >= 1
