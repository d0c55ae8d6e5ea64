"""A failing case lists what fired at the instants the author wrote, in the case's own offset.

The engine keeps some firings in UTC (an ``unknown:RULE`` alert, a deadline); a failure that
printed ``15:00:05+00:00`` under an expectation ``at 09:00:06-06:00`` made the author convert
time zones to read it.
"""

from __future__ import annotations

from pathlib import Path

from simple_risk.engine.ruletest import run_files

RULESET = """\
ruleset: open-loss
calendar:
  timezone: America/Chicago
  trading_day_starts: "17:00"
rules:
  - id: open-loss
    description: A position 300 or more in the red is closed.
    trigger: [quote, position]
    each: position
    when: known(position.unrealized_pnl) and position.unrealized_pnl <= -300
    then: [close_position]
"""

CASE = """\
ruleset: open-loss.yaml
start: 2026-11-24T09:00:00-06:00
tests:
  - name: an open P&L unknown for 5 seconds alerts (expected wrongly here)
    unknown_after: 5s
    events:
      - {at: 0s, position: {contract: ES, side: long, size: 1, avg_price: 6000}}
    expect:
      - at: 6s
        fired: []
"""


def test_an_unknown_alert_is_listed_at_the_case_offset(tmp_path: Path) -> None:
    (tmp_path / "open-loss.yaml").write_text(RULESET, encoding="utf-8")
    path = tmp_path / "case.test.yaml"
    path.write_text(CASE, encoding="utf-8")
    report = run_files([path])
    (failure,) = report.results[0].failures
    assert "2026-11-24T09:00:05-06:00 unknown:open-loss" in failure, failure
    assert "+00:00" not in failure
