"""Where the shipped data files live, in a checkout and in an installed wheel.

The wheel carries ``schemas/`` and ``rulesets/`` under ``simple_risk/_data/``; a source checkout
(or an editable install) reads them from the repository's top level.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The directory of shipped data ``name`` ("schemas", "rulesets" or "examples")."""
    installed = _PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent / name


def schema_path(name: str = "ruleset.schema.json") -> Path:
    return data_dir("schemas") / name


def default_ruleset_path() -> Path:
    return data_dir("rulesets") / "topstep.yaml"
