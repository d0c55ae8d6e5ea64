"""The trading calendar: trading days, the daily boundary, named sessions, holidays.

Built once from a ruleset's :class:`~simple_risk.engine.model.CalendarSpec` and asked by the
fact store (which trading day a fill belongs to, when the day resets), by lockouts (until the
day ends, until the next session start) and by the ``session`` fact family. Every answer is a
pure function of the instant it is given; nothing here reads a clock.

Conventions (docs/architecture.md §3, §4):

- A trading day is named by its date. When ``trading_day_starts`` is in the afternoon or
  evening (17:00 America/Chicago by default), the day named D starts at that time on the
  previous calendar day: Sunday 17:00 starts Monday's trading day. Saturday and Sunday are not
  trading days, so everything from Friday 17:00 up to Monday 17:00 belongs to Monday's.
  When it is in the morning (or midnight), the day named D starts at that time on D itself.
- Named sessions run ``start``–``end`` in local wall-clock time on the listed weekdays and
  never in a holiday's trading day (the trading day of the session's last instant); an early
  close cuts the end on its date. A session whose end is not
  after its start runs overnight and belongs to the date it ends on.
- All instants returned are timezone-aware UTC datetimes, so comparisons never fall into
  Python's same-zone wall-clock comparison across a DST change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from simple_risk.engine.model import CalendarSpec, SessionSpec

WEEKDAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: How far ahead a session search looks before giving up (a year and a bit).
_SEARCH_DAYS = 400

#: the last instant before a session's (exclusive) end, whose trading day the session is in
_INSTANT = timedelta(microseconds=1)


class CalendarError(ValueError):
    """A calendar question without an answer (unknown session, no session within a year)."""


class TradingCalendar:
    """Trading days and sessions of one ruleset's calendar."""

    __slots__ = ("_evening_start", "_session_cache", "spec", "tz")

    def __init__(self, spec: CalendarSpec | None = None) -> None:
        self.spec = spec if spec is not None else CalendarSpec()
        self.tz = ZoneInfo(self.spec.timezone)
        #: the day named D starts on D-1 (evening boundary) rather than on D
        self._evening_start = self.spec.trading_day_starts >= time(12, 0)
        self._session_cache: dict[tuple[str, date], tuple[datetime, datetime] | None] = {}

    # -- conversions -------------------------------------------------------------------------

    def local(self, at: datetime) -> datetime:
        """``at`` as wall-clock time in the calendar's zone."""
        return at.astimezone(self.tz)

    def _instant(self, day: date, wall: time) -> datetime:
        """The UTC instant of a local wall-clock time (a time in a DST gap moves forward)."""
        local = datetime.combine(day, wall, tzinfo=self.tz)
        instant = local.astimezone(UTC)
        # A nonexistent local time (spring-forward gap) round-trips to a different wall time;
        # zoneinfo resolves it with the pre-transition offset, which lands after the gap.
        return instant

    # -- trading days ------------------------------------------------------------------------

    def trading_day(self, at: datetime) -> date:
        """The trading day ``at`` belongs to (weekends roll forward to Monday)."""
        local = self.local(at)
        day = local.date()
        starts = self.spec.trading_day_starts
        if self._evening_start:
            if local.time() >= starts:
                day += timedelta(days=1)
        elif local.time() < starts:
            day -= timedelta(days=1)
        return _roll_to_weekday(day)

    def trading_day_start(self, day: date) -> datetime:
        """The instant the trading day named ``day`` (a weekday) begins."""
        previous = day - timedelta(days=1)
        while previous.weekday() >= 5:
            previous -= timedelta(days=1)
        start_date = previous if self._evening_start else previous + timedelta(days=1)
        return self._instant(start_date, self.spec.trading_day_starts)

    def trading_day_end(self, at: datetime) -> datetime:
        """The exact instant the trading day of ``at`` ends (the next daily boundary)."""
        day = self.trading_day(at)
        end_date = day if self._evening_start else day + timedelta(days=1)
        return self._instant(end_date, self.spec.trading_day_starts)

    def week_start(self, at: datetime) -> date:
        """Monday's date of the trading week ``at`` belongs to."""
        day = self.trading_day(at)
        return day - timedelta(days=day.weekday())

    def is_holiday(self, day: date) -> bool:
        return day in self.spec.holidays

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.spec.holidays

    # -- sessions ----------------------------------------------------------------------------

    def session(self, name: str) -> SessionSpec:
        try:
            return self.spec.sessions[name]
        except KeyError:
            known = ", ".join(sorted(self.spec.sessions)) or "none"
            raise CalendarError(f"unknown session {name!r} (calendar has: {known})") from None

    def session_window(self, name: str, day: date) -> tuple[datetime, datetime] | None:
        """The session's (start, end) instants on ``day``, or None when it does not run."""
        key = (name, day)
        if key in self._session_cache:
            return self._session_cache[key]
        spec = self.session(name)
        window: tuple[datetime, datetime] | None = None
        if day.weekday() in spec.days:
            overnight = spec.end <= spec.start
            start_date = day - timedelta(days=1) if overnight else day
            start = self._instant(start_date, spec.start)
            end_wall = spec.end
            early = self.spec.early_closes.get(day)
            if early is not None and early < end_wall:
                end_wall = early
            end = self._instant(day, end_wall)
            # a holiday is a trading day: no session runs in it, whatever date the session
            # ends on locally (an evening session after the boundary, RTH in Tokyo ends on
            # the date after the exchange's)
            if end > start and self.trading_day(end - _INSTANT) not in self.spec.holidays:
                window = (start, end)
        if len(self._session_cache) > 4096:
            self._session_cache.clear()
        self._session_cache[key] = window
        return window

    def _current_window(self, name: str, at: datetime) -> tuple[datetime, datetime] | None:
        day = self.local(at).date()
        for candidate in (day, day + timedelta(days=1)):
            window = self.session_window(name, candidate)
            if window is not None and window[0] <= at < window[1]:
                return window
        return None

    def session_window_at(self, name: str, at: datetime) -> tuple[datetime, datetime] | None:
        """The (start, end) of the named session's window open at ``at`` (None: closed);
        what tells one session's samples from the next one's (``over: session``)."""
        return self._current_window(name, at)

    def session_open(self, name: str, at: datetime) -> bool:
        """Whether the named session is open at ``at`` (start inclusive, end exclusive)."""
        return self._current_window(name, at) is not None

    def next_session_start(self, name: str, at: datetime) -> datetime:
        """The first start of the named session strictly after ``at`` (skips weekends and
        holidays)."""
        day = self.local(at).date() - timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            window = self.session_window(name, day)
            if window is not None and window[0] > at:
                return window[0]
            day += timedelta(days=1)
        raise CalendarError(f"session {name!r} has no start within {_SEARCH_DAYS} days")

    def minutes_to_close(self, name: str, at: datetime) -> Decimal | None:
        """Minutes until the open session closes; None when it is not open."""
        window = self._current_window(name, at)
        if window is None:
            return None
        return _minutes(window[1] - at)

    def minutes_to_open(self, name: str, at: datetime) -> Decimal:
        """Minutes until the session next opens; 0 while it is open."""
        if self._current_window(name, at) is not None:
            return Decimal(0)
        return _minutes(self.next_session_start(name, at) - at)


def _roll_to_weekday(day: date) -> date:
    weekday = day.weekday()
    if weekday >= 5:
        return day + timedelta(days=7 - weekday)
    return day


#: microseconds per minute and per second, as the divisors of the conversions below (made
#: once: rules read durations on every event)
_PER_MINUTE = Decimal(60_000_000)
_PER_SECOND = Decimal(1_000_000)


def _minutes(delta: timedelta) -> Decimal:
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros) / _PER_MINUTE


def seconds(delta: timedelta) -> Decimal:
    """A duration as an exact Decimal number of seconds."""
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros) / _PER_SECOND


__all__ = ["WEEKDAY_NAMES", "CalendarError", "TradingCalendar", "seconds"]
