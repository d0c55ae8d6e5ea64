"""Compile the engine's hot modules with mypyc into a copy of the project, to test and time it.

    python -m bench.compiled                 # → build/compiled (a copy with the .so files)
    python -m bench.compiled --into DIR

The modules are the ones the compiled wheel compiles: the ``include`` list of the mypyc build
hook in ``pyproject.toml`` (``make wheel-compiled``), so the tests and the benchmark measure
what a compiled install runs. The copy is built beside the source, never in it: a compiled
module sits next to its ``.py`` and wins the import, so one left in the working tree would
silently run stale code after the next edit (``tests/conftest.py`` refuses to run then).

Use the copy with ``PYTHONPATH=build/compiled`` from inside it (``make test-compiled``,
``make bench-compiled``). Needs a C compiler and the Python headers.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: what is copied: the package and what its tests and benchmarks read
COPIED = ("simple_risk", "tests", "bench", "rulesets", "schemas", "examples", "docs")
COPIED_FILES = ("pyproject.toml", "README.md", "LICENSE", ".gitignore")


def compiled_modules(project: Path = ROOT) -> list[str]:
    """The ``.py`` files the mypyc build hook compiles, relative to the project root."""
    config = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    hook = config["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]
    modules: list[str] = []
    for pattern in hook["include"]:
        path = project / pattern.lstrip("/")
        if path.is_dir():
            modules.extend(str(p.relative_to(project)) for p in sorted(path.rglob("*.py")))
        elif path.is_file():
            modules.append(str(path.relative_to(project)))
        else:
            raise SystemExit(f"pyproject.toml: the mypyc hook includes {pattern}, which is missing")
    return modules


def copy_project(into: Path) -> None:
    """A fresh copy of the project's sources (no caches, no earlier build)."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.so", ".hypothesis", ".pytest_cache")
    for name in COPIED:
        shutil.copytree(ROOT / name, into / name, ignore=ignore)
    for name in COPIED_FILES:
        shutil.copy2(ROOT / name, into / name)


def compile_into(into: Path) -> list[str]:
    """Copy the project to ``into`` and compile the hook's modules there, in place."""
    copy_project(into)
    modules = compiled_modules(into)
    mypyc = Path(sys.executable).with_name("mypyc")
    if not mypyc.exists():
        raise SystemExit(f"mypyc is not installed next to {sys.executable} (pip install mypy)")
    # mypyc writes and runs a setuptools script in the working directory; setuptools would
    # read the project's pyproject.toml, whose PEP 639 licence fields it may not know
    project_file = into / "pyproject.toml"
    hidden = into / "pyproject.toml.hidden"
    project_file.rename(hidden)
    try:
        result = subprocess.run(
            [str(mypyc), *modules],
            cwd=into,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        hidden.rename(project_file)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"mypyc failed (exit {result.returncode})")
    return modules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--into", type=Path, default=ROOT / "build" / "compiled", help="default: build/compiled"
    )
    args = parser.parse_args(argv)
    modules = compile_into(args.into.resolve())
    built = sorted(args.into.rglob("*.so"))
    print(f"compiled {len(modules)} modules into {args.into} ({len(built)} extension files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
