"""The tolerant converter the hub threads use: hub arguments → domain events, never raising.

The strict converters (:mod:`~simple_risk.adapters.topstepx.converters`,
:mod:`~simple_risk.adapters.topstepx.quotes`) raise on anything malformed;
:class:`Converter` wraps them for the hub threads: it stamps each event with the receive
clock, logs the raw payload (secrets scrubbed), counts it, and skips it — a bad payload never
kills a thread, and one bad element of a list (a market trade, a quote, a REST record) never
drops the good elements beside it. A user-hub record it could not take at its word is told
to the daemon as a :class:`Doubt` (alert, and reconcile the account from REST). Apart from the
strict converters because this is policy for a long-running thread — counting, logging,
telling the daemon — not the meaning of a payload.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.converters import (
    ACTION_REMOVED,
    DEFAULT_SYMBOLS,
    account_from_wire,
    bracket_children_last,
    order_from_wire,
    position_from_wire,
    trade_from_wire,
    unwrap_user_actions,
)
from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.adapters.topstepx.quotes import QuoteBook, market_trades_from_wire, quote_from_wire
from simple_risk.adapters.topstepx.secrets import install_log_filter, scrub
from simple_risk.adapters.topstepx.wirefields import (
    MALFORMED,
    READINGS,
    UnknownValues,
    WireFormatError,
    list_field,
    to_int,
)
from simple_risk.engine.events import Event, OrderUpdate
from simple_risk.engine.model import SymbolSpec

log = logging.getLogger(__name__)
install_log_filter(__name__)

#: the user-hub and market-hub targets the hub clients listen to
USER_TARGETS = ("GatewayUserAccount", "GatewayUserOrder", "GatewayUserPosition", "GatewayUserTrade")
MARKET_TARGETS = ("GatewayQuote", "GatewayTrade", "GatewayDepth")

#: the target of the user-hub records no message could be made of (whichever it was), as
#: :attr:`Converter.rejected` counts them and their :class:`Doubt` names it
UNREADABLE_RECORD = "GatewayUser*"

#: the strict converter of each user-hub target
_USER_CONVERTERS: dict[str, Callable[[object, datetime], Event]] = {
    "GatewayUserAccount": account_from_wire,
    "GatewayUserOrder": order_from_wire,
    "GatewayUserPosition": position_from_wire,
    "GatewayUserTrade": trade_from_wire,
}


@dataclass(frozen=True, slots=True)
class Doubt:
    """A user-hub record the converter could not take at its word: skipped as unreadable, or
    kept with a conservative reading (an unknown order status read as working, an unknown type
    as :attr:`OrderType.UNKNOWN`). The daemon alerts once per ``what`` and, when ``reconcile``,
    re-reads the account from REST — every guarded account when ``account_id`` is None (the
    record did not say whose it is)."""

    at: datetime
    target: str
    account_id: int | None
    #: what was wrong, without record ids: the same trouble on many records is one alert
    what: str
    record_id: object
    #: only REST can tell what the record means (skipped, or an unknown order status)
    reconcile: bool
    #: the record was dropped (unreadable), not kept with a conservative reading
    skipped: bool = False


#: Told of each :class:`Doubt`, on the hub thread that converted the record.
OnDoubt = Callable[[Doubt], None]


def _owner(target: str, entity: object) -> int | None:
    """The account an unreadable user-hub record belongs to, when that much can be read."""
    if not isinstance(entity, Mapping):
        return None
    key = "id" if target == "GatewayUserAccount" else "accountId"
    try:
        return to_int(entity.get(key), key)
    except WireFormatError:
        return None


class Converter:
    """Hub arguments → domain events, stamped with the receive clock; never raises.

    Malformed entities are logged with their (scrubbed) raw payload, counted in
    :attr:`rejected` by target, and skipped; the other entities of the same message (the
    other trades of a ``GatewayTrade`` array, the other quotes of a list) still convert.
    Unknown targets are counted in :attr:`ignored`, unknown enum values read conservatively
    in :attr:`unknown` (docstring of :mod:`~simple_risk.adapters.topstepx.converters`). A
    skipped user-hub record and an order of unknown status are told to ``on_doubt`` (the
    daemon alerts and reconciles the account); so is an order of unknown type (alerted once,
    no reconcile: the record is fully read).
    """

    def __init__(
        self,
        clock: ReceiveClock | None = None,
        symbols: SymbolSpec = DEFAULT_SYMBOLS,
        *,
        on_doubt: OnDoubt | None = None,
    ) -> None:
        self.clock = clock or ReceiveClock()
        self.symbols = symbols
        self.quotes = QuoteBook()
        self.rejected: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.unknown = UnknownValues()
        self.on_doubt = on_doubt
        self._lock = threading.Lock()

    def _reject(self, target: str, payload: object, error: Exception) -> None:
        with self._lock:
            self.rejected[target] += 1
        try:
            raw = json.dumps(scrub(payload), default=str)[:2000]
        except (TypeError, ValueError, RecursionError):
            raw = repr(type(payload))
        log.warning("skipped malformed %s payload (%s): %s", target, error, raw)

    def skipped(self) -> dict[str, int]:
        """A copy of :attr:`rejected`, safe to read from another thread (the status)."""
        with self._lock:
            return dict(self.rejected)

    def _doubt(self, doubt: Doubt) -> None:
        if self.on_doubt is None:
            return
        try:
            self.on_doubt(doubt)
        except Exception:  # the listener's failure must not drop the events of the message
            log.exception("the listener of an unreadable %s record failed", doubt.target)

    def _order(self, entity: object, stamp: datetime) -> OrderUpdate:
        """One user-hub order; its unknown values are counted, logged once, and doubted."""
        unknown: list[tuple[str, int | str]] = []
        order = order_from_wire(entity, stamp, on_unknown=lambda f, v: unknown.append((f, v)))
        for name, value in unknown:
            reading = READINGS.get(name, "a default")
            self.unknown.note(name, value, reading)
            self._doubt(
                Doubt(
                    at=stamp,
                    target="GatewayUserOrder",
                    account_id=order.account_id,
                    what=f"unknown {name} {value}, read as {reading}",
                    record_id=order.order_id,
                    reconcile=name == "order.status",
                )
            )
        return order

    def _entity(self, target: str, action: int | None, entity: object, stamp: datetime) -> Event:
        if target == "GatewayUserOrder":
            return self._order(entity, stamp)
        if target == "GatewayUserPosition":
            return position_from_wire(entity, stamp, removed=action == ACTION_REMOVED)
        return _USER_CONVERTERS[target](entity, stamp)

    def user(self, target: str, arguments: object, at: datetime | None = None) -> list[Event]:
        """One user-hub invocation → events (possibly none)."""
        stamp = at or self.clock.now()
        if target not in _USER_CONVERTERS:
            with self._lock:
                self.ignored[target] += 1
            return []
        try:
            entities = unwrap_user_actions(arguments)
        except (WireFormatError, RecursionError) as error:
            self._reject(target, arguments, error)
            self._doubt(
                Doubt(
                    at=stamp,
                    target=target,
                    account_id=None,
                    what=f"unreadable {target} message skipped ({error})",
                    record_id=None,
                    reconcile=True,
                    skipped=True,
                )
            )
            return []
        events: list[Event] = []
        for action, entity in entities:
            try:
                events.append(self._entity(target, action, entity, stamp))
            except MALFORMED as error:
                self._reject(target, entity, error)
                self._doubt(
                    Doubt(
                        at=stamp,
                        target=target,
                        account_id=_owner(target, entity),
                        what=f"unreadable {target} record skipped ({error})",
                        record_id=entity.get("id") if isinstance(entity, Mapping) else None,
                        reconcile=True,
                        skipped=True,
                    )
                )
        return events

    def market(self, target: str, arguments: object, at: datetime | None = None) -> list[Event]:
        """One market-hub invocation → merged quotes (market trades set the last price);
        depth carries no domain event."""
        stamp = at or self.clock.now()
        converters = {"GatewayQuote": quote_from_wire, "GatewayTrade": market_trades_from_wire}
        convert = converters.get(target)
        if convert is None:
            with self._lock:
                self.ignored[target] += 1
            return []

        def skipped(element: object, error: Exception) -> None:
            self._reject(target, element, error)

        try:
            return list(convert(arguments, stamp, self.quotes, skipped))
        except MALFORMED as error:  # the message itself: no contract id, no data
            self._reject(target, arguments, error)
            return []

    def unreadable_record(self, at: datetime | None = None) -> None:
        """A user-hub record the hub protocol could not read (no target, no arguments can be
        told): counted and doubted for every guarded account — it may have been any account's
        order or fill, and only REST can tell."""
        stamp = at or self.clock.now()
        with self._lock:
            self.rejected[UNREADABLE_RECORD] += 1
        self._doubt(
            Doubt(
                at=stamp,
                target=UNREADABLE_RECORD,
                account_id=None,
                what="unreadable user-hub record skipped",
                record_id=None,
                reconcile=True,
                skipped=True,
            )
        )

    def rest(self, endpoint: str, body: object, at: datetime | None = None) -> list[Event]:
        """A recorded REST response (reconciliation) → events; unknown endpoints → none.

        Record by record, as the daemon reads a live answer: an unreadable record is logged,
        counted and skipped, the others still convert."""
        stamp = at or self.clock.now()
        handlers: dict[str, tuple[str, Callable[[object, datetime], Event]]] = {
            Endpoint.ACCOUNT_SEARCH: ("accounts", account_from_wire),
            Endpoint.ORDER_SEARCH: ("orders", order_from_wire),
            Endpoint.ORDER_SEARCH_OPEN: ("orders", order_from_wire),
            Endpoint.POSITION_SEARCH_OPEN: ("positions", position_from_wire),
            Endpoint.TRADE_SEARCH: ("trades", trade_from_wire),
        }
        handler = handlers.get(endpoint)
        if handler is None:
            with self._lock:
                self.ignored[endpoint] += 1
            return []
        key, convert = handler
        try:
            items = list_field(body, key)
        except WireFormatError as error:
            self._reject(endpoint, body, error)
            return []
        events: list[Event] = []
        for item in items:
            try:
                events.append(convert(item, stamp))
            except MALFORMED as error:
                self._reject(endpoint, item, error)
        orders = [e for e in events if isinstance(e, OrderUpdate)]
        return list(bracket_children_last(orders)) if orders else events


__all__ = [
    "MARKET_TARGETS",
    "UNREADABLE_RECORD",
    "USER_TARGETS",
    "Converter",
    "Doubt",
    "OnDoubt",
]
