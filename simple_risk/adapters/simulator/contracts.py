"""The simulator's contract catalogue: the products of reference §6 with ProjectX ids.

Clients resolve contract ids through ``Contract/available`` and ``Contract/search``, so the
catalogue must look like the real one: ProjectX roots (``EP`` not ``ES``, ``ENQ``, ``GCE``,
``CLE``, ``MCLE``), real tick sizes and tick values, ids ``CON.F.US.<ROOT>.<M><YY>``, names
``<ROOT><M><Y>``. Each product is listed for the current quarterly expiry (active) and the
previous one (expired, reachable only through ``Contract/searchById`` — as on the live API).

Fees and commissions per contract per half-turn are plausible TopstepX-like values (the micro
values reproduce the MYM fill of reference §7.3: 0.37 fees and 0.25 commissions per contract);
they are not an official schedule.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

#: Quarterly expiry months and their futures month codes.
_QUARTERLY = ((3, "H"), (6, "M"), (9, "U"), (12, "Z"))


@dataclass(frozen=True)
class Product:
    """One futures product: ProjectX root, economics and where its simulated price starts."""

    root: str
    description: str
    tick_size: Decimal
    tick_value: Decimal
    fee_per_side: Decimal
    commission_per_side: Decimal
    start_price: Decimal


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


def _d(text: str) -> Decimal:
    return Decimal(text)


_MICRO_FEE, _MICRO_COMM = _d("0.37"), _d("0.25")

PRODUCTS: tuple[Product, ...] = (
    Product("EP", "E-mini S&P 500", _d("0.25"), _d("12.50"), _d("1.40"), _d("0.50"), _d("6000")),
    Product(
        "MES", "Micro E-mini S&P 500", _d("0.25"), _d("1.25"), _MICRO_FEE, _MICRO_COMM, _d("6000")
    ),
    Product(
        "ENQ", "E-mini Nasdaq-100", _d("0.25"), _d("5.00"), _d("1.40"), _d("0.50"), _d("21000")
    ),
    Product(
        "MNQ",
        "Micro E-mini Nasdaq-100",
        _d("0.25"),
        _d("0.50"),
        _MICRO_FEE,
        _MICRO_COMM,
        _d("21000"),
    ),
    Product(
        "RTY", "E-mini Russell 2000", _d("0.1"), _d("5.00"), _d("1.40"), _d("0.50"), _d("2400")
    ),
    Product(
        "M2K",
        "Micro E-mini Russell 2000",
        _d("0.1"),
        _d("0.50"),
        _MICRO_FEE,
        _MICRO_COMM,
        _d("2400"),
    ),
    Product("YM", "E-mini Dow Jones", _d("1"), _d("5.00"), _d("1.40"), _d("0.50"), _d("44000")),
    Product(
        "MYM", "Micro E-mini Dow Jones", _d("1"), _d("0.50"), _MICRO_FEE, _MICRO_COMM, _d("44000")
    ),
    Product(
        "CLE", "Crude Light (Globex)", _d("0.01"), _d("10.00"), _d("1.50"), _d("0.50"), _d("65")
    ),
    Product(
        "MCLE", "Micro WTI Crude Oil", _d("0.01"), _d("1.00"), _MICRO_FEE, _MICRO_COMM, _d("65")
    ),
    Product("GCE", "Gold", _d("0.1"), _d("10.00"), _d("1.55"), _d("0.50"), _d("2650")),
    Product("MGC", "Micro Gold", _d("0.1"), _d("1.00"), _MICRO_FEE, _MICRO_COMM, _d("2650")),
)


def front_quarter(today: date) -> tuple[int, int, str]:
    """The current quarterly expiry (year, month, code): rolls a week before the third Friday."""
    for month, code in _QUARTERLY:
        if today.month < month or (today.month == month and today.day < 12):
            return today.year, month, code
    return today.year + 1, 3, "H"


def _previous_quarter(year: int, month: int) -> tuple[int, int, str]:
    month -= 3
    if month <= 0:
        year, month = year - 1, month + 12
    return year, month, dict(_QUARTERLY)[month]


def _listing(product: Product, year: int, month: int, code: str, *, active: bool) -> Contract:
    return Contract(
        id=f"CON.F.US.{product.root}.{code}{year % 100:02d}",
        name=f"{product.root}{code}{year % 10}",
        description=f"{product.description}: {calendar.month_name[month]} {year}",
        tick_size=product.tick_size,
        tick_value=product.tick_value,
        active=active,
        symbol_id=f"F.US.{product.root}",
        fee_per_side=product.fee_per_side,
        commission_per_side=product.commission_per_side,
        start_price=product.start_price,
    )


def catalogue(today: date) -> tuple[Contract, ...]:
    """Every contract the simulator knows on ``today``: active front quarter first, then expired."""
    year, month, code = front_quarter(today)
    prev = _previous_quarter(year, month)
    active = [_listing(p, year, month, code, active=True) for p in PRODUCTS]
    expired = [_listing(p, *prev, active=False) for p in PRODUCTS]
    return (*active, *expired)
