"""The fill ledger of one account: realized P&L, counts and streaks, kept incrementally.

Fills have identity (architecture.md §3): a fill seen again replaces its earlier contribution, a
voided fill removes it. Every aggregate (day and week sums, per-order net P&L, rolling
windows) is adjusted by subtracting the old record and adding the new one, so no event
rescans history; only the daily reset rebuilds the day from the week's records.

One fill, one cost: the same fill arrives from the user hub with ``commissions`` and from REST
``Trade/search`` without the field (reference §14.2). A fill known only from REST is charged the
contract's commissions per contract seen on its other fills until a hub copy says otherwise.
A copy that lacks commissions takes them
from the copy seen before, so whatever the arrival order (hub then REST, REST then hub,
re-sent, voided) a fill is counted once, with the most complete cost it has been seen with.

A fill belongs to the trading day of its exchange ``created_at`` (else its engine time) and
to that day's trading week. Windows place a fill at its exchange ``created_at`` when that is
earlier than the engine time it was first seen (architecture.md §3: exchange timestamps assign fills
to windows): a daemon that starts mid-day and reconciles the morning's fills from REST must not
count them all as "in the last 60 s". A fill placed longer ago than the window retention
(8 days) is forgotten, and seen anew if re-sent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from simple_risk.engine.events import OrderSide, TradeFill
from simple_risk.engine.facts.windows import FillWindow

_ZERO = Decimal(0)


class FillRecord:
    """One fill's contribution, as last seen."""

    __slots__ = ("closing", "cost", "day", "fill", "gross", "week", "window_at")

    def __init__(self, fill: TradeFill, day: date, week: date, window_at: datetime) -> None:
        self.fill = fill
        self.day = day
        self.week = week
        self.window_at = window_at
        self.closing = fill.pnl is not None
        self.gross = fill.pnl if fill.pnl is not None else _ZERO
        self.cost = fill.cost

    @property
    def net(self) -> Decimal:
        return self.gross - self.cost

    @property
    def is_loss(self) -> bool:
        return self.closing and self.net < 0


class Ledger:
    """Fills of the current trading week and the aggregates derived from them."""

    __slots__ = (
        "closed_orders",
        "consecutive_losses",
        "day",
        "day_closed",
        "day_cost",
        "day_count",
        "day_gross",
        "day_losses",
        "day_wins",
        "fills",
        "high_water_pnl",
        "loss_window",
        "low_water_pnl",
        "order_closing",
        "order_pnl",
        "week",
        "week_count",
        "week_net",
        "window",
    )

    def __init__(self, day: date, week: date) -> None:
        self.day = day
        self.week = week
        self.fills: dict[int, FillRecord] = {}
        self.window = FillWindow()
        self.loss_window = FillWindow()
        self._clear()

    def _clear(self) -> None:
        self.day_gross = _ZERO
        self.day_cost = _ZERO
        self.day_count = 0
        self.day_closed = 0
        self.day_wins = 0
        self.day_losses = 0
        self.week_net = _ZERO
        self.week_count = 0
        self.order_pnl: dict[int, Decimal] = {}
        self.order_closing: dict[int, int] = {}
        self.closed_orders: dict[int, None] = {}  # the day's closed orders, in closing order
        self.consecutive_losses = 0
        self.high_water_pnl = _ZERO
        self.low_water_pnl = _ZERO

    # -- facts -------------------------------------------------------------------------------

    @property
    def day_realized(self) -> Decimal:
        return self.day_gross - self.day_cost

    def order_net(self, order_id: int) -> Decimal | None:
        if self.order_closing.get(order_id, 0) <= 0:
            return None
        return self.order_pnl.get(order_id, _ZERO)

    # -- updates -----------------------------------------------------------------------------

    def _contribute(self, record: FillRecord, sign: int, windows: bool = True) -> None:
        if record.fill.voided:
            return
        net = record.net
        if record.day == self.day:
            self.day_gross += sign * record.gross
            self.day_cost += sign * record.cost
            self.day_count += sign
            if record.closing:
                self.day_closed += sign
                if net > 0:
                    self.day_wins += sign
                elif net < 0:
                    self.day_losses += sign
        if record.week == self.week:
            self.week_net += sign * net
            self.week_count += sign
        if record.closing:
            order_id = record.fill.order_id
            self.order_pnl[order_id] = self.order_pnl.get(order_id, _ZERO) + sign * net
            self.order_closing[order_id] = self.order_closing.get(order_id, 0) + sign
            if sign > 0 and record.day == self.day and order_id not in self.closed_orders:
                self.closed_orders[order_id] = None
        if windows:
            fill_id = record.fill.trade_id
            if sign > 0:
                self.window.add(record.window_at, fill_id)
                if record.is_loss:
                    self.loss_window.add(record.window_at, fill_id)
            else:
                self.window.remove(record.window_at, fill_id)
                if record.is_loss:
                    self.loss_window.remove(record.window_at, fill_id)

    def apply(self, fill: TradeFill, at: datetime, day: date, week: date) -> FillRecord:
        """Record a fill (new, re-sent or voided) and update every aggregate."""
        old = self.fills.get(fill.trade_id)
        if old is not None:
            fill = completed(fill, old.fill)
        if fill.commissions is None:
            fill = self._estimated(fill)
        window_at = at if fill.created_at is None else min(at, fill.created_at)
        if old is not None:
            self._contribute(old, -1)
            if old.window_at >= at - self.window.retention:
                window_at = old.window_at  # else: forgotten by the windows, seen anew
        record = FillRecord(fill, day, week, window_at)
        self.fills[fill.trade_id] = record
        self._contribute(record, +1)
        self._update_streaks()
        self.window.prune(at)
        self.loss_window.prune(at)
        return record

    def _estimated(self, fill: TradeFill) -> TradeFill:
        """A fill seen only without commissions (REST, while the hub copy was missed: the
        daemon was down or the hub dropped) costs what this contract's commissions cost per
        contract on the fills that carried them; a copy with real commissions replaces the
        estimate. Counting none would trigger the loss limits late."""
        for record in reversed(self.fills.values()):
            known = record.fill
            if (
                known.contract_id == fill.contract_id
                and known.commissions is not None
                and known.size > 0
                and not known.voided
            ):
                return replace(fill, commissions=known.commissions / known.size * fill.size)
        return fill

    def _update_streaks(self) -> None:
        streak = 0
        for order_id in reversed(self.closed_orders):
            pnl = self.order_net(order_id)
            if pnl is None:
                continue
            if pnl < 0:
                streak += 1
            else:
                break
        self.consecutive_losses = streak
        realized = self.day_realized
        if realized > self.high_water_pnl:
            self.high_water_pnl = realized
        if realized < self.low_water_pnl:
            self.low_water_pnl = realized

    def new_day(self, day: date, week: date, at: datetime) -> None:
        """The daily reset: forget the day's aggregates (and the week's, on a new week).

        Records of earlier weeks that the windows have also forgotten are dropped."""
        self.day = day
        self.week = week
        horizon = at - self.window.retention
        self.fills = {
            k: r for k, r in self.fills.items() if r.week >= week or r.window_at >= horizon
        }
        self._clear()
        for record in sorted(self.fills.values(), key=lambda r: (r.window_at, r.fill.trade_id)):
            self._contribute(record, +1, windows=False)
        self._update_streaks()


