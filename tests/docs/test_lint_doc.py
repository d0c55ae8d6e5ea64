"""docs/lint.md's sample output is what ``rules lint`` prints for the file it describes.

The guide shows a ruleset of one's own with a misspelt fact (line 14, column 11) and a
ProjectX root in a block list (line 7, column 26), linted with the shipped ruleset: its lines
must be the ones lint prints — order, wording, check ids, the shipped ruleset's rule count.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from simple_risk.cli import cli
from simple_risk.cli import commands as _commands  # noqa: F401  (registers the sub-groups)

REPO = Path(__file__).resolve().parents[2]
GUIDE = (REPO / "docs" / "lint.md").read_text(encoding="utf-8")

MINE = """\
ruleset: mine
requires: simple-risk >= 0.1
calendar:
  timezone: America/Chicago
  trading_day_starts: "17:00"
lists:
  blocked_symbols: [RTY, ENQ]
rules:
  - id: daily-loss
    description: The day's net realized P&L at or below -500 flattens the account.
    severity: critical
    trigger: [trade]
    then: [flatten]
    when: day.realised_pnl <= -500
  - id: blocked-symbols
    description: An order in a blocked ticker is cancelled.
    trigger: [order]
    when: order.symbol in blocked_symbols
    then: [cancel_order]
"""


def test_the_sample_output_is_what_lint_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = re.search(r"\n```\n(rulesets/mine\.yaml.*?)```", GUIDE, re.DOTALL)
    assert found, "docs/lint.md no longer shows the output for rulesets/mine.yaml"
    shown = found[1]
    rulesets = tmp_path / "rulesets"
    rulesets.mkdir()
    (rulesets / "mine.yaml").write_text(MINE, encoding="utf-8")
    shutil.copy(REPO / "rulesets" / "topstep.yaml", rulesets / "topstep.yaml")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["rules", "lint", "rulesets/mine.yaml", "rulesets/topstep.yaml"]
    )
    assert result.exit_code == 1
    assert result.output == shown
