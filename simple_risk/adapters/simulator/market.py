"""A contract's market at the simulated venue: its last price and the data it publishes.

The venue keeps one :class:`MarketState` per active contract. This module says what a price
move does to it and what the market hub sees: the full quote, the partial quote delta (live
quotes carry only what changed, §14.4), the ``GatewayTrade`` print and a small synthetic depth
book. It is separate from :mod:`.venue` because these payload shapes are market data, not
matching: the venue decides *when* a price moves and which orders it reaches; this module only
builds what is published, as plain functions of the state and the time handed in.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from simple_risk.adapters.simulator.contracts import Contract
from simple_risk.adapters.simulator.shapes import Shapes


@dataclass
class MarketState:
    """Last price, the session statistics a quote carries, and the quote last published."""

    contract: Contract
    last: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    volume: int = 0
    published: dict[str, object] = field(default_factory=dict)
    #: when the venue began this price path (its bars from then on are the path's), and at
    #: which price (the synthetic history before it leads there)
    opened_at: datetime | None = None
    opened_price: Decimal | None = None
    #: the trades printed since, oldest first, as (time, price, volume): the path's bars
    prints: list[tuple[datetime, Decimal, int]] = field(default_factory=list)

    @property
    def bid(self) -> Decimal:
        return self.last

    @property
    def ask(self) -> Decimal:
        return self.last + self.contract.tick_size


def print_trade(
    market: MarketState, last: Decimal, volume: int, now: datetime
) -> list[dict[str, object]]:
    """Move the market to a trade of ``volume`` at ``last`` (bid = last, ask = last + 1 tick);
    return the ``GatewayTrade`` payload, whose ``type`` is 0 on an up-or-level tick, 1 down."""
    side = 0 if last >= market.last else 1
    market.last = last
    market.high = max(market.high, last)
    market.low = min(market.low, last)
    market.volume += volume
    market.prints.append((now, last, volume))
    if len(market.prints) > 2 * MAX_PRINTS:  # a venue that runs for days keeps the recent ones
        del market.prints[:MAX_PRINTS]
    return [
        {
            "symbolId": market.contract.symbol_id,
            "price": last,
            "timestamp": now,
            "type": side,
            "volume": volume,
            "contractId": market.contract.id,
        }
    ]


#: the trades a market keeps for its bars (twice this many at most)
MAX_PRINTS = 50_000


def path_bar(
    market: MarketState, start: datetime, width: timedelta, now: datetime
) -> tuple[Decimal, Decimal, Decimal, Decimal, int] | None:
    """The bar ``[start, start + width)`` of the venue's own price path, up to ``now``, as
    (open, high, low, close, volume): its trades, the first opening it and the last closing
    it (a partial bar's close is the last price); None when nothing traded in it. A bar of
    ``History/retrieveBars`` that ends in the prices the hubs published."""
    prints = market.prints
    end = min(start + width, now + timedelta(microseconds=1))
    first = bisect.bisect_left(prints, start, key=lambda p: p[0])
    past = bisect.bisect_left(prints, end, key=lambda p: p[0])
    inside = prints[first:past]
    if not inside:
        return None
    prices = [price for _, price, _ in inside]
    volume = sum(v for _, _, v in inside)
    return prices[0], max(prices), min(prices), prices[-1], volume


def depth_levels(market: MarketState, now: datetime) -> list[dict[str, object]]:
    """A small synthetic book: best bid/ask and five levels a side."""
    tick = market.contract.tick_size
    entries: list[dict[str, object]] = [
        {"timestamp": now, "type": 4, "price": market.bid, "volume": 10, "currentVolume": 10},
        {"timestamp": now, "type": 3, "price": market.ask, "volume": 10, "currentVolume": 10},
    ]
    for level in range(1, 6):
        size = 10 + 5 * level
        entries.append(
            {
                "timestamp": now,
                "type": 2,
                "price": market.bid - level * tick,
                "volume": size,
                "currentVolume": size,
            }
        )
        entries.append(
            {
                "timestamp": now,
                "type": 1,
                "price": market.ask + level * tick,
                "volume": size,
                "currentVolume": size,
            }
        )
    return entries


def full_quote(market: MarketState, now: object) -> dict[str, object]:
    """Every field of the market's quote (what a subscriber's snapshot shows)."""
    change = market.last - market.open
    return {
        "symbol": market.contract.symbol_id,
        "symbolName": market.contract.name,
        "lastPrice": market.last,
        "bestBid": market.bid,
        "bestAsk": market.ask,
        "change": change,
        "changePercent": (change / market.open * 100).quantize(Decimal("0.01")),
        "open": market.open,
        "high": market.high,
        "low": market.low,
        "volume": market.volume,
        "lastUpdated": now,
        "timestamp": now,
    }


def quote_delta(market: MarketState, now: datetime, shapes: Shapes) -> dict[str, object]:
    """The quote to publish now: only the fields that changed since the last one (live quotes
    are partial); the market remembers the full quote as published.

    Live deltas always name the symbol and contract and carry the best bid/ask and both
    times, never ``lastPrice`` — the last trade price travels on ``GatewayTrade`` (§14.4).
    The older shape carried ``lastPrice`` whenever it changed.
    """
    full = full_quote(market, now)
    always: tuple[str, ...] = ("symbol", "timestamp", "lastUpdated")
    if not shapes.quote_last_price:
        always = (*always, "bestBid", "bestAsk")
    partial = {k: v for k, v in full.items() if k in always or market.published.get(k) != v}
    if not shapes.quote_last_price:
        partial.pop("lastPrice", None)
        partial = {"symbol": partial.pop("symbol"), "contract": market.contract.id, **partial}
    market.published = full
    return partial
