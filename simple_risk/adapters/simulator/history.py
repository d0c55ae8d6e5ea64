"""The simulator's price history, as ``History/retrieveBars`` serves it (reference §4.5).

From the venue's start on, a contract's bars are the trades its market printed, so a partial
bar closes at the last price the market hub published (what a client pricing a position from
REST bars while its quotes are missing relies on); before the start, a seeded synthetic
history (:func:`~simple_risk.adapters.simulator.prices.synthetic_bar`), moved so that its last
bar closes at the venue's first price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from simple_risk.adapters.simulator.contracts import Contract
from simple_risk.adapters.simulator.market import MarketState, path_bar
from simple_risk.adapters.simulator.prices import synthetic_bar

#: the most bars one request may ask for (the gateway's documented cap)
MAX_BARS = 20_000
#: the synthetic history's first instant
EARLIEST_BAR = datetime(2000, 1, 1, tzinfo=UTC)

#: AggregateBarUnit -> seconds per unit (weeks and months are calendar-aligned below).
_UNIT_SECONDS = {1: 1, 2: 60, 3: 3600, 4: 86400, 5: 7 * 86400}


def bar_starts(
    start: datetime, end: datetime, unit: int, number: int, limit: int
) -> list[tuple[datetime, int, int]]:
    """Bar start times in [start, end] (newest first, at most ``limit``) with an index and the
    bar's width in seconds for the synthetic generator."""
    starts: list[tuple[datetime, int, int]] = []
    if end < start:
        return starts
    if unit == 6:
        months = end.year * 12 + end.month - 1
        months -= months % number
        while len(starts) < limit and months >= 12:  # a bar of year 0 cannot be dated
            t = datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)
            if t < start.replace(day=1, hour=0, minute=0, second=0, microsecond=0):
                break
            starts.append((t, months // number, 30 * 86400 * number))
            months -= number
        return starts
    width = _UNIT_SECONDS[unit] * number
    epoch = datetime(1970, 1, 5, tzinfo=UTC)  # a Monday, so weekly bars start on Mondays
    index = -int(-(end - epoch).total_seconds() // width) - 1  # last bar starting before end
    first = int((start - epoch).total_seconds() // width)
    while index >= first and len(starts) < limit:
        starts.append((epoch + timedelta(seconds=index * width), index, width))
        index -= 1
    return starts


#: bars of the venue's path scanned past ``limit`` for the ones something traded in (a quiet
#: contract's last trade may lie a few empty bars back)
MAX_PATH_SCAN = 1_000


@dataclass(frozen=True, slots=True)
class BarWindow:
    """What a ``History/retrieveBars`` request asks for (already validated)."""

    start: datetime
    end: datetime
    unit: int
    number: int
    limit: int
    partial: bool


def history_bars(
    seed: int,
    contract: Contract,
    market: MarketState | None,
    window: BarWindow,
    now: datetime,
) -> list[dict[str, object]]:
    """The bars of ``window``, newest first: from the venue's start on, its own price path
    (a partial bar's close is the last price the market hub published; a bar nothing traded
    in is not sent, as the live gateway sends none), before it the synthetic history, moved
    so that it leads to the venue's first price."""
    bars: list[dict[str, object]] = []
    # the synthetic history starts in 2000 (and keeps calendar arithmetic away from year 1)
    start, end = max(window.start, EARLIEST_BAR), min(window.end, now)
    opened = market.opened_at if market is not None else None
    lead = _lead_in(seed, contract, window.unit, window.number, market)
    scan = window.limit + MAX_PATH_SCAN
    for t, index, width in bar_starts(start, end, window.unit, window.number, scan):
        if len(bars) >= window.limit:
            break
        complete = t + timedelta(seconds=width) <= now
        if not complete and not window.partial:
            continue
        if market is not None and opened is not None and t + timedelta(seconds=width) > opened:
            path = path_bar(market, t, timedelta(seconds=width), now)
            if path is not None:
                o, h, low, c, v = path
                bars.append({"t": t, "o": o, "h": h, "l": low, "c": c, "v": v})
            continue
        bar = synthetic_bar(seed, contract, t, index, width)
        o, h, low, c = (max(p + lead, contract.tick_size) for p in (bar.o, bar.h, bar.l, bar.c))
        bars.append({"t": bar.t, "o": o, "h": h, "l": low, "c": c, "v": bar.v})
    return bars


def _lead_in(
    seed: int, contract: Contract, unit: int, number: int, market: MarketState | None
) -> Decimal:
    """How far the synthetic history is moved so that its last bar before the venue's start
    closes at the venue's first price (0 for a contract without a market)."""
    if market is None or market.opened_at is None or market.opened_price is None:
        return Decimal(0)
    opened = market.opened_at
    for t, index, width in bar_starts(EARLIEST_BAR, opened, unit, number, 3):
        if t + timedelta(seconds=width) <= opened:
            last = synthetic_bar(seed, contract, t, index, width)
            return market.opened_price - last.c
    return Decimal(0)


__all__ = ["EARLIEST_BAR", "MAX_BARS", "BarWindow", "bar_starts", "history_bars"]
