"""The contract catalogue shipped with simple-risk: the 51 live TopstepX contracts, as data.

``catalogue.json`` (next to this module, in the wheel) lists every contract
``Contract/available`` offers on the live gateway: its ProjectX root (the id's
``CON.F.US.<root>.<month>``), the CME ticker a trader writes, the product it belongs to, its
tick size and value, its description (micros start "Micro" or "E-Micro") and the months its
front contract cycles through. It is read once, when a ruleset is loaded (the engine never
reads files), by lint (a symbol in a ruleset that is no known ticker is probably a typo, or a
ProjectX code like ``EP``), by the adapters and by the simulator. docs/symbols.md explains
the products and how a ruleset overrides any of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

from simple_risk.engine.facts.symbols import is_micro
from simple_risk.engine.model import Ticker

#: futures month codes, January to December
MONTH_CODES = "FGHJKMNQUVXZ"


@dataclass(frozen=True, slots=True)
class Listing:
    """One product as the gateway lists it."""

    projectx: str
    ticker: str
    product: str
    description: str
    tick_size: Decimal
    tick_value: Decimal
    #: month codes of the contracts that are ever the front one (``HMUZ``: quarterly)
    months: str
    #: the front moves on to the next month this many months before the contract month …
    roll_lead_months: int
    #: … on this day of that month
    roll_day: int

    @property
    def micro(self) -> bool:
        return is_micro(self.description)

    def ticker_entry(self) -> Ticker:
        return Ticker(self.ticker, self.product, self.micro)

    def front(self, today: date) -> tuple[int, int]:
        """The (year, month) of the front contract on ``today``: the first contract of the
        cycle whose roll date (``roll_day`` of the month ``roll_lead_months`` before its
        month) has not come yet."""
        for year in (today.year, today.year + 1, today.year + 2):
            for month in self.cycle():
                roll_year, roll_month = _add_months(year, month, -self.roll_lead_months)
                if today < date(roll_year, roll_month, self.roll_day):
                    return year, month
        raise ValueError(f"{self.ticker}: no front contract after {today}")  # pragma: no cover

    def previous(self, year: int, month: int) -> tuple[int, int]:
        """The contract of the cycle before (year, month) — the one that has just expired."""
        cycle = self.cycle()
        earlier = [m for m in cycle if m < month]
        return (year, earlier[-1]) if earlier else (year - 1, cycle[-1])

    def cycle(self) -> list[int]:
        return sorted(MONTH_CODES.index(code) + 1 for code in self.months)

    def cme_code(self, year: int, month: int) -> str:
        """The contract's ``name`` on the gateway: ticker, month letter, one-digit year."""
        return f"{self.ticker}{MONTH_CODES[month - 1]}{year % 10}"

    def contract_id(self, year: int, month: int) -> str:
        """The ProjectX id: ``CON.F.US.EP.U26``."""
        return f"CON.F.US.{self.projectx}.{MONTH_CODES[month - 1]}{year % 100:02d}"


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _listing(raw: dict[str, object]) -> Listing:
    roll = raw["roll"]
    assert isinstance(roll, dict)
    return Listing(
        projectx=str(raw["projectx"]),
        ticker=str(raw["ticker"]),
        product=str(raw["product"]),
        description=str(raw["description"]),
        tick_size=Decimal(str(raw["tick_size"])),
        tick_value=Decimal(str(raw["tick_value"])),
        months=str(raw["months"]),
        roll_lead_months=int(roll["lead_months"]),
        roll_day=int(roll["day"]),
    )


@lru_cache(maxsize=1)
def listings() -> tuple[Listing, ...]:
    """Every listed product, in the file's order (index, energy, metals, FX, rates, ags,
    crypto)."""
    text = resources.files(__package__).joinpath("catalogue.json").read_text(encoding="utf-8")
    return tuple(_listing(raw) for raw in json.loads(text)["contracts"])


@lru_cache(maxsize=1)
def tickers() -> MappingProxyType[str, Ticker]:
    """ProjectX root → ticker, product and micro flag: what a ruleset's symbol spec needs."""
    return MappingProxyType({item.projectx: item.ticker_entry() for item in listings()})


def by_ticker(ticker: str) -> Listing | None:
    """The listing of a ticker (``ES``), or None."""
    return next((item for item in listings() if item.ticker == ticker), None)


def by_projectx(root: str) -> Listing | None:
    """The listing of a ProjectX root (``EP``), or None."""
    return next((item for item in listings() if item.projectx == root), None)


def ticker_of(contract_id: str) -> str:
    """The ticker to show people for a contract id (``CON.F.US.EP.U26`` → ES); an id the
    catalogue does not list shows its ProjectX root."""
    parts = contract_id.split(".")
    root = parts[3] if len(parts) > 3 else contract_id
    listing = by_projectx(root)
    return listing.ticker if listing is not None else root


@lru_cache(maxsize=1)
def known_names() -> frozenset[str]:
    """Every name a ruleset may list: the tickers and the products (``BTC`` is the product
    of the micro ``MBT``)."""
    return frozenset({item.ticker for item in listings()} | {item.product for item in listings()})


__all__ = [
    "MONTH_CODES",
    "Listing",
    "by_projectx",
    "by_ticker",
    "known_names",
    "listings",
    "ticker_of",
    "tickers",
]
