"""The always-bound fact families: ``account``, ``day``, ``week``, ``trades``, ``session``.

One object per account (and one ``session`` per engine), created once and reused by every
evaluation: each attribute reads the account's incrementally kept state on access, so binding
them costs nothing and a rule pays only for the facts it reads.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import date, datetime, timedelta
from decimal import Decimal

from simple_risk.engine.calendar import WEEKDAY_NAMES, CalendarError, TradingCalendar
from simple_risk.engine.facts import counts
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
    def open_positions(self) -> int:
        return counts.open_positions(self._state)

    @property
    def working_buy_orders(self) -> int:
        return counts.working_orders_on(self._state, buy=True)

    @property
    def working_sell_orders(self) -> int:
        return counts.working_orders_on(self._state, buy=False)

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
    def roots_traded(self) -> int:
        return len(counts.roots_traded_today(self._state))

    @property
    def consecutive_losses(self) -> int:
        return self._state.ledger.consecutive_losses

    @property
    def high_water_pnl(self) -> Decimal:
        return self._state.ledger.high_water_pnl

    @property
    def low_water_pnl(self) -> Decimal:
        return self._state.ledger.low_water_pnl

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

    __slots__ = ("_calendar", "_clock", "_open", "day", "next_edge", "primed")

    def __init__(self, calendar: TradingCalendar, clock: Clock, day: date) -> None:
        self._calendar = calendar
        self._clock = clock
        self.day = day  # the current trading day, kept by the fact store
        #: session name → (from, until, start): the answer of ``opened_at(name)`` for every
        #: instant in [from, until) — a session window while open (its start), up to the next
        #: start while closed (None)
        self._open: dict[str, tuple[datetime, datetime, datetime | None]] = {}
        #: the earliest instant at which an answer of ``open`` given so far can change (the
        #: end of a kept interval); None: none kept. The engine marks the rules reading
        #: ``session.open`` stale when time reaches it (see :meth:`passed`)
        self.next_edge: datetime | None = None
        #: whether ``passed`` ran once (the engine calls it on its first event)
        self.primed = False

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
        """Whether the session is open now."""
        return self.opened_at(name) is not None

    def opened_at(self, name: str) -> datetime | None:
        """When the session open now started (None: closed).

        Rules ask this on every clock tick and order event, and a calendar look-up converts
        the instant to local time (microseconds each time), so the answer is kept with the
        interval over which it cannot change: the open window itself, or — when closed — the
        time until the session next starts (no window can open before its next start). The
        ends of the kept intervals are the instants the engine ticks at (``next_edge``).
        """
        now = self._clock.utc  # the calendar's instants are UTC: compare in one zone
        known = self._open.get(name)
        if known is not None and known[0] <= now < known[1]:
            return known[2]
        calendar = self._calendar
        day = calendar.local(now).date()
        # the windows TradingCalendar.session_open searches: the local day's and the next's
        for candidate in (day, day + timedelta(days=1)):
            window = calendar.session_window(name, candidate)
            if window is not None and window[0] <= now < window[1]:
                self._keep(name, window[0], window[1], window[0])
                return window[0]
        # no session within the calendar's search horizon: nothing to remember
        with suppress(CalendarError):
            self._keep(name, now, calendar.next_session_start(name, now), None)
        return None

    def _keep(self, name: str, start: datetime, until: datetime, opened: datetime | None) -> None:
        self._open[name] = (start, until, opened)
        edge = self.next_edge
        if edge is None or until < edge:
            self.next_edge = until

    def passed(self, now: datetime) -> None:
        """Time reached ``next_edge`` (or the engine starts): every session of the calendar
        is asked again, and the next edge is the earliest end of their intervals — the next
        start or end of any session, whichever rules read, so that an engine restored from
        a snapshot names the same next instant as one that ran through."""
        for name in self._calendar.spec.sessions:
            self.opened_at(name)
        ahead = [until for _start, until, _opened in self._open.values() if until > now]
        self.next_edge = min(ahead) if ahead else None
        self.primed = True

    def minutes_to_close(self, name: str) -> Decimal | None:
        return self._calendar.minutes_to_close(name, self._clock.now)

    def minutes_to_open(self, name: str) -> Decimal:
        return self._calendar.minutes_to_open(name, self._clock.now)


__all__ = ["AccountFacts", "DayFacts", "SessionFacts", "TradesFacts", "WeekFacts"]
