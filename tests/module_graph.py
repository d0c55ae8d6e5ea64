"""A package's modules and the imports they make when loaded, read from the source without
importing anything: what the tests of a split package check (no import cycle between its
modules, a docstring on each, and what only some of them may do)."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType


def package_modules(package: ModuleType) -> dict[str, Path]:
    """Every module of ``package`` (its subpackages' too), by dotted name."""
    assert package.__file__ is not None
    root = Path(package.__file__).parent

    def name_of(path: Path) -> str:
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        return ".".join((package.__name__, *parts))

    return {name_of(path): path for path in sorted(root.rglob("*.py"))}


def source_tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def imported_at_load(path: Path, known: set[str]) -> set[str]:
    """The ``known`` modules ``path`` imports when it is loaded (not under TYPE_CHECKING, not
    inside a function: those run later and cannot make a cycle at load time)."""
    found: set[str] = set()
    for node in source_tree(path).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in known}


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each module → the package's modules it imports at load time."""
    known = set(modules)
    return {name: imported_at_load(path, known) for name, path in modules.items()}
