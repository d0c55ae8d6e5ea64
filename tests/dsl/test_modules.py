"""The rule language's modules: each says what it is for, and their imports form no cycle.

The language is split into small modules with one job each (syntax, resolve, knowns, explain,
macros, scope; compiler, sections, calendar_spec, rules, overlay, compilation). A cycle of
module-level imports between them would make the import order matter, so the graph of those
imports is checked here, read from the source without importing anything.
"""

from __future__ import annotations

import ast
from graphlib import TopologicalSorter
from pathlib import Path

import simple_risk.engine.dsl as dsl

_ROOT = Path(dsl.__file__).parent
_PACKAGE = "simple_risk.engine.dsl"


def _module_name(path: Path) -> str:
    parts = path.relative_to(_ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((_PACKAGE, *parts))


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(_ROOT.rglob("*.py"))}


def _imported_at_load(path: Path, known: set[str]) -> set[str]:
    """The package's modules ``path`` imports when it is loaded (not under TYPE_CHECKING, not
    inside a function: those run later and cannot make a cycle at load time)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in known}


def test_the_language_s_modules_import_each_other_without_a_cycle() -> None:
    modules = _modules()
    known = set(modules)
    graph = {name: _imported_at_load(path, known) for name, path in modules.items()}
    # a submodule's import of its own package's __init__ is implicit and never a cycle
    graph = {
        name: {dep for dep in deps if not name.startswith(f"{dep}.")}
        for name, deps in graph.items()
    }
    order = list(TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert order.index(f"{_PACKAGE}.scope") < order.index(f"{_PACKAGE}.expressions")
    assert order.index(f"{_PACKAGE}.compiler") < order.index(f"{_PACKAGE}.overlay")


def test_every_module_of_the_language_says_what_it_is_for() -> None:
    for name, path in _modules().items():
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert docstring, f"{name} has no module docstring"
