"""Position facts: one :class:`Position` per open contract of an account (``position``).

Mark price, unrealized P&L and profit in ticks read the shared contract state (latest quote,
tick size and value), so they are unknown (None) until a quote and the contract metadata
arrive. Protection and the best price since entry are stateful and updated by the account
whenever the position, an order in its contract or its quote changes (DESIGN.md §4, "A
protective stop").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from simple_risk.engine.calendar import seconds
from simple_risk.engine.facts.market import ContractState
from simple_risk.engine.facts.orders import Order

if TYPE_CHECKING:
    from simple_risk.engine.facts.account import AccountState

_ZERO = Decimal(0)


class Position:
    """The ``position`` family (namespace.py): attributes as declared there."""

    __slots__ = (
        "_account",
        "avg_price",
        "best_price",
        "contract",
        "contract_id",
        "last_price",
        "long",
        "opened_at",
        "position_id",
        "profit_ticks",
        "protected",
        "side",
        "size",
        "stop_price",
        "symbol",
        "units",
        "unprotected_since",
        "unrealized_pnl",
    )

    def __init__(
        self,
        account: AccountState,
        contract: ContractState,
        long: bool,
        size: int,
        avg_price: Decimal,
        opened_at: datetime,
    ) -> None:
        self._account = account
        self.contract = contract
        self.contract_id = contract.contract_id
        self.symbol = contract.root
        self.long = long
        self.side = "long" if long else "short"
        self.size = size
        self.units = size * account.symbols.units(contract.root)
        self.avg_price = avg_price
        self.opened_at = opened_at
        self.position_id: int | None = None
        self.best_price: Decimal | None = None
        self.protected = False
        self.unprotected_since: datetime | None = opened_at
        self.stop_price: Decimal | None = None
        #: mark price, profit in ticks and unrealized P&L: kept by :meth:`reprice`
        self.last_price: Decimal | None = None
        self.profit_ticks: Decimal | None = None
        self.unrealized_pnl: Decimal | None = None

    # -- derived on read ---------------------------------------------------------------------

    @property
    def age(self) -> Decimal:
        return seconds(self._account.clock.now - self.opened_at)

    @property
    def tick_size(self) -> Decimal | None:
        return self.contract.tick_size

    @property
    def tick_value(self) -> Decimal | None:
        return self.contract.tick_value

    @property
    def unprotected_for(self) -> Decimal:
        if self.protected or self.unprotected_since is None:
            return _ZERO
        return seconds(self._account.clock.now - self.unprotected_since)

    @property
    def locked(self) -> bool:
        return self._account.locks.covers(self.symbol)

    # -- maintenance ------------------------------------------------------------------------

    def reprice(self) -> None:
        """Recompute mark, profit in ticks and unrealized P&L (quote, metadata, size change)."""
        contract = self.contract
        # ContractState.mark, inlined (once per position per quote): the last trade unless the
        # quote has left it behind, else the side this position would close at
        mark = contract.last
        bid, ask = contract.bid, contract.ask
        if mark is None or (bid is not None and mark < bid) or (ask is not None and mark > ask):
            side = bid if self.long else ask
            mark = side if side is not None else mark
        self.last_price = mark
        tick_size = contract.tick_size
        if mark is None or tick_size is None:
            self.profit_ticks = None
            self.unrealized_pnl = None
            return
        move = mark - self.avg_price if self.long else self.avg_price - mark
        self.profit_ticks = ticks = move / tick_size
        tick_value = contract.tick_value
        self.unrealized_pnl = None if tick_value is None else ticks * tick_value * self.size

    def refresh(self, orders: Iterable[Order], now: datetime) -> None:
        """Update price facts, the best price and protection after a quote, order or size
        change."""
        self.reprice()
        mark = self.last_price
        if mark is not None:
            best = self.best_price
            if best is None or (mark > best if self.long else mark < best):
                self.best_price = mark
        protected, stop_price = protection(self, orders, mark)
        self.stop_price = stop_price
        if protected:
            self.protected = True
            self.unprotected_since = None
        else:
            if self.protected or self.unprotected_since is None:
                self.unprotected_since = now
            self.protected = False


def protection(
    position: Position, orders: Iterable[Order], mark: Decimal | None
) -> tuple[bool, Decimal | None]:
    """Whether working stops on the loss side cover the position, and the tightest stop price.

    A stop counts when it is working (not pending cancellation), is a stop, stop-limit or
    trailing stop on the side opposite the position, and its trigger is on the loss side of
    the mark (a stop at the mark counts; a trailing stop counts at any distance). Before the
    first quote the average entry price stands in for the mark.
    """
    reference = mark if mark is not None else position.avg_price
    long = position.long
    covered = 0
    tightest: Decimal | None = None
    for order in orders:
        if not order.is_working or not order.is_stop or order.buy == long:
            continue
        stop = order.stop_price
        trailing = order.type == "trailing_stop"
        if not trailing and (stop is None or (stop > reference if long else stop < reference)):
            continue
        covered += order.remaining
        if stop is not None and (
            tightest is None or (stop > tightest if long else stop < tightest)
        ):
            tightest = stop
    return covered >= position.size, tightest


__all__ = ["Position", "protection"]
