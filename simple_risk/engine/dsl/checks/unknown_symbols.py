"""A warning for a symbol in a list or a map param that is no known ticker (docs/symbols.md).

Rules see CME tickers (``ES``, ``SI``, ``6B``) and products, never ProjectX codes (``EP``,
``SIE``, ``BP6``) or contract codes (``MNQZ6``), so such a name in a list never matches
anything. A known ticker written in small letters (``{es: 2}``) is no ticker either: rules see
capitals, so such a key never matches and the map's default applies to ES — a limit loosened
without a word. Known names are the tickers and products of the shipped contract catalogue
(:mod:`simple_risk.engine.dsl.catalogue`) plus the ruleset's own ``symbols:`` (weights keys,
alias targets, products keys and values; an alias name itself is never a ticker a rule sees);
in an account overlay, those of its base ruleset. Only upper-case words, and known tickers in
other cases, are looked at; numbers and other text are data.

The same holds for a quoted name compared with a symbol fact in a rule's ``when:`` or a macro
(``symbol.root == "EP"``, ``order.symbol in ("MNQZ6", "ES")``).

WARN::

    lists:
      blocked_symbols: [RTY, EP, MNQZ6]   # "EP" is ProjectX's code for ES; "MNQZ6" a contract
    params:
      per_symbol_limits: {es: 2}          # rules see "ES": ES gets unknown_symbol_limit
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from simple_risk.engine.dsl.catalogue import by_projectx, known_names
from simple_risk.engine.dsl.checks.base import CheckDef
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.dsl.yamlload import Document, Mark

_SYMBOL_LIKE = re.compile(r"^[A-Z0-9]{1,8}$")


def _symbols_doc(compilation: Compilation) -> Document:
    """The document whose ``symbols:`` apply (an overlay has none of its own)."""
    return compilation.base.doc if compilation.base is not None else compilation.doc


def _known(compilation: Compilation) -> set[str]:
    known = set(known_names())
    symbols = _symbols_doc(compilation).get(("symbols",))
    if isinstance(symbols, dict):
        weights = symbols.get("weights")
        if isinstance(weights, dict):
            known |= {str(k) for k in weights}
        products = symbols.get("products")
        if isinstance(products, dict):
            known |= {str(k) for k in products} | {str(v) for v in products.values()}
        aliases = symbols.get("aliases")
        if isinstance(aliases, dict):
            known |= {v for v in aliases.values() if isinstance(v, str)}
            known -= {str(k) for k in aliases}
    return known


def _misnamed(value: str, known: set[str], *, symbolic: bool = True) -> bool:
    """Whether ``value`` names no ticker a rule sees: an upper-case word that is not known,
    or — where only symbols are written (``symbolic``) — a known ticker written in other than
    capitals (``es``, ``Mnq``)."""
    if _SYMBOL_LIKE.match(value):
        return value not in known
    return symbolic and value.upper() != value and value.upper() in known


def _all_symbols(values: list[object], known: set[str]) -> bool:
    """Whether a list's items or a map's keys are all tickers, in whatever case: then a small
    ``es`` is a ticker written wrong. A map of sessions (``{rth: 3, eth: 1}``) is not one,
    though ``ETH`` is also a product."""
    return all(
        isinstance(v, str) and (_SYMBOL_LIKE.match(v) is not None or v.upper() in known)
        for v in values
    )


def _hint(symbol: str, known: set[str], aliases: object) -> str:
    if symbol.upper() != symbol and symbol.upper() in known:
        return f'tickers are written in capitals: "{symbol.upper()}"'
    if isinstance(aliases, dict) and symbol in aliases:
        return f'rules see tickers after aliasing: "{aliases[symbol]}"'
    listed = by_projectx(symbol)
    if listed is not None and listed.ticker in known:
        return f'did you mean "{listed.ticker}"? "{symbol}" is ProjectX\'s code for {listed.ticker}'
    return did_you_mean(symbol, known) or "add it to symbols.weights if it is a real ticker"


def run(compilation: Compilation) -> Iterator[Problem]:
    doc = compilation.doc
    known = _known(compilation)
    aliases = _symbols_doc(compilation).get(("symbols", "aliases"))

    def warn(mark: Mark, where: str, symbol: str) -> Problem:
        return Problem(
            doc.file,
            mark.line,
            mark.column,
            f'{where} names "{symbol}", which is no known ticker',
            "unknown-symbol",
            None,
            _hint(symbol, known, aliases),
            "warning",
        )

    for path, where, source in _expressions(doc):
        for symbol in _compared_names(source, known):
            if _misnamed(symbol, known):
                yield warn(doc.at(path), where, symbol)
    for path, where, symbol in _action_symbols(doc, known):
        if _misnamed(symbol, known):
            yield warn(doc.at(path), where, symbol)
    lists = doc.get(("lists",))
    for name, values in lists.items() if isinstance(lists, dict) else ():
        items = values if isinstance(values, list) else []
        symbolic = _all_symbols(items, known)
        for index, value in enumerate(items):
            if isinstance(value, str) and _misnamed(value, known, symbolic=symbolic):
                yield warn(doc.at(("lists", name, index)), f'list "{name}"', value)
    params = doc.get(("params",))
    for name, value in params.items() if isinstance(params, dict) else ():
        if not isinstance(value, dict):
            continue
        symbolic = _all_symbols(list(value), known)
        for key in value:
            if isinstance(key, str) and _misnamed(key, known, symbolic=symbolic):
                yield warn(doc.key_at(("params", name, key)), f'param "{name}"', key)


#: the facts that hold a ticker or a product (``symbol.root``, ``order.symbol``, ``lock.product``)
_SYMBOL_FACTS = frozenset({"root", "symbol", "product"})


def _expressions(doc: Document) -> Iterator[tuple[tuple[str | int, ...], str, str]]:
    """Every rule's ``when:`` and every macro: its place, its name for the message, its text."""
    rules = doc.get(("rules",))
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(rule, dict) and isinstance(rule.get("when"), str):
            yield ("rules", index, "when"), f'rule "{rule.get("id")}"', rule["when"]
    macros = doc.get(("macros",))
    for name, source in macros.items() if isinstance(macros, dict) else ():
        if isinstance(source, str):
            yield ("macros", name), f'macro "{name}"', source


