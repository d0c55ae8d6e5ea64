"""Position facts: one :class:`Position` per open contract of an account (``position``).

Mark price, unrealized P&L and profit in ticks read the shared contract state (latest quote,
tick size and value), so they are unknown (None) until a quote and the contract metadata
arrive. Protection and the best price since entry are stateful and updated by the account
whenever the position, an order in its contract or its quote changes (docs/facts.md,
"Protection").

Protection is also kept as a history, so that a stop that comes and goes cannot restart a
grace period: the time since the position opened is split into segments of constant
protection (unprotected, or protected by stops risking a known amount of money), and each
segment's length is banked when it ends — unprotected time in one total, protected time per
stop risk. ``unprotected_total`` and ``unprotected_time(max_risk)`` add the banked time to the
running segment; being sums of exact durations, they are the same after a snapshot and
restore.
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
        "_band",
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
        "protected_by_risk",
        "segment_at",
        "side",
        "size",
        "stop_price",
        "stop_risk",
        "stop_ticks",
        "symbol",
        "units",
        "unprotected_banked",
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
        #: the marks between which the counted stops stay the same (see :meth:`requote`);
        #: None until the first refresh, and after anything but a quote changed
        self._band: tuple[Decimal | None, Decimal | None] | None = None
        self.stop_price: Decimal | None = None
        #: the counted stops' distance from the entry (the farthest, in ticks) and the money
        #: they risk all together; None without a stop or tick metadata
        self.stop_ticks: Decimal | None = None
        self.stop_risk: Decimal | None = None
        #: the protection history: the running segment started at ``segment_at``; seconds
        #: banked unprotected, and per stop risk while protected (risk known)
        self.segment_at = opened_at
        self.unprotected_banked = _ZERO
        self.protected_by_risk: dict[Decimal, Decimal] = {}
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
    def unprotected_total(self) -> Decimal:
        """Seconds unprotected since the position opened, all unprotected spells together."""
        total = self.unprotected_banked
        if not self.protected:
            total += self._running()
        return total

    def unprotected_time(self, max_risk: object) -> Decimal:
        """Seconds since the position opened that it was unprotected, or protected only by
        stops risking more than ``max_risk`` (money): such a stop does not count."""
        limit = _money(max_risk)
        total = self.unprotected_total
        for risk, spent in self.protected_by_risk.items():
            if risk > limit:
                total += spent
        if self.protected and self.stop_risk is not None and self.stop_risk > limit:
            total += self._running()
        return total

    def _running(self) -> Decimal:
        elapsed = self._account.clock.now - self.segment_at
        return seconds(elapsed) if elapsed.total_seconds() > 0 else _ZERO

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

    def requote(self, now: datetime) -> None:
        """:meth:`refresh` after a quote, the orders unchanged since the last refresh.

        Which stops count depends on the mark only through which side of each stop price it
        is on, so while the mark stays between the nearest stop prices on either side (the
        band the last refresh found) protection, the stops' risk and the protection history
        are what they were: only the price facts move. Most quotes stay inside the band, and
        only those that leave it look the account's orders up.
        """
        band = self._band
        if band is None:
            self.refresh(self._orders(), now)
            return
        self.reprice()
        mark = self.last_price
        long = self.long
        if mark is not None:
            best = self.best_price
            if best is None or (mark > best if long else mark < best):
                self.best_price = mark
        reference = mark if mark is not None else self.avg_price
        low, high = band
        if long:
            inside = (low is None or reference >= low) and (high is None or reference < high)
        else:
            inside = (low is None or reference > low) and (high is None or reference <= high)
        if not inside:
            self._protect(self._orders(), mark, now)

    def _orders(self) -> Iterable[Order]:
        """The account's working orders in this position's contract."""
        orders = self._account.orders_by_contract.get(self.contract_id)
        return orders.values() if orders else ()

    def refresh(self, orders: Iterable[Order], now: datetime) -> None:
        """Update price facts, the best price and protection after a quote, order or size
        change."""
        self.reprice()
        mark = self.last_price
        if mark is not None:
            best = self.best_price
            if best is None or (mark > best if self.long else mark < best):
                self.best_price = mark
        self._protect(orders, mark, now)

    def reprotect(
        self, orders: Iterable[Order], now: datetime, placed_at: datetime | None = None
    ) -> None:
        """:meth:`refresh` after an order changed, nothing else: the price facts and the best
        price depend on the quote, the entry, the size and the tick metadata only, and every
        change of those reprices, so they are current and only protection is recomputed.

        ``placed_at``: the gateway's creation time of a stop heard of for the first time on
        this change (see :meth:`_protect`)."""
        self._protect(orders, self.last_price, now, placed_at)

    def _protect(
        self,
        orders: Iterable[Order],
        mark: Decimal | None,
        now: datetime,
        placed_at: datetime | None = None,
    ) -> None:
        """Protection, the stops' risk and the protection history at ``mark``.

        A stop first heard of now that makes the position protected, but that the gateway
        created earlier within the unprotected spell (``placed_at``: the user hub was down or
        late, and a reconcile's REST copy brought it), protected the position from its
        creation (or from the spell's start, when it rested before): the spell ends there,
        not when the daemon heard of it. Counted until now,
        a spell the daemon could not see would add up to a grace of its own and close a
        position the trader had protected in time (no-stop-loss-total)."""
        protected, stop_price, stops, band = protection(self, orders, mark)
        self._band = band
        self.stop_price = stop_price
        stop_ticks, stop_risk = stop_exposure(self, stops)
        if protected != self.protected or (protected and stop_risk != self.stop_risk):
            since = now
            if placed_at is not None and protected and not self.protected and placed_at < now:
                # (a stop resting since before the spell began protected all of it)
                since = max(placed_at, self.segment_at)
            self._bank(since)
        self.stop_ticks = stop_ticks
        self.stop_risk = stop_risk
        if protected:
            self.protected = True
            self.unprotected_since = None
        else:
            if self.protected or self.unprotected_since is None:
                self.unprotected_since = now
            self.protected = False

    def _bank(self, now: datetime) -> None:
        """End the running protection segment at ``now``: bank its length where it belongs."""
        elapsed = now - self.segment_at
        if elapsed.total_seconds() > 0:
            spent = seconds(elapsed)
            if not self.protected:
                self.unprotected_banked += spent
            elif self.stop_risk is not None:
                risk = self.stop_risk
                self.protected_by_risk[risk] = self.protected_by_risk.get(risk, _ZERO) + spent
            self.segment_at = now


#: ``Decimal(str(value))`` by (type, value) of the limits rules pass: a rule passes the same
#: literal or param on every evaluation, and the conversion through ``str`` is the cost
_LIMITS: dict[tuple[type, object], Decimal] = {}


def _money(value: object) -> Decimal:
    """A money limit as an exact Decimal (``Decimal(str(value))``), converted once per value."""
    try:
        key = (type(value), value)
        limit = _LIMITS.get(key)
    except TypeError:  # unhashable: converted (and refused) as it is
        return Decimal(str(value))
    if limit is None:
        limit = Decimal(str(value))
        if len(_LIMITS) >= 256:
            _LIMITS.clear()
        _LIMITS[key] = limit
    return limit


def stop_exposure(
    position: Position, stops: list[tuple[Decimal | None, int]]
) -> tuple[Decimal | None, Decimal | None]:
    """The counted stops' distance in ticks from the average entry price (the farthest) and
    the money they risk together (each stop's distance × tick value × the contracts it
    closes, tightest first, no more than the position's size); negative distances lock in
    profit. Unknown without a stop, without tick metadata, or with a stop without a price
    (a trailing stop the gateway gave no trigger for)."""
    tick_size = position.contract.tick_size
    tick_value = position.contract.tick_value
    if not stops or tick_size is None or tick_value is None or tick_size <= 0:
        return None, None
    if any(price is None for price, _size in stops):
        return None, None
    long = position.long
    avg = position.avg_price
    distances = sorted(
        ((avg - price if long else price - avg) / tick_size, size)
        for price, size in stops
        if price is not None
    )
    left = position.size
    risk = _ZERO
    for distance, size in distances:
        closes = min(size, left)
        risk += distance * tick_value * closes
        left -= closes
        if left <= 0:
            break
    return distances[-1][0], risk


def protection(
    position: Position, orders: Iterable[Order], mark: Decimal | None
) -> tuple[
    bool,
    Decimal | None,
    list[tuple[Decimal | None, int]],
    tuple[Decimal | None, Decimal | None],
]:
    """Whether working stops on the loss side cover the position, the tightest stop price,
    the counted stops (price, contracts), and the band of marks over which the same stops
    count (low, high; None: unbounded): for a long, a mark ``m`` with ``low <= m < high``;
    for a short, ``low < m <= high``.

    A stop counts when it is working (not pending cancellation), is a stop, stop-limit or
    trailing stop on the side opposite the position, and its trigger is on the loss side of
    the mark (a stop at the mark counts; a trailing stop counts at any distance). Before the
    first quote the average entry price stands in for the mark.
    """
    reference = mark if mark is not None else position.avg_price
    long = position.long
    covered = 0
    tightest: Decimal | None = None
    counted: list[tuple[Decimal | None, int]] = []
    # the nearest stop prices on either side of the reference: crossing one changes the count
    low: Decimal | None = None
    high: Decimal | None = None
    for order in orders:
        if not order.is_working or not order.is_stop or order.buy == long:
            continue
        stop = order.stop_price
        trailing = order.type == "trailing_stop"
        if not trailing and stop is not None:
            # a long counts a stop at or below the mark, a short one at or above it
            if (stop <= reference) if long else (stop < reference):
                if low is None or stop > low:
                    low = stop
            elif high is None or stop < high:
                high = stop
        if not trailing and (stop is None or (stop > reference if long else stop < reference)):
            continue
        covered += order.remaining
        counted.append((stop, order.remaining))
        if stop is not None and (
            tightest is None or (stop > tightest if long else stop < tightest)
        ):
            tightest = stop
    return covered >= position.size, tightest, counted, (low, high)


__all__ = ["Position", "protection", "stop_exposure"]