def completed(fill: TradeFill, earlier: TradeFill) -> TradeFill:
    """``fill`` with the costs it lacks taken from an earlier copy of the same fill."""
    if fill.commissions is None and earlier.commissions is not None:
        return replace(fill, commissions=earlier.commissions)
    return fill


def adds_nothing(fill: TradeFill, earlier: TradeFill) -> bool:
    """Whether a copy of a fill tells nothing the earlier copy did not (a reconcile may skip
    it): same content, and no commissions other than those already known."""
    merged = completed(fill, earlier)
    return _content(merged) == _content(earlier)


def _content(fill: TradeFill) -> tuple[object, ...]:
    return (fill.pnl, fill.fees, fill.commissions, fill.voided, fill.size, fill.price)


class TradeFacts:
    """The ``trade`` family: the fill that triggered the rule."""

    __slots__ = (
        "_ledger",
        "commissions",
        "contract_id",
        "fees",
        "id",
        "is_closing",
        "net_pnl",
        "order_id",
        "pnl",
        "price",
        "side",
        "size",
        "symbol",
        "voided",
    )

    def __init__(self, fill: TradeFill, root: str, ledger: Ledger) -> None:
        self._ledger = ledger
        record = ledger.fills.get(fill.trade_id)
        if record is not None:
            fill = completed(fill, record.fill)
        self.id = fill.trade_id
        self.order_id = fill.order_id
        self.contract_id = fill.contract_id
        self.symbol = root
        self.side = "buy" if fill.side is OrderSide.BUY else "sell"
        self.size = fill.size
        self.price = fill.price
        self.pnl = fill.pnl
        self.fees = fill.fees
        self.commissions = fill.commissions
        self.net_pnl = None if fill.pnl is None else fill.pnl - fill.cost
        self.is_closing = fill.pnl is not None
        self.voided = fill.voided

    @property
    def order_pnl(self) -> Decimal | None:
        return self._ledger.order_net(self.order_id)


__all__ = ["FillRecord", "Ledger", "TradeFacts", "adds_nothing", "completed"]
