"""A stop price in a rule test means the same stop however its number is written.

A rule's ``move_stop: {to: position.avg_price}`` gives the price the position was opened at
(``6000``, as the event wrote it); one computed with a tick size gives ``5995.00``. The guide
writes ``stop_at CON.F.US.EP.Z26 6000.00 size 1``; a test author who copies that shape must
not see a failing case whose expected and got differ only in trailing zeros, and a wrong
price must still fail.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.engine.ruletest import run_files
from simple_risk.engine.ruletest.observe import intent_key

RULESET = """\
ruleset: breakeven
calendar:
  timezone: America/Chicago
  trading_day_starts: "17:00"
rules:
  - id: breakeven-stop
    description: A position 8 ticks in profit has its stop moved to its entry price.
    trigger: [quote, position]
    each: position
    when: known(position.profit_ticks) and position.profit_ticks >= 8
    then:
      - move_stop: {to: position.avg_price}
"""

CASE = """\
ruleset: breakeven.yaml
start: 2026-11-24T09:00:00-06:00
tests:
  - name: 8 ticks of profit move the stop to the entry
    events:
      - {{at: 1s, position: {{contract: ES, side: long, size: 1, avg_price: 6000}}}}
      - {{at: 1s, order: {{id: 5, contract: ES, side: sell, type: stop, size: 1,
                         stop_price: 5990}}}}
      - {{at: 2s, quote: {{contract: ES, last: 6002}}}}
    expect:
      - at: 2s
        fired: [breakeven-stop]
        intents: [stop_at CON.F.US.EP.Z26 {price} size 1]
"""


def _run(tmp_path: Path, price: str) -> bool:
    (tmp_path / "breakeven.yaml").write_text(RULESET, encoding="utf-8")
    path = tmp_path / "case.test.yaml"
    path.write_text(CASE.format(price=price), encoding="utf-8")
    return run_files([path]).ok


def test_the_entry_price_written_with_cents_matches(tmp_path: Path) -> None:
    assert _run(tmp_path, "6000.00")


def test_the_entry_price_written_plain_matches(tmp_path: Path) -> None:
    assert _run(tmp_path, "6000")


def test_another_price_still_fails(tmp_path: Path) -> None:
    assert not _run(tmp_path, "6000.25")


def test_numbers_are_compared_by_value_and_words_as_written() -> None:
    assert intent_key("stop_at CON.F.US.EP.Z26 6000.00 size 2") == intent_key(
        "stop_at CON.F.US.EP.Z26 6000 size 2"
    )
    assert intent_key("stop_at X 5995.50 size 1") == "stop_at X 5995.5 size 1"
    assert intent_key("reduce_to MNQ 2 contracts newest_first") == (
        "reduce_to MNQ 2 contracts newest_first"
    )
    assert intent_key("stop_at X -0.00") == "stop_at X 0"


@given(
    st.decimals(min_value=-100000, max_value=100000, places=2, allow_nan=False),
    st.integers(min_value=0, max_value=4),
)
def test_any_price_matches_itself_written_with_more_zeros(price: Decimal, zeros: int) -> None:
    written = f"{price:f}" + ("0" * zeros if "." in f"{price:f}" else "")
    plain = format(price.normalize(), "f") if price else "0"
    assert intent_key(f"stop_at X {written} size 1") == intent_key(f"stop_at X {plain} size 1")
    assert intent_key(f"stop_at X {written} size 1") != intent_key(
        f"stop_at X {price + Decimal('0.25')} size 1"
    )
