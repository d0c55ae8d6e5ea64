"""The market hub's quotes and trades → the last full quote per contract.

Quotes are partial updates, merged here into the last full quote per contract (reference
§8.2); live deltas often lack ``lastPrice`` and nothing is pushed on subscribe (§14.4), so the
last trade price comes from ``GatewayTrade`` — an array of market trades — merged into the
same quote. Market-hub events arrive as ``[contractId, data]`` where ``data`` may be an
object or a list — or as ``data`` alone, each element naming its contract (a quote's
``contract``, a market trade's ``contractId``); one unreadable element of that list never
drops the good ones beside it.

Apart from the account entities (:mod:`~simple_risk.adapters.topstepx.converters`) because
a quote is not a record of its own: it is state kept across messages, under a lock, for the
market hub's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from simple_risk.adapters.topstepx.wirefields import (
    OnMalformedElement,
    WireFormatError,
    as_mapping,
    convert_each,
    decimal_field,
    descriptive_field,
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
    #: when the last message merged here arrived (the receive clock)
    arrived: datetime | None = None


class QuoteBook:
    """The last full quote per contract; partial updates are merged into it (reference §8.2)."""

    def __init__(self) -> None:
        self._quotes: dict[str, _QuoteState] = {}
        self._lock = threading.Lock()

    def apply(self, contract_id: str, payload: object, at: datetime) -> Quote:
        """Merge one GatewayQuote payload; fields absent (or null) keep their previous value.
        A time it cannot read is logged and taken as absent: the stamp only dates the quote,
        its prices still count."""
        data = as_mapping(payload, "quote")
        last = opt_decimal_field(data, "lastPrice")
        bid = opt_decimal_field(data, "bestBid")
        ask = opt_decimal_field(data, "bestAsk")
        stamp = descriptive_field(data, "timestamp", parse_timestamp) or descriptive_field(
            data, "lastUpdated", parse_timestamp
        )
        return self._merge(contract_id, at, last, bid, ask, stamp)

    def apply_trade(self, contract_id: str, payload: object, at: datetime) -> Quote:
        """Merge one market trade (a GatewayTrade entry): its price is the new last price —
        unless a trade stamped later already set it. Nothing documents the order of a
        ``GatewayTrade`` array (§14.4 shows one), so the newest trade by its own timestamp
        wins, whatever its place in the array or the message it came in. A trade printed below
        the bid or above the ask held leaves the quote without either until a quote delta
        brings them again."""
        data = as_mapping(payload, "trade")
        price = decimal_field(data, "price")
        stamp = descriptive_field(data, "timestamp", parse_timestamp)
        return self._merge(contract_id, at, price, None, None, stamp, traded=True)

    def take_bar(self, contract_id: str, last: Decimal, asked_at: datetime) -> None:
        """A price from REST bars, applied while the contract's quotes are missing: the last
        trade it says, and no bid or ask — what the engine now holds. The deltas that come
        back after the silence merge into it, never into the bid, ask and last trade heard
        before it (a delta carrying only the ask kept the old last trade, which then marked
        the position). Nothing changes when a message merged here since ``asked_at``."""
        with self._lock:
            state = self._quotes.setdefault(contract_id, _QuoteState())
            if state.arrived is not None and state.arrived >= asked_at:
                return
            state.last = last
            state.bid = state.ask = None

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
            state.arrived = at
            if traded and stamp is not None:
                if state.traded_at is not None and stamp < state.traded_at:
                    last, stamp = None, None  # older than the trade already priced: no news
                else:
                    state.traded_at = stamp
            if traded and last is not None and _outside(last, state.bid, state.ask):
                # a trade printed beyond the bid or ask held says they are gone (a gap the
                # hub replays nothing of, or a lost quote subscription): kept, a long would be
                # marked at a bid the market left behind, its open loss hidden
                state.bid = state.ask = None
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


def _outside(price: Decimal, bid: Decimal | None, ask: Decimal | None) -> bool:
    return (bid is not None and price < bid) or (ask is not None and price > ask)


def _market_arguments(target: str, arguments: object) -> list[tuple[object, object]]:
    """Market-hub ``[contractId, data]`` → (contract id, element) per element of ``data``.

    ``data`` alone (one argument, an object or a list) is read too: each element names its
    contract (a quote's ``contract``, a market trade's ``contractId``, §14.4); one that names
    none is unreadable on its own (its contract id is then None)."""
    if not isinstance(arguments, list | tuple) or not arguments:
        raise WireFormatError(f"{target}: expected [contractId, data]")
    if len(arguments) == 1 or isinstance(arguments[0], Mapping | list | tuple):
        data = arguments[0] if len(arguments) == 1 else arguments
        elements = data if isinstance(data, list | tuple) else [data]
        return [(_named_contract(element), element) for element in elements]
    contract_id = arguments[0]
    if not isinstance(contract_id, str) or not contract_id:
        raise WireFormatError(f"{target}: bad contract id {contract_id!r}")
    data = arguments[1]
    return [
        (contract_id, element) for element in (data if isinstance(data, list | tuple) else [data])
    ]


def _named_contract(element: object) -> str | None:
    if not isinstance(element, Mapping):
        return None
    for key in ("contract", "contractId"):
        value = element.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _each(
    pairs: list[tuple[object, object]],
    merge: Callable[[str, object], Quote],
    on_malformed: OnMalformedElement | None,
) -> list[Quote]:
    """Each element merged for its contract; strict (``on_malformed`` None) or lenient as
    :func:`convert_each` (an unreadable element, or one that names no contract, is told and
    skipped)."""

    def convert(pair: object) -> Quote:
        contract_id, element = pair if isinstance(pair, tuple) else (None, pair)
        if not isinstance(contract_id, str):
            raise WireFormatError("names no contract")
        return merge(contract_id, element)

    def skipped(pair: object, error: Exception) -> None:
        if on_malformed is not None:
            on_malformed(pair[1] if isinstance(pair, tuple) else pair, error)

    return list(convert_each(pairs, convert, skipped if on_malformed is not None else None))


def quote_from_wire(
    arguments: object,
    at: datetime,
    book: QuoteBook,
    on_malformed: OnMalformedElement | None = None,
) -> list[Quote]:
    """GatewayQuote ``[contractId, data]`` (or ``data`` alone, naming its contract) → merged
    Quote(s); ``data`` may be a list, whose unreadable elements ``on_malformed`` is told of
    (the others still merge)."""
    pairs = _market_arguments("GatewayQuote", arguments)
    return _each(pairs, lambda contract, p: book.apply(contract, p, at), on_malformed)


def market_trades_from_wire(
    arguments: object,
    at: datetime,
    book: QuoteBook,
    on_malformed: OnMalformedElement | None = None,
) -> list[Quote]:
    """GatewayTrade ``[contractId, data]`` (or ``data`` alone, each trade naming its contract)
    → one merged Quote per contract whose last price is the latest readable trade's; ``data``
    is an array of trades live (§14.4), a single object is accepted too. An empty array
    carries no price and gives no quote. With ``on_malformed``, an unreadable trade is
    reported and skipped: the good trades of the array still set the last price."""
    pairs = _market_arguments("GatewayTrade", arguments)
    quotes = _each(pairs, lambda contract, t: book.apply_trade(contract, t, at), on_malformed)
    return list({quote.contract_id: quote for quote in quotes}.values())


__all__ = ["QuoteBook", "market_trades_from_wire", "quote_from_wire"]
