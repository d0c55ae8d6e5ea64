"""The contracts rule tests (and the benchmark workload) can name by ticker.

A test writes ``contract: MNQ``, ``contract: ES`` or ``contract: SI``; the runner resolves it
through the shipped contract catalogue to the ProjectX id (``CON.F.US.MNQ.Z26``,
``CON.F.US.EP.Z26``, ``CON.F.US.SIE.Z26``) and announces the metadata to the engine with a
``ContractLoaded`` event, as the adapter does at startup: the CME code as its name
(``ESZ6``), the catalogue's tick size, tick value and description (which says whether it is a
micro: a mini weighs 10 units, a micro 1).
"""

from __future__ import annotations

from decimal import Decimal

from simple_risk.engine.dsl.catalogue import MONTH_CODES, Listing, by_projectx, by_ticker
from simple_risk.engine.dsl.catalogue import listings as catalogue_listings
from simple_risk.engine.events import ContractInfo

DEFAULT_MONTH = "Z26"

#: plausible prices where generated price paths start (by product; others start at a price
#: of ten thousand ticks)
_PRICES: dict[str, str] = {
    "ES": "6000.00",
    "NQ": "21000.00",
    "RTY": "2400.0",
    "YM": "44000",
    "CL": "70.00",
    "GC": "2650.0",
    "ZB": "118.00",
    "BTC": "95000",
    "ETH": "3500.0",
}


def known_names() -> list[str]:
    """Every ticker and ProjectX root a test may write, for did-you-mean hints."""
    return sorted({item.ticker for item in catalogue_listings()} | _projectx_names())


def _projectx_names() -> set[str]:
    return {item.projectx for item in catalogue_listings()}


def _listing(name: str) -> Listing:
    listing = by_ticker(name) or by_projectx(name)
    if listing is None:
        raise KeyError(name)
    return listing


def contract_info(name: str, month: str = DEFAULT_MONTH) -> ContractInfo:
    """Metadata for a ticker (``ES``), a ProjectX root (``EP``) or a full contract id.

    Raises KeyError for a product the catalogue does not list.
    """
    if name.startswith("CON."):
        parts = name.split(".")
        if len(parts) != 5:
            raise KeyError(name)
        name, month = parts[3], parts[4]
        listing = by_projectx(name)
        if listing is None:
            raise KeyError(name)
    else:
        listing = _listing(name)
    if len(month) != 3 or month[0] not in MONTH_CODES or not month[1:].isdigit():
        raise KeyError(month)
    year, month_number = 2000 + int(month[1:]), MONTH_CODES.index(month[0]) + 1
    return ContractInfo(
        contract_id=listing.contract_id(year, month_number),
        symbol_id=f"F.US.{listing.projectx}",
        root=listing.ticker,
        name=listing.cme_code(year, month_number),
        tick_size=listing.tick_size,
        tick_value=listing.tick_value,
        units=1 if listing.micro else 10,
        description=listing.description,
    )


def reference_price(info: ContractInfo) -> Decimal:
    """A plausible price for the product (where generated price paths start)."""
    listing = _listing(info.root)
    price = _PRICES.get(listing.product)
    return Decimal(price) if price is not None else listing.tick_size * 10_000
