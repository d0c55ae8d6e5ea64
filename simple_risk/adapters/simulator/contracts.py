"""The simulator's contract catalogue: the 51 live TopstepX contracts, each at its front month.

Clients resolve contract ids through ``Contract/available`` and ``Contract/search``, so the
catalogue must look like the live one (reference §14.5): the products of the shipped contract
catalogue (:mod:`simple_risk.engine.dsl.catalogue`) with their ProjectX roots in the ids
(``CON.F.US.EP.Z26``, ``SIE``, ``BP6``), CME codes as names (``ESZ6``, ``6BZ6``, ``METQ6``),
real tick sizes and values, and descriptions that say which are micros. Each product is listed
at its own front month on the simulator's ``today`` (quarterly for index, FX and rates; monthly
for energy and crypto; the grains', metals' and meats' own cycles) and at the contract before it
(expired, reachable only through ``Contract/searchById`` — as on the live API).

Fees and commissions per contract per half-turn are plausible TopstepX-like values (the micro
values reproduce the MYM fill of reference §7.3: 0.37 fees and 0.25 commissions per contract);
they are not an official schedule. Start prices are plausible levels on each tick grid.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from simple_risk.engine.dsl.catalogue import Listing, listings


@dataclass(frozen=True)
class Product:
    """One futures product as the simulator trades it: its listing, costs and start price."""

    listing: Listing
    fee_per_side: Decimal
    commission_per_side: Decimal
    start_price: Decimal

    @property
    def root(self) -> str:
        """The ProjectX root (``EP``)."""
        return self.listing.projectx


@dataclass(frozen=True)
class Contract:
    """One listed contract (a product at one expiry), as ``ContractModel`` describes it."""

    id: str
    name: str
    description: str
    tick_size: Decimal
    tick_value: Decimal
    active: bool
    symbol_id: str
    fee_per_side: Decimal
    commission_per_side: Decimal
    start_price: Decimal

    def on_grid(self, price: Decimal) -> bool:
        """True when ``price`` is a whole number of ticks (orders off the grid are rejected)."""
        return price % self.tick_size == 0


_MICRO_COSTS = (Decimal("0.37"), Decimal("0.25"))
_MINI_COSTS = (Decimal("1.40"), Decimal("0.50"))
#: minis whose exchange fee differs from the index minis'
_MINI_FEES = {"CL": Decimal("1.50"), "GC": Decimal("1.55")}

#: a plausible price per ticker, on its tick grid
START_PRICES: dict[str, str] = {
    "ES": "6000", "MES": "6000", "NQ": "21000", "MNQ": "21000", "RTY": "2400", "M2K": "2400",
    "YM": "44000", "MYM": "44000", "NKD": "39000",
    "CL": "65", "MCL": "65", "QM": "65", "NG": "3.5", "MNG": "3.5", "QG": "3.5",
    "HO": "2.3", "RB": "2.1",
    "GC": "2650", "MGC": "2650", "SI": "31", "SIL": "31", "PL": "980", "HG": "4.5", "MHG": "4.5",
    "6B": "1.27", "6C": "0.73", "6A": "0.66", "6E": "1.08", "6J": "0.0067", "6M": "0.05",
    "6N": "0.6", "6S": "1.13", "E7": "1.08", "M6A": "0.66", "M6B": "1.27", "M6E": "1.08",
    "ZT": "103", "ZF": "108", "ZN": "111", "TN": "114", "ZB": "118", "UB": "125",
    "ZC": "430", "ZW": "550", "ZS": "1050", "ZL": "42", "ZM": "300", "LE": "190", "HE": "85",
    "MET": "3500", "MBT": "95000",
}  # fmt: skip


def _product(listing: Listing) -> Product:
    if listing.micro:
        fee, commission = _MICRO_COSTS
    else:
        fee = _MINI_FEES.get(listing.ticker, _MINI_COSTS[0])
        commission = _MINI_COSTS[1]
    return Product(listing, fee, commission, Decimal(START_PRICES[listing.ticker]))


PRODUCTS: tuple[Product, ...] = tuple(_product(listing) for listing in listings())


def front_month(product: Product, today: date) -> tuple[int, int]:
    """The product's front contract (year, month) on ``today``, by its own month cycle."""
    return product.listing.front(today)


def _listing(product: Product, year: int, month: int, *, active: bool) -> Contract:
    listing = product.listing
    return Contract(
        id=listing.contract_id(year, month),
        name=listing.cme_code(year, month),
        description=f"{listing.description}: {calendar.month_name[month]} {year}",
        tick_size=listing.tick_size,
        tick_value=listing.tick_value,
        active=active,
        symbol_id=f"F.US.{listing.projectx}",
        fee_per_side=product.fee_per_side,
        commission_per_side=product.commission_per_side,
        start_price=product.start_price,
    )


def catalogue(today: date) -> tuple[Contract, ...]:
    """Every contract the simulator knows on ``today``: each product's front month first (51
    active contracts), then the contract before each (expired)."""
    active: list[Contract] = []
    expired: list[Contract] = []
    for product in PRODUCTS:
        year, month = front_month(product, today)
        active.append(_listing(product, year, month, active=True))
        expired.append(_listing(product, *product.listing.previous(year, month), active=False))
    return (*active, *expired)


__all__ = ["PRODUCTS", "START_PRICES", "Contract", "Product", "catalogue", "front_month"]
