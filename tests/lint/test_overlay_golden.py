"""Golden files for account overlays: ``rules lint --base base.yaml OVERLAY``.

``tests/lint/overlays/<case>.yaml`` is an overlay of ``overlays/base.yaml``; it is linted from
that directory and the output must equal ``<case>.expected`` exactly, so every overlay mistake
keeps pointing at its line and column in the overlay file (never at the base or at a spliced
text). ``strict_*`` cases run with ``--strict``; ``warn_*`` cases report only warnings;
``ok.yaml`` is the one clean overlay.
Regenerate after a deliberate wording change with ``UPDATE_GOLDEN=1 pytest tests/lint``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the rules group)
)

HERE = Path(__file__).resolve().parent / "overlays"
CASES = sorted(p.name for p in HERE.glob("*.yaml") if p.name != "base.yaml")

#: what each case must report (check ids from ``--format json``)
EXPECTED_CHECKS = {
    "added-rule-errors.yaml": {
        "unguarded-optional",
        "unknown-param",
        "bad-duration",
        "unknown-fact",
        "unknown-action",
    },
    "empty-file.yaml": {"empty-file"},
    "enable.yaml": {"already-enabled", "unknown-rule", "enable-and-disable"},
    "id-clash.yaml": {"duplicate-rule-id"},
    "mandatory.yaml": {"mandatory-rule", "unknown-rule"},
    "ok.yaml": set(),
    "param-range.yaml": {"param-range"},
    "params-break-base.yaml": {"type-error", "list-type"},
    "strict_hygiene.yaml": {"missing-description", "disabled-rule"},
    "unknown-key.yaml": {"unknown-key"},
    "unknown-param.yaml": {"unknown-param", "wrong-type"},
    "warn_map-keys.yaml": {"overlay-map-keys"},
}


def _lint(monkeypatch: pytest.MonkeyPatch, name: str, *extra: str) -> tuple[int, str]:
    monkeypatch.chdir(HERE)
    args = ["rules", "lint", "--base", "base.yaml", *extra]
    if name.startswith("strict_"):
        args.append("--strict")
    result = CliRunner().invoke(cli, [*args, name])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


@pytest.mark.parametrize("name", CASES)
def test_each_overlay_reports_exactly_its_golden_output(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    code, output = _lint(monkeypatch, name)
    expected_file = HERE / name.replace(".yaml", ".expected")
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.write_text(output, encoding="utf-8")
    assert output == expected_file.read_text(encoding="utf-8")
    assert code == (0 if name == "ok.yaml" or name.startswith("warn_") else 1)


@pytest.mark.parametrize("name", CASES)
def test_each_overlay_case_reports_its_checks_in_the_overlay_file(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    _, output = _lint(monkeypatch, name, "--format", "json")
    base, overlay = json.loads(output)["files"]
    assert (base["file"], base["ok"]) == ("base.yaml", not name.startswith("strict_"))
    # the base's one strict finding is its rule shipped disabled (an overlay may enable it)
    assert [p["check"] for p in base["problems"]] == (
        ["disabled-rule"] if name.startswith("strict_") else []
    )
    assert overlay["file"] == name and overlay["base"] == "base.yaml"
    assert {p["check"] for p in overlay["problems"]} == EXPECTED_CHECKS[name]
    assert all(p["file"] == name for p in overlay["problems"])


def test_every_case_is_listed() -> None:
    assert set(CASES) == set(EXPECTED_CHECKS)


def test_a_clean_overlay_counts_the_base_rules_and_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, output = _lint(monkeypatch, "ok.yaml")
    assert code == 0
    assert output.splitlines() == [
        "SUCCESS: 4 rules in base.yaml",
        "SUCCESS: 5 rules in ok.yaml over base.yaml",
        "no problems in 2 files",
    ]


def test_several_overlays_share_one_report_of_the_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    result = CliRunner().invoke(
        cli, ["rules", "lint", "--base", "base.yaml", "ok.yaml", "id-clash.yaml"]
    )
    lines = result.output.splitlines()
    assert result.exit_code == 1
    assert lines[0] == "SUCCESS: 4 rules in base.yaml"
    assert lines[1] == "SUCCESS: 5 rules in ok.yaml over base.yaml"
    assert all(line.startswith("id-clash.yaml:") for line in lines[2:-1])
    assert lines[-1].endswith(" in 3 files")


def test_a_broken_base_is_reported_once_in_its_own_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        (HERE / "base.yaml").read_text(encoding="utf-8").replace("flatten]", "flaten]"),
        encoding="utf-8",
    )
    monkeypatch.chdir(HERE)
    result = CliRunner().invoke(
        cli, ["rules", "lint", "--base", str(broken), "ok.yaml", "id-clash.yaml"]
    )
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{broken}:18:12: ") and "flaten" in lines[0]
    assert sum("flaten" in line for line in lines) == 1
    assert not any(line.startswith("SUCCESS") for line in lines)
    assert lines[-1].endswith(" in 3 files") and not lines[-1].startswith("0 errors")
