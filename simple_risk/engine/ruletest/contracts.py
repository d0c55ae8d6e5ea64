"""The contracts rule tests (and the benchmark workload) can name by ticker.

A test writes ``contract: MNQ`` or ``contract: ES``; the runner resolves it to the ProjectX id
(``CON.F.US.MNQ.Z26``, ``CON.F.US.EP.Z26``) and announces the metadata to the engine with a
``ContractLoaded`` event, as the adapter does at startup. Tick sizes and values are those of
reference §6; units follow DESIGN.md §4 (a mini 10, a micro 1).
"""

from __future__ import annotations

from decimal import Decimal

from simple_risk.engine.events import ContractInfo

#: ProjectX root → (ticker after aliasing, tick size, tick value, units, a plausible price).
PRODUCTS: dict[str, tuple[str, str, str, int, str]] = {
    "EP": ("ES", "0.25", "12.50", 10, "6000.00"),
    "MES": ("MES", "0.25", "1.25", 1, "6000.00"),
    "ENQ": ("NQ", "0.25", "5.00", 10, "21000.00"),
    "MNQ": ("MNQ", "0.25", "0.50", 1, "21000.00"),
    "RTY": ("RTY", "0.1", "5.00", 10, "2400.0"),
    "M2K": ("M2K", "0.1", "0.50", 1, "2400.0"),
    "YM": ("YM", "1.0", "5.00", 10, "44000.0"),
    "MYM": ("MYM", "1.0", "0.50", 1, "44000.0"),
    "CLE": ("CL", "0.01", "10.00", 10, "70.00"),
    "MCLE": ("MCL", "0.01", "1.00", 1, "70.00"),
    "GCE": ("GC", "0.1", "10.00", 10, "2650.0"),
    "MGC": ("MGC", "0.1", "1.00", 1, "2650.0"),
    "USA": ("ZB", "0.03125", "31.25", 10, "118.0"),
    "BTC": ("BTC", "5", "25.00", 10, "95000"),
    "MBT": ("MBT", "5", "0.50", 1, "95000"),
}

DEFAULT_MONTH = "Z26"

_BY_TICKER = {ticker: px for px, (ticker, *_rest) in PRODUCTS.items()}


def known_names() -> list[str]:
    """Every ticker and ProjectX root a test may write, for did-you-mean hints."""
    return sorted(set(PRODUCTS) | set(_BY_TICKER))


def contract_info(name: str, month: str = DEFAULT_MONTH) -> ContractInfo:
    """Metadata for a ticker (``ES``), a ProjectX root (``EP``) or a full contract id.

    Raises KeyError for a product the catalogue does not list.
    """
    if name.startswith("CON."):
        parts = name.split(".")
        if len(parts) != 5:
            raise KeyError(name)
        px_root, month = parts[3], parts[4]
    else:
        px_root = name if name in PRODUCTS else _BY_TICKER[name]
    ticker, tick, value, units, _price = PRODUCTS[px_root]
    return ContractInfo(
        contract_id=f"CON.F.US.{px_root}.{month}",
        symbol_id=f"F.US.{px_root}",
        root=ticker,
        name=f"{px_root}{month[0]}{month[-1]}",
        tick_size=Decimal(tick),
        tick_value=Decimal(value),
        units=units,
    )


def reference_price(info: ContractInfo) -> Decimal:
    """A plausible price for the product (where generated price paths start)."""
    return Decimal(PRODUCTS[info.symbol_id.rsplit(".", 1)[-1]][4])
