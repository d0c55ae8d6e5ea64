"""The status server and the dashboard reach the runtime through one narrow interface,
``ControlTarget`` (docs/architecture.md §6): no module under ``control/`` or ``dashboard/``
imports a runtime module, not even for type checking, so there is no import circle (that
:class:`Daemon` implements the protocol, mypy checks where the daemon hands itself to the
status server and the dashboard)."""

from __future__ import annotations

import ast
from pathlib import Path

import simple_risk.daemon as daemon_package

DAEMON = Path(daemon_package.__file__).parent
#: the runtime's parts: what control/ and dashboard/ must not import
RUNTIME = {
    "announce",
    "apply",
    "barquotes",
    "changes",
    "context",
    "engineloop",
    "enforcement",
    "executor",
    "intake",
    "journal",
    "messages",
    "ownership",
    "persistence",
    "reconcile",
    "replay",
    "retention",
    "runtime",
    "supervisor",
}


def _imports(path: Path) -> set[str]:
    """Every module the file imports, at any level (TYPE_CHECKING and function bodies too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_control_and_the_dashboard_never_import_the_runtime() -> None:
    forbidden = {f"simple_risk.daemon.{name}" for name in RUNTIME}
    files = sorted([*(DAEMON / "control").glob("*.py"), *(DAEMON / "dashboard").glob("*.py")])
    assert len(files) > 5
    offenders = {
        f"{path.relative_to(DAEMON)} imports {name}"
        for path in files
        for name in _imports(path)
        if name in forbidden
    }
    assert offenders == set()


def test_the_boundary_test_sees_every_runtime_module() -> None:
    """A new part of the runtime is added to the list above (or this fails)."""
    known = RUNTIME | {
        "calls",
        "check",
        "clockwatch",
        "config",
        "config_access",
        "config_notify",
        "config_problems",
        "cpuwake",
        "filemodes",
        "heap",
        "logging",
        "notifications",
        "notify",
        "observe",
        "owntags",
        "password",
        "planning",
        "queue",
        "quotewatch",
        "service",
        "settings",
        "sim",
        "starvation",
        "wallclock",
        "__init__",
    }
    modules = {path.stem for path in DAEMON.glob("*.py")}
    assert modules <= known, f"classify {sorted(modules - known)} in this test"
