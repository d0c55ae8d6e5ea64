"""The package installs, exposes its command and finds its shipped data."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from simple_risk import __version__
from simple_risk.cli import cli
from simple_risk.engine import namespace


def test_version_option_prints_the_package_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_python_dash_m_runs_the_same_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "simple_risk", "--help"], capture_output=True, text=True, check=True
    )
    assert "simple-risk" in out.stdout


def test_every_fact_belongs_to_a_declared_family() -> None:
    for fact in namespace.FACTS.values():
        assert fact.family in namespace.FAMILIES, fact.name
    for method in namespace.METHODS.values():
        assert method.family in namespace.FAMILIES, method.name


def test_item_families_bind_only_when_every_trigger_binds_them() -> None:
    assert namespace.family_is_bound("trade", ["trade"], None)
    assert not namespace.family_is_bound("trade", ["trade", "clock"], None)
    assert namespace.family_is_bound("position", ["quote", "clock"], "position")
    assert namespace.family_is_bound("symbol", ["order", "position"], None)
    assert not namespace.family_is_bound("lock", ["account"], None)
    assert namespace.family_is_bound("lock", ["account"], None, in_lock=True)


def test_the_installed_metadata_names_its_license_urls_and_classifiers() -> None:
    from importlib.metadata import metadata

    meta = metadata("simple-risk")
    assert meta["License-Expression"] == "MIT"
    urls = dict(entry.split(", ", 1) for entry in meta.get_all("Project-URL") or [])
    assert urls["ProjectX Gateway API"].startswith("https://")
    assert "Typing :: Typed" in (meta.get_all("Classifier") or [])
    assert "DESIGN.md" not in (meta["Description"] or "")
