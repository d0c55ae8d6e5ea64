"""docs/rule-tests.md shows a test file that passes and a failure as ``rules test`` prints it.

A new user copies the guide's file next to tests/rules and runs it: it must pass (the case
with ``unknown_after:`` included), and the failing case shown must be the one a day loss
short of the limit really prints.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from simple_risk.cli import cli
from simple_risk.cli import commands as _commands  # noqa: F401  (registers the sub-groups)

REPO = Path(__file__).resolve().parents[2]
GUIDE = (REPO / "docs" / "rule-tests.md").read_text(encoding="utf-8")


def _blocks(fence: str) -> list[str]:
    return re.findall(rf"```{fence}\n(.*?)```", GUIDE, re.DOTALL)


def _checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder laid out as the checkout (tests/rules beside rulesets/), the working folder."""
    (tmp_path / "rulesets").symlink_to(REPO / "rulesets")
    rules = tmp_path / "tests" / "rules"
    rules.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return rules


def test_the_file_the_guide_shows_passes_with_its_unknown_facts_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_blocks = _blocks("yaml")
    the_file = next(b for b in yaml_blocks if b.startswith("ruleset: ../../rulesets/"))
    unknown_case = next(b for b in yaml_blocks if "unknown_after: 5s\n    events:" in b)
    path = _checkout(tmp_path, monkeypatch) / "guide.test.yaml"
    path.write_text(the_file + unknown_case, encoding="utf-8")
    result = CliRunner().invoke(cli, ["rules", "test", "tests/rules/guide.test.yaml"])
    assert result.exit_code == 0, result.output
    assert "SUCCESS: 2 cases passed" in result.output


def test_the_failure_the_guide_shows_is_what_a_loss_short_of_the_limit_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = next(b for b in _blocks("") if b.startswith("FAIL  "))
    name = "003-daily-realized-loss.test.yaml"
    original = (REPO / "tests" / "rules" / name).read_text(encoding="utf-8")
    assert "pnl: -499.38" in original
    (_checkout(tmp_path, monkeypatch) / name).write_text(
        original.replace("pnl: -499.38", "pnl: -489.38", 1), encoding="utf-8"
    )
    result = CliRunner().invoke(cli, ["rules", "test", f"tests/rules/{name}", "-x"])
    assert result.exit_code == 1
    assert result.output.startswith(shown), result.output
