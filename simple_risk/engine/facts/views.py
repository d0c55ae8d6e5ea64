"""The always-bound fact families: ``account``, ``day``, ``week``, ``trades``, ``session``.

One object per account (and one ``session`` per engine), created once and reused by every
evaluation: each attribute reads the account's incrementally kept state on access, so binding
them costs nothing and a rule pays only for the facts it reads.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from simple_risk.engine.calendar import WEEKDAY_NAMES, TradingCalendar
from simple_risk.engine.facts.account import AccountState, Clock


def _duration(within: object) -> timedelta:
    if isinstance(within, timedelta):
        return within
    if isinstance(within, int | float | Decimal) and not isinstance(within, bool):
        return timedelta(seconds=float(within))
    raise TypeError(f"within must be a duration, got {within!r}")


class AccountFacts:
    """The ``account`` family."""

    __slots__ = ("_state",)

    def __init__(self, state: AccountState) -> None:
        self._state = state

    @property
    def id(self) -> int:
        return self._state.id

    @property
    def name(self) -> str:
        return self._state.name

    @property
    def balance(self) -> Decimal | None:
        return self._state.balance

    @property
    def can_trade(self) -> bool:
        return self._state.can_trade

    @property
    def open_units(self) -> int:
        return self._state.open_units

    @property
    def open_contracts(self) -> Decimal:
        return Decimal(self._state.open_units) / Decimal(self._state.symbols.units_per_lot)

    @property
    def open_contracts_raw(self) -> int:
        return self._state.open_raw

    @property
    def working_orders(self) -> int:
        return len(self._state.orders)

    @property
    def locked(self) -> bool:
        return self._state.locks.account_locked

    @property
    def unrealized_pnl(self) -> Decimal | None:
        return self._state.unrealized_pnl

    @property
    def equity(self) -> Decimal | None:
        unrealized = self._state.unrealized_pnl
        balance = self._state.balance
        if unrealized is None or balance is None:
            return None
        return balance + unrealized

    @property
    def starting_balance(self) -> Decimal | None:
        return self._state.starting_balance

    @property
    def eod_high_balance(self) -> Decimal | None:
        return self._state.eod_high_balance


class DayFacts:
    """The ``day`` family: the current trading day."""

    __slots__ = ("_state",)

    def __init__(self, state: AccountState) -> None:
        self._state = state

    @property
    def realized_pnl(self) -> Decimal:
        return self._state.ledger.day_realized

    @property
    def gross_pnl(self) -> Decimal:
        return self._state.ledger.day_gross

    @property
    def fees(self) -> Decimal:
        return self._state.ledger.day_cost

    @property
    def trade_count(self) -> int:
        return self._state.ledger.day_count

    @property
    def closed_trades(self) -> int:
        return self._state.ledger.day_closed

    @property
    def winning_trades(self) -> int:
        return self._state.ledger.day_wins

    @property
    def losing_trades(self) -> int:
        return self._state.ledger.day_losses

    @property
    def consecutive_losses(self) -> int:
        return self._state.ledger.consecutive_losses

    @property
    def high_water_pnl(self) -> Decimal:
        return self._state.ledger.high_water_pnl

    @property
    def unrealized_pnl(self) -> Decimal | None:
        return self._state.unrealized_pnl

    @property
    def net_pnl(self) -> Decimal | None:
        unrealized = self._state.unrealized_pnl
        if unrealized is None:
            return None
        return self._state.ledger.day_realized + unrealized


class WeekFacts:
    """The ``week`` family: the current trading week."""

    __slots__ = ("_state",)

    def __init__(self, state: AccountState) -> None:
        self._state = state

    @property
    def realized_pnl(self) -> Decimal:
        return self._state.ledger.week_net

    @property
    def trade_count(self) -> int:
        return self._state.ledger.week_count


class TradesFacts:
    """The ``trades`` family: rolling windows over the account's non-voided fills."""

    __slots__ = ("_state",)

    def __init__(self, state: AccountState) -> None:
        self._state = state

    def count(self, within: object) -> int:
        state = self._state
        return state.ledger.window.count(state.clock.now, _duration(within))

    def losses(self, within: object) -> int:
        state = self._state
        return state.ledger.loss_window.count(state.clock.now, _duration(within))


class SessionFacts:
    """The ``session`` family: the calendar at engine time."""

    __slots__ = ("_calendar", "_clock", "day")

    def __init__(self, calendar: TradingCalendar, clock: Clock, day: date) -> None:
        self._calendar = calendar
        self._clock = clock
        self.day = day  # the current trading day, kept by the fact store

    @property
    def trading_day(self) -> str:
        return self.day.isoformat()

    @property
    def is_trading_day(self) -> bool:
        return self._calendar.is_trading_day(self.day)

    @property
    def is_holiday(self) -> bool:
        return self._calendar.is_holiday(self.day)

    @property
    def weekday(self) -> str:
        return WEEKDAY_NAMES[self.day.weekday()]

    @property
    def time(self) -> str:
        return self._calendar.local(self._clock.now).strftime("%H:%M")

    def open(self, name: str) -> bool:
        return self._calendar.session_open(name, self._clock.now)

    def minutes_to_close(self, name: str) -> Decimal | None:
        return self._calendar.minutes_to_close(name, self._clock.now)

    def minutes_to_open(self, name: str) -> Decimal:
        return self._calendar.minutes_to_open(name, self._clock.now)


__all__ = ["AccountFacts", "DayFacts", "SessionFacts", "TradesFacts", "WeekFacts"]
