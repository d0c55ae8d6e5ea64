"""Lint checks that look at a whole compiled file, one module each, found by name.

The compiler already reports what it meets while compiling (YAML, schema, unknown names,
binding, guards, actions, durations, times); the modules here add the checks that need the
whole file or a second look: duplicate ids, type errors on sample facts, and the ``--strict``
hygiene checks.
"""

from __future__ import annotations

import importlib
import pkgutil

from simple_risk.engine.dsl.checks.base import CheckDef


def _discover() -> dict[str, CheckDef]:
    found: dict[str, CheckDef] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        check = getattr(module, "CHECK", None)
        if isinstance(check, CheckDef):
            found[check.id] = check
    return found


CHECKS: dict[str, CheckDef] = _discover()

__all__ = ["CHECKS", "CheckDef"]
