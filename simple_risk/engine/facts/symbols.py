"""Which ticker, product and weight a contract has: the ruleset, the gateway, the catalogue.

A trader writes CME tickers (``ES``, ``SI``, ``6B``); ProjectX ids carry their own roots
(``CON.F.US.EP.U26``, ``SIE``, ``BP6``). The gateway says which is which: a contract's
``name`` is its CME code (``ESU6``, ``6BU6``, ``METQ6``), so the ticker is the name without its
month letter and year, and its ``description`` says whether it is a micro ("Micro Gold",
"E-Micro GBP/USD"). :class:`SymbolBook` answers in this order:

1. the ruleset's ``symbols:`` (``aliases``, ``weights``, ``products``) — the user has the last
   word;
2. what a ``ContractLoaded`` said about the contract (learned as events arrive, so a product
   the catalogue has never heard of still gets its ticker and its micro weight);
3. the shipped catalogue (in :class:`~simple_risk.engine.model.SymbolSpec`), which knows the
   live contracts before their metadata arrives;
4. the ProjectX root itself, weighted as a mini.

The book is engine state: it changes only with events, so the engine stays deterministic. A
contract's ticker is decided when the engine first sees the contract; metadata arriving later
re-roots it only while nothing is open or working in it (moving live aggregates between roots
is not worth the risk for a contract whose metadata the adapters load before any event).
"""

from __future__ import annotations

import re

from simple_risk.engine.events import ContractInfo
from simple_risk.engine.model import SymbolSpec

#: a CME code: the ticker, a month letter, a one-digit year (``ESU6``); older documents show
#: two digits (``MNQH25``)
_CME_CODE = re.compile(r"^([A-Z0-9]{1,5}?)[FGHJKMNQUVXZ][0-9]{1,2}$")

_MICRO_PREFIXES = ("micro", "e-micro")


def ticker_from_name(name: str) -> str | None:
    """The ticker of a contract's CME code (``ESU6`` → ES, ``6BU6`` → 6B, ``METQ6`` → MET);
    None for a name that is no such code."""
    match = _CME_CODE.match(name.strip().upper())
    return match.group(1) if match else None


def is_micro(description: str) -> bool:
    """A micro contract, as its description says: "Micro …" or "E-Micro …"."""
    return description.strip().lower().startswith(_MICRO_PREFIXES)


def projectx_root(contract_id: str) -> str:
    """The ProjectX root of a contract id: ``CON.F.US.EP.Z26`` → ``EP``."""
    parts = contract_id.split(".")
    if len(parts) >= 5 and parts[0] == "CON":
        return parts[3]
    if len(parts) == 3:  # a symbol id such as F.US.EP
        return parts[2]
    return contract_id


class SymbolBook:
    """The ruleset's symbol spec plus what the gateway has said about contracts."""

    __slots__ = ("_micro", "_products", "_roots", "_units", "spec", "units_per_lot")

    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.units_per_lot = spec.units_per_lot
        #: ProjectX root → ticker, from contract names
        self._roots: dict[str, str] = {}
        #: ticker → micro, from contract descriptions
        self._micro: dict[str, bool] = {}
        #: caches of the answers below (cleared when something is learned)
        self._units: dict[str, int] = {}
        self._products: dict[str, str] = {}

    def learn(self, info: ContractInfo) -> str | None:
        """Take in a contract's metadata; returns the ticker its name gives (None if none)."""
        ticker = ticker_from_name(info.name)
        if ticker is None:
            return None
        self._roots[projectx_root(info.contract_id)] = ticker
        if info.description:
            self._micro[ticker] = is_micro(info.description)
        self._units.clear()
        return ticker

    def root(self, raw_root: str) -> str:
        """The ticker rules see for a ProjectX root."""
        alias = self.spec.aliases.get(raw_root)
        if alias is not None:
            return alias
        learned = self._roots.get(raw_root)
        return learned if learned is not None else self.spec.root(raw_root)

    def units(self, root: str) -> int:
        """A ticker's weight in units (a micro is a tenth of a lot)."""
        units = self._units.get(root)
        if units is None:
            units = self.spec.units(root, self._micro.get(root))
            self._units[root] = units
        return units

    def product(self, root: str) -> str:
        """The product a ticker belongs to (``MES`` → ES, ``M2K`` → RTY)."""
        product = self._products.get(root)
        if product is None:
            product = self.spec.product(root)
            self._products[root] = product
        return product


__all__ = ["SymbolBook", "is_micro", "projectx_root", "ticker_from_name"]
