"""The market hub's quotes and trades → the last full quote per contract.

Quotes are partial updates, merged here into the last full quote per contract (reference
§8.2); live deltas often lack ``lastPrice`` and nothing is pushed on subscribe (§14.4), so the
last trade price comes from ``GatewayTrade`` — an array of market trades — merged into the
same quote. Market-hub events arrive as ``[contractId, data]`` where ``data`` may be an
object or a list; one unreadable element of that list never drops the good ones beside it.

Apart from the account entities (:mod:`~simple_risk.adapters.topstepx.converters`) because
a quote is not a record of its own: it is state kept across messages, under a lock, for the
market hub's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from simple_risk.adapters.topstepx.wirefields import (
    OnMalformedElement,
    WireFormatError,
    as_mapping,
    convert_each,
    decimal_field,
    opt_decimal_field,
    parse_timestamp,
)
from simple_risk.engine.events import Quote


@dataclass(slots=True)
class _QuoteState:
    last: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    timestamp: datetime | None = None
    #: the exchange time of the trade whose price is ``last`` (a market trade's)
    traded_at: datetime | None = None


class QuoteBook:
    """The last full quote per contract; partial updates are merged into it (reference §8.2)."""

    def __init__(self) -> None:
        self._quotes: dict[str, _QuoteState] = {}
        self._lock = threading.Lock()

    def apply(self, contract_id: str, payload: object, at: datetime) -> Quote:
        """Merge one GatewayQuote payload; fields absent (or null) keep their previous value."""
        data = as_mapping(payload, "quote")
        last = opt_decimal_field(data, "lastPrice")
        bid = opt_decimal_field(data, "bestBid")
        ask = opt_decimal_field(data, "bestAsk")
        stamp = parse_timestamp(data.get("timestamp"), "timestamp") or parse_timestamp(
            data.get("lastUpdated"), "lastUpdated"
        )
        return self._merge(contract_id, at, last, bid, ask, stamp)

    def apply_trade(self, contract_id: str, payload: object, at: datetime) -> Quote:
        """Merge one market trade (a GatewayTrade entry): its price is the new last price —
        unless a trade stamped later already set it. Nothing documents the order of a
        ``GatewayTrade`` array (§14.4 shows one), so the newest trade by its own timestamp
        wins, whatever its place in the array or the message it came in."""
        data = as_mapping(payload, "trade")
        price = decimal_field(data, "price")
        stamp = parse_timestamp(data.get("timestamp"), "timestamp")
        return self._merge(contract_id, at, price, None, None, stamp, traded=True)

    def _merge(
        self,
        contract_id: str,
        at: datetime,
        last: Decimal | None,
        bid: Decimal | None,
        ask: Decimal | None,
        stamp: datetime | None,
        *,
        traded: bool = False,
    ) -> Quote:
        with self._lock:
            state = self._quotes.setdefault(contract_id, _QuoteState())
            if traded and stamp is not None:
                if state.traded_at is not None and stamp < state.traded_at:
                    last, stamp = None, None  # older than the trade already priced: no news
                else:
                    state.traded_at = stamp
            if last is not None:
                state.last = last
            if bid is not None:
                state.bid = bid
            if ask is not None:
                state.ask = ask
            if stamp is not None:
                state.timestamp = stamp
            return Quote(
                at=at,
                contract_id=contract_id,
                last=state.last,
                bid=state.bid,
                ask=state.ask,
                timestamp=state.timestamp,
            )


def _market_arguments(target: str, arguments: object) -> tuple[str, Sequence[object]]:
    """Market-hub ``[contractId, data]`` → the contract id and the elements of ``data``."""
    if not isinstance(arguments, list | tuple) or len(arguments) < 2:
        raise WireFormatError(f"{target}: expected [contractId, data]")
    contract_id = arguments[0]
    if not isinstance(contract_id, str) or not contract_id:
        raise WireFormatError(f"{target}: bad contract id {contract_id!r}")
    data = arguments[1]
    return contract_id, data if isinstance(data, list | tuple) else [data]


def quote_from_wire(
    arguments: object,
    at: datetime,
    book: QuoteBook,
    on_malformed: OnMalformedElement | None = None,
) -> list[Quote]:
    """GatewayQuote ``[contractId, data]`` → merged Quote(s); ``data`` may be a list, whose
    unreadable elements ``on_malformed`` is told of (the others still merge)."""
    contract_id, payloads = _market_arguments("GatewayQuote", arguments)
    return list(convert_each(payloads, lambda p: book.apply(contract_id, p, at), on_malformed))


def market_trades_from_wire(
    arguments: object,
    at: datetime,
    book: QuoteBook,
    on_malformed: OnMalformedElement | None = None,
) -> list[Quote]:
    """GatewayTrade ``[contractId, data]`` → one merged Quote whose last price is the latest
    readable trade's; ``data`` is an array of trades live (§14.4), a single object is accepted
    too. An empty array carries no price and gives no quote. With ``on_malformed``, an
    unreadable trade is reported and skipped: the good trades of the array still set the
    last price."""
    contract_id, trades = _market_arguments("GatewayTrade", arguments)
    quotes = list(
        convert_each(trades, lambda t: book.apply_trade(contract_id, t, at), on_malformed)
    )
    return quotes[-1:]


__all__ = ["QuoteBook", "market_trades_from_wire", "quote_from_wire"]