def _action_symbols(
    doc: Document, known: set[str]
) -> Iterator[tuple[tuple[str | int, ...], str, str]]:
    """A root written as an action's ``symbol:`` (``lockout: {scope: symbol, symbol: MNQZ6}``):
    an unknown one locks, cancels or closes nothing."""
    rules = doc.get(("rules",))
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        then = rule.get("then") if isinstance(rule, dict) else None
        for position, action in enumerate(then if isinstance(then, list) else []):
            if not isinstance(action, dict) or len(action) != 1:
                continue
            ((name, arguments),) = action.items()
            symbol = arguments.get("symbol") if isinstance(arguments, dict) else None
            if not isinstance(symbol, str):
                continue
            written = symbol.strip().strip("'\"")
            if _SYMBOL_LIKE.match(written) or written.upper() in known:
                path: tuple[str | int, ...] = ("rules", index, "then", position, name, "symbol")
                yield path, f'rule "{rule.get("id")}"', written


def _compared_names(source: str, known: set[str]) -> Iterator[str]:
    """Quoted symbol-like names (or known tickers in small letters) compared with a symbol
    fact (``==``, ``!=``, ``in``)."""
    try:
        tree = ast.parse(" ".join(source.split()), mode="eval")
    except SyntaxError:
        return  # the compiler reports it
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if not any(isinstance(s, ast.Attribute) and s.attr in _SYMBOL_FACTS for s in sides):
            continue
        for side in sides:
            items = side.elts if isinstance(side, ast.List | ast.Tuple | ast.Set) else [side]
            for item in items:
                if (
                    isinstance(item, ast.Constant)
                    and isinstance(item.value, str)
                    and (_SYMBOL_LIKE.match(item.value) or item.value.upper() in known)
                ):
                    yield item.value


CHECK = CheckDef("unknown-symbol", "Listed symbols are known tickers (a warning).", run)
