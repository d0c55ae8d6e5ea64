"""Words a fact never holds: a rule comparing with one compiles and silently never fires.

``session.time`` is "HH:MM" (24-hour, zero-padded), so a time written "8:30" sorts after
"15:00" and a comparison with it is wrong; ``order.side`` is buy or sell and
``position.side`` long or short. The properties: every time written as the fact writes it
passes, every unpadded hour is reported at the word, and each side word is accepted for the
fact that holds it and refused for the other.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.engine.dsl import analyse_text

HOURS = st.integers(min_value=0, max_value=23)
MINUTES = st.integers(min_value=0, max_value=59)


def _problems(when: str) -> list[tuple[int, int]]:
    text = (
        "ruleset: words\n"
        "rules:\n"
        "  - id: words\n"
        "    trigger: [order]\n"
        f"    when: {when}\n"
        "    then: [cancel_order]\n"
    )
    compilation = analyse_text(text, "words.yaml")
    return [(p.line, p.column) for p in compilation.problems if p.check == "unknown-value"]


@given(HOURS, MINUTES)
def test_a_time_written_as_the_fact_writes_it_passes(hour: int, minute: int) -> None:
    assert _problems(f'session.time >= "{hour:02d}:{minute:02d}"') == []


@given(st.integers(min_value=0, max_value=9), MINUTES)
def test_an_unpadded_hour_is_reported_at_the_word(hour: int, minute: int) -> None:
    # "    when: session.time >= " is 26 characters: the word starts at column 27
    assert _problems(f'session.time >= "{hour}:{minute:02d}"') == [(5, 27)]


def test_a_bound_of_24_00_compares_right_and_is_not_reported() -> None:
    assert _problems('session.time >= "17:00" and session.time < "24:00"') == []


@given(st.sampled_from(["buy", "sell", "long", "short"]))
def test_each_side_word_belongs_to_one_fact(word: str) -> None:
    order_ok = _problems(f'order.side == "{word}" and order.is_working') == []
    assert order_ok == (word in ("buy", "sell"))
