"""Syntax errors point at the line that causes them.

Property: every character of a folded block (``>-``) maps back to the very same character in
the file, whatever line breaks the folding keeps (deeper-indented lines, empty lines), so an
expression error on the second line of a ``when: >-`` is reported on its own line, never at
the ``>-`` marker. And PyYAML's two marks are chosen per error: a line that lost its
indentation after a block scalar is reported on that line, with the block's column.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.engine.dsl import analyse_text
from simple_risk.engine.dsl.yamlload import load_document

WORDS = st.lists(st.from_regex(r"[a-z][a-z0-9_.]{0,6}", fullmatch=True), min_size=1, max_size=4)
LINES = st.lists(
    st.tuples(st.sampled_from([0, 0, 0, 2]), WORDS, st.booleans()), min_size=1, max_size=6
)


@given(LINES, st.integers(0, 2))
def test_every_character_of_a_folded_block_maps_to_itself_in_the_file(
    lines: list[tuple[int, list[str], bool]], leading_blank_lines: int
) -> None:
    body = [""] * leading_blank_lines
    for index, (extra, words, blank_after) in enumerate(lines):
        # the first line sets the block's indentation: a later line may only go deeper
        body.append("  " + " " * (extra if index else 0) + " ".join(words))
        if blank_after:
            body.append("")
    text = "v: >-\n" + "\n".join(body).rstrip("\n") + "\n"
    doc, problems = load_document(text, "f.yaml")
    assert doc is not None and not problems
    value = doc.get(("v",))
    span = doc.span(("v",))
    assert isinstance(value, str) and span is not None and span.folded
    source = text.splitlines()
    # lines count from the first with text: an expression is parsed from the stripped value
    for number, line in enumerate(value.strip("\n").split("\n"), start=1):
        for column, char in enumerate(line):
            if char == " ":
                continue
            mark = span.position(number, column)
            assert source[mark.line - 1][mark.column - 1] == char


def _only_problem(text: str) -> tuple[int, int, str, str | None]:
    (problem,) = analyse_text(text, "f.yaml").problems
    return problem.line, problem.column, problem.message, problem.hint


RULE = (
    "ruleset: r\nrules:\n  - id: r\n    trigger: [trade]\n    when: >-\n{body}\n"
    "    then: [flatten]\n"
)


def test_a_line_break_kept_in_a_folded_expression_is_reported_on_its_line() -> None:
    body = "      day.realized_pnl <= -500\n\n      and day.trade_count > 3"
    line, column, message, hint = _only_problem(RULE.format(body=body))
    assert (line, column) == (8, 7)
    assert message == "invalid expression: invalid syntax"
    assert hint is not None and "empty line" in hint


def test_a_continuation_line_at_the_key_indentation_is_the_line_reported() -> None:
    body = "      day.realized_pnl <= -500\n    and day.trade_count > 3"
    line, column, message, hint = _only_problem(RULE.format(body=body))
    assert (line, column) == (7, 5)
    assert message.startswith("YAML: ")
    assert hint is not None and "line 7" in hint and "line 5" in hint and "column 7" in hint


def test_an_unclosed_parenthesis_gets_no_line_break_hint() -> None:
    body = "      (day.realized_pnl <= -500\n      and day.trade_count > 3"
    _, _, message, hint = _only_problem(RULE.format(body=body))
    assert "never closed" in message and hint is None
