"""A warning for a symbol in a list or a map param that is not a known root (DESIGN.md §4).

Symbols in rules are roots after alias mapping, so ``MNQZ6`` or ``ENQ`` in a list never
matches anything. Known roots are :mod:`simple_risk.engine.dsl.catalogue` plus the ruleset's
own weights and alias targets (an alias name itself is never a root a rule sees); in an
account overlay, those of its base ruleset. Only upper-case words are looked at; numbers and
other text are data.

WARN::

    lists:
      blocked_symbols: [RTY, MNQZ6]     # "MNQZ6" is not a known root
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from simple_risk.engine.dsl.catalogue import KNOWN_ROOTS
from simple_risk.engine.dsl.checks.base import CheckDef
from simple_risk.engine.dsl.compiler import Compilation
from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.dsl.yamlload import Document, Mark

_SYMBOL_LIKE = re.compile(r"^[A-Z0-9]{1,8}$")


def _symbols_doc(compilation: Compilation) -> Document:
    """The document whose ``symbols:`` apply (an overlay has none of its own)."""
    return compilation.base.doc if compilation.base is not None else compilation.doc


def _known(compilation: Compilation) -> set[str]:
    known = set(KNOWN_ROOTS)
    symbols = _symbols_doc(compilation).get(("symbols",))
    if isinstance(symbols, dict):
        weights = symbols.get("weights")
        if isinstance(weights, dict):
            known |= {str(k) for k in weights}
        aliases = symbols.get("aliases")
        if isinstance(aliases, dict):
            known |= {v for v in aliases.values() if isinstance(v, str)}
            known -= {str(k) for k in aliases}
    return known


def run(compilation: Compilation) -> Iterator[Problem]:
    doc = compilation.doc
    known = _known(compilation)

    def warn(mark: Mark, where: str, symbol: str) -> Problem:
        aliases = _symbols_doc(compilation).get(("symbols", "aliases"))
        hint = did_you_mean(symbol, known)
        if isinstance(aliases, dict) and symbol in aliases:
            hint = f'rules see roots after aliasing: "{aliases[symbol]}"'
        return Problem(
            doc.file,
            mark.line,
            mark.column,
            f'{where} names "{symbol}", which is not a known root',
            "unknown-symbol",
            None,
            hint or "add it to symbols.weights if it is a real root",
            "warning",
        )

    lists = doc.get(("lists",))
    for name, values in lists.items() if isinstance(lists, dict) else ():
        for index, value in enumerate(values if isinstance(values, list) else []):
            if isinstance(value, str) and _SYMBOL_LIKE.match(value) and value not in known:
                yield warn(doc.at(("lists", name, index)), f'list "{name}"', value)
    params = doc.get(("params",))
    for name, value in params.items() if isinstance(params, dict) else ():
        if not isinstance(value, dict):
            continue
        for key in value:
            if isinstance(key, str) and _SYMBOL_LIKE.match(key) and key not in known:
                yield warn(doc.key_at(("params", name, key)), f'param "{name}"', key)


CHECK = CheckDef("unknown-symbol", "Listed symbols are known roots (a warning).", run)
