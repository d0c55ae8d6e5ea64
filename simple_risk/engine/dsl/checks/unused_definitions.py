"""``--strict``: params, lists, macros and derived facts that no rule uses (typos hide here).

A param counts as used when an expression reads ``params.NAME`` (directly or through a macro
that a rule uses); a list when an expression names it; a macro when a rule uses it, directly
or through another macro; a derived fact when a rule, a message, a macro or another derived
fact reads ``derived.NAME``. In an account overlay, an overridden param counts as used when a
base rule or an added rule reads it. An expression that failed to compile (or a macro that
failed to parse) still uses the names written in it: its own error is the one to fix, and
"never used" on top of it would send the author to the wrong line.

FAIL (strict)::

    params:
      daily_loss_limt: 500      # param "daily_loss_limt" is never used
"""

from __future__ import annotations

from collections.abc import Iterator

from simple_risk.engine.dsl.checks.base import CheckDef
from simple_risk.engine.dsl.compilation import Compilation, names_written
from simple_risk.engine.dsl.macros import macro_references
from simple_risk.engine.dsl.problems import Problem


def _used_macros(compilation: Compilation, names: set[str]) -> set[str]:
    """Macros used, directly or through others; adds the names they write to ``names`` (a
    macro used only by a rule that failed to compile still uses its params)."""
    used: set[str] = set()
    pending: list[str] = [n for n in names if n in compilation.macros]
    for checked in compilation.expressions:
        for node_name in checked.names_used:
            if node_name.startswith("macro:"):
                pending.append(node_name.removeprefix("macro:"))
    while pending:
        name = pending.pop()
        if name in used:
            continue
        used.add(name)
        macro = compilation.macros.get(name)
        if macro is not None and macro.tree is not None:
            pending += macro_references(macro.tree, compilation.macros)
        source = compilation.doc.get(("macros", name))
        written = names_written(source) if isinstance(source, str) else set()
        names |= written
        pending += [n for n in written if n in compilation.macros]
    return used


def run(compilation: Compilation) -> Iterator[Problem]:
    doc = compilation.doc
    names = compilation.used_names | compilation.attempted_names
    if compilation.base is not None:
        names |= compilation.base.used_names | compilation.base.attempted_names
    macros = _used_macros(compilation, names)
    sections: list[tuple[str, str, str, set[str]]] = [
        (
            "params",
            "param",
            "param",
            {n.removeprefix("params.") for n in names if n.startswith("params.")},
        ),
        ("lists", "list", "list", {n for n in names if n in compilation.lists}),
        ("macros", "macro", "macro", macros),
        (
            "derive",
            "derived fact",
            "derived",
            {n.removeprefix("derived.") for n in names if n.startswith("derived.")},
        ),
    ]
    for section, word, kind, used in sections:
        declared = doc.get((section,))
        if not isinstance(declared, dict):
            continue
        for name in declared:
            if name not in used:
                mark = doc.key_at((section, name))
                yield Problem(
                    doc.file,
                    mark.line,
                    mark.column,
                    f'{word} "{name}" is never used',
                    f"unused-{kind}",
                    None,
                    "remove it, or check the spelling where it should be used",
                )


CHECK = CheckDef("unused", "Every param, list, macro and derived fact is used.", run, strict=True)
